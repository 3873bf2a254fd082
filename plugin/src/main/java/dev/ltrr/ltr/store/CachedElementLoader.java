package dev.ltrr.ltr.store;

import org.opensearch.ResourceNotFoundException;
import org.opensearch.action.get.GetRequest;
import org.opensearch.common.cache.Cache;
import org.opensearch.common.cache.CacheBuilder;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.core.action.ActionListener;
import org.opensearch.index.IndexNotFoundException;
import org.opensearch.transport.client.Client;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Loads stored elements through a GET on the store index, keeping parsed elements in a bounded
 * per-node cache. Writes and {@code _clearcache} invalidate it on every node (through the
 * cluster-wide clear-cache action). A load that started before an invalidation never puts its
 * (possibly stale) result in the cache: every invalidation bumps a generation that the load checks.
 */
public final class CachedElementLoader implements ElementLoader {
    /** Cache key: store index and document id. */
    public record Key(String index, String docId) {
    }

    private final Cache<Key, Object> cache;
    private final ElementParser.Limits limits;
    private final Object lock = new Object();
    private long generation;

    public CachedElementLoader(Settings settings) {
        this(LtrSettings.CACHE_MAX_ENTRIES.get(settings), LtrSettings.CACHE_EXPIRE_AFTER_WRITE.get(settings),
            LtrSettings.parseLimits(settings));
    }

    public CachedElementLoader(int maxEntries, TimeValue expireAfterWrite, ElementParser.Limits limits) {
        this.cache = CacheBuilder.<Key, Object>builder()
            .setMaximumWeight(maxEntries)
            .setExpireAfterWrite(expireAfterWrite)
            .build();
        this.limits = limits;
    }

    @Override
    public void loadFeatureSet(Client client, String store, String name, ActionListener<StoredFeatureSet> listener) {
        load(client, store, StoreNames.FEATURESET, name, StoredFeatureSet.class, listener);
    }

    @Override
    public void loadModel(Client client, String store, String name, ActionListener<StoredModel> listener) {
        load(client, store, StoreNames.MODEL, name, StoredModel.class, listener);
    }

    /** Loads a single feature (used when adding stored features to a set). */
    public void loadFeature(Client client, String store, String name, ActionListener<StoredFeature> listener) {
        load(client, store, StoreNames.FEATURE, name, StoredFeature.class, listener);
    }

    private <T> void load(Client client, String store, String type, String name, Class<T> cls,
                          ActionListener<T> listener) {
        String index;
        try {
            index = StoreNames.indexName(store);
            StoreNames.checkName(type, name);
        } catch (IllegalArgumentException e) {
            listener.onFailure(e);
            return;
        }
        Key key = new Key(index, StoreNames.docId(type, name));
        Object cached = cache.get(key);
        if (cached != null) {
            listener.onResponse(cls.cast(cached));
            return;
        }
        long started;
        synchronized (lock) {
            started = generation;
        }
        String where = "store [" + StoreNames.display(store) + "] (index [" + index + "])";
        client.get(new GetRequest(index, key.docId()), ActionListener.wrap(response -> {
            if (!response.isExists()) {
                listener.onFailure(new ResourceNotFoundException(type + " [" + name + "] not found in " + where));
                return;
            }
            T element;
            try {
                ElementParser.Stored stored = ElementParser.parseSource(response.getSourceAsMap(), limits);
                if (!stored.type().equals(type) || !stored.name().equals(name)) {
                    throw new IllegalArgumentException("document [" + key.docId() + "] holds " + stored.type() + " ["
                        + stored.name() + "]");
                }
                element = cls.cast(stored.element());
            } catch (IllegalArgumentException e) {
                listener.onFailure(new IllegalArgumentException("stored " + type + " [" + name + "] in " + where
                    + " is invalid: " + e.getMessage(), e));
                return;
            }
            synchronized (lock) {
                if (generation == started) {
                    cache.put(key, element);
                }
            }
            listener.onResponse(element);
        }, e -> {
            if (e instanceof IndexNotFoundException) {
                listener.onFailure(new ResourceNotFoundException(type + " [" + name + "] not found: " + where
                    + " does not exist"));
            } else {
                listener.onFailure(e);
            }
        }));
    }

    /** Drops one cached element. */
    public void invalidate(String storeIndex, String docId) {
        synchronized (lock) {
            generation++;
            cache.invalidate(new Key(storeIndex, docId));
        }
    }

    /** Drops every cached element of one store index. */
    public void clear(String storeIndex) {
        synchronized (lock) {
            generation++;
            List<Key> doomed = new ArrayList<>();
            for (Key k : cache.keys()) {
                if (k.index().equals(storeIndex)) {
                    doomed.add(k);
                }
            }
            for (Key k : doomed) {
                cache.invalidate(k);
            }
        }
    }

    public void clearAll() {
        synchronized (lock) {
            generation++;
            cache.invalidateAll();
        }
    }

    /** True when the element is cached (for tests and diagnostics). */
    public boolean isCached(String storeIndex, String docId) {
        return cache.get(new Key(storeIndex, docId)) != null;
    }

    /** Hits, misses, evictions, entries, and entries per store index and type. */
    public Map<String, Object> stats() {
        Cache.CacheStats s = cache.stats();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("hits", s.getHits());
        out.put("misses", s.getMisses());
        out.put("evictions", s.getEvictions());
        out.put("entries", cache.count());
        Map<String, Map<String, Integer>> byStore = new TreeMap<>();
        for (Key k : cache.keys()) {
            String type = k.docId().substring(0, k.docId().indexOf('-'));
            byStore.computeIfAbsent(k.index(), i -> new TreeMap<>()).merge(type, 1, Integer::sum);
        }
        out.put("stores", byStore);
        return out;
    }
}
