package dev.ltrr.ltr.action;

import org.opensearch.action.support.nodes.BaseNodesRequest;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;

import java.io.IOException;
import java.util.List;

/** A caches command (see {@link CacheCommand}) sent to every node, or to the nodes named. */
public final class LtrCachesNodesRequest extends BaseNodesRequest<LtrCachesNodesRequest> {
    private final CacheCommand command;

    public LtrCachesNodesRequest(boolean clear, String storeIndex, List<String> docIds, String... nodeIds) {
        super(nodeIds);
        this.command = new CacheCommand(clear, storeIndex, docIds);
    }

    public static LtrCachesNodesRequest stats(String... nodeIds) {
        return new LtrCachesNodesRequest(false, null, List.of(), nodeIds);
    }

    public static LtrCachesNodesRequest clearAll() {
        return new LtrCachesNodesRequest(true, null, List.of());
    }

    public static LtrCachesNodesRequest clearStore(String storeIndex) {
        return new LtrCachesNodesRequest(true, storeIndex, List.of());
    }

    public static LtrCachesNodesRequest clearDocs(String storeIndex, List<String> docIds) {
        return new LtrCachesNodesRequest(true, storeIndex, docIds);
    }

    public LtrCachesNodesRequest(StreamInput in) throws IOException {
        super(in);
        command = CacheCommand.readFrom(in);
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        super.writeTo(out);
        command.writeTo(out);
    }

    CacheCommand command() {
        return command;
    }

    public boolean clear() {
        return command.clear();
    }

    public String storeIndex() {
        return command.storeIndex();
    }

    public List<String> docIds() {
        return command.docIds();
    }
}
