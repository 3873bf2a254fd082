package dev.ltrr.ltr.template;

import dev.ltrr.ltr.store.StoredFeature;
import org.junit.jupiter.api.Test;
import org.opensearch.common.settings.Settings;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.index.query.MatchQueryBuilder;
import org.opensearch.index.query.QueryBuilder;
import org.opensearch.index.query.TermsQueryBuilder;
import org.opensearch.search.SearchModule;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FeatureTemplatesTest {
    static final NamedXContentRegistry REGISTRY =
        new NamedXContentRegistry(new SearchModule(Settings.EMPTY, List.of()).getNamedXContents());

    private static StoredFeature feature(String name, List<String> params, String template) {
        return new StoredFeature(name, params, "mustache", template);
    }

    @Test
    void rendersIntoAQueryBuilder() {
        QueryBuilder q = FeatureTemplates.render(feature("f", List.of("kw"), "{\"match\": {\"title\": \"{{kw}}\"}}"),
            Map.of("kw", "say \"hi\""), REGISTRY);
        MatchQueryBuilder match = assertInstanceOf(MatchQueryBuilder.class, q);
        assertEquals("say \"hi\"", match.value());
    }

    @Test
    void toJsonListBecomesAnArray() {
        QueryBuilder q = FeatureTemplates.render(feature("f", List.of("ids"),
            "{\"terms\": {\"id\": {{#toJson}}ids{{/toJson}}}}"), Map.of("ids", List.of(1, 2, 3)), REGISTRY);
        assertEquals(3, assertInstanceOf(TermsQueryBuilder.class, q).values().size());
    }

    @Test
    void missingParamsAreNamed() {
        StoredFeature f = feature("f", List.of("a", "b", "c"), "{\"match_all\": {}}");
        String m = assertThrows(IllegalArgumentException.class, () -> FeatureTemplates.render(f, Map.of("b", 1),
            REGISTRY)).getMessage();
        assertEquals("missing required param(s): [a, c]", m);
    }

    @Test
    void invalidRenderedJsonNamesTheFeature() {
        StoredFeature f = feature("broken", List.of("kw"), "{\"match\": {\"title\": {{kw}}}}");
        String m = assertThrows(IllegalArgumentException.class, () -> FeatureTemplates.render(f, Map.of("kw", "a b"),
            REGISTRY)).getMessage();
        assertTrue(m.startsWith("feature [broken]: template did not render to a valid query"), m);
    }

    @Test
    void unknownQueryTypeNamesTheFeature() {
        StoredFeature f = feature("weird", List.of(), "{\"no_such_query\": {}}");
        String m = assertThrows(IllegalArgumentException.class, () -> FeatureTemplates.validate(f, REGISTRY))
            .getMessage();
        assertTrue(m.startsWith("feature [weird]"), m);
    }

    @Test
    void validateAcceptsAGoodTemplate() {
        assertDoesNotThrow(() -> FeatureTemplates.validate(feature("f", List.of("kw"),
            "{\"match\": {\"title\": \"{{kw}}\"}}"), REGISTRY));
    }

    @Test
    void validateAcceptsANumericParamOutsideAString() {
        assertDoesNotThrow(() -> FeatureTemplates.validate(feature("f", List.of("n"),
            "{\"range\": {\"pop\": {\"gte\": {{n}}}}}"), REGISTRY));
    }

    @Test
    void validateAcceptsAParamThatIsAListOfClauses() {
        assertDoesNotThrow(() -> FeatureTemplates.validate(feature("f", List.of("clauses"),
            "{\"bool\": {\"should\": {{#toJson}}clauses{{/toJson}}}}"), REGISTRY));
    }

    @Test
    void validateRejectsABrokenMustacheTemplate() {
        String m = assertThrows(IllegalArgumentException.class, () -> FeatureTemplates.validate(feature("f",
            List.of("kw"), "{\"match\": {\"title\": \"{{#kw}}\"}}"), REGISTRY)).getMessage();
        assertTrue(m.contains("feature [f]: invalid mustache template"), m);
    }

    @Test
    void otherTemplateLanguagesAreRefused() {
        StoredFeature f = new StoredFeature("f", List.of(), "derived_expression", "a * b");
        String m = assertThrows(IllegalArgumentException.class, () -> FeatureTemplates.validate(f, REGISTRY))
            .getMessage();
        assertTrue(m.contains("template_language [derived_expression] is not supported"), m);
    }
}
