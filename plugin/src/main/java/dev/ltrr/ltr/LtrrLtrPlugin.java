package dev.ltrr.ltr;

import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.SearchPlugin;
import org.opensearch.plugins.ActionPlugin;

/**
 * Entry point of ltrr's Learning to Rank plugin. Registers the {@code sltr} query and the
 * {@code ltr_log} search extension with its fetch sub-phase (search side), and the
 * {@code /_ltr} REST API, store, caches and their cluster-wide actions (store side).
 */
public class LtrrLtrPlugin extends Plugin implements SearchPlugin, ActionPlugin {
}
