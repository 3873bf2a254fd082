package dev.ltrr.ltr.action;

import org.opensearch.action.FailedNodeException;
import org.opensearch.action.support.nodes.BaseNodesResponse;
import org.opensearch.cluster.ClusterName;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.xcontent.ToXContentFragment;
import org.opensearch.core.xcontent.XContentBuilder;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every node's cache stats, plus their sums under {@code all}. */
public final class LtrCachesNodesResponse extends BaseNodesResponse<LtrCachesNodeResponse> implements ToXContentFragment {
    public LtrCachesNodesResponse(ClusterName clusterName, List<LtrCachesNodeResponse> nodes,
                                  List<FailedNodeException> failures) {
        super(clusterName, nodes, failures);
    }

    public LtrCachesNodesResponse(StreamInput in) throws IOException {
        super(in);
    }

    @Override
    protected List<LtrCachesNodeResponse> readNodesFrom(StreamInput in) throws IOException {
        return in.readList(LtrCachesNodeResponse::new);
    }

    @Override
    protected void writeNodesTo(StreamOutput out, List<LtrCachesNodeResponse> nodes) throws IOException {
        out.writeList(nodes);
    }

    /** Sums of every numeric stat across nodes, by path ({@code elements.hits} and so on). */
    public Map<String, Object> totals() {
        Map<String, Object> all = new LinkedHashMap<>();
        for (LtrCachesNodeResponse node : getNodes()) {
            sumInto(all, node.stats());
        }
        return all;
    }

    @SuppressWarnings("unchecked")
    static void sumInto(Map<String, Object> into, Map<String, Object> from) {
        for (Map.Entry<String, Object> e : from.entrySet()) {
            Object v = e.getValue();
            if (v instanceof Map<?, ?> m) {
                Object existing = into.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<String, Object>());
                if (existing instanceof Map<?, ?>) {
                    sumInto((Map<String, Object>) existing, (Map<String, Object>) m);
                }
            } else if (v instanceof Integer || v instanceof Long) {
                into.merge(e.getKey(), ((Number) v).longValue(), (a, b) -> ((Number) a).longValue() + ((Number) b).longValue());
            }
        }
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        builder.field("all", totals());
        builder.startObject("nodes");
        for (LtrCachesNodeResponse node : getNodes()) {
            builder.startObject(node.getNode().getId());
            builder.field("name", node.getNode().getName());
            for (Map.Entry<String, Object> e : node.stats().entrySet()) {
                builder.field(e.getKey(), e.getValue());
            }
            builder.endObject();
        }
        builder.endObject();
        return builder;
    }
}
