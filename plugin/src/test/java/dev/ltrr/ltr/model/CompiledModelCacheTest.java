package dev.ltrr.ltr.model;

import dev.ltrr.ltr.store.NormalizerSpec;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class CompiledModelCacheTest {
    private static final RankingModel MODEL = new LinearModel(new float[]{1});

    private static CompiledModelCache.Key key(String store, String name) {
        return new CompiledModelCache.Key(store, name, "h");
    }

    @Test
    void secondLookupIsAHit() {
        CompiledModelCache cache = new CompiledModelCache(10);
        AtomicInteger compiles = new AtomicInteger();
        cache.getOrCompile(key(".ltrstore", "m"), () -> {
            compiles.incrementAndGet();
            return MODEL;
        });
        assertSame(MODEL, cache.getOrCompile(key(".ltrstore", "m"), () -> {
            compiles.incrementAndGet();
            return MODEL;
        }));
        assertEquals(1, compiles.get());
        assertEquals(1L, cache.stats().get("hits"));
        assertEquals(1L, cache.stats().get("misses"));
        assertEquals(1, cache.stats().get("entries"));
    }

    @Test
    void leastRecentlyUsedIsEvicted() {
        CompiledModelCache cache = new CompiledModelCache(2);
        cache.getOrCompile(key("s", "a"), () -> MODEL);
        cache.getOrCompile(key("s", "b"), () -> MODEL);
        cache.getOrCompile(key("s", "a"), () -> MODEL);
        cache.getOrCompile(key("s", "c"), () -> MODEL);
        assertEquals(1L, cache.stats().get("evictions"));
        AtomicInteger compiles = new AtomicInteger();
        cache.getOrCompile(key("s", "a"), () -> {
            compiles.incrementAndGet();
            return MODEL;
        });
        assertEquals(0, compiles.get());
    }

    @Test
    void clearOfOneStoreKeepsTheOthers() {
        CompiledModelCache cache = new CompiledModelCache(10);
        cache.getOrCompile(key(".ltrstore", "a"), () -> MODEL);
        cache.getOrCompile(key(".ltrstore_x", "a"), () -> MODEL);
        cache.clear(".ltrstore_x");
        assertEquals(1, cache.stats().get("entries"));
        cache.clear();
        assertEquals(0, cache.stats().get("entries"));
    }

    @Test
    void hashChangesWithTheDefinitionFeaturesAndNormalizers() {
        String base = CompiledModelCache.definitionHash("model/linear", List.of("a", "b"), "{\"a\":1}", Map.of());
        assertEquals(base, CompiledModelCache.definitionHash("model/linear", List.of("a", "b"), "{\"a\":1}", Map.of()));
        assertNotEquals(base, CompiledModelCache.definitionHash("model/linear", List.of("a", "b"), "{\"a\":2}", Map.of()));
        assertNotEquals(base, CompiledModelCache.definitionHash("model/linear", List.of("b", "a"), "{\"a\":1}", Map.of()));
        assertNotEquals(base, CompiledModelCache.definitionHash("model/linear", List.of("a", "b"), "{\"a\":1}",
            Map.of("a", new NormalizerSpec("standard", 0, 1))));
    }
}
