package dev.ltrr.ltr;

import dev.ltrr.ltr.store.CachedElementLoader;
import org.opensearch.common.settings.Settings;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.SearchPlugin;
import org.opensearch.plugins.ActionPlugin;

/**
 * Entry point of ltrr's Learning to Rank plugin. Registers the {@code sltr} query and the
 * {@code ltr_log} search extension with its fetch sub-phase (search side), and the
 * {@code /_ltr} REST API, store, caches and their cluster-wide actions (store side).
 */
public class LtrrLtrPlugin extends Plugin implements SearchPlugin, ActionPlugin {
    /** Per-node cache of parsed stored elements; the search side loads through it (store side). */
    private final CachedElementLoader elementLoader;

    public LtrrLtrPlugin(Settings settings) {
        this.elementLoader = new CachedElementLoader(settings);
    }

    public CachedElementLoader elementLoader() {
        return elementLoader;
    }
}
