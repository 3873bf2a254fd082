package dev.ltrr.ltr.store;

import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Setting.Property;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.core.common.unit.ByteSizeValue;

import java.util.List;

/** Node settings of the plugin: limits on what the store accepts, and the element cache's bounds. */
public final class LtrSettings {
    public static final Setting<ByteSizeValue> MAX_MODEL_BYTES = Setting.byteSizeSetting("ltrr.ltr.max_model_bytes",
        ByteSizeValue.parseBytesSizeValue("10mb", "ltrr.ltr.max_model_bytes"),
        ByteSizeValue.parseBytesSizeValue("1kb", "ltrr.ltr.max_model_bytes"),
        ByteSizeValue.parseBytesSizeValue("100mb", "ltrr.ltr.max_model_bytes"), Property.NodeScope);
    public static final Setting<Integer> MAX_FEATURES_PER_SET = Setting.intSetting("ltrr.ltr.max_features_per_set",
        10_000, 1, 1_000_000, Property.NodeScope);
    public static final Setting<Integer> MAX_TREE_NODES = Setting.intSetting("ltrr.ltr.max_tree_nodes", 1_000_000, 1,
        100_000_000, Property.NodeScope);
    public static final Setting<Integer> MAX_TREE_DEPTH = Setting.intSetting("ltrr.ltr.max_tree_depth", 128, 1, 10_000,
        Property.NodeScope);
    public static final Setting<ByteSizeValue> MAX_REQUEST_BYTES = Setting.byteSizeSetting("ltrr.ltr.max_request_bytes",
        ByteSizeValue.parseBytesSizeValue("32mb", "ltrr.ltr.max_request_bytes"),
        ByteSizeValue.parseBytesSizeValue("1kb", "ltrr.ltr.max_request_bytes"),
        ByteSizeValue.parseBytesSizeValue("200mb", "ltrr.ltr.max_request_bytes"), Property.NodeScope);
    public static final Setting<Integer> CACHE_MAX_ENTRIES = Setting.intSetting("ltrr.ltr.cache.max_entries", 1_000, 1,
        1_000_000, Property.NodeScope);
    public static final Setting<TimeValue> CACHE_EXPIRE_AFTER_WRITE = Setting.positiveTimeSetting(
        "ltrr.ltr.cache.expire_after_write", TimeValue.timeValueHours(1), Property.NodeScope);

    private LtrSettings() {
    }

    public static List<Setting<?>> all() {
        return List.of(MAX_MODEL_BYTES, MAX_FEATURES_PER_SET, MAX_TREE_NODES, MAX_TREE_DEPTH,
            MAX_REQUEST_BYTES, CACHE_MAX_ENTRIES, CACHE_EXPIRE_AFTER_WRITE);
    }

    public static ElementParser.Limits parseLimits(Settings settings) {
        return new ElementParser.Limits(MAX_FEATURES_PER_SET.get(settings), MAX_MODEL_BYTES.get(settings).getBytes());
    }
}
