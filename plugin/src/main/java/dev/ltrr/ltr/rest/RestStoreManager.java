package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.store.StoreIndex;
import dev.ltrr.ltr.store.StoreNames;
import org.opensearch.ExceptionsHelper;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.ResourceAlreadyExistsException;
import org.opensearch.action.admin.indices.create.CreateIndexRequest;
import org.opensearch.action.admin.indices.delete.DeleteIndexRequest;
import org.opensearch.action.admin.indices.exists.indices.IndicesExistsRequest;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.rest.BaseRestHandler;
import org.opensearch.rest.RestRequest;
import org.opensearch.transport.client.node.NodeClient;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.opensearch.rest.RestRequest.Method.DELETE;
import static org.opensearch.rest.RestRequest.Method.GET;
import static org.opensearch.rest.RestRequest.Method.POST;
import static org.opensearch.rest.RestRequest.Method.PUT;

/** Stores: create, delete, exists, list. */
public final class RestStoreManager extends BaseRestHandler {
    @Override
    public String getName() {
        return "ltrr_ltr_store_manager";
    }

    @Override
    public List<Route> routes() {
        return List.of(
            new Route(PUT, "/_ltr"), new Route(POST, "/_ltr"), new Route(DELETE, "/_ltr"), new Route(GET, "/_ltr"),
            new Route(PUT, "/_ltr/{store}"), new Route(POST, "/_ltr/{store}"), new Route(DELETE, "/_ltr/{store}"),
            new Route(GET, "/_ltr/{store}"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        String store = request.param("store");
        if (request.method() == GET && store == null) {
            return channel -> StoreLister.list(client, ActionListener.wrap(stores -> {
                Map<String, Object> byName = new LinkedHashMap<>();
                for (StoreLister.StoreInfo s : stores) {
                    byName.put(s.store(), s.toMap());
                }
                LtrRestSupport.sendMap(channel, RestStatus.OK, Map.of("stores", byName));
            }, e -> LtrRestSupport.fail(channel, e)));
        }
        String index = StoreNames.indexName(store);
        String where = LtrRestSupport.where(store, index);
        if (request.method() == GET) {
            IndicesExistsRequest exists = new IndicesExistsRequest(index);
            return channel -> client.admin().indices().exists(exists, ActionListener.wrap(
                r -> LtrRestSupport.sendMap(channel, RestStatus.OK, Map.of("exists", r.isExists())),
                e -> LtrRestSupport.fail(channel, e)));
        }
        if (request.method() == DELETE) {
            return channel -> client.admin().indices().delete(new DeleteIndexRequest(index), ActionListener.wrap(
                r -> LtrRestSupport.invalidateEverywhere(client, index, List.of(), ActionListener.wrap(nodes -> {
                    Map<String, Object> body = new LinkedHashMap<>();
                    body.put("acknowledged", r.isAcknowledged());
                    body.put("store", StoreNames.display(store));
                    body.put("index", index);
                    body.put("caches_cleared", nodes);
                    LtrRestSupport.sendMap(channel, RestStatus.OK, body);
                }, e -> LtrRestSupport.fail(channel, e))),
                e -> LtrRestSupport.fail(channel, LtrRestSupport.storeMissing(e, store, index))));
        }
        CreateIndexRequest create = new CreateIndexRequest(index).settings(StoreIndex.settings()).mapping(StoreIndex.mapping());
        return channel -> client.admin().indices().create(create, ActionListener.wrap(r -> {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("acknowledged", r.isAcknowledged());
            body.put("shards_acknowledged", r.isShardsAcknowledged());
            body.put("index", index);
            LtrRestSupport.sendMap(channel, RestStatus.OK, body);
        }, e -> {
            if (ExceptionsHelper.unwrapCause(e) instanceof ResourceAlreadyExistsException) {
                LtrRestSupport.fail(channel, new OpenSearchStatusException(where + " already exists",
                    RestStatus.BAD_REQUEST));
            } else {
                LtrRestSupport.fail(channel, e);
            }
        }));
    }
}
