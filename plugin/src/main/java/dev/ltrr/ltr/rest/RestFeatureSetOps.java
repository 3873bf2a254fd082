package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.store.ElementParser;
import dev.ltrr.ltr.store.StoreNames;
import dev.ltrr.ltr.store.StoredFeature;
import dev.ltrr.ltr.store.StoredFeatureSet;
import dev.ltrr.ltr.store.StoredModel;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.ResourceNotFoundException;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.index.query.QueryBuilders;
import org.opensearch.rest.BaseRestHandler;
import org.opensearch.rest.RestRequest;
import org.opensearch.search.SearchHit;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.sort.SortOrder;
import org.opensearch.transport.client.node.NodeClient;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.opensearch.rest.RestRequest.Method.POST;

/**
 * {@code POST /_ltr[/{store}]/_featureset/{name}/_addfeatures[/{query}]} and
 * {@code POST /_ltr[/{store}]/_featureset/{name}/_createmodel}.
 */
public final class RestFeatureSetOps extends BaseRestHandler {
    private final LtrRestContext context;

    public RestFeatureSetOps(LtrRestContext context) {
        this.context = context;
    }

    @Override
    public String getName() {
        return "ltrr_ltr_featureset_ops";
    }

    @Override
    public List<Route> routes() {
        List<Route> routes = new ArrayList<>();
        for (String prefix : List.of("/_ltr", "/_ltr/{store}")) {
            routes.add(new Route(POST, prefix + "/_featureset/{name}/_addfeatures"));
            routes.add(new Route(POST, prefix + "/_featureset/{name}/_addfeatures/{query}"));
            routes.add(new Route(POST, prefix + "/_featureset/{name}/_createmodel"));
        }
        return routes;
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        String store = request.param("store");
        String index = StoreNames.indexName(store);
        String name = StoreNames.checkName("featureset", request.param("name"));
        if (request.path().endsWith("/_createmodel")) {
            return createModel(request, client, store, index, name);
        }
        return addFeatures(request, client, store, index, name);
    }

    private RestChannelConsumer createModel(RestRequest request, NodeClient client, String store, String index,
                                            String setName) {
        Map<String, Object> body = LtrRestSupport.body(request, context.maxRequestBytes());
        Object inner = LtrRestSupport.unwrap(body, StoreNames.MODEL);
        if (!(inner instanceof Map<?, ?> modelObj)) {
            throw new IllegalArgumentException("[model] must be an object {\"name\", \"model\": {...}}");
        }
        for (Object key : modelObj.keySet()) {
            if (!Set.of("name", "model").contains(key)) {
                throw new IllegalArgumentException("[model]: unknown field [" + key + "], expected [model, name]"
                    + (key.equals("feature_set") ? " (the feature set is the stored set [" + setName + "])" : ""));
            }
        }
        Object rawName = modelObj.get("name");
        if (!(rawName instanceof String modelName)) {
            throw new IllegalArgumentException("[model][name] is required and must be a string");
        }
        StoreNames.checkName("model", modelName);
        Object modelBody = modelObj.get("model");
        if (modelBody == null) {
            throw new IllegalArgumentException("model [" + modelName + "]: [model] is required");
        }
        return channel -> StoreWrites.getElement(client, store, index, StoreNames.FEATURESET, setName, context.limits(),
            LtrRestSupport.onChannel(channel, store, index, found -> {
                if (found == null) {
                    throw new ResourceNotFoundException("featureset [" + setName + "] not found in "
                        + LtrRestSupport.where(store, index));
                }
                StoredFeatureSet set = (StoredFeatureSet) found.element();
                StoredModel model = ElementParser.parseModelBody(modelName, set, modelBody, context.limits());
                context.validatorOrNone().validate(model, request.getXContentRegistry());
                StoreWrites.write(client, channel, store, index, model, true, null);
            }));
    }

