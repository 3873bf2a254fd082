package dev.ltrr.ltr.model;

/**
 * {@code model/xgboost+json}: the sum of the leaves reached in every tree, optionally through a sigmoid.
 * Trees are flattened into arrays; node {@code n} is a leaf when {@code feature[n] < 0}. A split sends a
 * value below its condition to {@code yes}, other values to {@code no}, and NaN (missing feature) to
 * {@code missing}, which the compiler sets to the node's {@code missing} child or, when the node names
 * none, to its {@code no} child.
 */
public final class TreeEnsembleModel implements RankingModel {
    private final int featureCount;
    private final int[] roots;
    private final int[] feature;
    private final float[] threshold;
    private final int[] yes;
    private final int[] no;
    private final int[] missing;
    private final float[] leaf;
    private final boolean sigmoid;

    TreeEnsembleModel(int featureCount, int[] roots, int[] feature, float[] threshold, int[] yes, int[] no,
                      int[] missing, float[] leaf, boolean sigmoid) {
        this.featureCount = featureCount;
        this.roots = roots;
        this.feature = feature;
        this.threshold = threshold;
        this.yes = yes;
        this.no = no;
        this.missing = missing;
        this.leaf = leaf;
        this.sigmoid = sigmoid;
    }

    @Override
    public int featureCount() {
        return featureCount;
    }

    public int treeCount() {
        return roots.length;
    }

    @Override
    public float score(float[] features) {
        double sum = 0;
        for (int root : roots) {
            int n = root;
            while (feature[n] >= 0) {
                float v = features[feature[n]];
                if (Float.isNaN(v)) {
                    n = missing[n];
                } else if (v < threshold[n]) {
                    n = yes[n];
                } else {
                    n = no[n];
                }
            }
            sum += leaf[n];
        }
        if (sigmoid) {
            sum = 1.0 / (1.0 + Math.exp(-sum));
        }
        return (float) sum;
    }
}
