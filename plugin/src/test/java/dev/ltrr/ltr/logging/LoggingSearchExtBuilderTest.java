package dev.ltrr.ltr.logging;

import org.junit.jupiter.api.Test;
import org.opensearch.common.io.stream.BytesStreamOutput;
import org.opensearch.common.xcontent.XContentFactory;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.common.ParsingException;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.ToXContent;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoggingSearchExtBuilderTest {
    private static LoggingSearchExtBuilder parse(String json) throws IOException {
        try (XContentParser parser = JsonXContent.jsonXContent.createParser(NamedXContentRegistry.EMPTY,
            DeprecationHandler.THROW_UNSUPPORTED_OPERATION, json)) {
            parser.nextToken();
            return LoggingSearchExtBuilder.parse(parser);
        }
    }

    private static String parseError(String json) {
        return assertThrows(ParsingException.class, () -> parse(json)).getMessage();
    }

    private static final String TWO_SPECS = """
        {"log_specs": [{"name": "main", "named_query": "ltr"},
                       {"rescore_index": 1, "missing_as_zero": true}]}""";

    @Test
    void parsesAListOfSpecs() throws IOException {
        LoggingSearchExtBuilder ext = parse(TWO_SPECS);
        assertEquals(List.of(new LoggingSearchExtBuilder.LogSpec("main", "ltr", null, false),
            new LoggingSearchExtBuilder.LogSpec(null, null, 1, true)), ext.logSpecs());
    }

    @Test
    void parsesASingleSpecObject() throws IOException {
        LoggingSearchExtBuilder ext = parse("{\"log_specs\": {\"named_query\": \"ltr\"}}");
        assertEquals(List.of(new LoggingSearchExtBuilder.LogSpec(null, "ltr", null, false)), ext.logSpecs());
    }

    @Test
    void logNameDefaultsToTheQueryItReads() throws IOException {
        List<LoggingSearchExtBuilder.LogSpec> specs = parse(TWO_SPECS).logSpecs();
        assertEquals("main", specs.get(0).logName());
        assertEquals("rescore[1]", specs.get(1).logName());
        assertEquals("ltr", new LoggingSearchExtBuilder.LogSpec(null, "ltr", null, false).logName());
    }

    @Test
    void xContentRoundTrip() throws IOException {
        LoggingSearchExtBuilder ext = parse(TWO_SPECS);
        XContentBuilder json = XContentFactory.jsonBuilder().startObject();
        ext.toXContent(json, ToXContent.EMPTY_PARAMS);
        json.endObject();
        try (XContentParser parser = JsonXContent.jsonXContent.createParser(NamedXContentRegistry.EMPTY,
            DeprecationHandler.THROW_UNSUPPORTED_OPERATION, json.toString())) {
            parser.nextToken();
            parser.nextToken();
            assertEquals("ltr_log", parser.currentName());
            parser.nextToken();
            assertEquals(ext, LoggingSearchExtBuilder.parse(parser));
        }
    }

    @Test
    void streamRoundTrip() throws IOException {
        LoggingSearchExtBuilder ext = parse(TWO_SPECS);
        try (BytesStreamOutput out = new BytesStreamOutput()) {
            ext.writeTo(out);
            LoggingSearchExtBuilder read = new LoggingSearchExtBuilder(out.bytes().streamInput());
            assertEquals(ext, read);
            assertEquals(ext.hashCode(), read.hashCode());
        }
    }

    @Test
    void equalityFollowsTheSpecs() throws IOException {
        assertNotEquals(parse(TWO_SPECS), parse("{\"log_specs\": {\"named_query\": \"ltr\"}}"));
    }

    @Test
    void specNeedsExactlyOneTarget() {
        assertTrue(parseError("{\"log_specs\": {\"named_query\": \"q\", \"rescore_index\": 0}}")
            .contains("exactly one of [named_query] or [rescore_index]"));
        assertTrue(parseError("{\"log_specs\": {\"name\": \"x\"}}")
            .contains("exactly one of [named_query] or [rescore_index]"));
    }

    @Test
    void negativeRescoreIndexIsRefused() {
        assertTrue(parseError("{\"log_specs\": {\"rescore_index\": -1}}").contains("must be >= 0"));
    }

    @Test
    void unknownFieldsAreRefused() {
        assertTrue(parseError("{\"log_specs\": {\"named_query\": \"q\", \"nme\": \"x\"}}").contains("[nme]"));
        assertTrue(parseError("{\"log_spec\": []}").contains("[log_spec]"));
    }

    @Test
    void emptySpecsAreRefused() {
        assertTrue(parseError("{\"log_specs\": []}").contains("at least one log spec"));
        assertTrue(parseError("{}").contains("at least one log spec"));
    }
}
