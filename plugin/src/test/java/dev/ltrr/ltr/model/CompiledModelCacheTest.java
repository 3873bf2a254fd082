package dev.ltrr.ltr.model;

import dev.ltrr.ltr.store.NormalizerSpec;
import dev.ltrr.ltr.store.StoredFeature;
import dev.ltrr.ltr.store.StoredFeatureSet;
import dev.ltrr.ltr.store.StoredModel;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
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

    private static StoredModel stored(String definition) {
        StoredFeatureSet set = new StoredFeatureSet("s", List.of(new StoredFeature("a", List.of(), "mustache", "{}"),
            new StoredFeature("b", List.of(), "mustache", "{}")));
        return new StoredModel("m", set, "model/linear", definition, Map.of());
    }

    @Test
    void aLoadedModelIsHashedOncePerInstance() {
        CompiledModelCache cache = new CompiledModelCache(10);
        StoredModel model = stored("{\"a\":1}");
        String hash = cache.definitionHash(model);
        assertEquals(CompiledModelCache.definitionHash("model/linear", List.of("a", "b"), "{\"a\":1}", Map.of()), hash);
        assertSame(hash, cache.definitionHash(model));
        StoredModel reloaded = stored("{\"a\":1}");
        String again = cache.definitionHash(reloaded);
        assertEquals(hash, again);
        assertNotSame(hash, again);
        assertNotEquals(hash, cache.definitionHash(stored("{\"a\":2}")));
    }

    @Test
    void rememberedHashesAreBoundedAndCleared() {
        CompiledModelCache cache = new CompiledModelCache(2);
        for (int i = 0; i < 5; i++) {
            cache.definitionHash(stored("{\"a\":" + i + "}"));
        }
        assertEquals(2, cache.rememberedHashes());
        cache.clear();
        assertEquals(0, cache.rememberedHashes());
    }
}
