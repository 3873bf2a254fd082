package dev.ltrr.ltr.action;

import org.opensearch.Version;
import org.opensearch.action.FailedNodeException;
import org.opensearch.cluster.ClusterName;
import org.opensearch.cluster.node.DiscoveryNode;
import org.opensearch.common.io.stream.BytesStreamOutput;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.transport.TransportAddress;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LtrCachesStreamTest {
    private static final DiscoveryNode NODE = new DiscoveryNode("node-1",
        new TransportAddress(InetAddress.getLoopbackAddress(), 9300), Version.CURRENT);

    private interface Reader<T> {
        T read(StreamInput in) throws IOException;
    }

    private static <T> T roundTrip(org.opensearch.core.common.io.stream.Writeable w, Reader<T> reader) throws IOException {
        try (BytesStreamOutput out = new BytesStreamOutput()) {
            w.writeTo(out);
            try (StreamInput in = out.bytes().streamInput()) {
                return reader.read(in);
            }
        }
    }

    @Test
    void nodesRequestRoundTrip() throws IOException {
        LtrCachesNodesRequest back = roundTrip(LtrCachesNodesRequest.clearDocs(".ltrstore", List.of("model-a", "feature-b")),
            LtrCachesNodesRequest::new);
        assertTrue(back.clear());
        assertEquals(".ltrstore", back.storeIndex());
        assertEquals(List.of("model-a", "feature-b"), back.docIds());
    }

    @Test
    void statsRequestKeepsNodeIds() throws IOException {
        LtrCachesNodesRequest back = roundTrip(LtrCachesNodesRequest.stats("n1", "n2"), LtrCachesNodesRequest::new);
        assertFalse(back.clear());
        assertNull(back.storeIndex());
        assertArrayEquals(new String[] {"n1", "n2"}, back.nodesIds());
    }

    @Test
    void nodeRequestRoundTrip() throws IOException {
        LtrCachesNodeRequest back = roundTrip(new LtrCachesNodeRequest(LtrCachesNodesRequest.clearStore(".ltrstore_x")),
            LtrCachesNodeRequest::new);
        assertTrue(back.clear());
        assertEquals(".ltrstore_x", back.storeIndex());
        assertEquals(List.of(), back.docIds());
    }

    @Test
    void inconsistentRequestsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new LtrCachesNodesRequest(false, ".ltrstore", List.of()));
        assertThrows(IllegalArgumentException.class, () -> new LtrCachesNodesRequest(true, null, List.of("model-a")));
    }

    @Test
    void nodeResponseRoundTrip() throws IOException {
        Map<String, Object> stats = Map.of("elements", Map.of("hits", 3L, "entries", 2), "models", Map.of("misses", 1L));
        LtrCachesNodeResponse back = roundTrip(new LtrCachesNodeResponse(NODE, stats), LtrCachesNodeResponse::new);
        assertEquals("node-1", back.getNode().getId());
        assertEquals(stats, back.stats());
    }

    @Test
    void nodesResponseRoundTripAndTotals() throws IOException {
        LtrCachesNodesResponse r = new LtrCachesNodesResponse(new ClusterName("c"), List.of(
            new LtrCachesNodeResponse(NODE, Map.of("elements", Map.of("hits", 3L, "entries", 2))),
            new LtrCachesNodeResponse(new DiscoveryNode("node-2", new TransportAddress(InetAddress.getLoopbackAddress(), 9301),
                Version.CURRENT), Map.of("elements", Map.of("hits", 4L, "entries", 1)))),
            List.of(new FailedNodeException("node-3", "down", new IllegalStateException("gone"))));
        LtrCachesNodesResponse back = roundTrip(r, LtrCachesNodesResponse::new);
        assertEquals("c", back.getClusterName().value());
        assertEquals(2, back.getNodes().size());
        assertEquals(1, back.failures().size());
        assertEquals(Map.of("elements", Map.of("hits", 7L, "entries", 3L)), back.totals());
    }
}
