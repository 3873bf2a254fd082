package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.action.LtrCachesAction;
import dev.ltrr.ltr.action.LtrCachesNodesRequest;
import dev.ltrr.ltr.action.LtrCachesNodesResponse;
import dev.ltrr.ltr.store.StoreNames;
import org.opensearch.rest.action.RestActions;
import org.opensearch.cluster.health.ClusterHealthStatus;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.rest.BaseRestHandler;
import org.opensearch.rest.BytesRestResponse;
import org.opensearch.rest.RestChannel;
import org.opensearch.rest.RestRequest;
import org.opensearch.transport.client.node.NodeClient;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.opensearch.rest.RestRequest.Method.GET;
import static org.opensearch.rest.RestRequest.Method.POST;

/**
 * Caches and stats, gathered from (and cleared on) every node through {@link LtrCachesAction}:
 * {@code POST /_ltr[/{store}]/_clearcache}, {@code GET /_ltr/_cachestats},
 * {@code GET /_plugins/_ltr[/{nodeId}]/stats[/{stat}]}.
 */
public final class RestCaches extends BaseRestHandler {
    static final Set<String> STATS = Set.of("status", "stores", "cache");

    @Override
    public String getName() {
        return "ltrr_ltr_caches";
    }

    @Override
    public List<Route> routes() {
        return List.of(
            new Route(POST, "/_ltr/_clearcache"),
            new Route(POST, "/_ltr/{store}/_clearcache"),
            new Route(GET, "/_ltr/_cachestats"),
            new Route(GET, "/_plugins/_ltr/stats"),
            new Route(GET, "/_plugins/_ltr/stats/{stat}"),
            new Route(GET, "/_plugins/_ltr/{nodeId}/stats"),
            new Route(GET, "/_plugins/_ltr/{nodeId}/stats/{stat}"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        String path = request.path();
        if (path.endsWith("/_clearcache")) {
            String store = request.param("store");
            LtrCachesNodesRequest clear = store == null ? LtrCachesNodesRequest.clearAll()
                : LtrCachesNodesRequest.clearStore(StoreNames.indexName(store));
            return channel -> client.execute(LtrCachesAction.INSTANCE, clear, nodesListener(channel, null));
        }
        if (path.endsWith("/_cachestats")) {
            return channel -> client.execute(LtrCachesAction.INSTANCE, LtrCachesNodesRequest.stats(),
                nodesListener(channel, null));
        }
        String[] nodeIds = request.paramAsStringArray("nodeId", new String[0]);
        Set<String> wanted = new TreeSet<>(STATS);
        String stat = request.param("stat");
        if (stat != null && !stat.isEmpty() && !stat.equals("_all")) {
            wanted.clear();
            for (String s : stat.split(",")) {
                if (!STATS.contains(s.trim())) {
                    throw new IllegalArgumentException("unknown stat [" + s.trim() + "], expected some of " + new TreeSet<>(STATS));
                }
                wanted.add(s.trim());
            }
        }
        String timeout = request.param("timeout");
        LtrCachesNodesRequest stats = LtrCachesNodesRequest.stats(nodeIds);
        if (timeout != null) {
            stats.timeout(timeout);
        }
        return channel -> StoreLister.list(client, ActionListener.wrap(stores -> client.execute(LtrCachesAction.INSTANCE,
            stats, ActionListener.wrap(nodes -> {
                Map<String, Object> extra = new LinkedHashMap<>();
                if (wanted.contains("status")) {
                    ClusterHealthStatus status = ClusterHealthStatus.GREEN;
                    for (StoreLister.StoreInfo s : stores) {
                        if (s.status().value() > status.value()) {
                            status = s.status();
                        }
                    }
                    extra.put("status", status.name().toLowerCase(java.util.Locale.ROOT));
                }
                if (wanted.contains("stores")) {
                    Map<String, Object> byStore = new LinkedHashMap<>();
                    for (StoreLister.StoreInfo s : stores) {
                        byStore.put(s.store(), s.toMap());
                    }
                    extra.put("stores", byStore);
                }
                sendNodes(channel, nodes, extra, wanted.contains("cache"));
            }, e -> LtrRestSupport.fail(channel, e))), e -> LtrRestSupport.fail(channel, e)));
    }

    private static ActionListener<LtrCachesNodesResponse> nodesListener(RestChannel channel, Map<String, Object> extra) {
        return ActionListener.wrap(r -> sendNodes(channel, r, extra, true), e -> LtrRestSupport.fail(channel, e));
    }

    private static void sendNodes(RestChannel channel, LtrCachesNodesResponse r, Map<String, Object> extra,
                                  boolean withCaches) {
        try {
            XContentBuilder b = channel.newBuilder();
            b.startObject();
            RestActions.buildNodesHeader(b, channel.request(), r);
            b.field("cluster_name", r.getClusterName().value());
            if (extra != null) {
                for (Map.Entry<String, Object> e : extra.entrySet()) {
                    b.field(e.getKey(), e.getValue());
                }
            }
            if (withCaches) {
                r.toXContent(b, channel.request());
            }
            b.endObject();
            channel.sendResponse(new BytesRestResponse(RestStatus.OK, b));
        } catch (Exception e) {
            LtrRestSupport.fail(channel, e);
        }
    }
}
