package dev.ltrr.ltr.store;

import java.util.List;

/**
 * A feature as stored: a query template with declared params.
 *
 * @param name             unique within a feature set
 * @param params           names every {@code sltr} request must pass
 * @param templateLanguage "mustache" (the only language supported)
 * @param template         the template text: an object template serialized as JSON, or a string template
 */
public record StoredFeature(String name, List<String> params, String templateLanguage, String template) {
    public StoredFeature {
        params = List.copyOf(params);
    }
}
