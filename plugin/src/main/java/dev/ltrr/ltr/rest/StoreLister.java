package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.store.StoreNames;
import org.opensearch.action.admin.cluster.health.ClusterHealthRequest;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.support.IndicesOptions;
import org.opensearch.cluster.health.ClusterHealthStatus;
import org.opensearch.cluster.health.ClusterIndexHealth;
import org.opensearch.core.action.ActionListener;
import org.opensearch.search.aggregations.AggregationBuilders;
import org.opensearch.search.aggregations.bucket.terms.Terms;
import org.opensearch.search.builder.SearchSourceBuilder;
import org.opensearch.transport.client.node.NodeClient;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Finds the stores of the cluster with their health and element counts. */
final class StoreLister {
    record StoreInfo(String store, String index, ClusterHealthStatus status, Map<String, Long> counts) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("store", store);
            m.put("index", index);
            m.put("version", dev.ltrr.ltr.store.StoreIndex.VERSION);
            m.put("status", status.name().toLowerCase(java.util.Locale.ROOT));
            m.put("counts", counts);
            return m;
        }
    }

    private StoreLister() {
    }

    static void list(NodeClient client, ActionListener<List<StoreInfo>> listener) {
        String pattern = StoreNames.INDEX_PREFIX + "*";
        ClusterHealthRequest health = new ClusterHealthRequest(pattern).indicesOptions(IndicesOptions.lenientExpandHidden());
        health.level(ClusterHealthRequest.Level.INDICES);
        client.admin().cluster().health(health, ActionListener.wrap(h -> {
            Map<String, ClusterHealthStatus> stores = new TreeMap<>();
            for (Map.Entry<String, ClusterIndexHealth> e : h.getIndices().entrySet()) {
                if (StoreNames.storeName(e.getKey()) != null) {
                    stores.put(e.getKey(), e.getValue().getStatus());
                }
            }
            if (stores.isEmpty()) {
                listener.onResponse(List.of());
                return;
            }
            SearchRequest search = new SearchRequest(stores.keySet().toArray(String[]::new))
                .indicesOptions(IndicesOptions.lenientExpandOpenHidden())
                .source(new SearchSourceBuilder().size(0).trackTotalHits(true).aggregation(
                    AggregationBuilders.terms("stores").field("_index").size(stores.size())
                        .subAggregation(AggregationBuilders.terms("types").field("type").size(10))));
            client.search(search, ActionListener.wrap(r -> {
                Map<String, Map<String, Long>> counts = new TreeMap<>();
                Terms byIndex = r.getAggregations() == null ? null : r.getAggregations().get("stores");
                if (byIndex != null) {
                    for (Terms.Bucket b : byIndex.getBuckets()) {
                        Map<String, Long> c = counts.computeIfAbsent(b.getKeyAsString(), k -> new LinkedHashMap<>());
                        Terms types = b.getAggregations().get("types");
                        for (Terms.Bucket t : types.getBuckets()) {
                            c.put(t.getKeyAsString(), t.getDocCount());
                        }
                    }
                }
                List<StoreInfo> out = new ArrayList<>();
                for (Map.Entry<String, ClusterHealthStatus> e : stores.entrySet()) {
                    Map<String, Long> c = counts.getOrDefault(e.getKey(), Map.of());
                    Map<String, Long> full = new LinkedHashMap<>();
                    for (String type : List.of(StoreNames.FEATURE, StoreNames.FEATURESET, StoreNames.MODEL)) {
                        full.put(type, c.getOrDefault(type, 0L));
                    }
                    out.add(new StoreInfo(StoreNames.storeName(e.getKey()), e.getKey(), e.getValue(), full));
                }
                listener.onResponse(out);
            }, listener::onFailure));
        }, listener::onFailure));
    }
}
