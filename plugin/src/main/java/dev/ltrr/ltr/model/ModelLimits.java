package dev.ltrr.ltr.model;

/**
 * Bounds a model definition must respect to be compiled.
 *
 * @param maxDefinitionBytes size of the definition text in UTF-8 bytes
 * @param maxNodes           tree nodes over all trees of a tree ensemble
 * @param maxTreeDepth       nesting depth of a single tree (the root is depth 0)
 */
public record ModelLimits(int maxDefinitionBytes, int maxNodes, int maxTreeDepth) {
    public static final int DEFAULT_MAX_DEFINITION_BYTES = 10 * 1024 * 1024;
    public static final int DEFAULT_MAX_NODES = 1_000_000;
    public static final int DEFAULT_MAX_TREE_DEPTH = 128;

    public static final ModelLimits DEFAULT =
        new ModelLimits(DEFAULT_MAX_DEFINITION_BYTES, DEFAULT_MAX_NODES, DEFAULT_MAX_TREE_DEPTH);

    public ModelLimits {
        if (maxDefinitionBytes <= 0 || maxNodes <= 0 || maxTreeDepth <= 0) {
            throw new IllegalArgumentException("model limits must be positive, got " + maxDefinitionBytes + "/"
                + maxNodes + "/" + maxTreeDepth);
        }
    }
}
