package dev.ltrr.ltr.template;

import dev.ltrr.ltr.store.StoredFeatureSet;
import org.opensearch.index.query.QueryBuilder;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Node-level LRU cache of rendered and parsed feature queries, so the sub-searches of one {@code _msearch}
 * that send the same {@code sltr} (same feature set, active features and params) render and parse the
 * templates once. The key holds the feature set by instance: the element cache hands out one immutable
 * instance per load, and a set that was updated is loaded as a new instance, so an entry can never serve
 * the queries of an older version. Only successful renders are cached (errors are raised again each time).
 * Cached query builders are shared between requests, as OpenSearch shares one request's builders between
 * its local shards; nothing mutates a parsed builder (rewrites make new ones).
 */
public final class RenderedFeatureCache {
    public static final int DEFAULT_MAX_ENTRIES = 128;

    private record Key(StoredFeatureSet featureSet, Set<String> active, Map<String, ?> params) {
        @Override
        public boolean equals(Object other) {
            return other instanceof Key k && k.featureSet == featureSet && Objects.equals(k.active, active)
                && k.params.equals(params);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * System.identityHashCode(featureSet) + Objects.hashCode(active)) + params.hashCode();
        }
    }

    private final int maxEntries;
    private final LinkedHashMap<Key, List<QueryBuilder>> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long hits;
    private long misses;

    public RenderedFeatureCache(int maxEntries) {
        if (maxEntries <= 0) {
            throw new IllegalArgumentException("max entries must be positive, got " + maxEntries);
        }
        this.maxEntries = maxEntries;
    }

    public RenderedFeatureCache() {
        this(DEFAULT_MAX_ENTRIES);
    }

    /**
     * The feature queries of {@code set} for these active features (null: all) and params, rendering them
     * (outside the lock) on a miss. The list is unmodifiable, one entry per feature, null when inactive.
     */
    public List<QueryBuilder> getOrRender(StoredFeatureSet set, Set<String> active, Map<String, ?> params,
                                          Supplier<List<QueryBuilder>> render) {
        Key key = new Key(set, active == null ? null : Set.copyOf(active), params == null ? Map.of() : params);
        synchronized (this) {
            List<QueryBuilder> queries = entries.get(key);
            if (queries != null) {
                hits++;
                return queries;
            }
            misses++;
        }
        List<QueryBuilder> rendered = Collections.unmodifiableList(new ArrayList<>(render.get()));
        synchronized (this) {
            entries.put(key, rendered);
            Iterator<Key> oldest = entries.keySet().iterator();
            while (entries.size() > maxEntries && oldest.hasNext()) {
                oldest.next();
                oldest.remove();
            }
        }
        return rendered;
    }

    public synchronized Map<String, Object> stats() {
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("hits", hits);
        stats.put("misses", misses);
        stats.put("entries", entries.size());
        stats.put("max_entries", maxEntries);
        return stats;
    }

    public synchronized void clear() {
        entries.clear();
    }

    public synchronized int size() {
        return entries.size();
    }

    public synchronized long hits() {
        return hits;
    }

    public synchronized long misses() {
        return misses;
    }
}
