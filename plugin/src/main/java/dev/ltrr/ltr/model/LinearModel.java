package dev.ltrr.ltr.model;

/** {@code model/linear}: the weighted sum of the features; a missing (NaN) feature counts 0. */
public final class LinearModel implements RankingModel {
    private final float[] weights;

    public LinearModel(float[] weights) {
        this.weights = weights.clone();
    }

    @Override
    public int featureCount() {
        return weights.length;
    }

    @Override
    public float score(float[] features) {
        double sum = 0;
        for (int i = 0; i < weights.length; i++) {
            float v = features[i];
            if (!Float.isNaN(v)) {
                sum += (double) weights[i] * v;
            }
        }
        return (float) sum;
    }
}
