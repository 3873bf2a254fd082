package dev.ltrr.ltr.logging;

import dev.ltrr.ltr.query.RankerQuery;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreMode;
import org.opensearch.common.document.DocumentField;
import org.opensearch.index.query.ParsedQuery;
import org.opensearch.search.fetch.FetchContext;
import org.opensearch.search.fetch.FetchSubPhase;
import org.opensearch.search.fetch.FetchSubPhaseProcessor;
import org.opensearch.search.rescore.QueryRescorer;
import org.opensearch.search.rescore.RescoreContext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Feature logging: for each hit and each {@code ltr_log} spec, reads the feature values of the
 * {@code sltr} query the spec names (by {@code _name} in the main query, or by position in
 * {@code rescore}) and puts them in the hit's {@code _ltrlog} field:
 * {@code [{"<log name>": [{"name": "f1", "value": 1.2}, {"name": "f2"}]}]}.
 * <p>
 * A rescore spec's query recorded the vectors it scored its window with ({@link FeatureRecordingListener}
 * enables that before the query phase), so those hits reuse exactly the values the model saw. A hit
 * with no recorded vector (a named query, a hit outside the window, a fetch phase that runs in its own
 * request because the search spans several shards) gets them computed here by the same Lucene query;
 * the feature weights are only created when the first such hit comes.
 */
public final class LoggingFetchSubPhase implements FetchSubPhase {
    public static final String FIELD = "_ltrlog";
    private final FeatureLogStats stats;

    public LoggingFetchSubPhase(FeatureLogStats stats) {
        this.stats = stats;
    }

    public LoggingFetchSubPhase() {
        this(new FeatureLogStats());
    }

    @Override
    public FetchSubPhaseProcessor getProcessor(FetchContext context) throws IOException {
        if (!(context.getSearchExt(LoggingSearchExtBuilder.NAME) instanceof LoggingSearchExtBuilder ext)) {
            return null;
        }
        IndexSearcher searcher = context.searcher();
        List<Logger> loggers = new ArrayList<>();
        for (LoggingSearchExtBuilder.LogSpec spec : ext.logSpecs()) {
            loggers.add(new Logger(spec, findQuery(context, spec), searcher, stats));
        }
        return new FetchSubPhaseProcessor() {
            @Override
            public void setNextReader(LeafReaderContext readerContext) throws IOException {
                for (Logger logger : loggers) {
                    logger.setNextReader(readerContext);
                }
            }

            @Override
            public void process(HitContext hitContext) throws IOException {
                List<Object> entries = new ArrayList<>(loggers.size());
                for (Logger logger : loggers) {
                    entries.add(logger.log(hitContext.docId()));
                }
                hitContext.hit().setDocumentField(FIELD, new DocumentField(FIELD, entries));
            }
        };
    }

    static RankerQuery findQuery(FetchContext context, LoggingSearchExtBuilder.LogSpec spec) {
        return findQuery(context.parsedQuery(), context.rescore(), spec);
    }

    /** The sltr query a spec names; an IllegalArgumentException says why there is none. */
    static RankerQuery findQuery(ParsedQuery parsedQuery, List<RescoreContext> rescores,
                                 LoggingSearchExtBuilder.LogSpec spec) {
        Query query;
        String what;
        if (spec.namedQuery() != null) {
            what = "named query [" + spec.namedQuery() + "]";
            Map<String, Query> named = parsedQuery == null ? Map.of() : parsedQuery.namedFilters();
            query = named.get(spec.namedQuery());
            if (query == null) {
                throw new IllegalArgumentException("[ltr_log] no query named [" + spec.namedQuery() + "] in the search "
                    + "query (set _name on an sltr query)");
            }
        } else {
            what = "rescore query [" + spec.rescoreIndex() + "]";
            if (rescores == null || spec.rescoreIndex() >= rescores.size()) {
                throw new IllegalArgumentException("[ltr_log] [rescore_index] " + spec.rescoreIndex() + " is out of "
                    + "range: the search has " + (rescores == null ? 0 : rescores.size()) + " rescore(s)");
            }
            if (!(rescores.get(spec.rescoreIndex()) instanceof QueryRescorer.QueryRescoreContext rescore)) {
                throw new IllegalArgumentException("[ltr_log] " + what + " is not a query rescorer");
            }
            query = rescore.parsedQuery().query();
        }
        while (query instanceof BoostQuery boosted) {
            query = boosted.getQuery();
        }
        if (!(query instanceof RankerQuery ranker)) {
            throw new IllegalArgumentException("[ltr_log] " + what + " is not an sltr query");
        }
        return ranker;
    }

    /**
     * Logs one spec: recorded vectors where the query kept them, else computed; feature scorers are
     * recreated when a computed hit comes before the previous one.
     */
    static final class Logger {
        private final LoggingSearchExtBuilder.LogSpec spec;
        private final RankerQuery query;
        private final IndexSearcher searcher;
        private final FeatureLogStats stats;
        private final float[] vector;
        private RankerQuery.RankerWeight weight;
        private LeafReaderContext leaf;
        private RankerQuery.LeafFeatures features;

        Logger(LoggingSearchExtBuilder.LogSpec spec, RankerQuery query, IndexSearcher searcher, FeatureLogStats stats) {
            this.spec = spec;
            this.query = query;
            this.searcher = searcher;
            this.stats = stats;
            this.vector = new float[query.featureNames().size()];
        }

        void setNextReader(LeafReaderContext context) {
            leaf = context;
            features = null;
        }

        private void compute(int doc) throws IOException {
            if (weight == null) {
                RankerQuery rewritten = (RankerQuery) searcher.rewrite(query);
                weight = rewritten.createWeight(searcher, ScoreMode.COMPLETE, 1f);
            }
            if (features == null || doc < features.lastDoc()) {
                features = weight.leafFeatures(leaf);
            }
            features.vector(doc, vector);
        }

        Map<String, Object> log(int doc) throws IOException {
            float[] recorded = query.recorded().get(leaf.docBase + doc);
            if (recorded != null) {
                System.arraycopy(recorded, 0, vector, 0, vector.length);
                stats.recorded();
            } else {
                compute(doc);
                stats.computed();
            }
            List<Map<String, Object>> values = new ArrayList<>(vector.length);
            List<String> names = query.featureNames();
            for (int i = 0; i < vector.length; i++) {
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("name", names.get(i));
                if (!Float.isNaN(vector[i])) {
                    entry.put("value", vector[i]);
                } else if (spec.missingAsZero()) {
                    entry.put("value", 0f);
                }
                values.add(entry);
            }
            Map<String, Object> log = new LinkedHashMap<>();
            log.put(spec.logName(), values);
            return log;
        }
    }
}
