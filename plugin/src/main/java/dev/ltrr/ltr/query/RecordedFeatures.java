package dev.ltrr.ltr.query;

import java.util.HashMap;
import java.util.Map;

/**
 * Feature vectors a {@link RankerQuery} computed while it scored documents, kept so that feature logging
 * in the fetch phase of the same shard request can read them instead of computing every feature again.
 * One instance belongs to one parsed query (and the copies its rewrites make), so nothing is shared
 * between requests. It records nothing until {@link #enable} is called (only when an {@code ltr_log}
 * spec names the query), and never more than the capacity given there (the rescore window), so a query
 * that scores many documents cannot grow it without bound. Thread safe.
 */
public final class RecordedFeatures {
    private final Map<Integer, float[]> vectors = new HashMap<>();
    private volatile int capacity;

    /** Starts recording up to {@code capacity} documents (the largest capacity asked for wins). */
    public synchronized void enable(int capacity) {
        if (capacity > this.capacity) {
            this.capacity = capacity;
        }
    }

    public boolean enabled() {
        return capacity > 0;
    }

    /**
     * Keeps a copy of the vector scored for {@code doc} (an index-wide doc id: leaf doc base + leaf doc id).
     * Ignored when not enabled or when full; a document scored again keeps its newest vector.
     */
    void record(int doc, float[] vector) {
        if (capacity <= 0) {
            return;
        }
        synchronized (this) {
            if (vectors.size() < capacity || vectors.containsKey(doc)) {
                vectors.put(doc, vector.clone());
            }
        }
    }

    /** A copy of the vector recorded for {@code doc} (index-wide doc id), or null when none was. */
    public synchronized float[] get(int doc) {
        float[] vector = vectors.get(doc);
        return vector == null ? null : vector.clone();
    }

    public synchronized int size() {
        return vectors.size();
    }
}
