package dev.ltrr.ltr.logging;

import dev.ltrr.ltr.query.RankerQuery;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreMode;
import org.opensearch.common.document.DocumentField;
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
 * Feature logging: for each hit and each {@code ltr_log} spec, computes the feature values of the
 * {@code sltr} query the spec names (by {@code _name} in the main query, or by position in
 * {@code rescore}) with the same Lucene query that scored the hits, and puts them in the hit's
 * {@code _ltrlog} field: {@code [{"<log name>": [{"name": "f1", "value": 1.2}, {"name": "f2"}]}]}.
 */
public final class LoggingFetchSubPhase implements FetchSubPhase {
    public static final String FIELD = "_ltrlog";

    @Override
    public FetchSubPhaseProcessor getProcessor(FetchContext context) throws IOException {
        if (!(context.getSearchExt(LoggingSearchExtBuilder.NAME) instanceof LoggingSearchExtBuilder ext)) {
            return null;
        }
        IndexSearcher searcher = context.searcher();
        List<Logger> loggers = new ArrayList<>();
        for (LoggingSearchExtBuilder.LogSpec spec : ext.logSpecs()) {
            RankerQuery query = findQuery(context, spec);
            RankerQuery rewritten = (RankerQuery) searcher.rewrite(query);
            loggers.add(new Logger(spec, rewritten, rewritten.createWeight(searcher, ScoreMode.COMPLETE, 1f)));
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
        Query query;
        String what;
        if (spec.namedQuery() != null) {
            what = "named query [" + spec.namedQuery() + "]";
            Map<String, Query> named = context.parsedQuery() == null ? Map.of() : context.parsedQuery().namedFilters();
            query = named.get(spec.namedQuery());
            if (query == null) {
                throw new IllegalArgumentException("[ltr_log] no query named [" + spec.namedQuery() + "] in the search "
                    + "query (set _name on an sltr query)");
            }
        } else {
            what = "rescore query [" + spec.rescoreIndex() + "]";
            List<RescoreContext> rescores = context.rescore();
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

    /** Logs one spec; feature scorers are recreated when a hit comes before the previous one. */
    private static final class Logger {
        private final LoggingSearchExtBuilder.LogSpec spec;
        private final RankerQuery query;
        private final RankerQuery.RankerWeight weight;
        private final float[] vector;
        private LeafReaderContext leaf;
        private RankerQuery.LeafFeatures features;

        Logger(LoggingSearchExtBuilder.LogSpec spec, RankerQuery query, RankerQuery.RankerWeight weight) {
            this.spec = spec;
            this.query = query;
            this.weight = weight;
            this.vector = new float[weight.featureCount()];
        }

        void setNextReader(LeafReaderContext context) throws IOException {
            leaf = context;
            features = weight.leafFeatures(context);
        }

        Map<String, Object> log(int doc) throws IOException {
            if (doc < features.lastDoc()) {
                features = weight.leafFeatures(leaf);
            }
            features.vector(doc, vector);
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
