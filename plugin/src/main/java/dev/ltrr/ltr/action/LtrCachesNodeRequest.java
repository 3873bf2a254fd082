package dev.ltrr.ltr.action;

import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.transport.TransportRequest;

import java.io.IOException;
import java.util.List;

/** The per-node part of {@link LtrCachesNodesRequest}. */
public final class LtrCachesNodeRequest extends TransportRequest {
    private final boolean clear;
    private final String storeIndex;
    private final List<String> docIds;

    public LtrCachesNodeRequest(LtrCachesNodesRequest request) {
        this.clear = request.clear();
        this.storeIndex = request.storeIndex();
        this.docIds = request.docIds();
    }

    public LtrCachesNodeRequest(StreamInput in) throws IOException {
        super(in);
        clear = in.readBoolean();
        storeIndex = in.readOptionalString();
        docIds = in.readStringList();
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        super.writeTo(out);
        out.writeBoolean(clear);
        out.writeOptionalString(storeIndex);
        out.writeStringCollection(docIds);
    }

    public boolean clear() {
        return clear;
    }

    public String storeIndex() {
        return storeIndex;
    }

    public List<String> docIds() {
        return docIds;
    }
}
