package dev.ltrr.ltr.query;

import dev.ltrr.ltr.model.CompiledModelCache;
import dev.ltrr.ltr.model.ModelCompiler;
import dev.ltrr.ltr.model.ModelLimits;
import dev.ltrr.ltr.store.ElementLoader;
import dev.ltrr.ltr.store.StoredFeature;
import dev.ltrr.ltr.store.StoredFeatureSet;
import dev.ltrr.ltr.store.StoredModel;
import dev.ltrr.ltr.template.FeatureTemplates;
import org.apache.lucene.search.Query;
import org.apache.lucene.util.SetOnce;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.core.ParseField;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.common.ParsingException;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.index.query.AbstractQueryBuilder;
import org.opensearch.index.query.QueryBuilder;
import org.opensearch.index.query.QueryRewriteContext;
import org.opensearch.index.query.QueryShardContext;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The {@code sltr} query as the official plugin spells it:
 * {@code {"sltr": {"params": {...}, "model" | "featureset": "name", "store": "s", "active_features": [...],
 * "_name": "q", "boost": 1.0}}}. It never reaches a shard as such: the first rewrite (on the coordinating
 * node) loads the element through the {@link ElementLoader}, renders every active feature's template with
 * the params, compiles the model (so a broken model fails the request early) and becomes a
 * {@link ResolvedLtrQueryBuilder}.
 */
public final class StoredLtrQueryBuilder extends AbstractQueryBuilder<StoredLtrQueryBuilder> {
    public static final String NAME = "sltr";
    static final ParseField PARAMS = new ParseField("params");
    static final ParseField MODEL = new ParseField("model");
    static final ParseField FEATURESET = new ParseField("featureset");
    static final ParseField STORE = new ParseField("store");
    static final ParseField ACTIVE_FEATURES = new ParseField("active_features");
    static final ParseField CACHE = new ParseField("cache");

    private final LtrSearchServices services;
    private Map<String, Object> params = Map.of();
    private String modelName;
    private String featureSetName;
    private String store;
    private List<String> activeFeatures;
    /** Set once the element is loaded; only on the copy returned by the first rewrite. */
    private final Supplier<ResolvedLtrQueryBuilder> resolved;

    public StoredLtrQueryBuilder(LtrSearchServices services) {
        this.services = services;
        this.resolved = null;
    }

    private StoredLtrQueryBuilder(StoredLtrQueryBuilder from, Supplier<ResolvedLtrQueryBuilder> resolved) {
        this.services = from.services;
        this.params = from.params;
        this.modelName = from.modelName;
        this.featureSetName = from.featureSetName;
        this.store = from.store;
        this.activeFeatures = from.activeFeatures;
        this.queryName = from.queryName;
        this.boost = from.boost;
        this.resolved = resolved;
    }

    public StoredLtrQueryBuilder(StreamInput in, LtrSearchServices services) throws IOException {
        super(in);
        this.services = services;
        this.params = in.readMap();
        this.modelName = in.readOptionalString();
        this.featureSetName = in.readOptionalString();
        this.store = in.readOptionalString();
        String[] active = in.readOptionalStringArray();
        this.activeFeatures = active == null ? null : List.of(active);
        this.resolved = null;
    }

    @Override
    protected void doWriteTo(StreamOutput out) throws IOException {
        out.writeMap(params);
        out.writeOptionalString(modelName);
        out.writeOptionalString(featureSetName);
        out.writeOptionalString(store);
        out.writeOptionalStringArray(activeFeatures == null ? null : activeFeatures.toArray(new String[0]));
    }

