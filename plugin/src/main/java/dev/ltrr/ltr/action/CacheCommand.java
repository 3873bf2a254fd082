package dev.ltrr.ltr.action;

import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.core.common.io.stream.StreamOutput;
import org.opensearch.core.common.io.stream.Writeable;

import java.io.IOException;
import java.util.List;

/**
 * What a caches request asks of every node: {@code clear} false only gathers stats; with clear,
 * a null {@code storeIndex} clears everything, an empty {@code docIds} the whole store, else
 * those documents. Shared by the cluster-wide request and its per-node part.
 */
public record CacheCommand(boolean clear, String storeIndex, List<String> docIds) implements Writeable {
    public CacheCommand {
        if (!clear && (storeIndex != null || !docIds.isEmpty())) {
            throw new IllegalArgumentException("a stats request names no store or document");
        }
        if (storeIndex == null && !docIds.isEmpty()) {
            throw new IllegalArgumentException("documents to invalidate need their store index");
        }
        docIds = List.copyOf(docIds);
    }

    public static CacheCommand readFrom(StreamInput in) throws IOException {
        return new CacheCommand(in.readBoolean(), in.readOptionalString(), in.readStringList());
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        out.writeBoolean(clear);
        out.writeOptionalString(storeIndex);
        out.writeStringCollection(docIds);
    }
}
