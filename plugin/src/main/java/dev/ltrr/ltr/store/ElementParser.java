package dev.ltrr.ltr.store;

import org.opensearch.common.xcontent.LoggingDeprecationHandler;
import org.opensearch.common.xcontent.XContentFactory;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Strict parsing of stored elements (features, feature sets, models) from their JSON form, as
 * sent in request bodies and kept in the store index, and the reverse (the canonical {@code _source}).
 * Every problem is an IllegalArgumentException whose message says which element, which feature and
 * which field is wrong.
 */
public final class ElementParser {
    /** Bounds checked while parsing. */
    public record Limits(int maxFeatures, long maxDefinitionBytes) {
        public static final Limits DEFAULT = new Limits(10_000, 10L * 1024 * 1024);
    }

    private static final Set<String> FEATURE_FIELDS = Set.of("name", "params", "template_language", "template");
    private static final Set<String> FEATURESET_FIELDS = Set.of("name", "features");
    private static final Set<String> MODEL_FIELDS = Set.of("name", "feature_set", "model");
    private static final Set<String> MODEL_BODY_FIELDS = Set.of("type", "definition", "feature_normalizers");
    private static final Set<String> SOURCE_FIELDS = Set.of("name", "type", StoreNames.FEATURE, StoreNames.FEATURESET,
        StoreNames.MODEL);

    private ElementParser() {
    }

    // ---------------------------------------------------------------- elements from maps

    public static StoredFeature parseFeature(Object value) {
        return parseFeature(value, "feature");
    }

