package dev.ltrr.ltr;

import dev.ltrr.ltr.logging.LoggingFetchSubPhase;
import dev.ltrr.ltr.logging.LoggingSearchExtBuilder;
import dev.ltrr.ltr.model.CompiledModelCache;
import dev.ltrr.ltr.model.ModelLimits;
import dev.ltrr.ltr.query.LtrSearchServices;
import dev.ltrr.ltr.query.ResolvedLtrQueryBuilder;
import dev.ltrr.ltr.query.StoredLtrQueryBuilder;
import dev.ltrr.ltr.store.ElementLoader;
import org.opensearch.common.settings.Settings;
import org.opensearch.plugins.ActionPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.SearchPlugin;
import org.opensearch.search.fetch.FetchSubPhase;

import java.util.List;

/**
 * Entry point of ltrr's Learning to Rank plugin. Registers the {@code sltr} query and the
 * {@code ltr_log} search extension with its fetch sub-phase (search side), and the
 * {@code /_ltr} REST API, store, caches and their cluster-wide actions (store side).
 */
public class LtrrLtrPlugin extends Plugin implements SearchPlugin, ActionPlugin {
    protected final Settings settings;
    /** Node-level cache of compiled models; the store side clears it on writes and _clearcache. */
    protected final CompiledModelCache modelCache;
    /** Set by the store side once the node's client exists (createComponents); sltr fails with 503 before. */
    protected volatile ElementLoader elementLoader;
    /** Model limits; the store side replaces them with the node settings' values. */
    protected volatile ModelLimits modelLimits = ModelLimits.DEFAULT;
    private final LtrSearchServices searchServices;

    public LtrrLtrPlugin(Settings settings) {
        this.settings = settings;
        this.modelCache = new CompiledModelCache();
        this.searchServices = new LtrSearchServices(() -> elementLoader, modelCache, () -> modelLimits);
    }

    public CompiledModelCache modelCache() {
        return modelCache;
    }

    // ---- search side: sltr query, ltr_log extension, feature logging ----

    @Override
    public List<QuerySpec<?>> getQueries() {
        return List.of(
            new QuerySpec<>(StoredLtrQueryBuilder.NAME, in -> new StoredLtrQueryBuilder(in, searchServices),
                parser -> StoredLtrQueryBuilder.fromXContent(parser, searchServices)),
            new QuerySpec<>(ResolvedLtrQueryBuilder.NAME, in -> new ResolvedLtrQueryBuilder(in, searchServices),
                ResolvedLtrQueryBuilder::fromXContent));
    }

    @Override
    public List<SearchExtSpec<?>> getSearchExts() {
        return List.of(new SearchExtSpec<>(LoggingSearchExtBuilder.NAME, LoggingSearchExtBuilder::new,
            LoggingSearchExtBuilder::parse));
    }

    @Override
    public List<FetchSubPhase> getFetchSubPhases(FetchPhaseConstructionContext context) {
        return List.of(new LoggingFetchSubPhase());
    }
}
