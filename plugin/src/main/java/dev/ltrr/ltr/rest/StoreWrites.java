package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.store.ElementParser;
import dev.ltrr.ltr.store.StoreNames;
import org.opensearch.ExceptionsHelper;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.ResourceNotFoundException;
import org.opensearch.action.DocWriteRequest;
import org.opensearch.action.admin.indices.exists.indices.IndicesExistsRequest;
import org.opensearch.action.get.GetRequest;
import org.opensearch.action.get.GetResponse;
import org.opensearch.action.index.IndexRequest;
import org.opensearch.action.index.IndexResponse;
import org.opensearch.action.support.WriteRequest;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.index.engine.VersionConflictEngineException;
import org.opensearch.rest.RestChannel;
import org.opensearch.transport.client.node.NodeClient;

import java.util.List;
import java.util.Map;

/** The write path shared by element handlers: check the store, write, invalidate everywhere, answer. */
final class StoreWrites {
    private StoreWrites() {
    }

    /** Runs {@code then} when the store index exists, else answers 404 naming the store. */
    static void requireStore(NodeClient client, RestChannel channel, String store, String index, Runnable then) {
        client.admin().indices().exists(new IndicesExistsRequest(index), ActionListener.wrap(r -> {
            if (r.isExists()) {
                then.run();
            } else {
                LtrRestSupport.fail(channel, new ResourceNotFoundException(LtrRestSupport.where(store, index)
                    + " does not exist; create it with PUT /_ltr" + (StoreNames.isDefault(store) ? "" : "/" + store)));
            }
        }, e -> LtrRestSupport.fail(channel, e)));
    }

    /** A realtime GET of a stored element; null to the listener when it does not exist. */
    static void getElement(NodeClient client, String store, String index, String type, String name,
                           ElementParser.Limits limits, ActionListener<Found> listener) {
        client.get(new GetRequest(index, StoreNames.docId(type, name)), ActionListener.wrap((GetResponse r) -> {
            if (!r.isExists()) {
                listener.onResponse(null);
                return;
            }
            ElementParser.Stored stored;
            try {
                stored = ElementParser.parseSource(r.getSourceAsMap(), limits);
            } catch (IllegalArgumentException e) {
                listener.onFailure(new IllegalArgumentException("stored " + type + " [" + name + "] in "
                    + LtrRestSupport.where(store, index) + " is invalid: " + e.getMessage(), e));
                return;
            }
            listener.onResponse(new Found(stored.element(), r.getVersion(), r.getSeqNo(), r.getPrimaryTerm()));
        }, e -> listener.onFailure(LtrRestSupport.storeMissing(e, store, index))));
    }

    record Found(Object element, long version, long seqNo, long primaryTerm) {
    }

    /**
     * Writes {@code element}: {@code create} refuses an existing one (409); otherwise, when
     * {@code expected} is given, the write only succeeds if the document is still at that seqNo/term.
     * Then invalidates the element on every node and answers with the index response plus
     * {@code caches_cleared}.
     */
    static void write(NodeClient client, RestChannel channel, String store, String index, Object element,
                      boolean create, Found expected) {
        String type = ElementParser.typeOf(element);
        String name = ElementParser.nameOf(element);
        String docId = StoreNames.docId(type, name);
        IndexRequest req = new IndexRequest(index).id(docId).source(ElementParser.toSource(element))
            .setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
        if (create) {
            req.opType(DocWriteRequest.OpType.CREATE);
        } else if (expected != null) {
            req.setIfSeqNo(expected.seqNo()).setIfPrimaryTerm(expected.primaryTerm());
        }
        client.index(req, ActionListener.wrap((IndexResponse r) -> LtrRestSupport.invalidateEverywhere(client, index,
            List.of(docId), ActionListener.wrap(nodes -> {
                Map<String, Object> body = LtrRestSupport.asMap(r);
                body.put("caches_cleared", nodes);
                LtrRestSupport.sendMap(channel, r.status(), body);
            }, e -> LtrRestSupport.fail(channel, e))), e -> {
                if (ExceptionsHelper.unwrapCause(e) instanceof VersionConflictEngineException) {
                    String msg = create
                        ? type + " [" + name + "] already exists in " + LtrRestSupport.where(store, index)
                            + (type.equals(StoreNames.MODEL) ? "; models cannot be updated, delete it first or use another name"
                                : "; use POST to update it")
                        : type + " [" + name + "] was changed concurrently in " + LtrRestSupport.where(store, index)
                            + "; retry";
                    LtrRestSupport.fail(channel, new OpenSearchStatusException(msg, RestStatus.CONFLICT));
                } else {
                    LtrRestSupport.fail(channel, LtrRestSupport.storeMissing(e, store, index));
                }
            }));
    }
}
