package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.store.StoredFeature;
import dev.ltrr.ltr.store.StoredFeatureSet;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.common.xcontent.XContentType;
import org.opensearch.core.common.bytes.BytesArray;
import org.opensearch.core.rest.RestStatus;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Request validation done before anything is written. */
class LtrRestSupportTest {
    private static Map<String, Object> body(String text, long max) {
        return LtrRestSupport.parseBody(new BytesArray(text), XContentType.JSON, max);
    }

    private static String bodyError(String text) {
        return assertThrows(IllegalArgumentException.class, () -> body(text, 1000)).getMessage();
    }

    private static StoredFeature f(String name, String template) {
        return new StoredFeature(name, List.of(), "mustache", template);
    }

    @Test
    void bodyIsParsedInOrder() {
        assertEquals(List.of("b", "a"), List.copyOf(body("{\"b\":1,\"a\":2}", 1000).keySet()));
    }

    @Test
    void badBodiesAreRefusedWithTheReason() {
        assertEquals("request body is required", bodyError(""));
        assertEquals("request body must be a JSON object", bodyError("[1]"));
        assertEquals("request body has content after its JSON object", bodyError("{} {}"));
        assertTrue(bodyError("not json").startsWith("request body is not valid JSON"));
        assertTrue(bodyError("{\"a\":1,\"a\":2}").contains("Duplicate field 'a'"));
    }

    @Test
    void oversizedBodyIs413() {
        OpenSearchStatusException e = assertThrows(OpenSearchStatusException.class, () -> body("{\"a\":\"xxxxxxxx\"}", 10));
        assertEquals(RestStatus.REQUEST_ENTITY_TOO_LARGE, e.status());
        assertEquals("request body of 16 bytes is more than the limit of 10 bytes (ltrr.ltr.max_request_bytes)", e.getMessage());
    }

    @Test
    void wrapperMustHoldExactlyTheExpectedKey() {
        assertEquals(Map.of("name", "x"), LtrRestSupport.unwrap(Map.of("model", Map.of("name", "x")), "model"));
        assertEquals("request body must be {\"feature\": {...}}, got fields [model]", assertThrows(
            IllegalArgumentException.class, () -> LtrRestSupport.unwrap(Map.of("model", 1), "feature")).getMessage());
        assertEquals("request body must be {\"feature\": {...}}, got an empty object", assertThrows(
            IllegalArgumentException.class, () -> LtrRestSupport.unwrap(Map.of(), "feature")).getMessage());
    }

    @Test
    void intParams() {
        assertEquals(20, LtrRestSupport.intParam("size", null, 20, 0, 100));
        assertEquals(5, LtrRestSupport.intParam("size", " 5 ", 20, 0, 100));
        assertEquals("parameter [size] must be an integer, got [x]", assertThrows(IllegalArgumentException.class,
            () -> LtrRestSupport.intParam("size", "x", 20, 0, 100)).getMessage());
        assertEquals("parameter [from] must be between 0 and 100, got -1", assertThrows(IllegalArgumentException.class,
            () -> LtrRestSupport.intParam("from", "-1", 0, 0, 100)).getMessage());
    }

    @Test
    void addingFeaturesAppendsInOrder() {
        StoredFeatureSet set = new StoredFeatureSet("s", List.of(f("a", "1")));
        StoredFeatureSet out = RestFeatureSetOps.appendFeatures(set, List.of(f("b", "2"), f("c", "3")), false, 10);
        assertEquals(List.of("a", "b", "c"), out.featureNames());
    }

    @Test
    void addingAnExistingFeatureNeedsMerge() {
        StoredFeatureSet set = new StoredFeatureSet("s", List.of(f("a", "1"), f("b", "2")));
        assertEquals("featureset [s] already has feature(s) [a]; pass merge=true to replace them", assertThrows(
            IllegalArgumentException.class, () -> RestFeatureSetOps.appendFeatures(set, List.of(f("a", "9")), false, 10))
            .getMessage());
    }

    @Test
    void mergeReplacesInPlace() {
        StoredFeatureSet set = new StoredFeatureSet("s", List.of(f("a", "1"), f("b", "2")));
        StoredFeatureSet out = RestFeatureSetOps.appendFeatures(set, List.of(f("a", "9"), f("c", "3")), true, 10);
        assertEquals(List.of("a", "b", "c"), out.featureNames());
        assertEquals("9", out.features().get(0).template());
    }

    @Test
    void addingPastTheFeatureLimitIsRefused() {
        StoredFeatureSet set = new StoredFeatureSet("s", List.of(f("a", "1")));
        assertEquals("featureset [s] would have 2 features, more than the limit of 1 (ltrr.ltr.max_features_per_set)",
            assertThrows(IllegalArgumentException.class,
                () -> RestFeatureSetOps.appendFeatures(set, List.of(f("b", "2")), false, 1)).getMessage());
    }
}
