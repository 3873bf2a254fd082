package dev.ltrr.ltr.query;

import dev.ltrr.ltr.model.ModelCompiler;
import dev.ltrr.ltr.model.ModelLimits;
import dev.ltrr.ltr.model.RankingModel;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
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

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RankerQueryTest {
    private static final String[] WORDS = {"red", "river", "stone", "cloud", "night", "song"};
    private static final List<String> NAMES = List.of("red", "stone", "red_river");
    private static Directory dir;
    private static DirectoryReader reader;
    private static IndexSearcher searcher;

    @BeforeAll
    static void index() throws IOException {
        dir = new ByteBuffersDirectory();
        Random random = new Random(42);
        IndexWriterConfig config = new IndexWriterConfig(new StandardAnalyzer()).setMergePolicy(NoMergePolicy.INSTANCE);
        try (IndexWriter writer = new IndexWriter(dir, config)) {
            for (int i = 0; i < 300; i++) {
                StringBuilder body = new StringBuilder();
                int n = 1 + random.nextInt(10);
                for (int w = 0; w < n; w++) {
                    body.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
                }
                if (i == 0) {
                    body = new StringBuilder("red stone river");
                }
                Document doc = new Document();
                doc.add(new TextField("body", body.toString(), Field.Store.NO));
                writer.addDocument(doc);
                if (i % 100 == 99) {
                    writer.commit();
                }
            }
        }
        reader = DirectoryReader.open(dir);
        searcher = new IndexSearcher(reader);
    }

    @AfterAll
    static void close() throws IOException {
        reader.close();
        dir.close();
    }

    private static List<Query> features() {
        return List.of(new TermQuery(new Term("body", "red")), new TermQuery(new Term("body", "stone")),
            new PhraseQuery("body", "red", "river"));
    }

    /** Each feature's own score per doc, NaN where it does not match. */
    private static float[][] ownScores() throws IOException {
        float[][] scores = new float[reader.maxDoc()][NAMES.size()];
        for (float[] row : scores) {
            Arrays.fill(row, Float.NaN);
        }
        List<Query> features = features();
        for (int f = 0; f < features.size(); f++) {
            for (ScoreDoc sd : searcher.search(features.get(f), reader.maxDoc()).scoreDocs) {
                scores[sd.doc][f] = sd.score;
            }
        }
        return scores;
    }

    private static RankingModel model(String type, String definition) {
        return ModelCompiler.compile("m", type, NAMES, definition, Map.of(), ModelLimits.DEFAULT);
    }

    private static Map<Integer, Float> scoresOf(Query query) throws IOException {
        Map<Integer, Float> byDoc = new HashMap<>();
        for (ScoreDoc sd : searcher.search(query, reader.maxDoc()).scoreDocs) {
            byDoc.put(sd.doc, sd.score);
        }
        return byDoc;
    }

    @Test
    void linearScoreIsTheWeightedSumOfFeatureScores() throws IOException {
        RankingModel model = model(ModelCompiler.LINEAR, "{\"red\": 1.5, \"stone\": -2, \"red_river\": 3}");
        Map<Integer, Float> scores = scoresOf(new RankerQuery(NAMES, features(), model, "k"));
        assertEquals(reader.maxDoc(), scores.size());
        float[][] own = ownScores();
        boolean sawNegative = false;
        for (int doc = 0; doc < reader.maxDoc(); doc++) {
            double expected = 0;
            double[] w = {1.5, -2, 3};
            for (int f = 0; f < 3; f++) {
                expected += Float.isNaN(own[doc][f]) ? 0 : w[f] * own[doc][f];
            }
            assertEquals(expected, scores.get(doc), 1e-4, "doc " + doc);
            sawNegative |= scores.get(doc) < 0;
        }
        assertTrue(sawNegative);
    }

    @Test
    void phraseFeatureIsMissingWhereOnlyTheTermsMatch() throws IOException {
        float[] vector = new float[3];
        RankerQuery query = new RankerQuery(NAMES, features(), null, null);
        RankerQuery.RankerWeight weight = query.createWeight(searcher, ScoreMode.COMPLETE, 1f);
        weight.leafFeatures(reader.leaves().get(0)).vector(0, vector);
        assertTrue(vector[0] > 0 && vector[1] > 0, Arrays.toString(vector));
        assertTrue(Float.isNaN(vector[2]), Arrays.toString(vector));
    }

    @Test
    void treeScoreRoutesMissingFeatures() throws IOException {
        String trees = "[{\"nodeid\": 0, \"split\": \"red_river\", \"split_condition\": 0.1, \"yes\": 1, \"no\": 2,"
            + " \"missing\": 1, \"children\": [{\"nodeid\": 1, \"leaf\": -1}, {\"nodeid\": 2, \"leaf\": 4}]},"
            + " {\"nodeid\": 0, \"split\": \"stone\", \"split_condition\": 0.5, \"yes\": 1, \"no\": 2,"
            + " \"children\": [{\"nodeid\": 1, \"leaf\": 0.5}, {\"nodeid\": 2, \"leaf\": 2}]}]";
        Map<Integer, Float> scores = scoresOf(new RankerQuery(NAMES, features(), model(ModelCompiler.XGBOOST_JSON, trees), "k"));
        float[][] own = ownScores();
        for (int doc = 0; doc < reader.maxDoc(); doc++) {
            float phrase = own[doc][2];
            float stone = own[doc][1];
            double expected = (Float.isNaN(phrase) || phrase < 0.1f ? -1 : 4)
                + (Float.isNaN(stone) || stone >= 0.5f ? 2 : 0.5);
            assertEquals(expected, scores.get(doc), 1e-6, "doc " + doc);
        }
    }

    @Test
    void inactiveFeaturesAreMissing() throws IOException {
        RankingModel model = model(ModelCompiler.LINEAR, "{\"red\": 1, \"stone\": 1}");
        List<Query> onlyStone = Arrays.asList(null, new TermQuery(new Term("body", "stone")), null);
        Map<Integer, Float> scores = scoresOf(new RankerQuery(NAMES, onlyStone, model, "k"));
        float[][] own = ownScores();
        for (int doc = 0; doc < reader.maxDoc(); doc++) {
            assertEquals(Float.isNaN(own[doc][1]) ? 0 : own[doc][1], scores.get(doc), 1e-6);
        }
    }

    @Test
    void featureSetModeScoresZeroAndMatchesAll() throws IOException {
        Map<Integer, Float> scores = scoresOf(new RankerQuery(NAMES, features(), null, null));
        assertEquals(reader.maxDoc(), scores.size());
        assertTrue(scores.values().stream().allMatch(s -> s == 0f));
    }

    @Test
    void rescoreWithTheRankerGivesTheModelScore() throws IOException {
        RankingModel model = model(ModelCompiler.LINEAR, "{\"red\": 2, \"red_river\": -1}");
        TopDocs first = searcher.search(new MatchAllDocsQuery(), reader.maxDoc());
        TopDocs rescored = QueryRescorer.rescore(searcher, first, new RankerQuery(NAMES, features(), model, "k"), 1.0,
            reader.maxDoc());
        float[][] own = ownScores();
        for (ScoreDoc sd : rescored.scoreDocs) {
            double expected = 1 + (Float.isNaN(own[sd.doc][0]) ? 0 : 2 * own[sd.doc][0])
                - (Float.isNaN(own[sd.doc][2]) ? 0 : own[sd.doc][2]);
            assertEquals(expected, sd.score, 1e-4, "doc " + sd.doc);
        }
    }

    @Test
    void leafFeaturesReadTheFeatureScores() throws IOException {
        RankerQuery query = new RankerQuery(NAMES, features(), null, null);
        RankerQuery.RankerWeight weight = query.createWeight(searcher, ScoreMode.COMPLETE, 1f);
        float[][] own = ownScores();
        float[] vector = new float[3];
        for (LeafReaderContext leaf : reader.leaves()) {
            RankerQuery.LeafFeatures features = weight.leafFeatures(leaf);
            for (int doc = 0; doc < leaf.reader().maxDoc(); doc += 3) {
                features.vector(doc, vector);
                assertEquals(Arrays.toString(own[leaf.docBase + doc]), Arrays.toString(vector));
            }
        }
    }

    @Test
    void equalsAndHashCodeFollowFeaturesAndModelKey() {
        RankerQuery a = new RankerQuery(NAMES, features(), null, "k1");
        assertEquals(a, new RankerQuery(NAMES, features(), null, "k1"));
        assertEquals(a.hashCode(), new RankerQuery(NAMES, features(), null, "k1").hashCode());
        assertNotEquals(a, new RankerQuery(NAMES, features(), null, "k2"));
        assertNotEquals(a, new RankerQuery(NAMES, Arrays.asList(null, features().get(1), features().get(2)), null, "k1"));
    }

    @Test
    void rewriteRewritesFeatures() throws IOException {
        Query booleanLike = new PhraseQuery("body", "red");
        RankerQuery q = new RankerQuery(List.of("one"), List.of(booleanLike), null, null);
        RankerQuery rewritten = (RankerQuery) searcher.rewrite(q);
        assertEquals(new TermQuery(new Term("body", "red")), rewritten.features().get(0));
    }
}
