package dev.ltrr.ltr.logging;

import dev.ltrr.ltr.model.ModelCompiler;
import dev.ltrr.ltr.model.ModelLimits;
import dev.ltrr.ltr.model.RankingModel;
import dev.ltrr.ltr.query.RankerQuery;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.PhraseQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryRescorer;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.opensearch.index.query.ParsedQuery;
import org.opensearch.search.rescore.RescoreContext;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Feature vectors a rescore recorded are what logging reads; anything not recorded is computed. */
class RecordedFeatureLoggingTest {
    private static final String[] WORDS = {"red", "river", "stone", "cloud", "night", "song"};
    private static final List<String> NAMES = List.of("red", "stone", "red_river");
    private static final int WINDOW = 30;
    private static Directory dir;
    private static DirectoryReader reader;
    private static IndexSearcher searcher;

    @BeforeAll
    static void index() throws IOException {
        dir = new ByteBuffersDirectory();
        IndexWriterConfig config = new IndexWriterConfig(new StandardAnalyzer()).setMergePolicy(NoMergePolicy.INSTANCE);
        try (IndexWriter writer = new IndexWriter(dir, config)) {
            for (int i = 0; i < 200; i++) {
                StringBuilder body = new StringBuilder();
                for (int w = 0; w <= i % 7; w++) {
                    body.append(WORDS[(i * 5 + w * 3) % WORDS.length]).append(' ');
                }
                Document doc = new Document();
                doc.add(new TextField("body", body.toString(), Field.Store.NO));
                writer.addDocument(doc);
                if (i % 50 == 49) {
                    writer.commit();
                }
            }
        }
        reader = DirectoryReader.open(dir);
        searcher = new IndexSearcher(reader);
        assertTrue(reader.leaves().size() > 1);
    }

    @AfterAll
    static void close() throws IOException {
        reader.close();
        dir.close();
    }

    /** The phrase of one word rewrites to a term query, so the rescorer scores with a rewritten copy. */
    private static RankerQuery ranker() {
        RankingModel model = ModelCompiler.compile("m", ModelCompiler.LINEAR, NAMES,
            "{\"red\": 1.5, \"stone\": -2, \"red_river\": 3}", Map.of(), ModelLimits.DEFAULT);
        List<Query> features = List.of(new PhraseQuery("body", "red"), new TermQuery(new Term("body", "stone")),
            new PhraseQuery("body", "red", "river"));
        return new RankerQuery(NAMES, features, model, "k");
    }

    /** Rescores the first {@code WINDOW} docs (spread over several segments) with the ranker. */
    private static TopDocs rescoreWindow(RankerQuery query) throws IOException {
        TopDocs all = searcher.search(new MatchAllDocsQuery(), reader.maxDoc());
        ScoreDoc[] window = new ScoreDoc[WINDOW];
        for (int i = 0; i < WINDOW; i++) {
            window[i] = all.scoreDocs[i * (reader.maxDoc() / WINDOW)];
        }
        return QueryRescorer.rescore(searcher, new TopDocs(all.totalHits, window), query, 0, WINDOW);
    }

    /** Each doc's vector computed from scratch by a fresh query. */
    private static float[] computed(int doc) throws IOException {
        RankerQuery fresh = (RankerQuery) searcher.rewrite(ranker());
        RankerQuery.RankerWeight weight = fresh.createWeight(searcher, ScoreMode.COMPLETE, 1f);
        LeafReaderContext leaf = reader.leaves().get(ReaderUtil.subIndex(doc, reader.leaves()));
        float[] vector = new float[NAMES.size()];
        weight.leafFeatures(leaf).vector(doc - leaf.docBase, vector);
        return vector;
    }

    private static float[] logged(LoggingFetchSubPhase.Logger logger, int doc) throws IOException {
        LeafReaderContext leaf = reader.leaves().get(ReaderUtil.subIndex(doc, reader.leaves()));
        logger.setNextReader(leaf);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> values = (List<Map<String, Object>>) logger.log(doc - leaf.docBase).get("log");
        float[] vector = new float[values.size()];
        for (int i = 0; i < vector.length; i++) {
            Object v = values.get(i).get("value");
            vector[i] = v == null ? Float.NaN : (Float) v;
        }
        return vector;
    }

    private static LoggingSearchExtBuilder.LogSpec rescoreSpec(int index) {
        return new LoggingSearchExtBuilder.LogSpec("log", null, index, false);
    }

    @Test
    void nothingIsRecordedUnlessLoggingAskedForIt() throws IOException {
        RankerQuery query = ranker();
        rescoreWindow(query);
        assertEquals(0, query.recorded().size());
        assertFalse(query.recorded().enabled());
    }

