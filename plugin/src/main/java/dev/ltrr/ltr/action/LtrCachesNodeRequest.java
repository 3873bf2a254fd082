package dev.ltrr.ltr.action;

import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.transport.TransportRequest;

import java.io.IOException;
import java.util.List;

/** The per-node part of {@link LtrCachesNodesRequest}: the same command. */
public final class LtrCachesNodeRequest extends TransportRequest {
    private final CacheCommand command;

    public LtrCachesNodeRequest(LtrCachesNodesRequest request) {
        this.command = request.command();
    }

    public LtrCachesNodeRequest(StreamInput in) throws IOException {
        super(in);
        command = CacheCommand.readFrom(in);
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        super.writeTo(out);
        command.writeTo(out);
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
