package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.store.ElementParser;
import dev.ltrr.ltr.store.StoreNames;
import org.opensearch.action.delete.DeleteRequest;
import org.opensearch.action.delete.DeleteResponse;
import org.opensearch.action.get.GetRequest;
import org.opensearch.action.get.GetResponse;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.support.WriteRequest;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.index.query.BoolQueryBuilder;
import org.opensearch.index.query.QueryBuilders;
import org.opensearch.rest.BaseRestHandler;
import org.opensearch.rest.RestRequest;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.search.sort.SortOrder;
import org.opensearch.transport.client.node.NodeClient;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.opensearch.rest.RestRequest.Method.DELETE;
import static org.opensearch.rest.RestRequest.Method.GET;
import static org.opensearch.rest.RestRequest.Method.HEAD;
import static org.opensearch.rest.RestRequest.Method.POST;
import static org.opensearch.rest.RestRequest.Method.PUT;

/**
 * One element type ({@code feature}, {@code featureset} or {@code model}): create (PUT), update (POST,
 * not models), get, head, delete on {@code /_ltr[/{store}]/_<type>/{name}}, and search on
 * {@code /_ltr[/{store}]/_<type>?prefix=&from=&size=}.
 */
public final class RestElements extends BaseRestHandler {
    static final int MAX_RESULT_WINDOW = 10_000;

    private final String type;
    private final LtrRestContext context;

    public RestElements(String type, LtrRestContext context) {
        this.type = StoreNames.checkType(type);
        this.context = context;
    }

    @Override
    public String getName() {
        return "ltrr_ltr_" + type;
    }

    @Override
    public List<Route> routes() {
        List<Route> routes = new ArrayList<>();
        for (String prefix : List.of("/_ltr", "/_ltr/{store}")) {
            String one = prefix + "/_" + type + "/{name}";
            routes.add(new Route(PUT, one));
            routes.add(new Route(POST, one));
            routes.add(new Route(GET, one));
            routes.add(new Route(HEAD, one));
            routes.add(new Route(DELETE, one));
            routes.add(new Route(GET, prefix + "/_" + type));
        }
        return routes;
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        String store = request.param("store");
        String index = StoreNames.indexName(store);
        String name = request.param("name");
        if (name == null) {
            return search(request, client, store, index);
        }
        StoreNames.checkName(type, name);
        String docId = StoreNames.docId(type, name);
        switch (request.method()) {
            case GET, HEAD -> {
                return channel -> client.get(new GetRequest(index, docId), LtrRestSupport.onChannel(channel, store, index,
                    (GetResponse r) -> LtrRestSupport.send(channel, r.isExists() ? RestStatus.OK : RestStatus.NOT_FOUND, r)));
            }
            case DELETE -> {
                DeleteRequest delete = new DeleteRequest(index, docId).setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
                return channel -> client.delete(delete, LtrRestSupport.onChannel(channel, store, index,
                    (DeleteResponse r) -> LtrRestSupport.invalidateEverywhere(client, index, List.of(docId),
                        LtrRestSupport.onChannel(channel, store, index, nodes -> {
                            Map<String, Object> body = LtrRestSupport.asMap(r);
                            body.put("caches_cleared", nodes);
                            LtrRestSupport.sendMap(channel, r.status(), body);
                        }))));
            }
            default -> {
                return write(request, client, store, index, name);
            }
        }
    }

    private RestChannelConsumer write(RestRequest request, NodeClient client, String store, String index, String name) {
        boolean create = request.method() == PUT;
        if (!create && type.equals(StoreNames.MODEL)) {
            throw new IllegalArgumentException("models cannot be updated: delete model [" + name
                + "] and create it again, or create a model with another name");
        }
        Map<String, Object> body = LtrRestSupport.body(request, context.maxRequestBytes());
        Object inner = LtrRestSupport.unwrap(body, type);
        Object element = switch (type) {
            case StoreNames.FEATURE -> ElementParser.parseFeature(inner);
            case StoreNames.FEATURESET -> ElementParser.parseFeatureSet(inner, context.limits());
            default -> ElementParser.parseModel(inner, context.limits());
        };
        String bodyName = ElementParser.nameOf(element);
        if (!bodyName.equals(name)) {
            throw new IllegalArgumentException(type + " name [" + bodyName + "] in the body does not match [" + name
                + "] in the path");
        }
        context.validatorOrNone().validate(element, request.getXContentRegistry());
        return channel -> StoreWrites.requireStore(client, channel, store, index,
            () -> StoreWrites.write(client, channel, store, index, element, create, null));
    }

    private RestChannelConsumer search(RestRequest request, NodeClient client, String store, String index) {
        if (request.method() != GET) {
            throw new IllegalArgumentException("[" + request.method() + "] is not allowed on " + request.path());
        }
        int from = LtrRestSupport.intParam(request, "from", 0, 0, MAX_RESULT_WINDOW);
        int size = LtrRestSupport.intParam(request, "size", 20, 0, MAX_RESULT_WINDOW);
        if (from + size > MAX_RESULT_WINDOW) {
            throw new IllegalArgumentException("from + size must be at most " + MAX_RESULT_WINDOW + ", got " + (from + size));
        }
        String prefix = request.param("prefix");
        BoolQueryBuilder query = QueryBuilders.boolQuery().filter(QueryBuilders.termQuery("type", type));
        if (prefix != null && !prefix.isEmpty()) {
            query.filter(QueryBuilders.prefixQuery("name", prefix));
        }
        SearchRequest search = new SearchRequest(index).source(new SearchSourceBuilder().query(query).from(from).size(size)
            .sort("name", SortOrder.ASC).trackTotalHits(true));
        return channel -> client.search(search, LtrRestSupport.onChannel(channel, store, index,
            r -> LtrRestSupport.send(channel, RestStatus.OK, r)));
    }
}
