package dev.ltrr.ltr.store;

import org.opensearch.core.action.ActionListener;
import org.opensearch.transport.client.Client;

/**
 * How the search side reads stored elements: through the per-node cache, which the store
 * side invalidates on update, delete and {@code _clearcache} on every node.
 * {@code store} is the store name as given in {@code sltr.store} (null for the default store).
 * Failures reach the listener as OpenSearch exceptions with a 4xx status
 * (ResourceNotFoundException for a missing element or store).
 */
public interface ElementLoader {
    void loadFeatureSet(Client client, String store, String name, ActionListener<StoredFeatureSet> listener);

    void loadModel(Client client, String store, String name, ActionListener<StoredModel> listener);
}
