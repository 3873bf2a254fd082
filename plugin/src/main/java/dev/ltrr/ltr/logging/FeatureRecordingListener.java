package dev.ltrr.ltr.logging;

import dev.ltrr.ltr.query.RankerQuery;
import org.opensearch.index.shard.SearchOperationListener;
import org.opensearch.search.internal.SearchContext;
import org.opensearch.search.rescore.RescoreContext;

import java.util.List;

/**
 * Before a shard's query phase: when the search asks for {@code ltr_log} of a rescore query, tells that
 * sltr query to record the feature vectors it scores the rescore window with (at most the window's
 * size), so {@link LoggingFetchSubPhase} reads them back instead of computing every feature again.
 * Named (main query) specs are not recorded: the main query scores every matching document, not a
 * bounded window; they are computed in the fetch phase as before. A spec that names no sltr query is
 * left alone here: the fetch phase reports it.
 */
public final class FeatureRecordingListener implements SearchOperationListener {
    @Override
    public void onPreQueryPhase(SearchContext context) {
        if (context.getSearchExt(LoggingSearchExtBuilder.NAME) instanceof LoggingSearchExtBuilder ext) {
            enableRecording(ext, context.rescore());
        }
    }

    /** Enables recording on every rescore sltr query a spec of {@code ext} names; returns how many specs. */
    static int enableRecording(LoggingSearchExtBuilder ext, List<RescoreContext> rescores) {
        int enabled = 0;
        for (LoggingSearchExtBuilder.LogSpec spec : ext.logSpecs()) {
            if (spec.namedQuery() != null || rescores == null) {
                continue;
            }
            RankerQuery query;
            try {
                query = LoggingFetchSubPhase.findQuery(null, rescores, spec);
            } catch (IllegalArgumentException e) {
                continue;
            }
            query.recorded().enable(rescores.get(spec.rescoreIndex()).getWindowSize());
            enabled++;
        }
        return enabled;
    }
}
