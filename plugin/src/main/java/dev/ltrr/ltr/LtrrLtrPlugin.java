package dev.ltrr.ltr;

import dev.ltrr.ltr.logging.FeatureLogStats;
import dev.ltrr.ltr.logging.FeatureRecordingListener;
import dev.ltrr.ltr.logging.LoggingFetchSubPhase;
import dev.ltrr.ltr.logging.LoggingSearchExtBuilder;
import dev.ltrr.ltr.model.CompiledModelCache;
import dev.ltrr.ltr.model.ModelLimits;
import dev.ltrr.ltr.query.LtrSearchServices;
import dev.ltrr.ltr.query.ResolvedLtrQueryBuilder;
import dev.ltrr.ltr.query.StoredLtrQueryBuilder;
import dev.ltrr.ltr.action.LtrCachesAction;
import dev.ltrr.ltr.action.TransportLtrCachesAction;
import dev.ltrr.ltr.model.ModelCompiler;
import dev.ltrr.ltr.rest.LtrRestContext;
import dev.ltrr.ltr.rest.RestCaches;
import dev.ltrr.ltr.rest.RestElements;
import dev.ltrr.ltr.rest.RestFeatureSetOps;
import dev.ltrr.ltr.rest.RestStoreManager;
import dev.ltrr.ltr.store.CachedElementLoader;
import dev.ltrr.ltr.store.ElementLoader;
import dev.ltrr.ltr.store.ElementValidator;
import dev.ltrr.ltr.store.LtrSettings;
import dev.ltrr.ltr.store.NodeCaches;
import dev.ltrr.ltr.store.StoreNames;
import dev.ltrr.ltr.store.StoredFeature;
import dev.ltrr.ltr.store.StoredModel;
import dev.ltrr.ltr.template.FeatureTemplates;
import dev.ltrr.ltr.template.RenderedFeatureCache;
import org.opensearch.action.ActionRequest;
import org.opensearch.cluster.metadata.IndexNameExpressionResolver;
import org.opensearch.cluster.node.DiscoveryNodes;
import org.opensearch.cluster.service.ClusterService;
import org.opensearch.common.settings.ClusterSettings;
import org.opensearch.common.settings.IndexScopedSettings;
import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.settings.SettingsFilter;
import org.opensearch.core.action.ActionResponse;
import org.opensearch.core.common.io.stream.NamedWriteableRegistry;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.env.Environment;
import org.opensearch.env.NodeEnvironment;
import org.opensearch.index.IndexModule;
import org.opensearch.repositories.RepositoriesService;
import org.opensearch.rest.RestController;
import org.opensearch.rest.RestHandler;
import org.opensearch.script.ScriptService;
import org.opensearch.threadpool.ThreadPool;
import org.opensearch.transport.client.Client;
import org.opensearch.watcher.ResourceWatcherService;
import org.opensearch.plugins.ActionPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.SearchPlugin;
import org.opensearch.search.fetch.FetchSubPhase;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Entry point of ltrr's Learning to Rank plugin. Registers the {@code sltr} query and the
 * {@code ltr_log} search extension with its fetch sub-phase (search side), and the
 * {@code /_ltr} REST API, store, caches and their cluster-wide actions (store side).
 */
public class LtrrLtrPlugin extends Plugin implements SearchPlugin, ActionPlugin {
    protected final Settings settings;
    /** Node-level cache of compiled models; the store side clears it on writes and _clearcache. */
    protected final CompiledModelCache modelCache;
    /** The store side's loader (through its per-node element cache); sltr fails with 503 while it is null. */
    protected volatile ElementLoader elementLoader;
    /** Model limits; the store side replaces them with the node settings' values. */
    protected volatile ModelLimits modelLimits = ModelLimits.DEFAULT;
    private final LtrSearchServices searchServices;
    /** Rendered feature queries by feature set instance and params; dropped with the compiled models. */
    private final RenderedFeatureCache renderedFeatures = new RenderedFeatureCache();
    /** How many logged vectors were read back from a rescore's recording, and how many computed. */
    private final FeatureLogStats featureLogStats = new FeatureLogStats();
    /** Both per-node caches, cleared on every node by the store side's cluster-wide action. */
    private final NodeCaches nodeCaches;

