package dev.ltrr.ltr.store;

import org.opensearch.core.xcontent.NamedXContentRegistry;

/**
 * Checks an element before it is written: every feature template must parse and render to a query,
 * a model must compile. Throws IllegalArgumentException naming the problem. The plugin wires the
 * search side's template validation and model compiler into it.
 */
@FunctionalInterface
public interface ElementValidator {
    ElementValidator NONE = (element, registry) -> { };

    void validate(Object element, NamedXContentRegistry registry);

    /** The features an element carries (a feature, a set's features, a model's frozen set's features). */
    static java.util.List<StoredFeature> featuresOf(Object element) {
        if (element instanceof StoredFeature f) {
            return java.util.List.of(f);
        } else if (element instanceof StoredFeatureSet s) {
            return s.features();
        } else if (element instanceof StoredModel m) {
            return m.featureSet().features();
        }
        throw new IllegalArgumentException("not a stored element: " + element);
    }
}