    public StoredLtrQueryBuilder params(Map<String, Object> params) {
        this.params = params == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(params));
        return this;
    }

    public StoredLtrQueryBuilder modelName(String modelName) {
        this.modelName = modelName;
        return this;
    }

    public StoredLtrQueryBuilder featureSetName(String featureSetName) {
        this.featureSetName = featureSetName;
        return this;
    }

    public StoredLtrQueryBuilder store(String store) {
        this.store = store;
        return this;
    }

    public StoredLtrQueryBuilder activeFeatures(List<String> activeFeatures) {
        this.activeFeatures = activeFeatures == null ? null : List.copyOf(activeFeatures);
        return this;
    }

    public Map<String, Object> params() {
        return params;
    }

    public String modelName() {
        return modelName;
    }

    public String featureSetName() {
        return featureSetName;
    }

    public String store() {
        return store;
    }

    public List<String> activeFeatures() {
        return activeFeatures;
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    @Override
    protected void doXContent(XContentBuilder builder, Params p) throws IOException {
        builder.startObject(NAME);
        builder.field(PARAMS.getPreferredName(), params);
        if (modelName != null) {
            builder.field(MODEL.getPreferredName(), modelName);
        }
        if (featureSetName != null) {
            builder.field(FEATURESET.getPreferredName(), featureSetName);
        }
        if (store != null) {
            builder.field(STORE.getPreferredName(), store);
        }
        if (activeFeatures != null) {
            builder.field(ACTIVE_FEATURES.getPreferredName(), activeFeatures);
        }
        printBoostAndQueryName(builder);
        builder.endObject();
    }

    public static StoredLtrQueryBuilder fromXContent(XContentParser parser, LtrSearchServices services)
        throws IOException {
        StoredLtrQueryBuilder builder = new StoredLtrQueryBuilder(services);
        String field = null;
        XContentParser.Token token;
        while ((token = parser.nextToken()) != XContentParser.Token.END_OBJECT) {
            if (token == null) {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] unexpected end of input");
            }
            if (token == XContentParser.Token.FIELD_NAME) {
                field = parser.currentName();
                continue;
            }
            if (PARAMS.match(field, parser.getDeprecationHandler())) {
                if (token != XContentParser.Token.START_OBJECT) {
                    throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [params] must be an object");
                }
                builder.params(parser.map());
            } else if (ACTIVE_FEATURES.match(field, parser.getDeprecationHandler())) {
                if (token != XContentParser.Token.START_ARRAY) {
                    throw new ParsingException(parser.getTokenLocation(),
                        "[" + NAME + "] [active_features] must be a list of feature names");
                }
                List<String> names = new ArrayList<>();
                while ((token = parser.nextToken()) != XContentParser.Token.END_ARRAY) {
                    if (token != XContentParser.Token.VALUE_STRING) {
                        throw new ParsingException(parser.getTokenLocation(),
                            "[" + NAME + "] [active_features] must be a list of feature names, found " + token);
                    }
                    names.add(parser.text());
                }
                builder.activeFeatures(names);
            } else if (token.isValue() || token == XContentParser.Token.VALUE_NULL) {
                if (MODEL.match(field, parser.getDeprecationHandler())) {
                    builder.modelName(string(parser, field));
                } else if (FEATURESET.match(field, parser.getDeprecationHandler())) {
                    builder.featureSetName(string(parser, field));
                } else if (STORE.match(field, parser.getDeprecationHandler())) {
                    builder.store(string(parser, field));
                } else if (NAME_FIELD.match(field, parser.getDeprecationHandler())) {
                    builder.queryName(string(parser, field));
                } else if (BOOST_FIELD.match(field, parser.getDeprecationHandler())) {
                    if (token != XContentParser.Token.VALUE_NUMBER) {
                        throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [boost] must be a number");
                    }
                    builder.boost(parser.floatValue());
                } else if (CACHE.match(field, parser.getDeprecationHandler())) {
                    // Accepted for compatibility with the official DSL; compiled models are always cached.
                    if (token != XContentParser.Token.VALUE_BOOLEAN) {
                        throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [cache] must be a boolean");
                    }
                } else {
                    throw unknownField(parser, field);
                }
            } else if (MODEL.match(field, parser.getDeprecationHandler())
                || FEATURESET.match(field, parser.getDeprecationHandler())
                || STORE.match(field, parser.getDeprecationHandler())
                || NAME_FIELD.match(field, parser.getDeprecationHandler())) {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [" + field
                    + "] must be a non-empty string");
            } else {
                throw unknownField(parser, field);
            }
        }
        if ((builder.modelName == null) == (builder.featureSetName == null)) {
            throw new ParsingException(parser.getTokenLocation(),
                "[" + NAME + "] requires exactly one of [model] or [featureset]");
        }
        return builder;
    }

    private static String string(XContentParser parser, String field) throws IOException {
        if (parser.currentToken() != XContentParser.Token.VALUE_STRING || parser.text().isEmpty()) {
            throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] [" + field
                + "] must be a non-empty string");
        }
        return parser.text();
    }

    private static ParsingException unknownField(XContentParser parser, String field) {
        return new ParsingException(parser.getTokenLocation(), "[" + NAME + "] query does not support [" + field
            + "] (supported: params, model, featureset, store, active_features, cache, _name, boost)");
    }

    @Override
    protected QueryBuilder doRewrite(QueryRewriteContext context) throws IOException {
        if (resolved != null) {
            ResolvedLtrQueryBuilder r = resolved.get();
            return r == null ? this : r;
        }
        ElementLoader loader = services == null ? null : services.loader().get();
        if (loader == null) {
            throw new OpenSearchStatusException("[sltr] the LTR store is not available on this node yet",
                RestStatus.SERVICE_UNAVAILABLE);
        }
        NamedXContentRegistry registry = context.getXContentRegistry();
        SetOnce<ResolvedLtrQueryBuilder> holder = new SetOnce<>();
        context.registerAsyncAction((client, listener) -> {
            if (modelName != null) {
                loader.loadModel(client, store, modelName, ActionListener.wrap(model -> {
                    holder.set(resolve(model.featureSet(), model, registry));
                    listener.onResponse(null);
                }, listener::onFailure));
            } else {
                loader.loadFeatureSet(client, store, featureSetName, ActionListener.wrap(set -> {
                    holder.set(resolve(set, null, registry));
                    listener.onResponse(null);
                }, listener::onFailure));
            }
        });
        return new StoredLtrQueryBuilder(this, holder::get);
    }

    /** Renders the active features and (with a model) compiles it; errors are IllegalArgumentExceptions. */
    ResolvedLtrQueryBuilder resolve(StoredFeatureSet set, StoredModel model, NamedXContentRegistry registry) {
        List<StoredFeature> features = set.features();
        Set<String> active = null;
        if (activeFeatures != null) {
            active = new LinkedHashSet<>(activeFeatures);
            List<String> unknown = new ArrayList<>();
            for (String name : active) {
                if (set.ordinal(name) < 0) {
                    unknown.add(name);
                }
            }
            if (!unknown.isEmpty()) {
                throw new IllegalArgumentException("[sltr] active_features names unknown feature(s) " + unknown
                    + " of feature set [" + set.name() + "]");
            }
        }
        List<StoredFeature> rendered = new ArrayList<>();
        for (StoredFeature f : features) {
            if (active == null || active.contains(f.name())) {
                rendered.add(f);
            }
        }
        FeatureTemplates.checkParams(rendered, params);
        Set<String> activeNames = active;
        Supplier<List<QueryBuilder>> render = () -> {
            List<QueryBuilder> queries = new ArrayList<>(features.size());
            for (StoredFeature f : features) {
                queries.add(activeNames == null || activeNames.contains(f.name())
                    ? FeatureTemplates.render(f, params, registry) : null);
            }
            return queries;
        };
        // The sub-searches of one _msearch usually send the same sltr: render and parse its templates once.
        List<QueryBuilder> queries = services != null && services.renderedFeatures() != null
            ? services.renderedFeatures().getOrRender(set, active, params, render) : render.get();
        String storeIndex = LtrSearchServices.storeIndex(store);
        ResolvedLtrQueryBuilder.ModelSpec spec = null;
        if (model != null) {
            // Hashing a large definition costs milliseconds: the node cache remembers it per loaded model.
            String hash = services != null && services.modelCache() != null ? services.modelCache().definitionHash(model)
                : CompiledModelCache.definitionHash(model.type(), set.featureNames(), model.definition(),
                    model.normalizers());
            spec = new ResolvedLtrQueryBuilder.ModelSpec(model.name(), model.type(), model.definition(),
                model.normalizers(), hash);
            if (services != null && services.modelCache() != null) {
                ModelLimits limits = services.limits().get();
                services.modelCache().getOrCompile(new CompiledModelCache.Key(storeIndex, model.name(), hash),
                    () -> ModelCompiler.compile(model, limits));
            }
        }
        ResolvedLtrQueryBuilder r = new ResolvedLtrQueryBuilder(services, storeIndex, set.name(), set.featureNames(),
            queries, spec);
        r.queryName(queryName);
        r.boost(boost);
        return r;
    }

    @Override
    protected Query doToQuery(QueryShardContext context) {
        throw new IllegalStateException("[sltr] query reached a shard without being rewritten");
    }

    @Override
    protected boolean doEquals(StoredLtrQueryBuilder other) {
        return Objects.equals(params, other.params) && Objects.equals(modelName, other.modelName)
            && Objects.equals(featureSetName, other.featureSetName) && Objects.equals(store, other.store)
            && Objects.equals(activeFeatures, other.activeFeatures);
    }

    @Override
    protected int doHashCode() {
        return Objects.hash(params, modelName, featureSetName, store, activeFeatures);
    }
}
