package dev.ltrr.ltr.store;

import org.opensearch.common.unit.TimeValue;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which caches each kind of invalidation reaches. */
class NodeCachesTest {
    private final List<String> modelClears = new ArrayList<>();
    private final NodeCaches caches = new NodeCaches(
        new CachedElementLoader(10, TimeValue.timeValueHours(1), ElementParser.Limits.DEFAULT), new NodeCaches.ModelCache() {
            @Override
            public void clear() {
                modelClears.add("*");
            }

            @Override
            public void clear(String storeIndex) {
                modelClears.add(storeIndex);
            }

            @Override
            public Map<String, Object> stats() {
                return Map.of("entries", 0);
            }
        });

    @Test
    void statsRequestClearsNothing() {
        caches.apply(false, null, List.of());
        assertEquals(List.of(), modelClears);
    }

    @Test
    void clearAllReachesEveryCompiledModel() {
        caches.apply(true, null, List.of());
        assertEquals(List.of("*"), modelClears);
    }

    @Test
    void clearStoreReachesThatStoresModels() {
        caches.apply(true, ".ltrstore_x", List.of());
        assertEquals(List.of(".ltrstore_x"), modelClears);
    }

    @Test
    void featureWriteLeavesCompiledModelsAlone() {
        caches.apply(true, ".ltrstore", List.of("feature-a"));
        assertEquals(List.of(), modelClears);
    }

    @Test
    void modelWriteClearsTheStoresCompiledModels() {
        caches.apply(true, ".ltrstore", List.of("model-m"));
        assertEquals(List.of(".ltrstore"), modelClears);
    }

    @Test
    void statsHoldBothCaches() {
        assertEquals(List.of("elements", "models"), caches.stats().keySet().stream().sorted().toList());
    }
}