    @Test
    void theRescoreRecordsTheVectorsItScoredThroughItsRewrittenCopy() throws IOException {
        RankerQuery query = ranker();
        assertNotSame(query, searcher.rewrite(query));
        query.recorded().enable(WINDOW);
        TopDocs rescored = rescoreWindow(query);
        assertEquals(WINDOW, query.recorded().size());
        for (ScoreDoc sd : rescored.scoreDocs) {
            assertArrayEquals(computed(sd.doc), query.recorded().get(sd.doc), "doc " + sd.doc);
        }
    }

    @Test
    void recordingStopsAtItsCapacity() throws IOException {
        RankerQuery query = ranker();
        query.recorded().enable(5);
        rescoreWindow(query);
        assertEquals(5, query.recorded().size());
    }

    @Test
    void recordedVectorsBelongToOneQueryInstance() throws IOException {
        RankerQuery query = ranker();
        RankerQuery twin = ranker();
        assertEquals(query, twin);
        query.recorded().enable(WINDOW);
        twin.recorded().enable(WINDOW);
        TopDocs rescored = rescoreWindow(query);
        assertEquals(0, twin.recorded().size());
        assertNull(twin.recorded().get(rescored.scoreDocs[0].doc));
    }

    @Test
    void loggingReusesRecordedVectorsWithoutComputingAnything() throws IOException {
        RankerQuery query = ranker();
        query.recorded().enable(WINDOW);
        TopDocs rescored = rescoreWindow(query);
        // No searcher: any attempt to compute a feature would fail.
        FeatureLogStats stats = new FeatureLogStats();
        LoggingFetchSubPhase.Logger logger = new LoggingFetchSubPhase.Logger(rescoreSpec(0), query, null, stats);
        for (ScoreDoc sd : rescored.scoreDocs) {
            assertArrayEquals(computed(sd.doc), logged(logger, sd.doc), "doc " + sd.doc);
        }
        assertEquals(Map.of("recorded", (long) WINDOW, "computed", 0L), stats.stats());
    }

    @Test
    void loggingComputesWhatWasNotRecorded() throws IOException {
        RankerQuery query = ranker();
        query.recorded().enable(WINDOW);
        TopDocs rescored = rescoreWindow(query);
        List<Integer> inWindow = Arrays.stream(rescored.scoreDocs).map(sd -> sd.doc).toList();
        int outside = 1;
        while (inWindow.contains(outside)) {
            outside++;
        }
        assertNull(query.recorded().get(outside));
        LoggingFetchSubPhase.Logger withoutSearcher = new LoggingFetchSubPhase.Logger(rescoreSpec(0), query, null,
            new FeatureLogStats());
        int missing = outside;
        assertThrows(NullPointerException.class, () -> logged(withoutSearcher, missing));
        FeatureLogStats stats = new FeatureLogStats();
        LoggingFetchSubPhase.Logger logger = new LoggingFetchSubPhase.Logger(rescoreSpec(0), query, searcher, stats);
        // Recorded and computed hits interleaved, out of doc order: every one gets its own vector.
        List<Integer> docs = List.of(inWindow.get(3), outside, inWindow.get(0), outside + 1, 0);
        for (int doc : docs) {
            assertArrayEquals(computed(doc), logged(logger, doc), "doc " + doc);
        }
        long recordedHits = docs.stream().filter(inWindow::contains).count();
        assertEquals(Map.of("recorded", recordedHits, "computed", docs.size() - recordedHits), stats.stats());
    }

    @Test
    void theListenerEnablesRecordingForRescoreSpecsOnly() {
        RankerQuery rescoreQuery = ranker();
        QueryRescoreContextFactory contexts = new QueryRescoreContextFactory();
        List<RescoreContext> rescores = List.of(contexts.of(rescoreQuery, 40), contexts.of(new MatchAllDocsQuery(), 10));
        LoggingSearchExtBuilder ext = new LoggingSearchExtBuilder(List.of(rescoreSpec(0), rescoreSpec(1), rescoreSpec(5),
            new LoggingSearchExtBuilder.LogSpec("n", "named", null, false)));
        assertEquals(1, FeatureRecordingListener.enableRecording(ext, rescores));
        assertTrue(rescoreQuery.recorded().enabled());
    }

    @Test
    void theFetchPhaseFindsTheInstanceTheListenerEnabled() {
        RankerQuery rescoreQuery = ranker();
        List<RescoreContext> rescores = List.of(new QueryRescoreContextFactory().of(rescoreQuery, 40));
        RankerQuery found = LoggingFetchSubPhase.findQuery(new ParsedQuery(new MatchAllDocsQuery()), rescores,
            rescoreSpec(0));
        assertTrue(found == rescoreQuery);
        assertNotNull(found.recorded());
    }

    /** Builds OpenSearch rescore contexts around a Lucene query. */
    private static final class QueryRescoreContextFactory {
        RescoreContext of(Query query, int window) {
            org.opensearch.search.rescore.QueryRescorer.QueryRescoreContext context =
                new org.opensearch.search.rescore.QueryRescorer.QueryRescoreContext(window);
            context.setParsedQuery(new ParsedQuery(query));
            return context;
        }
    }
}
