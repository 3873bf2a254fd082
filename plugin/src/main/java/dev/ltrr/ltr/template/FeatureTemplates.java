package dev.ltrr.ltr.template;

import dev.ltrr.ltr.store.StoredFeature;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.index.query.AbstractQueryBuilder;
import org.opensearch.index.query.QueryBuilder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Turns stored feature templates plus {@code sltr} params into query builders. */
public final class FeatureTemplates {
    public static final String MUSTACHE = "mustache";

    private FeatureTemplates() {
    }

    /**
     * Fails with "missing required param(s): [a, b]" when any declared param of the given features is
     * absent from {@code params}.
     */
    public static void checkParams(List<StoredFeature> features, Map<String, ?> params) {
        Set<String> missing = new LinkedHashSet<>();
        for (StoredFeature feature : features) {
            for (String p : feature.params()) {
                if (params == null || !params.containsKey(p)) {
                    missing.add(p);
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("missing required param(s): " + new ArrayList<>(missing));
        }
    }

    /** Renders one feature's template with the params and parses it as a query. */
    public static QueryBuilder render(StoredFeature feature, Map<String, ?> params, NamedXContentRegistry registry) {
        checkParams(List.of(feature), params);
        String json = renderText(feature, params);
        return parseQuery(feature, json, registry);
    }

    /** The rendered JSON text of a feature's template. */
    public static String renderText(StoredFeature feature, Map<String, ?> params) {
        checkLanguage(feature);
        MustacheTemplate template;
        try {
            template = MustacheTemplate.compile(feature.template());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("feature [" + feature.name() + "]: invalid mustache template: "
                + e.getMessage(), e);
        }
        return template.render(params);
    }

    private static void checkLanguage(StoredFeature feature) {
        String lang = feature.templateLanguage();
        if (lang != null && !lang.equals(MUSTACHE)) {
            throw new IllegalArgumentException("feature [" + feature.name() + "]: template_language [" + lang
                + "] is not supported, only [" + MUSTACHE + "]");
        }
    }

    static QueryBuilder parseQuery(StoredFeature feature, String json, NamedXContentRegistry registry) {
        try (XContentParser parser = JsonXContent.jsonXContent.createParser(registry,
            DeprecationHandler.THROW_UNSUPPORTED_OPERATION, json)) {
            QueryBuilder query = AbstractQueryBuilder.parseInnerQueryBuilder(parser);
            if (parser.nextToken() != null) {
                throw new IllegalArgumentException("trailing content after the query");
            }
            return query;
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("feature [" + feature.name() + "]: template did not render to a valid "
                + "query: " + messageOf(e), e);
        }
    }

    private static String messageOf(Throwable e) {
        StringBuilder message = new StringBuilder(String.valueOf(e.getMessage()));
        Throwable cause = e.getCause();
        for (int depth = 0; cause != null && depth < 3; depth++, cause = cause.getCause()) {
            if (cause.getMessage() != null && !message.toString().contains(cause.getMessage())) {
                message.append(": ").append(cause.getMessage());
            }
        }
        return message.toString();
    }

    /**
     * Checks at store time that the feature's template compiles and renders, with placeholder values for
     * its params, to a query the node can parse. Several placeholder shapes are tried (a string, a number,
     * a list of numbers, an empty list) so templates that need a number, a vector or a list of clauses
     * ({@code "should": {{#toJson}}clauses{{/toJson}}}) validate too; the error of the first attempt is
     * reported when none parses.
     */
    public static void validate(StoredFeature feature, NamedXContentRegistry registry) {
        if (feature.name() == null || feature.name().isEmpty()) {
            throw new IllegalArgumentException("a feature needs a non-empty name");
        }
        checkLanguage(feature);
        try {
            MustacheTemplate.compile(feature.template());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("feature [" + feature.name() + "]: invalid mustache template: "
                + e.getMessage(), e);
        }
        List<Object> placeholders = List.of("1", 1, List.of(1.0f), List.of());
        IllegalArgumentException first = null;
        for (Object placeholder : placeholders) {
            Map<String, Object> params = new LinkedHashMap<>();
            for (String p : feature.params()) {
                params.put(p, placeholder);
            }
            try {
                parseQuery(feature, renderText(feature, params), registry);
                return;
            } catch (IllegalArgumentException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        throw first;
    }
}
