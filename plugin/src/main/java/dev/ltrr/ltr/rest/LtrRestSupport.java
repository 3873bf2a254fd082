package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.action.LtrCachesAction;
import dev.ltrr.ltr.action.LtrCachesNodesRequest;
import dev.ltrr.ltr.action.LtrCachesNodesResponse;
import dev.ltrr.ltr.store.StoreNames;
import org.opensearch.ExceptionsHelper;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.ResourceNotFoundException;
import org.opensearch.action.support.nodes.BaseNodesResponse;
import org.opensearch.common.collect.Tuple;
import org.opensearch.common.xcontent.LoggingDeprecationHandler;
import org.opensearch.common.xcontent.XContentHelper;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.MediaType;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.ToXContent;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.index.IndexNotFoundException;
import org.opensearch.rest.BytesRestResponse;
import org.opensearch.rest.RestChannel;
import org.opensearch.rest.RestRequest;
import org.opensearch.common.xcontent.XContentFactory;
import org.opensearch.transport.client.node.NodeClient;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/** Request reading, error mapping and response writing shared by the plugin's REST handlers. */
final class LtrRestSupport {
    private LtrRestSupport() {
    }

    /** The request body as one JSON object, refused (4xx naming the problem) when absent, too big or not an object. */
    static Map<String, Object> body(RestRequest request, long maxBytes) {
        if (!request.hasContentOrSourceParam()) {
            throw new IllegalArgumentException("request body is required");
        }
        Tuple<MediaType, BytesReference> content = request.contentOrSourceParam();
        return parseBody(content.v2(), content.v1(), maxBytes);
    }

    /** {@link #body} on raw content of the given media type. */
    static Map<String, Object> parseBody(BytesReference content, MediaType mediaType, long maxBytes) {
        if (content.length() > maxBytes) {
            throw new OpenSearchStatusException("request body of " + content.length() + " bytes is more than the limit of "
                + maxBytes + " bytes (ltrr.ltr.max_request_bytes)", RestStatus.REQUEST_ENTITY_TOO_LARGE);
        }
        if (content.length() == 0) {
            throw new IllegalArgumentException("request body is required");
        }
        try (XContentParser parser = mediaType.xContent().createParser(NamedXContentRegistry.EMPTY,
            LoggingDeprecationHandler.INSTANCE, content.streamInput())) {
            if (parser.nextToken() != XContentParser.Token.START_OBJECT) {
                throw new IllegalArgumentException("request body must be a JSON object");
            }
            Map<String, Object> map = parser.mapOrdered();
            if (parser.nextToken() != null) {
                throw new IllegalArgumentException("request body has content after its JSON object");
            }
            return map;
        } catch (IllegalArgumentException | OpenSearchStatusException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("request body is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** The single key of a wrapper object such as {@code {"model": {...}}}, checked against {@code expected}. */
    static Object unwrap(Map<String, Object> body, String expected) {
        if (body.size() != 1 || !body.containsKey(expected)) {
            String got = body.isEmpty() ? "an empty object" : "fields " + body.keySet();
            throw new IllegalArgumentException("request body must be {\"" + expected + "\": {...}}, got " + got);
        }
        return body.get(expected);
    }

    static String where(String store, String index) {
        return "store [" + StoreNames.display(store) + "] (index [" + index + "])";
    }

    /** Replaces index_not_found by a 404 saying which store is missing. */
    static Exception storeMissing(Exception e, String store, String index) {
        Throwable cause = ExceptionsHelper.unwrapCause(e);
        if (cause instanceof IndexNotFoundException) {
            return new ResourceNotFoundException(where(store, index) + " does not exist; create it with PUT /_ltr"
                + (StoreNames.isDefault(store) ? "" : "/" + store));
        }
        return e;
    }

    /** Sends {@code body} with {@code status}. */
    static void send(RestChannel channel, RestStatus status, ToXContent body) {
        try {
            XContentBuilder builder = channel.newBuilder();
            if (body.isFragment()) {
                builder.startObject();
                body.toXContent(builder, channel.request());
                builder.endObject();
            } else {
                body.toXContent(builder, channel.request());
            }
            channel.sendResponse(new BytesRestResponse(status, builder));
        } catch (Exception e) {
            fail(channel, e);
        }
    }

    static void sendMap(RestChannel channel, RestStatus status, Map<String, ?> body) {
        try {
            XContentBuilder builder = channel.newBuilder();
            builder.map(body);
            channel.sendResponse(new BytesRestResponse(status, builder));
        } catch (Exception e) {
            fail(channel, e);
        }
    }

    static void fail(RestChannel channel, Exception e) {
        try {
            channel.sendResponse(new BytesRestResponse(channel, e));
        } catch (IOException inner) {
            inner.addSuppressed(e);
            channel.sendResponse(new BytesRestResponse(RestStatus.INTERNAL_SERVER_ERROR, "failed to send error: "
                + inner.getMessage()));
        }
    }

    /** A listener that reports failures on the channel. */
    static <T> ActionListener<T> onChannel(RestChannel channel, String store, String index,
                                           org.opensearch.common.CheckedConsumer<T, Exception> onResponse) {
        return ActionListener.wrap(onResponse, e -> fail(channel, storeMissing(e, store, index)));
    }

    /** The object form of a response (to add fields to it). */
    static Map<String, Object> asMap(ToXContent response) throws IOException {
        XContentBuilder b = XContentFactory.jsonBuilder();
        if (response.isFragment()) {
            b.startObject();
            response.toXContent(b, ToXContent.EMPTY_PARAMS);
            b.endObject();
        } else {
            response.toXContent(b, ToXContent.EMPTY_PARAMS);
        }
        return XContentHelper.convertToMap(BytesReference.bytes(b), true, b.contentType()).v2();
    }

    /**
     * Invalidates the given documents (all of the store when {@code docIds} is empty) on every node,
     * then calls {@code then} with a summary of how many nodes cleared their caches. A node that could not
     * be reached is reported, not hidden.
     */
    static void invalidateEverywhere(NodeClient client, String index, List<String> docIds,
                                     ActionListener<Map<String, Object>> then) {
        LtrCachesNodesRequest request = docIds.isEmpty() ? LtrCachesNodesRequest.clearStore(index)
            : LtrCachesNodesRequest.clearDocs(index, docIds);
        client.execute(LtrCachesAction.INSTANCE, request, ActionListener.wrap(
            (LtrCachesNodesResponse r) -> then.onResponse(nodesSummary(r)), then::onFailure));
    }

    static Map<String, Object> nodesSummary(BaseNodesResponse<?> r) {
        int ok = r.getNodes().size();
        int failed = r.failures().size();
        return Map.of("total", ok + failed, "successful", ok, "failed", failed);
    }

    static int intParam(RestRequest request, String name, int dflt, int min, int max) {
        return intParam(name, request.param(name), dflt, min, max);
    }

    static int intParam(String name, String raw, int dflt, int min, int max) {
        if (raw == null) {
            return dflt;
        }
        int v;
        try {
            v = Integer.parseInt(raw.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("parameter [" + name + "] must be an integer, got [" + raw + "]");
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException("parameter [" + name + "] must be between " + min + " and " + max
                + ", got " + v);
        }
        return v;
    }
}
