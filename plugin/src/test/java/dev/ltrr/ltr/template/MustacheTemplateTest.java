package dev.ltrr.ltr.template;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MustacheTemplateTest {
    private static String render(String template, Map<String, ?> params) {
        return MustacheTemplate.compile(template).render(params);
    }

    @Test
    void variableIsSubstituted() {
        assertEquals("{\"q\": \"red fox\"}", render("{\"q\": \"{{text}}\"}", Map.of("text", "red fox")));
    }

    @Test
    void quotesAndBackslashesAreEscaped() {
        assertEquals("\"a\\\"b\\\\c\"", render("\"{{v}}\"", Map.of("v", "a\"b\\c")));
    }

    @Test
    void controlCharactersAreEscaped() {
        assertEquals("\"\\n\\t\\r\\b\\f\\u0001\"", render("\"{{v}}\"", Map.of("v", "\n\t\r\b\f\u0001")));
    }

    @Test
    void userTextCannotCloseTheString() {
        String out = render("{\"match\": {\"f\": \"{{v}}\"}}", Map.of("v", "x\"}}, \"evil\": {\""));
        assertEquals("{\"match\": {\"f\": \"x\\\"}}, \\\"evil\\\": {\\\"\"}}", out);
    }

    @Test
    void tripleMustacheIsRaw() {
        assertEquals("{\"a\":1}", render("{{{v}}}", Map.of("v", "{\"a\":1}")));
        assertEquals("{\"a\":1}", render("{{& v}}", Map.of("v", "{\"a\":1}")));
    }

    @Test
    void numbersRenderPlain() {
        assertEquals("{\"size\": 10, \"w\": 0.5}", render("{\"size\": {{k}}, \"w\": {{w}}}", Map.of("k", 10, "w", 0.5)));
    }

    @Test
    void toJsonRendersListsAsJson() {
        assertEquals("{\"vector\": [0.5,1.0,-2.0]}",
            render("{\"vector\": {{#toJson}}vec{{/toJson}}}", Map.of("vec", List.of(0.5, 1.0, -2.0))));
    }

    @Test
    void toJsonQuotesAndEscapesStrings() {
        assertEquals("\"a\\\"b\"", render("{{#toJson}}s{{/toJson}}", Map.of("s", "a\"b")));
    }

    @Test
    void joinJoinsWithCommas() {
        assertEquals("\"a,b\\\"\"", render("\"{{#join}}xs{{/join}}\"", Map.of("xs", List.of("a", "b\""))));
    }

    @Test
    void sectionRepeatsOverAList() {
        assertEquals("[x][y]", render("{{#items}}[{{.}}]{{/items}}", Map.of("items", List.of("x", "y"))));
    }

    @Test
    void sectionOverObjectsResolvesTheirFields() {
        assertEquals("a=1;b=2;", render("{{#items}}{{k}}={{v}};{{/items}}",
            Map.of("items", List.of(Map.of("k", "a", "v", 1), Map.of("k", "b", "v", 2)))));
    }

    @Test
    void booleanSectionsAndInvertedSections() {
        String t = "{{#on}}yes{{/on}}{{^on}}no{{/on}}";
        assertEquals("yes", render(t, Map.of("on", true)));
        assertEquals("no", render(t, Map.of("on", false)));
        assertEquals("no", render(t, Map.of()));
        assertEquals("empty", render("{{^xs}}empty{{/xs}}", Map.of("xs", List.of())));
    }

    @Test
    void dottedNamesWalkObjects() {
        assertEquals("\"Oslo\"", render("\"{{user.city.name}}\"", Map.of("user", Map.of("city", Map.of("name", "Oslo")))));
    }

    @Test
    void missingVariableRendersEmpty() {
        assertEquals("\"\"", render("\"{{nope}}\"", Map.of()));
    }

    @Test
    void commentsRenderNothing() {
        assertEquals("ab", render("a{{! note }}b", Map.of()));
    }

    @Test
    void unclosedSectionIsAnError() {
        String m = assertThrows(IllegalArgumentException.class, () -> MustacheTemplate.compile("{{#a}}x")).getMessage();
        assertTrue(m.contains("section [a]"), m);
    }

    @Test
    void mismatchedCloseIsAnError() {
        String m = assertThrows(IllegalArgumentException.class, () -> MustacheTemplate.compile("{{#a}}x{{/b}}"))
            .getMessage();
        assertTrue(m.contains("closing tag [b]"), m);
    }

    @Test
    void unclosedTagIsAnError() {
        String m = assertThrows(IllegalArgumentException.class, () -> MustacheTemplate.compile("{\"a\": \"{{x\"}"))
            .getMessage();
        assertTrue(m.contains("unclosed mustache tag"), m);
    }
}
