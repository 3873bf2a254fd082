package dev.ltrr.ltr.store;

import java.util.List;

/** An ordered list of features; a feature's position is its ordinal in model input vectors. */
public record StoredFeatureSet(String name, List<StoredFeature> features) {
    public StoredFeatureSet {
        features = List.copyOf(features);
    }

    /** Position of the named feature, or -1 when the set has no such feature. */
    public int ordinal(String featureName) {
        for (int i = 0; i < features.size(); i++) {
            if (features.get(i).name().equals(featureName)) {
                return i;
            }
        }
        return -1;
    }

    public List<String> featureNames() {
        return features.stream().map(StoredFeature::name).toList();
    }
}
