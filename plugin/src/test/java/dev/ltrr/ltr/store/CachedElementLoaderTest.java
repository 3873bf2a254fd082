package dev.ltrr.ltr.store;

import org.opensearch.ResourceNotFoundException;
import org.opensearch.action.ActionRequest;
import org.opensearch.action.ActionType;
import org.opensearch.action.get.GetRequest;
import org.opensearch.action.get.GetResponse;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.action.ActionResponse;
import org.opensearch.core.common.bytes.BytesArray;
import org.opensearch.index.IndexNotFoundException;
import org.opensearch.index.get.GetResult;
import org.opensearch.index.seqno.SequenceNumbers;
import org.opensearch.transport.client.support.AbstractClient;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cache in front of GETs: hits, invalidation by document, store and all, and loads racing an invalidation. */
class CachedElementLoaderTest {
    /** Answers GETs from a map of index/id to JSON source; can hold answers back to interleave an invalidation. */
    private static final class StoreClient extends AbstractClient {
        final Map<String, String> docs = new HashMap<>();
        final List<String> gets = new ArrayList<>();
        final List<Runnable> heldBack = new ArrayList<>();
        boolean holdBack;

        StoreClient() {
            super(Settings.EMPTY, null);
        }

        @Override
        @SuppressWarnings("unchecked")
        protected <Request extends ActionRequest, Response extends ActionResponse> void doExecute(
            ActionType<Response> action, Request request, ActionListener<Response> listener) {
            GetRequest get = (GetRequest) request;
            gets.add(get.index() + "/" + get.id());
            if (docs.keySet().stream().noneMatch(k -> k.startsWith(get.index() + "/"))) {
                listener.onFailure(new IndexNotFoundException(get.index()));
                return;
            }
            String source = docs.get(get.index() + "/" + get.id());
            GetResponse response = new GetResponse(new GetResult(get.index(), get.id(),
                source == null ? SequenceNumbers.UNASSIGNED_SEQ_NO : 0, source == null ? 0 : 1, source == null ? -1 : 1,
                source != null,
                source == null ? null : new BytesArray(source), Map.of(), Map.of()));
            Runnable answer = () -> ((ActionListener<GetResponse>) listener).onResponse(response);
            if (holdBack) {
                heldBack.add(answer);
            } else {
                answer.run();
            }
        }

        @Override
        public void close() {
        }
    }

    private static String set(String name, String... features) {
        StringBuilder b = new StringBuilder("{\"name\":\"" + name + "\",\"type\":\"featureset\",\"featureset\":{\"name\":\""
            + name + "\",\"features\":[");
        for (int i = 0; i < features.length; i++) {
            b.append(i == 0 ? "" : ",").append("{\"name\":\"").append(features[i]).append("\",\"template\":\"{}\"}");
        }
        return b.append("]}}").toString();
    }

    private final StoreClient client = new StoreClient();
    private final CachedElementLoader loader = new CachedElementLoader(100, TimeValue.timeValueHours(1),
        ElementParser.Limits.DEFAULT);

    private StoredFeatureSet load(String store, String name) {
        AtomicReference<Object> out = new AtomicReference<>();
        loader.loadFeatureSet(client, store, name, ActionListener.wrap(out::set, out::set));
        if (out.get() instanceof Exception e) {
            throw new AssertionError(e);
        }
        return (StoredFeatureSet) out.get();
    }

    private Exception loadFailure(String store, String name) {
        AtomicReference<Object> out = new AtomicReference<>();
        loader.loadFeatureSet(client, store, name, ActionListener.wrap(out::set, out::set));
        return (Exception) out.get();
    }

    @Test
    void secondLoadIsServedFromTheCache() {
        client.docs.put(".ltrstore/featureset-s", set("s", "a"));
        assertEquals(List.of("a"), load(null, "s").featureNames());
        assertEquals(List.of("a"), load(null, "s").featureNames());
        assertEquals(1, client.gets.size());
        assertEquals(1, loader.stats().get("entries"));
    }

    @Test
    void invalidatedElementIsReloaded() {
        client.docs.put(".ltrstore/featureset-s", set("s", "a"));
        load(null, "s");
        client.docs.put(".ltrstore/featureset-s", set("s", "a", "b"));
        loader.invalidate(".ltrstore", "featureset-s");
        assertEquals(List.of("a", "b"), load(null, "s").featureNames());
        assertEquals(2, client.gets.size());
    }

    @Test
    void clearingAStoreKeepsOtherStores() {
        client.docs.put(".ltrstore/featureset-s", set("s", "a"));
        client.docs.put(".ltrstore_x/featureset-s", set("s", "b"));
        load(null, "s");
        load("x", "s");
        loader.clear(".ltrstore_x");
        assertTrue(loader.isCached(".ltrstore", "featureset-s"));
        assertFalse(loader.isCached(".ltrstore_x", "featureset-s"));
    }

    @Test
    void clearAllEmptiesTheCache() {
        client.docs.put(".ltrstore/featureset-s", set("s", "a"));
        client.docs.put(".ltrstore_x/featureset-s", set("s", "b"));
        load(null, "s");
        load("x", "s");
        loader.clearAll();
        assertEquals(0, loader.stats().get("entries"));
    }

    @Test
    void loadThatRacedAnInvalidationIsNotCached() {
        client.docs.put(".ltrstore/featureset-s", set("s", "old"));
        client.holdBack = true;
        AtomicReference<StoredFeatureSet> got = new AtomicReference<>();
        loader.loadFeatureSet(client, null, "s", ActionListener.wrap(got::set, e -> { throw new AssertionError(e); }));
        loader.invalidate(".ltrstore", "featureset-s");
        client.heldBack.get(0).run();
        assertEquals(List.of("old"), got.get().featureNames());
        assertFalse(loader.isCached(".ltrstore", "featureset-s"));
    }

    @Test
    void missingElementIsNotFoundNamingStoreAndElement() {
        client.docs.put(".ltrstore/featureset-s", set("s", "a"));
        Exception e = loadFailure(null, "nope");
        assertInstanceOf(ResourceNotFoundException.class, e);
        assertEquals("featureset [nope] not found in store [_default_] (index [.ltrstore])", e.getMessage());
    }

    @Test
    void missingStoreIsNotFound() {
        client.docs.put(".ltrstore/featureset-s", set("s", "a"));
        AtomicReference<Object> out = new AtomicReference<>();
        loader.loadModel(client, "gone", "m", ActionListener.wrap(out::set, out::set));
        assertInstanceOf(ResourceNotFoundException.class, out.get());
        assertEquals("model [m] not found: store [gone] (index [.ltrstore_gone]) does not exist",
            ((Exception) out.get()).getMessage());
    }

    @Test
    void elementOfAnotherTypeUnderTheIdIsInvalid() {
        client.docs.put(".ltrstore/featureset-s", "{\"name\":\"s\",\"type\":\"feature\",\"feature\":{\"name\":\"s\",\"template\":\"x\"}}");
        Exception e = loadFailure(null, "s");
        assertInstanceOf(IllegalArgumentException.class, e);
        assertTrue(e.getMessage().contains("holds feature [s]"), e.getMessage());
    }

    @Test
    void invalidStoreNameFailsWithoutAGet() {
        Exception e = loadFailure("Bad Name", "s");
        assertInstanceOf(IllegalArgumentException.class, e);
        assertEquals(0, client.gets.size());
    }
}
