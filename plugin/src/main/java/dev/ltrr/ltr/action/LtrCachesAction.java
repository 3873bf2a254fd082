package dev.ltrr.ltr.action;

import org.opensearch.action.ActionType;

/**
 * Cluster-wide action on the plugin's per-node caches: invalidates elements (after a write, a
 * store deletion or {@code _clearcache}) and reports each node's cache stats.
 */
public final class LtrCachesAction extends ActionType<LtrCachesNodesResponse> {
    public static final String NAME = "cluster:admin/ltrr/ltr/caches";
    public static final LtrCachesAction INSTANCE = new LtrCachesAction();

    private LtrCachesAction() {
        super(NAME, LtrCachesNodesResponse::new);
    }
}