    private static StoredFeature parseFeature(Object value, String where) {
        Map<String, Object> map = object(value, where);
        String name = requiredString(map, "name", where);
        StoreNames.checkName("feature", name);
        String at = where.equals("feature") ? "feature [" + name + "]" : where + " feature [" + name + "]";
        unknownFields(map, FEATURE_FIELDS, at);
        List<String> params = new ArrayList<>();
        Object rawParams = map.get("params");
        if (rawParams != null) {
            if (!(rawParams instanceof List<?> list)) {
                throw new IllegalArgumentException(at + ": [params] must be a list of strings, got " + kind(rawParams));
            }
            Set<String> seen = new HashSet<>();
            for (Object p : list) {
                if (!(p instanceof String s) || s.isEmpty()) {
                    throw new IllegalArgumentException(at + ": [params] must hold non-empty strings, got " + kind(p));
                }
                if (!seen.add(s)) {
                    throw new IllegalArgumentException(at + ": param [" + s + "] is declared twice");
                }
                params.add(s);
            }
        }
        String language = "mustache";
        if (map.get("template_language") != null) {
            language = requiredString(map, "template_language", at);
            if (!language.equals("mustache")) {
                throw new IllegalArgumentException(at + ": unsupported [template_language] [" + language
                    + "]: only mustache is supported");
            }
        }
        Object template = map.get("template");
        String text;
        if (template == null) {
            throw new IllegalArgumentException(at + ": [template] is required");
        } else if (template instanceof String s) {
            if (s.isBlank()) {
                throw new IllegalArgumentException(at + ": [template] must not be empty");
            }
            text = s;
        } else if (template instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                throw new IllegalArgumentException(at + ": [template] must not be an empty object");
            }
            text = toJson(m);
        } else {
            throw new IllegalArgumentException(at + ": [template] must be an object or a string, got " + kind(template));
        }
        return new StoredFeature(name, params, language, text);
    }

    public static StoredFeatureSet parseFeatureSet(Object value, Limits limits) {
        return parseFeatureSet(value, limits, "featureset");
    }

    private static StoredFeatureSet parseFeatureSet(Object value, Limits limits, String where) {
        Map<String, Object> map = object(value, where);
        String name = requiredString(map, "name", where);
        StoreNames.checkName("featureset", name);
        String at = where.equals("featureset") ? "featureset [" + name + "]" : where + " [" + name + "]";
        unknownFields(map, FEATURESET_FIELDS, at);
        Object rawFeatures = map.get("features");
        List<StoredFeature> features = new ArrayList<>();
        if (rawFeatures != null) {
            if (!(rawFeatures instanceof List<?> list)) {
                throw new IllegalArgumentException(at + ": [features] must be a list, got " + kind(rawFeatures));
            }
            if (list.size() > limits.maxFeatures()) {
                throw new IllegalArgumentException(at + ": " + list.size() + " features is more than the limit of "
                    + limits.maxFeatures() + " (ltrr.ltr.max_features_per_set)");
            }
            for (int i = 0; i < list.size(); i++) {
                features.add(parseFeature(list.get(i), at + " [features][" + i + "]"));
            }
        }
        checkUniqueNames(features, at);
        return new StoredFeatureSet(name, features);
    }

    /** Refuses two features with one name in a set. */
    public static void checkUniqueNames(List<StoredFeature> features, String at) {
        Set<String> seen = new HashSet<>();
        for (StoredFeature f : features) {
            if (!seen.add(f.name())) {
                throw new IllegalArgumentException(at + ": duplicate feature name [" + f.name() + "]");
            }
        }
    }

    /** A model with its feature set inline: {@code {"name","feature_set":{...},"model":{"type","definition",...}}}. */
    public static StoredModel parseModel(Object value, Limits limits) {
        Map<String, Object> map = object(value, "model");
        String name = requiredString(map, "name", "model");
        StoreNames.checkName("model", name);
        String at = "model [" + name + "]";
        unknownFields(map, MODEL_FIELDS, at);
        Object rawSet = map.get("feature_set");
        if (rawSet == null) {
            throw new IllegalArgumentException(at + ": [feature_set] is required");
        }
        StoredFeatureSet set = parseFeatureSet(rawSet, limits, at + " [feature_set]");
        return parseModelBody(name, set, map.get("model"), limits);
    }

    /**
     * The inner {@code model} object {@code {"type","definition","feature_normalizers"?}} of a model
     * named {@code name} over {@code set}.
     */
    public static StoredModel parseModelBody(String name, StoredFeatureSet set, Object value, Limits limits) {
        String at = "model [" + name + "]";
        if (value == null) {
            throw new IllegalArgumentException(at + ": [model] is required");
        }
        Map<String, Object> body = object(value, at + " [model]");
        unknownFields(body, MODEL_BODY_FIELDS, at + " [model]");
        String type = requiredString(body, "type", at + " [model]");
        Object definition = body.get("definition");
        String text;
        if (definition == null) {
            throw new IllegalArgumentException(at + ": [model][definition] is required");
        } else if (definition instanceof String s) {
            text = s;
        } else if (definition instanceof Map<?, ?> || definition instanceof List<?>) {
            checkFinite(definition, at + ": [model][definition]");
            text = toJson(definition);
        } else {
            throw new IllegalArgumentException(at + ": [model][definition] must be an object, a list or a string, got "
                + kind(definition));
        }
        if (text.isBlank()) {
            throw new IllegalArgumentException(at + ": [model][definition] must not be empty");
        }
        long bytes = text.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > limits.maxDefinitionBytes()) {
            throw new IllegalArgumentException(at + ": definition of " + bytes + " bytes is more than the limit of "
                + limits.maxDefinitionBytes() + " bytes (ltrr.ltr.max_model_bytes)");
        }
        Map<String, NormalizerSpec> normalizers = parseNormalizers(body.get("feature_normalizers"), set, at);
        return new StoredModel(name, set, type, text, normalizers);
    }

    private static Map<String, NormalizerSpec> parseNormalizers(Object value, StoredFeatureSet set, String at) {
        Map<String, NormalizerSpec> out = new LinkedHashMap<>();
        if (value == null) {
            return out;
        }
        String where = at + " [model][feature_normalizers]";
        Map<String, Object> map = object(value, where);
        for (Map.Entry<String, Object> e : map.entrySet()) {
            String feature = e.getKey();
            String fat = where + " [" + feature + "]";
            if (set.ordinal(feature) < 0) {
                throw new IllegalArgumentException(fat + ": feature [" + feature + "] is not in the feature set "
                    + set.featureNames());
            }
            Map<String, Object> spec = object(e.getValue(), fat);
            if (spec.size() != 1) {
                throw new IllegalArgumentException(fat + ": expected exactly one of [standard] or [min_max], got "
                    + spec.keySet());
            }
            String kind = spec.keySet().iterator().next();
            Map<String, Object> args = object(spec.get(kind), fat + " [" + kind + "]");
            switch (kind) {
                case "standard" -> {
                    unknownFields(args, Set.of("mean", "standard_deviation"), fat + " [standard]");
                    double mean = finiteNumber(args, "mean", fat + " [standard]");
                    double sd = finiteNumber(args, "standard_deviation", fat + " [standard]");
                    if (sd <= 0) {
                        throw new IllegalArgumentException(fat + " [standard]: [standard_deviation] must be positive, got "
                            + sd);
                    }
                    out.put(feature, new NormalizerSpec("standard", mean, sd));
                }
                case "min_max" -> {
                    unknownFields(args, Set.of("minimum", "maximum"), fat + " [min_max]");
                    double min = finiteNumber(args, "minimum", fat + " [min_max]");
                    double max = finiteNumber(args, "maximum", fat + " [min_max]");
                    if (!(max > min)) {
                        throw new IllegalArgumentException(fat + " [min_max]: [maximum] (" + max
                            + ") must be greater than [minimum] (" + min + ")");
                    }
                    out.put(feature, new NormalizerSpec("min_max", min, max));
                }
                default -> throw new IllegalArgumentException(fat + ": unknown normalizer [" + kind
                    + "]: expected [standard] or [min_max]");
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- stored documents

    /** A parsed stored document. */
    public record Stored(String type, String name, Object element) {
    }

    /** Parses a store document's {@code _source} ({@code {"name","type","<type>":{...}}}). */
    public static Stored parseSource(Map<String, Object> source, Limits limits) {
        if (source == null) {
            throw new IllegalArgumentException("stored element has no _source");
        }
        unknownFields(source, SOURCE_FIELDS, "stored element");
        String type = StoreNames.checkType(requiredString(source, "type", "stored element"));
        String name = requiredString(source, "name", "stored element");
        Object body = source.get(type);
        if (body == null) {
            throw new IllegalArgumentException("stored " + type + " [" + name + "] has no [" + type + "] object");
        }
        Object element = switch (type) {
            case StoreNames.FEATURE -> parseFeature(body);
            case StoreNames.FEATURESET -> parseFeatureSet(body, limits);
            default -> parseModel(body, limits);
        };
        String parsedName = nameOf(element);
        if (!parsedName.equals(name)) {
            throw new IllegalArgumentException("stored " + type + " [" + name + "] holds an element named [" + parsedName + "]");
        }
        return new Stored(type, name, element);
    }

    public static String typeOf(Object element) {
        if (element instanceof StoredFeature) {
            return StoreNames.FEATURE;
        } else if (element instanceof StoredFeatureSet) {
            return StoreNames.FEATURESET;
        } else if (element instanceof StoredModel) {
            return StoreNames.MODEL;
        }
        throw new IllegalArgumentException("not a stored element: " + element);
    }

    public static String nameOf(Object element) {
        if (element instanceof StoredFeature f) {
            return f.name();
        } else if (element instanceof StoredFeatureSet s) {
            return s.name();
        } else if (element instanceof StoredModel m) {
            return m.name();
        }
        throw new IllegalArgumentException("not a stored element: " + element);
    }

    /** The {@code _source} of the store document for {@code element}. */
    public static Map<String, Object> toSource(Object element) {
        String type = typeOf(element);
        Map<String, Object> source = new LinkedHashMap<>();
        source.put("name", nameOf(element));
        source.put("type", type);
        source.put(type, toMap(element));
        return source;
    }

    /** The official JSON object form of an element. */
    public static Map<String, Object> toMap(Object element) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (element instanceof StoredFeature f) {
            out.put("name", f.name());
            out.put("params", f.params());
            out.put("template_language", f.templateLanguage());
            Object parsed = parseJsonContainer(f.template());
            out.put("template", parsed instanceof Map<?, ?> ? parsed : f.template());
        } else if (element instanceof StoredFeatureSet s) {
            out.put("name", s.name());
            List<Object> features = new ArrayList<>();
            for (StoredFeature f : s.features()) {
                features.add(toMap(f));
            }
            out.put("features", features);
        } else if (element instanceof StoredModel m) {
            out.put("name", m.name());
            out.put("feature_set", toMap(m.featureSet()));
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("type", m.type());
            Object parsed = parseJsonContainer(m.definition());
            body.put("definition", parsed != null ? parsed : m.definition());
            if (!m.normalizers().isEmpty()) {
                Map<String, Object> norms = new LinkedHashMap<>();
                for (String feature : m.featureSet().featureNames()) {
                    NormalizerSpec n = m.normalizers().get(feature);
                    if (n == null) {
                        continue;
                    }
                    Map<String, Object> args = new LinkedHashMap<>();
                    if (n.kind().equals("standard")) {
                        args.put("mean", n.a());
                        args.put("standard_deviation", n.b());
                    } else {
                        args.put("minimum", n.a());
                        args.put("maximum", n.b());
                    }
                    norms.put(feature, Map.of(n.kind(), args));
                }
                body.put("feature_normalizers", norms);
            }
            out.put("model", body);
        } else {
            throw new IllegalArgumentException("not a stored element: " + element);
        }
        return out;
    }

    // ---------------------------------------------------------------- JSON helpers

    /** Serializes a map or list as JSON text. */
    public static String toJson(Object value) {
        try (XContentBuilder b = XContentFactory.jsonBuilder()) {
            b.value(value);
            return b.toString();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot serialize as JSON: " + e.getMessage(), e);
        }
    }

    /** Parses JSON text that must be one object (a request body), or says what is wrong with it. */
    public static Map<String, Object> parseJsonObject(String json, String what) {
        try (XContentParser p = JsonXContent.jsonXContent.createParser(NamedXContentRegistry.EMPTY,
            LoggingDeprecationHandler.INSTANCE, json)) {
            XContentParser.Token t = p.nextToken();
            if (t != XContentParser.Token.START_OBJECT) {
                throw new IllegalArgumentException(what + " must be a JSON object");
            }
            Map<String, Object> map = p.mapOrdered();
            if (p.nextToken() != null) {
                throw new IllegalArgumentException(what + " has content after its JSON object");
            }
            return map;
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException iae && iae.getMessage() != null
                && iae.getMessage().startsWith(what)) {
                throw iae;
            }
            throw new IllegalArgumentException(what + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** The JSON object or array {@code text} holds, or null when it is not exactly one object or array. */
    static Object parseJsonContainer(String text) {
        String t = text.strip();
        if (t.isEmpty() || (t.charAt(0) != '{' && t.charAt(0) != '[')) {
            return null;
        }
        try (XContentParser p = JsonXContent.jsonXContent.createParser(NamedXContentRegistry.EMPTY,
            LoggingDeprecationHandler.INSTANCE, t)) {
            XContentParser.Token token = p.nextToken();
            Object value;
            if (token == XContentParser.Token.START_OBJECT) {
                value = p.mapOrdered();
            } else if (token == XContentParser.Token.START_ARRAY) {
                value = p.listOrderedMap();
            } else {
                return null;
            }
            return p.nextToken() == null ? value : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Refuses NaN and infinite numbers anywhere in a parsed JSON value (JSON text cannot carry them faithfully). */
    static void checkFinite(Object value, String where) {
        if (value instanceof Number n && !Double.isFinite(n.doubleValue())) {
            throw new IllegalArgumentException(where + " holds a non-finite number (" + n + ")");
        } else if (value instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                checkFinite(e.getValue(), where);
            }
        } else if (value instanceof List<?> l) {
            for (Object o : l) {
                checkFinite(o, where);
            }
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(Object value, String where) {
        if (!(value instanceof Map<?, ?>)) {
            throw new IllegalArgumentException(where + " must be an object, got " + kind(value));
        }
        return (Map<String, Object>) value;
    }

    static String requiredString(Map<String, Object> map, String field, String where) {
        Object v = map.get(field);
        if (v == null) {
            throw new IllegalArgumentException(where + ": [" + field + "] is required");
        }
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException(where + ": [" + field + "] must be a string, got " + kind(v));
        }
        if (s.isBlank()) {
            throw new IllegalArgumentException(where + ": [" + field + "] must not be empty");
        }
        return s;
    }

    private static double finiteNumber(Map<String, Object> map, String field, String where) {
        Object v = map.get(field);
        if (v == null) {
            throw new IllegalArgumentException(where + ": [" + field + "] is required");
        }
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException(where + ": [" + field + "] must be a number, got " + kind(v));
        }
        double d = n.doubleValue();
        if (!Double.isFinite(d)) {
            throw new IllegalArgumentException(where + ": [" + field + "] must be finite, got " + d);
        }
        return d;
    }

    static void unknownFields(Map<String, Object> map, Set<String> known, String where) {
        for (String key : map.keySet()) {
            if (!known.contains(key)) {
                throw new IllegalArgumentException(where + ": unknown field [" + key + "], expected one of "
                    + known.stream().sorted().toList());
            }
        }
    }

    static String kind(Object v) {
        if (v == null) {
            return "null";
        } else if (v instanceof String) {
            return "a string";
        } else if (v instanceof Number) {
            return "a number";
        } else if (v instanceof Boolean) {
            return "a boolean";
        } else if (v instanceof List<?>) {
            return "a list";
        } else if (v instanceof Map<?, ?>) {
            return "an object";
        }
        return v.getClass().getSimpleName();
    }
}
