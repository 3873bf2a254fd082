package dev.ltrr.ltr.model;

/**
 * A compiled ranking model. {@code features} holds one value per feature of the model's feature set, in
 * the set's order; {@link Float#NaN} marks a feature that did not match the document (missing).
 * Implementations are immutable and safe to share between threads.
 */
public interface RankingModel {
    /** Number of features the model reads (the size of its feature set). */
    int featureCount();

    /** The model's score for one document's feature vector. The array is not modified. */
    float score(float[] features);
}
