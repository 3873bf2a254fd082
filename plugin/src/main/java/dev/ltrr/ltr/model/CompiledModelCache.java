package dev.ltrr.ltr.model;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

import dev.ltrr.ltr.store.NormalizerSpec;
import dev.ltrr.ltr.store.StoredModel;

/**
 * Node-level LRU cache of compiled models. The key holds the store index, the model name and a SHA-256
 * of everything that defines the model (type, feature names in order, definition, normalizers), so a
 * model stored again under the same name with another definition is compiled afresh, never served stale.
 */
public final class CompiledModelCache {
    public static final int DEFAULT_MAX_ENTRIES = 100;

    public record Key(String storeIndex, String modelName, String definitionHash) {
    }

    private final int maxEntries;
    private final LinkedHashMap<Key, RankingModel> entries = new LinkedHashMap<>(16, 0.75f, true);
    /**
     * {@link #definitionHash} of loaded models by instance (the element cache hands out the same immutable
     * instance until the element is invalidated), so a large definition is hashed once per load, not per
     * request. LRU, as many entries as compiled models.
     */
    private final LinkedHashMap<Identity, String> hashes = new LinkedHashMap<>(16, 0.75f, true);
    private long hits;
    private long misses;
    private long evictions;

    public CompiledModelCache(int maxEntries) {
        if (maxEntries <= 0) {
            throw new IllegalArgumentException("max entries must be positive, got " + maxEntries);
        }
        this.maxEntries = maxEntries;
    }

    public CompiledModelCache() {
        this(DEFAULT_MAX_ENTRIES);
    }

    /** The cached model for {@code key}, compiling it (outside the lock) on a miss. Compile errors propagate. */
    public RankingModel getOrCompile(Key key, Supplier<RankingModel> compiler) {
        synchronized (this) {
            RankingModel model = entries.get(key);
            if (model != null) {
                hits++;
                return model;
            }
            misses++;
        }
        RankingModel compiled = compiler.get();
        synchronized (this) {
            RankingModel raced = entries.get(key);
            if (raced != null) {
                return raced;
            }
            entries.put(key, compiled);
            Iterator<Key> oldest = entries.keySet().iterator();
            while (entries.size() > maxEntries && oldest.hasNext()) {
                oldest.next();
                oldest.remove();
                evictions++;
            }
            return compiled;
        }
    }

    public synchronized void clear() {
        entries.clear();
        hashes.clear();
    }

    /** The model's {@link #definitionHash}, computed once per model instance. */
    public String definitionHash(StoredModel model) {
        Identity key = new Identity(model);
        synchronized (this) {
            String hash = hashes.get(key);
            if (hash != null) {
                return hash;
            }
        }
        String hash = definitionHash(model.type(), model.featureSet().featureNames(), model.definition(),
            model.normalizers());
        synchronized (this) {
            hashes.put(key, hash);
            Iterator<Identity> oldest = hashes.keySet().iterator();
            while (hashes.size() > maxEntries && oldest.hasNext()) {
                oldest.next();
                oldest.remove();
            }
        }
        return hash;
    }

    /** Number of model instances whose hash is remembered (for tests). */
    synchronized int rememberedHashes() {
        return hashes.size();
    }

    /** A map key equal only to a key of the same instance (records compare by value: the whole definition). */
    private record Identity(Object referent) {
        @Override
        public boolean equals(Object other) {
            return other instanceof Identity o && o.referent == referent;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(referent);
        }
    }

    /** Drops every model of one store (by store index name). */
    public synchronized void clear(String storeIndex) {
        entries.keySet().removeIf(k -> k.storeIndex().equals(storeIndex));
    }

    public synchronized Map<String, Object> stats() {
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("hits", hits);
        stats.put("misses", misses);
        stats.put("entries", entries.size());
        stats.put("evictions", evictions);
        stats.put("max_entries", maxEntries);
        return stats;
    }

    /** SHA-256 (hex) over everything that defines a compiled model. */
    public static String definitionHash(String type, List<String> featureNames, String definition,
                                        Map<String, NormalizerSpec> normalizers) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
        update(digest, type);
        digest.update((byte) 1);
        for (String name : featureNames) {
            update(digest, name);
        }
        digest.update((byte) 2);
        update(digest, definition);
        digest.update((byte) 3);
        for (Map.Entry<String, NormalizerSpec> e : new TreeMap<>(normalizers).entrySet()) {
            NormalizerSpec spec = e.getValue();
            update(digest, e.getKey() + "=" + spec.kind() + ":" + Double.doubleToLongBits(spec.a()) + ":"
                + Double.doubleToLongBits(spec.b()));
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static void update(MessageDigest digest, String s) {
        byte[] bytes = String.valueOf(s).getBytes(StandardCharsets.UTF_8);
        digest.update(Integer.toString(bytes.length).getBytes(StandardCharsets.UTF_8));
        digest.update((byte) ':');
        digest.update(bytes);
    }
}
