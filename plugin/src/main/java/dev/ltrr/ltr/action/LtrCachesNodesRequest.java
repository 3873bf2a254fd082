package dev.ltrr.ltr.action;

import org.opensearch.action.support.nodes.BaseNodesRequest;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;

import java.io.IOException;
import java.util.List;

/**
 * What to do on every node: {@code clear} false only gathers stats; with clear, a null
 * {@code storeIndex} clears everything, an empty {@code docIds} the whole store, else those documents.
 */
public final class LtrCachesNodesRequest extends BaseNodesRequest<LtrCachesNodesRequest> {
    private final boolean clear;
    private final String storeIndex;
    private final List<String> docIds;

    public LtrCachesNodesRequest(boolean clear, String storeIndex, List<String> docIds, String... nodeIds) {
        super(nodeIds);
        if (!clear && (storeIndex != null || !docIds.isEmpty())) {
            throw new IllegalArgumentException("a stats request names no store or document");
        }
        if (storeIndex == null && !docIds.isEmpty()) {
            throw new IllegalArgumentException("documents to invalidate need their store index");
        }
        this.clear = clear;
        this.storeIndex = storeIndex;
        this.docIds = List.copyOf(docIds);
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
