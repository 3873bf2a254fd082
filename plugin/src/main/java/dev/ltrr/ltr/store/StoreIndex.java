package dev.ltrr.ltr.store;

import org.opensearch.common.settings.Settings;

import java.util.Map;

/** Settings and mapping of a store index. */
public final class StoreIndex {
    /** Version of the store layout, reported by {@code GET /_ltr}. */
    public static final int VERSION = 1;

    private StoreIndex() {
    }

    /** Hidden, one shard, up to two replicas so a store survives the loss of a node. */
    public static Settings settings() {
        return Settings.builder()
            .put("index.hidden", true)
            .put("index.number_of_shards", 1)
            .put("index.auto_expand_replicas", "0-2")
            .build();
    }

    /** Strict mapping: name and type are keywords, element bodies are stored but not indexed. */
    public static Map<String, Object> mapping() {
        Map<String, Object> disabled = Map.of("type", "object", "enabled", false);
        return Map.of(
            "dynamic", "strict",
            "_meta", Map.of("ltrr_ltr_store_version", VERSION),
            "properties", Map.of(
                "name", Map.of("type", "keyword"),
                "type", Map.of("type", "keyword"),
                StoreNames.FEATURE, disabled,
                StoreNames.FEATURESET, disabled,
                StoreNames.MODEL, disabled));
    }
}
