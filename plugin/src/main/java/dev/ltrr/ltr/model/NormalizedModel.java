package dev.ltrr.ltr.model;

/**
 * Applies per-feature normalizers before the wrapped model: standard {@code (v - mean) / sd}, min_max
 * {@code (v - min) / (max - min)}. A missing (NaN) value stays missing.
 */
public final class NormalizedModel implements RankingModel {
    private final RankingModel inner;
    private final boolean[] normalized;
    private final double[] offset;
    private final double[] scale;

    /** For feature {@code i} with {@code normalized[i]}: {@code (v - offset[i]) / scale[i]}. */
    NormalizedModel(RankingModel inner, boolean[] normalized, double[] offset, double[] scale) {
        this.inner = inner;
        this.normalized = normalized;
        this.offset = offset;
        this.scale = scale;
    }

    @Override
    public int featureCount() {
        return inner.featureCount();
    }

    @Override
    public float score(float[] features) {
        float[] copy = features.clone();
        for (int i = 0; i < copy.length; i++) {
            if (normalized[i] && !Float.isNaN(copy[i])) {
                copy[i] = (float) ((copy[i] - offset[i]) / scale[i]);
            }
        }
        return inner.score(copy);
    }
}
