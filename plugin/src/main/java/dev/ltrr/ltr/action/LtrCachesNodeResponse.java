package dev.ltrr.ltr.action;

import org.opensearch.action.support.nodes.BaseNodeResponse;
import org.opensearch.cluster.node.DiscoveryNode;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;

import java.io.IOException;
import java.util.Map;

/** One node's cache stats (taken after any invalidation the request asked for). */
public final class LtrCachesNodeResponse extends BaseNodeResponse {
    private final Map<String, Object> stats;

    public LtrCachesNodeResponse(DiscoveryNode node, Map<String, Object> stats) {
        super(node);
        this.stats = stats;
    }

    public LtrCachesNodeResponse(StreamInput in) throws IOException {
        super(in);
        stats = in.readMap();
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        super.writeTo(out);
        out.writeMap(stats);
    }

    public Map<String, Object> stats() {
        return stats;
    }
}
