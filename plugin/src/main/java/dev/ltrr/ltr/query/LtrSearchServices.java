package dev.ltrr.ltr.query;

import dev.ltrr.ltr.model.CompiledModelCache;
import dev.ltrr.ltr.model.ModelLimits;
import dev.ltrr.ltr.store.ElementLoader;
import dev.ltrr.ltr.template.RenderedFeatureCache;

import java.util.function.Supplier;

/**
 * What the sltr query needs from its node: the element loader (filled by the store side once the node
 * has a client), the compiled-model cache, the model limits (node settings) and the cache of rendered
 * feature queries.
 */
public record LtrSearchServices(Supplier<ElementLoader> loader, CompiledModelCache modelCache,
                                Supplier<ModelLimits> limits, RenderedFeatureCache renderedFeatures) {

    /** With a cache of rendered feature queries of its own. */
    public LtrSearchServices(Supplier<ElementLoader> loader, CompiledModelCache modelCache,
                             Supplier<ModelLimits> limits) {
        this(loader, modelCache, limits, new RenderedFeatureCache());
    }

    /** Index of a store as named in {@code sltr.store}: {@code .ltrstore}, or {@code .ltrstore_<name>}. */
    public static String storeIndex(String store) {
        if (store == null || store.isEmpty() || store.equals("_default_")) {
            return ".ltrstore";
        }
        return ".ltrstore_" + store;
    }
}
