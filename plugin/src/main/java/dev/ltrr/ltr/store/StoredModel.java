package dev.ltrr.ltr.store;

import java.util.Map;

/**
 * A model as stored: its own frozen copy of the feature set it was created with, the model
 * type ("model/linear", "model/xgboost+json"), the definition as JSON text, and optional
 * per-feature normalizers keyed by feature name.
 */
public record StoredModel(String name, StoredFeatureSet featureSet, String type, String definition,
                          Map<String, NormalizerSpec> normalizers) {
    public StoredModel {
        normalizers = normalizers == null ? Map.of() : Map.copyOf(normalizers);
    }
}
