package dev.ltrr.ltr.store;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The caches one node holds: parsed stored elements and compiled models. The cluster-wide caches
 * action runs {@link #apply} on every node.
 */
public final class NodeCaches {
    /** The compiled-model cache as the store side sees it (the search side owns the cache). */
    public interface ModelCache {
        void clear();

        void clear(String storeIndex);

        Map<String, Object> stats();
    }

    private final CachedElementLoader elements;
    private volatile ModelCache models;
    private volatile Supplier<Map<String, Object>> searchStats;

    public NodeCaches(CachedElementLoader elements, ModelCache models) {
        this.elements = elements;
        this.models = models;
    }

    public CachedElementLoader elements() {
        return elements;
    }

    /** Sets where the search side's counters come from (rendered feature queries, feature logging). */
    public void searchStats(Supplier<Map<String, Object>> searchStats) {
        this.searchStats = searchStats;
    }

    /** Sets the compiled-model cache (null when none is wired). */
    public void models(ModelCache models) {
        this.models = models;
    }

    /**
     * Invalidates: nothing when {@code clear} is false; everything when {@code storeIndex} is null;
     * the whole store when {@code docIds} is empty; else those documents (and the store's compiled models,
     * which are keyed by definition hash and so are only dropped to free memory).
     */
    public void apply(boolean clear, String storeIndex, List<String> docIds) {
        if (!clear) {
            return;
        }
        ModelCache m = models;
        if (storeIndex == null) {
            elements.clearAll();
            if (m != null) {
                m.clear();
            }
        } else if (docIds.isEmpty()) {
            elements.clear(storeIndex);
            if (m != null) {
                m.clear(storeIndex);
            }
        } else {
            for (String id : docIds) {
                elements.invalidate(storeIndex, id);
            }
            if (m != null && docIds.stream().anyMatch(id -> id.startsWith(StoreNames.MODEL + "-"))) {
                m.clear(storeIndex);
            }
        }
    }

    /**
     * {@code {"elements": {...}, "models": {...}, "search": {...}}}; models and search are absent when no
     * compiled-model cache or search-side counters are wired.
     */
    public Map<String, Object> stats() {
        ModelCache m = models;
        Supplier<Map<String, Object>> search = searchStats;
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("elements", elements.stats());
        if (m != null) {
            stats.put("models", m.stats());
        }
        if (search != null) {
            stats.put("search", search.get());
        }
        return stats;
    }
}