    private RestChannelConsumer addFeatures(RestRequest request, NodeClient client, String store, String index,
                                            String setName) {
        boolean merge = request.paramAsBoolean("merge", false);
        long expectedVersion = request.paramAsLong("version", -1);
        String query = request.param("query");
        List<StoredFeature> given;
        if (query != null) {
            if (request.hasContent()) {
                throw new IllegalArgumentException("_addfeatures/{query} takes no body: it adds the stored features whose"
                    + " name starts with the query");
            }
            given = null;
        } else {
            Map<String, Object> body = LtrRestSupport.body(request, context.maxRequestBytes());
            Object features = LtrRestSupport.unwrap(body, "features");
            if (!(features instanceof List<?> list)) {
                throw new IllegalArgumentException("[features] must be a list of features");
            }
            if (list.isEmpty()) {
                throw new IllegalArgumentException("[features] must not be empty");
            }
            if (list.size() > context.limits().maxFeatures()) {
                throw new IllegalArgumentException(list.size() + " features is more than the limit of "
                    + context.limits().maxFeatures() + " (ltrr.ltr.max_features_per_set)");
            }
            given = new ArrayList<>();
            for (Object f : list) {
                given.add(ElementParser.parseFeature(f));
            }
            ElementParser.checkUniqueNames(given, "[features]");
            for (StoredFeature f : given) {
                context.validatorOrNone().validate(f, request.getXContentRegistry());
            }
        }
        return channel -> StoreWrites.requireStore(client, channel, store, index, () -> {
            if (given != null) {
                merge(request, client, channel, store, index, setName, given, merge, expectedVersion);
                return;
            }
            int max = Math.min(context.limits().maxFeatures(), RestElements.MAX_RESULT_WINDOW - 1);
            SearchRequest search = new SearchRequest(index).source(new SearchSourceBuilder().size(max + 1)
                .query(QueryBuilders.boolQuery().filter(QueryBuilders.termQuery("type", StoreNames.FEATURE))
                    .filter(QueryBuilders.prefixQuery("name", query)))
                .sort("name", SortOrder.ASC));
            client.search(search, LtrRestSupport.onChannel(channel, store, index, r -> {
                SearchHit[] hits = r.getHits().getHits();
                if (hits.length == 0) {
                    throw new ResourceNotFoundException("no feature in " + LtrRestSupport.where(store, index)
                        + " has a name starting with [" + query + "]");
                }
                if (hits.length > max) {
                    throw new IllegalArgumentException("more than " + max + " features start with [" + query
                        + "]: add them in smaller groups");
                }
                List<StoredFeature> found = new ArrayList<>();
                for (SearchHit hit : hits) {
                    found.add((StoredFeature) ElementParser.parseSource(hit.getSourceAsMap(), context.limits()).element());
                }
                merge(request, client, channel, store, index, setName, found, merge, expectedVersion);
            }));
        });
    }

    private void merge(RestRequest request, NodeClient client, org.opensearch.rest.RestChannel channel, String store,
                       String index, String setName, List<StoredFeature> added, boolean merge, long expectedVersion) {
        StoreWrites.getElement(client, store, index, StoreNames.FEATURESET, setName, context.limits(),
            LtrRestSupport.onChannel(channel, store, index, found -> {
                if (expectedVersion >= 0 && (found == null || found.version() != expectedVersion)) {
                    throw new OpenSearchStatusException("featureset [" + setName + "] is at version "
                        + (found == null ? "none (it does not exist)" : found.version()) + ", not " + expectedVersion,
                        RestStatus.CONFLICT);
                }
                StoredFeatureSet set = found == null ? new StoredFeatureSet(setName, List.of())
                    : (StoredFeatureSet) found.element();
                StoredFeatureSet updated = appendFeatures(set, added, merge, context.limits().maxFeatures());
                StoreWrites.write(client, channel, store, index, updated, found == null, found);
            }));
    }

    /**
     * The set with {@code added} appended in order; a feature whose name is already in the set replaces it
     * in place when {@code merge}, and is refused otherwise.
     */
    static StoredFeatureSet appendFeatures(StoredFeatureSet set, List<StoredFeature> added, boolean merge, int maxFeatures) {
        Map<String, StoredFeature> byName = new LinkedHashMap<>();
        for (StoredFeature f : set.features()) {
            byName.put(f.name(), f);
        }
        List<String> clashes = new ArrayList<>();
        for (StoredFeature f : added) {
            if (byName.containsKey(f.name()) && !merge) {
                clashes.add(f.name());
            }
        }
        if (!clashes.isEmpty()) {
            throw new IllegalArgumentException("featureset [" + set.name() + "] already has feature(s) " + clashes
                + "; pass merge=true to replace them");
        }
        for (StoredFeature f : added) {
            byName.put(f.name(), f);
        }
        if (byName.size() > maxFeatures) {
            throw new IllegalArgumentException("featureset [" + set.name() + "] would have " + byName.size()
                + " features, more than the limit of " + maxFeatures + " (ltrr.ltr.max_features_per_set)");
        }
        return new StoredFeatureSet(set.name(), new ArrayList<>(byName.values()));
    }
}
