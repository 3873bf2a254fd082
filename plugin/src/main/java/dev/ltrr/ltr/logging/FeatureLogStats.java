package dev.ltrr.ltr.logging;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Node-wide counts of logged feature vectors: read back from the rescore's recording, or computed. */
public final class FeatureLogStats {
    private final LongAdder recorded = new LongAdder();
    private final LongAdder computed = new LongAdder();

    void recorded() {
        recorded.increment();
    }

    void computed() {
        computed.increment();
    }

    public Map<String, Object> stats() {
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("recorded", recorded.sum());
        stats.put("computed", computed.sum());
        return stats;
    }
}
