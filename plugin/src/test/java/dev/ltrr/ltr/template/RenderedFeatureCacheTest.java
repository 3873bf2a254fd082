package dev.ltrr.ltr.template;

import dev.ltrr.ltr.store.StoredFeature;
import dev.ltrr.ltr.store.StoredFeatureSet;
import org.junit.jupiter.api.Test;
import org.opensearch.index.query.QueryBuilder;
import org.opensearch.index.query.TermQueryBuilder;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RenderedFeatureCacheTest {
    private static StoredFeatureSet set() {
        return new StoredFeatureSet("fs", List.of(new StoredFeature("f", List.of("kw"), "mustache", "{}")));
    }

    private final AtomicInteger renders = new AtomicInteger();

    private Supplier<List<QueryBuilder>> render(String value) {
        return () -> {
            renders.incrementAndGet();
            return List.of(new TermQueryBuilder("title", value));
        };
    }

    @Test
    void sameSetAndParamsRenderOnce() {
        RenderedFeatureCache cache = new RenderedFeatureCache(10);
        StoredFeatureSet set = set();
        List<QueryBuilder> first = cache.getOrRender(set, null, Map.of("kw", "red"), render("red"));
        assertSame(first, cache.getOrRender(set, null, Map.of("kw", "red"), render("red")));
        assertEquals(1, renders.get());
        assertEquals(1, cache.hits());
    }

    @Test
    void paramsActiveFeaturesAndSetInstanceEachMakeAnEntry() {
        RenderedFeatureCache cache = new RenderedFeatureCache(10);
        StoredFeatureSet set = set();
        List<QueryBuilder> red = cache.getOrRender(set, null, Map.of("kw", "red"), render("red"));
        assertNotSame(red, cache.getOrRender(set, null, Map.of("kw", "blue"), render("blue")));
        assertNotSame(red, cache.getOrRender(set, Set.of("f"), Map.of("kw", "red"), render("red")));
        // An equal set loaded again (e.g. after an update) is another instance: never served older queries.
        assertNotSame(red, cache.getOrRender(set(), null, Map.of("kw", "red"), render("red")));
        assertEquals(4, renders.get());
        assertEquals(0, cache.hits());
    }

    @Test
    void failedRendersAreNotCached() {
        RenderedFeatureCache cache = new RenderedFeatureCache(10);
        Supplier<List<QueryBuilder>> broken = () -> {
            renders.incrementAndGet();
            throw new IllegalArgumentException("feature [f]: template did not render to a valid query");
        };
        assertThrows(IllegalArgumentException.class, () -> cache.getOrRender(set(), null, Map.of(), broken));
        StoredFeatureSet set = set();
        assertThrows(IllegalArgumentException.class, () -> cache.getOrRender(set, null, Map.of(), broken));
        assertThrows(IllegalArgumentException.class, () -> cache.getOrRender(set, null, Map.of(), broken));
        assertEquals(3, renders.get());
        assertEquals(0, cache.size());
    }

    @Test
    void leastRecentlyUsedIsEvicted() {
        RenderedFeatureCache cache = new RenderedFeatureCache(2);
        StoredFeatureSet set = set();
        for (String kw : List.of("a", "b", "c")) {
            cache.getOrRender(set, null, Map.of("kw", kw), render(kw));
        }
        assertEquals(2, cache.size());
        cache.getOrRender(set, null, Map.of("kw", "a"), render("a"));
        assertEquals(4, renders.get());
        cache.clear();
        assertEquals(0, cache.size());
    }
}