    public LtrrLtrPlugin(Settings settings) {
        this.settings = settings;
        this.modelCache = new CompiledModelCache();
        CachedElementLoader loader = new CachedElementLoader(settings);
        this.elementLoader = loader;
        this.modelLimits = new ModelLimits((int) LtrSettings.MAX_MODEL_BYTES.get(settings).getBytes(),
            LtrSettings.MAX_TREE_NODES.get(settings), LtrSettings.MAX_TREE_DEPTH.get(settings));
        this.nodeCaches = new NodeCaches(loader, new NodeCaches.ModelCache() {
            @Override
            public void clear() {
                modelCache.clear();
                renderedFeatures.clear();
            }

            @Override
            public void clear(String storeIndex) {
                modelCache.clear(storeIndex);
                // Entries are keyed by feature set instance, so a reloaded set never hits a stale one:
                // dropping them all here only frees memory early.
                renderedFeatures.clear();
            }

            @Override
            public Map<String, Object> stats() {
                return modelCache.stats();
            }
        });
        this.nodeCaches.searchStats(() -> Map.of("rendered_features", renderedFeatures.stats(),
            "feature_log", featureLogStats.stats()));
        this.searchServices = new LtrSearchServices(() -> elementLoader, modelCache, () -> modelLimits,
            renderedFeatures);
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
        return List.of(new LoggingFetchSubPhase(featureLogStats));
    }

    /** Lets rescore sltr queries record the vectors feature logging will read back (see the listener). */
    @Override
    public void onIndexModule(IndexModule indexModule) {
        indexModule.addSearchOperationListener(new FeatureRecordingListener());
    }

    // ---- store side: settings, stores and elements REST API, cluster-wide cache action ----

    @Override
    public List<Setting<?>> getSettings() {
        return LtrSettings.all();
    }

    @Override
    public Collection<Object> createComponents(Client client, ClusterService clusterService, ThreadPool threadPool,
                                               ResourceWatcherService resourceWatcherService, ScriptService scriptService,
                                               NamedXContentRegistry xContentRegistry, Environment environment,
                                               NodeEnvironment nodeEnvironment, NamedWriteableRegistry namedWriteableRegistry,
                                               IndexNameExpressionResolver indexNameExpressionResolver,
                                               Supplier<RepositoriesService> repositoriesServiceSupplier) {
        return List.of(nodeCaches);
    }

    @Override
    public List<ActionHandler<? extends ActionRequest, ? extends ActionResponse>> getActions() {
        return List.of(new ActionHandler<>(LtrCachesAction.INSTANCE, TransportLtrCachesAction.class));
    }

    @Override
    public List<RestHandler> getRestHandlers(Settings settings, RestController restController, ClusterSettings clusterSettings,
                                             IndexScopedSettings indexScopedSettings, SettingsFilter settingsFilter,
                                             IndexNameExpressionResolver indexNameExpressionResolver,
                                             Supplier<DiscoveryNodes> nodesInCluster) {
        LtrRestContext context = LtrRestContext.fromSettings(settings, () -> this::validate);
        return List.of(
            new RestStoreManager(),
            new RestElements(StoreNames.FEATURE, context),
            new RestElements(StoreNames.FEATURESET, context),
            new RestElements(StoreNames.MODEL, context),
            new RestFeatureSetOps(context),
            new RestCaches());
    }

    /** Before a write: every template must render to a query, a model must compile. */
    private void validate(Object element, NamedXContentRegistry registry) {
        for (StoredFeature feature : ElementValidator.featuresOf(element)) {
            FeatureTemplates.validate(feature, registry);
        }
        if (element instanceof StoredModel model) {
            ModelCompiler.compile(model, modelLimits);
        }
    }
}
