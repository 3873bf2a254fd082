package dev.ltrr.ltr.store;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ElementParserTest {
    private static final ElementParser.Limits LIMITS = ElementParser.Limits.DEFAULT;
    private static final String SET = "{\"name\":\"s\",\"features\":["
        + "{\"name\":\"title\",\"params\":[\"q\"],\"template_language\":\"mustache\",\"template\":{\"match\":{\"title\":\"{{q}}\"}}},"
        + "{\"name\":\"body\",\"params\":[\"q\"],\"template\":\"{\\\"match\\\":{\\\"body\\\":\\\"{{q}}\\\"}}\"}]}";

    private static Map<String, Object> json(String text) {
        return ElementParser.parseJsonObject(text, "test input");
    }

    private static String featureError(String body) {
        return assertThrows(IllegalArgumentException.class, () -> ElementParser.parseFeature(json(body))).getMessage();
    }

    private static String setError(String body, ElementParser.Limits limits) {
        return assertThrows(IllegalArgumentException.class,
            () -> ElementParser.parseFeatureSet(json(body), limits)).getMessage();
    }

    private static String modelError(String modelBody) {
        String body = "{\"name\":\"m\",\"feature_set\":" + SET + ",\"model\":" + modelBody + "}";
        return assertThrows(IllegalArgumentException.class, () -> ElementParser.parseModel(json(body), LIMITS)).getMessage();
    }

    @Test
    void featureWithObjectTemplateIsSerializedToJsonText() {
        StoredFeature f = ElementParser.parseFeature(json(
            "{\"name\":\"t\",\"params\":[\"q\"],\"template_language\":\"mustache\",\"template\":{\"match\":{\"title\":\"{{q}}\"}}}"));
        assertEquals(new StoredFeature("t", List.of("q"), "mustache", "{\"match\":{\"title\":\"{{q}}\"}}"), f);
    }

    @Test
    void featureDefaultsToNoParamsAndMustache() {
        StoredFeature f = ElementParser.parseFeature(json("{\"name\":\"t\",\"template\":\"{\\\"match_all\\\":{}}\"}"));
        assertEquals(new StoredFeature("t", List.of(), "mustache", "{\"match_all\":{}}"), f);
    }

    @Test
    void featureErrorsNameTheField() {
        assertEquals("feature: [name] is required", featureError("{\"template\":{\"match_all\":{}}}"));
        assertEquals("feature: [name] must be a string, got a number", featureError("{\"name\":3,\"template\":{}}"));
        assertEquals("feature: [name] must not be empty", featureError("{\"name\":\"  \",\"template\":{}}"));
        assertEquals("feature [f]: [template] is required", featureError("{\"name\":\"f\"}"));
        assertEquals("feature [f]: [template] must not be an empty object", featureError("{\"name\":\"f\",\"template\":{}}"));
        assertEquals("feature [f]: [template] must not be empty", featureError("{\"name\":\"f\",\"template\":\" \"}"));
        assertEquals("feature [f]: [template] must be an object or a string, got a list",
            featureError("{\"name\":\"f\",\"template\":[1]}"));
        assertEquals("feature [f]: [params] must be a list of strings, got a string",
            featureError("{\"name\":\"f\",\"params\":\"q\",\"template\":\"x\"}"));
        assertEquals("feature [f]: [params] must hold non-empty strings, got a number",
            featureError("{\"name\":\"f\",\"params\":[1],\"template\":\"x\"}"));
        assertEquals("feature [f]: param [q] is declared twice",
            featureError("{\"name\":\"f\",\"params\":[\"q\",\"q\"],\"template\":\"x\"}"));
        assertEquals("feature [f]: unsupported [template_language] [painless]: only mustache is supported",
            featureError("{\"name\":\"f\",\"template_language\":\"painless\",\"template\":\"x\"}"));
        assertEquals("feature [f]: unknown field [boost], expected one of [name, params, template, template_language]",
            featureError("{\"name\":\"f\",\"template\":\"x\",\"boost\":1}"));
    }

    @Test
    void featureNameHasBoundedLengthAndNoControlCharacters() {
        assertTrue(featureError("{\"name\":\"" + "x".repeat(257) + "\",\"template\":\"x\"}").contains("longer than 256"));
        assertTrue(featureError("{\"name\":\"a\\u0001b\",\"template\":\"x\"}").contains("control character"));
    }

    @Test
    void featureSetKeepsOrder() {
        StoredFeatureSet s = ElementParser.parseFeatureSet(json(SET), LIMITS);
        assertEquals(List.of("title", "body"), s.featureNames());
        assertEquals("{\"match\":{\"body\":\"{{q}}\"}}", s.features().get(1).template());
    }

    @Test
    void emptyFeatureSetIsAllowed() {
        assertEquals(List.of(), ElementParser.parseFeatureSet(json("{\"name\":\"s\"}"), LIMITS).features());
    }

    @Test
    void featureSetErrorsNameTheFeature() {
        assertEquals("featureset [s]: duplicate feature name [a]", setError(
            "{\"name\":\"s\",\"features\":[{\"name\":\"a\",\"template\":\"x\"},{\"name\":\"a\",\"template\":\"y\"}]}", LIMITS));
        assertEquals("featureset [s] [features][1] feature [b]: [template] is required", setError(
            "{\"name\":\"s\",\"features\":[{\"name\":\"a\",\"template\":\"x\"},{\"name\":\"b\"}]}", LIMITS));
        assertEquals("featureset [s] [features][0]: [name] is required",
            setError("{\"name\":\"s\",\"features\":[{\"template\":\"x\"}]}", LIMITS));
        assertEquals("featureset [s] [features][0] must be an object, got a string",
            setError("{\"name\":\"s\",\"features\":[\"a\"]}", LIMITS));
        assertEquals("featureset [s]: [features] must be a list, got an object",
            setError("{\"name\":\"s\",\"features\":{}}", LIMITS));
        assertEquals("featureset [s]: unknown field [feature], expected one of [features, name]",
            setError("{\"name\":\"s\",\"feature\":[]}", LIMITS));
        assertEquals("featureset: [name] must not be empty", setError("{\"name\":\"\"}", LIMITS));
    }

    @Test
    void featureSetOverTheFeatureLimitIsRefused() {
        assertEquals("featureset [s]: 2 features is more than the limit of 1 (ltrr.ltr.max_features_per_set)",
            setError("{\"name\":\"s\",\"features\":[{\"name\":\"a\",\"template\":\"x\"},{\"name\":\"b\",\"template\":\"y\"}]}",
                new ElementParser.Limits(1, 100)));
    }

    @Test
    void modelWithObjectDefinitionAndNormalizers() {
        StoredModel m = ElementParser.parseModel(json("{\"name\":\"m\",\"feature_set\":" + SET + ",\"model\":{"
            + "\"type\":\"model/linear\",\"definition\":{\"title\":1.5,\"body\":-2},"
            + "\"feature_normalizers\":{\"title\":{\"standard\":{\"mean\":1,\"standard_deviation\":2}},"
            + "\"body\":{\"min_max\":{\"minimum\":0,\"maximum\":10}}}}}"), LIMITS);
        assertEquals("m", m.name());
        assertEquals("model/linear", m.type());
        assertEquals("{\"title\":1.5,\"body\":-2}", m.definition());
        assertEquals(List.of("title", "body"), m.featureSet().featureNames());
        assertEquals(Map.of("title", new NormalizerSpec("standard", 1, 2), "body", new NormalizerSpec("min_max", 0, 10)),
            m.normalizers());
    }

    @Test
    void modelStringDefinitionIsKeptAsGiven() {
        StoredModel m = ElementParser.parseModel(json("{\"name\":\"m\",\"feature_set\":" + SET
            + ",\"model\":{\"type\":\"model/xgboost+json\",\"definition\":\"[{\\\"nodeid\\\":0,\\\"leaf\\\":1}]\"}}"), LIMITS);
        assertEquals("[{\"nodeid\":0,\"leaf\":1}]", m.definition());
        assertEquals(Map.of(), m.normalizers());
    }

    @Test
    void modelErrorsNameTheField() {
        assertEquals("model [m]: [model][definition] is required", modelError("{\"type\":\"model/linear\"}"));
        assertEquals("model [m] [model]: [type] is required", modelError("{\"definition\":{}}"));
        assertEquals("model [m]: [model][definition] must be an object, a list or a string, got a number",
            modelError("{\"type\":\"model/linear\",\"definition\":3}"));
        assertEquals("model [m]: [model][definition] must not be empty",
            modelError("{\"type\":\"model/linear\",\"definition\":\"\"}"));
        assertEquals("model [m] [model]: unknown field [weights], expected one of [definition, feature_normalizers, type]",
            modelError("{\"type\":\"model/linear\",\"definition\":{},\"weights\":1}"));
        assertEquals("model [m] [model] must be an object, got a string", modelError("\"x\""));
    }

    @Test
    void modelWithoutFeatureSetOrModelIsRefused() {
        assertEquals("model [m]: [feature_set] is required", assertThrows(IllegalArgumentException.class,
            () -> ElementParser.parseModel(json("{\"name\":\"m\",\"model\":{}}"), LIMITS)).getMessage());
        assertEquals("model [m]: [model] is required", assertThrows(IllegalArgumentException.class,
            () -> ElementParser.parseModel(json("{\"name\":\"m\",\"feature_set\":" + SET + "}"), LIMITS)).getMessage());
    }

    @Test
    void modelFeatureSetErrorsSayTheyAreInTheModel() {
        String body = "{\"name\":\"m\",\"feature_set\":{\"name\":\"s\",\"features\":[{\"name\":\"a\"}]},"
            + "\"model\":{\"type\":\"model/linear\",\"definition\":{}}}";
        assertEquals("model [m] [feature_set] [s] [features][0] feature [a]: [template] is required",
            assertThrows(IllegalArgumentException.class, () -> ElementParser.parseModel(json(body), LIMITS)).getMessage());
    }

    @Test
    void oversizedDefinitionIsRefused() {
        String body = "{\"name\":\"m\",\"feature_set\":" + SET + ",\"model\":{\"type\":\"model/linear\",\"definition\":\""
            + "x".repeat(101) + "\"}}";
        assertEquals("model [m]: definition of 101 bytes is more than the limit of 100 bytes (ltrr.ltr.max_model_bytes)",
            assertThrows(IllegalArgumentException.class,
                () -> ElementParser.parseModel(json(body), new ElementParser.Limits(10, 100))).getMessage());
    }

    @Test
    void nonFiniteNumberInDefinitionIsRefused() {
        assertEquals("model [m]: [model][definition] holds a non-finite number (Infinity)",
            modelError("{\"type\":\"model/linear\",\"definition\":{\"title\":1e999}}"));
    }

    @Test
    void normalizerErrors() {
        String pre = "{\"type\":\"model/linear\",\"definition\":{},\"feature_normalizers\":";
        assertEquals("model [m] [model][feature_normalizers] [nope]: feature [nope] is not in the feature set [title, body]",
            modelError(pre + "{\"nope\":{\"standard\":{\"mean\":0,\"standard_deviation\":1}}}}"));
        assertEquals("model [m] [model][feature_normalizers] [title] [standard]: [standard_deviation] must be positive, got -1.0",
            modelError(pre + "{\"title\":{\"standard\":{\"mean\":0,\"standard_deviation\":-1}}}}"));
        assertEquals("model [m] [model][feature_normalizers] [title] [standard]: [mean] is required",
            modelError(pre + "{\"title\":{\"standard\":{\"standard_deviation\":1}}}}"));
        assertEquals("model [m] [model][feature_normalizers] [title] [min_max]: [maximum] (1.0) must be greater than [minimum] (1.0)",
            modelError(pre + "{\"title\":{\"min_max\":{\"minimum\":1,\"maximum\":1}}}}"));
        assertEquals("model [m] [model][feature_normalizers] [title] [min_max]: [minimum] must be a number, got a string",
            modelError(pre + "{\"title\":{\"min_max\":{\"minimum\":\"0\",\"maximum\":1}}}}"));
        assertEquals("model [m] [model][feature_normalizers] [title]: unknown normalizer [log]: expected [standard] or [min_max]",
            modelError(pre + "{\"title\":{\"log\":{}}}}"));
        assertEquals("model [m] [model][feature_normalizers] [title]: expected exactly one of [standard] or [min_max], got [standard, min_max]",
            modelError(pre + "{\"title\":{\"standard\":{},\"min_max\":{}}}}"));
    }

    @Test
    void sourceRoundTripGivesEqualElements() {
        StoredModel m = ElementParser.parseModel(json("{\"name\":\"m\",\"feature_set\":" + SET + ",\"model\":{"
            + "\"type\":\"model/linear\",\"definition\":{\"title\":1.5},"
            + "\"feature_normalizers\":{\"body\":{\"min_max\":{\"minimum\":0,\"maximum\":10}}}}}"), LIMITS);
        Map<String, Object> source = json(ElementParser.toJson(ElementParser.toSource(m)));
        assertEquals("model", source.get("type"));
        assertEquals("m", source.get("name"));
        ElementParser.Stored back = ElementParser.parseSource(source, LIMITS);
        assertEquals(m, back.element());
    }

    @Test
    void objectTemplatesAreStoredAsObjects() {
        StoredFeatureSet s = ElementParser.parseFeatureSet(json(SET), LIMITS);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> features = (List<Map<String, Object>>) ElementParser.toMap(s).get("features");
        assertEquals(Map.of("match", Map.of("title", "{{q}}")), features.get(0).get("template"));
        assertEquals(Map.of("match", Map.of("body", "{{q}}")), features.get(1).get("template"));
    }

    @Test
    void nonJsonStringTemplateStaysAString() {
        StoredFeature f = new StoredFeature("f", List.of("v"), "mustache", "{\"knn\":{\"v\":{{#toJson}}v{{/toJson}}}}");
        assertEquals(f.template(), ElementParser.toMap(f).get("template"));
        assertEquals(f, ElementParser.parseFeature(ElementParser.toMap(f)));
    }

    @Test
    void sourceErrors() {
        assertEquals("unknown element type [rule]: expected feature, featureset or model", assertThrows(
            IllegalArgumentException.class, () -> ElementParser.parseSource(json("{\"name\":\"a\",\"type\":\"rule\"}"),
                LIMITS)).getMessage());
        assertEquals("stored feature [a] has no [feature] object", assertThrows(IllegalArgumentException.class,
            () -> ElementParser.parseSource(json("{\"name\":\"a\",\"type\":\"feature\"}"), LIMITS)).getMessage());
        assertEquals("stored feature [a] holds an element named [b]", assertThrows(IllegalArgumentException.class,
            () -> ElementParser.parseSource(json("{\"name\":\"a\",\"type\":\"feature\",\"feature\":{\"name\":\"b\","
                + "\"template\":\"x\"}}"), LIMITS)).getMessage());
    }

    @Test
    void jsonObjectParsingErrors() {
        assertEquals("body must be a JSON object", assertThrows(IllegalArgumentException.class,
            () -> ElementParser.parseJsonObject("[1]", "body")).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> ElementParser.parseJsonObject("{\"a\":", "body")).getMessage().startsWith("body is not valid JSON"));
    }
}
