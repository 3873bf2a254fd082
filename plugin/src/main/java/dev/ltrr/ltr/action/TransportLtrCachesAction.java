package dev.ltrr.ltr.action;

import dev.ltrr.ltr.store.NodeCaches;
import org.opensearch.action.FailedNodeException;
import org.opensearch.action.support.ActionFilters;
import org.opensearch.action.support.nodes.TransportNodesAction;
import org.opensearch.cluster.service.ClusterService;
import org.opensearch.common.inject.Inject;
import org.opensearch.core.common.io.stream.StreamInput;
import org.opensearch.threadpool.ThreadPool;
import org.opensearch.transport.TransportService;

import java.io.IOException;
import java.util.List;

/** Runs {@link NodeCaches#apply} and collects {@link NodeCaches#stats} on every node asked. */
public final class TransportLtrCachesAction extends TransportNodesAction<LtrCachesNodesRequest, LtrCachesNodesResponse,
    LtrCachesNodeRequest, LtrCachesNodeResponse> {
    private final NodeCaches caches;

    @Inject
    public TransportLtrCachesAction(ThreadPool threadPool, ClusterService clusterService, TransportService transportService,
                                    ActionFilters actionFilters, NodeCaches caches) {
        super(LtrCachesAction.NAME, threadPool, clusterService, transportService, actionFilters,
            LtrCachesNodesRequest::new, LtrCachesNodeRequest::new, ThreadPool.Names.MANAGEMENT, LtrCachesNodeResponse.class);
        this.caches = caches;
    }

    @Override
    protected LtrCachesNodesResponse newResponse(LtrCachesNodesRequest request, List<LtrCachesNodeResponse> responses,
                                                 List<FailedNodeException> failures) {
        return new LtrCachesNodesResponse(clusterService.getClusterName(), responses, failures);
    }

    @Override
    protected LtrCachesNodeRequest newNodeRequest(LtrCachesNodesRequest request) {
        return new LtrCachesNodeRequest(request);
    }

    @Override
    protected LtrCachesNodeResponse newNodeResponse(StreamInput in) throws IOException {
        return new LtrCachesNodeResponse(in);
    }

    @Override
    protected LtrCachesNodeResponse nodeOperation(LtrCachesNodeRequest request) {
        caches.apply(request.clear(), request.storeIndex(), request.docIds());
        return new LtrCachesNodeResponse(clusterService.localNode(), caches.stats());
    }
}
