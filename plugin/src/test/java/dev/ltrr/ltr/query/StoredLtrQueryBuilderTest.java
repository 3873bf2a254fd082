package dev.ltrr.ltr.query;

import dev.ltrr.ltr.model.CompiledModelCache;
import dev.ltrr.ltr.model.ModelLimits;
import dev.ltrr.ltr.store.StoredFeature;
import dev.ltrr.ltr.store.StoredFeatureSet;
import dev.ltrr.ltr.store.StoredModel;
import org.junit.jupiter.api.Test;
import org.opensearch.common.io.stream.BytesStreamOutput;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.xcontent.XContentFactory;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.common.ParsingException;
import org.opensearch.core.common.io.stream.NamedWriteableAwareStreamInput;
import org.opensearch.core.common.io.stream.NamedWriteableRegistry;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.ToXContent;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.index.query.MatchQueryBuilder;
import org.opensearch.search.SearchModule;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StoredLtrQueryBuilderTest {
    private static final SearchModule SEARCH = new SearchModule(Settings.EMPTY, List.of());
    private static final NamedXContentRegistry XCONTENT = new NamedXContentRegistry(SEARCH.getNamedXContents());
    private static final NamedWriteableRegistry WRITEABLES = new NamedWriteableRegistry(SEARCH.getNamedWriteables());

    private static final StoredFeatureSet SET = new StoredFeatureSet("fs", List.of(
        new StoredFeature("title", List.of("kw"), "mustache", "{\"match\": {\"title\": \"{{kw}}\"}}"),
        new StoredFeature("body", List.of("kw", "extra"), "mustache", "{\"match\": {\"body\": \"{{kw}} {{extra}}\"}}")));

    private static StoredLtrQueryBuilder parse(String json) throws IOException {
        try (XContentParser parser = JsonXContent.jsonXContent.createParser(XCONTENT,
            DeprecationHandler.THROW_UNSUPPORTED_OPERATION, json)) {
            parser.nextToken();
            return StoredLtrQueryBuilder.fromXContent(parser, null);
        }
    }

    private static String parseError(String json) {
        return assertThrows(ParsingException.class, () -> parse(json)).getMessage();
    }

    private static StoredLtrQueryBuilder full() throws IOException {
        return parse("""
            {"params": {"kw": "red fox", "n": 3, "vec": [1.5, 2]}, "model": "m", "store": "s",
             "active_features": ["title"], "_name": "ltr", "boost": 2.5, "cache": true}""");
    }

    @Test
    void parsesEveryField() throws IOException {
        StoredLtrQueryBuilder b = full();
        assertEquals("red fox", b.params().get("kw"));
        assertEquals(List.of(1.5, 2), b.params().get("vec"));
        assertEquals("m", b.modelName());
        assertNull(b.featureSetName());
        assertEquals("s", b.store());
        assertEquals(List.of("title"), b.activeFeatures());
        assertEquals("ltr", b.queryName());
        assertEquals(2.5f, b.boost());
    }

    @Test
    void parsesFeatureSetMode() throws IOException {
        StoredLtrQueryBuilder b = parse("{\"featureset\": \"fs\", \"params\": {}}");
        assertEquals("fs", b.featureSetName());
        assertNull(b.modelName());
    }

    @Test
    void modelAndFeatureSetTogetherAreRefused() {
        assertTrue(parseError("{\"model\": \"m\", \"featureset\": \"fs\"}").contains("exactly one of [model] or [featureset]"));
    }

    @Test
    void neitherModelNorFeatureSetIsRefused() {
        assertTrue(parseError("{\"params\": {}}").contains("exactly one of [model] or [featureset]"));
    }

    @Test
    void unknownFieldIsRefused() {
        assertTrue(parseError("{\"model\": \"m\", \"modle\": \"x\"}").contains("does not support [modle]"));
    }

    @Test
    void modelMustBeAString() {
        assertTrue(parseError("{\"model\": {\"name\": \"m\"}}").contains("[model] must be a non-empty string"));
    }

    @Test
    void paramsMustBeAnObject() {
        assertTrue(parseError("{\"model\": \"m\", \"params\": [1]}").contains("[params] must be an object"));
    }

    @Test
    void activeFeaturesMustBeStrings() {
        assertTrue(parseError("{\"model\": \"m\", \"active_features\": [1]}").contains("[active_features]"));
    }

    @Test
    void xContentRoundTrip() throws IOException {
        StoredLtrQueryBuilder b = full();
        XContentBuilder json = XContentFactory.jsonBuilder();
        b.toXContent(json, ToXContent.EMPTY_PARAMS);
        try (XContentParser parser = JsonXContent.jsonXContent.createParser(XCONTENT,
            DeprecationHandler.THROW_UNSUPPORTED_OPERATION, json.toString())) {
            parser.nextToken();
            parser.nextToken();
            assertEquals("sltr", parser.currentName());
            parser.nextToken();
            assertEquals(b, StoredLtrQueryBuilder.fromXContent(parser, null));
        }
    }

    @Test
    void streamRoundTrip() throws IOException {
        StoredLtrQueryBuilder b = full();
        try (BytesStreamOutput out = new BytesStreamOutput()) {
            b.writeTo(out);
            StoredLtrQueryBuilder read = new StoredLtrQueryBuilder(out.bytes().streamInput(), null);
            assertEquals(b, read);
            assertEquals(b.hashCode(), read.hashCode());
        }
    }

    @Test
    void equalityCoversEveryField() throws IOException {
        StoredLtrQueryBuilder b = full();
        assertEquals(b, full());
        assertEquals(b.hashCode(), full().hashCode());
        assertNotEquals(b, full().store("other"));
        assertNotEquals(b, full().activeFeatures(null));
        assertNotEquals(b, full().params(Map.of("kw", "red")));
        assertNotEquals(b, full().queryName("x"));
        assertNotEquals(b, full().boost(1f));
    }

    private static StoredLtrQueryBuilder sltr(Map<String, Object> params, List<String> active) {
        LtrSearchServices services = new LtrSearchServices(() -> null, new CompiledModelCache(), () -> ModelLimits.DEFAULT);
        return new StoredLtrQueryBuilder(services).featureSetName("fs").params(params).activeFeatures(active);
    }

    @Test
    void resolveRendersEveryFeature() {
        ResolvedLtrQueryBuilder r = sltr(Map.of("kw", "red", "extra", "fox"), null).resolve(SET, null, XCONTENT);
        assertEquals(List.of("title", "body"), r.featureNames());
        assertEquals("red fox", assertInstanceOf(MatchQueryBuilder.class, r.featureQueries().get(1)).value());
        assertNull(r.model());
        assertEquals(".ltrstore", r.storeIndex());
    }

    @Test
    void inactiveFeaturesAreNotRenderedAndNeedNoParams() {
        ResolvedLtrQueryBuilder r = sltr(Map.of("kw", "red"), List.of("title")).resolve(SET, null, XCONTENT);
        assertEquals(Arrays.asList(new MatchQueryBuilder("title", "red"), null), r.featureQueries());
    }

    @Test
    void missingParamsAreNamed() {
        String m = assertThrows(IllegalArgumentException.class, () -> sltr(Map.of(), null).resolve(SET, null, XCONTENT))
            .getMessage();
        assertEquals("missing required param(s): [kw, extra]", m);
    }

    @Test
    void unknownActiveFeatureIsNamed() {
        String m = assertThrows(IllegalArgumentException.class,
            () -> sltr(Map.of("kw", "x"), List.of("title", "nope")).resolve(SET, null, XCONTENT)).getMessage();
        assertTrue(m.contains("unknown feature(s) [nope]"), m);
    }

    @Test
    void brokenModelFailsAtResolve() {
        StoredModel model = new StoredModel("m", SET, "model/linear", "{\"nope\": 1}", Map.of());
        String m = assertThrows(IllegalArgumentException.class,
            () -> sltr(Map.of("kw", "x", "extra", "y"), null).resolve(SET, model, XCONTENT)).getMessage();
        assertTrue(m.contains("unknown feature [nope]"), m);
    }

    @Test
    void resolvedStreamRoundTrip() throws IOException {
        StoredModel model = new StoredModel("m", SET, "model/linear", "{\"title\": 1}", Map.of());
        ResolvedLtrQueryBuilder r = sltr(Map.of("kw", "red"), List.of("title")).queryName("q").boost(3f)
            .resolve(SET, model, XCONTENT);
        try (BytesStreamOutput out = new BytesStreamOutput()) {
            r.writeTo(out);
            ResolvedLtrQueryBuilder read = new ResolvedLtrQueryBuilder(
                new NamedWriteableAwareStreamInput(out.bytes().streamInput(), WRITEABLES), null);
            assertEquals(r, read);
            assertEquals(r.hashCode(), read.hashCode());
            assertEquals("q", read.queryName());
            assertEquals(3f, read.boost());
            assertEquals("{\"title\": 1}", read.model().definition());
        }
    }

    @Test
    void resolvingTheSameSltrAgainReusesTheRenderedQueries() {
        LtrSearchServices services = new LtrSearchServices(() -> null, new CompiledModelCache(), () -> ModelLimits.DEFAULT);
        Map<String, Object> params = Map.of("kw", "red", "extra", "fox");
        ResolvedLtrQueryBuilder first = new StoredLtrQueryBuilder(services).featureSetName("fs").params(params)
            .resolve(SET, null, XCONTENT);
        ResolvedLtrQueryBuilder second = new StoredLtrQueryBuilder(services).featureSetName("fs").params(params)
            .resolve(SET, null, XCONTENT);
        assertSame(first.featureQueries().get(0), second.featureQueries().get(0));
        assertEquals(1, services.renderedFeatures().hits());
        ResolvedLtrQueryBuilder other = new StoredLtrQueryBuilder(services).featureSetName("fs")
            .params(Map.of("kw", "blue", "extra", "fox")).resolve(SET, null, XCONTENT);
        assertEquals(new MatchQueryBuilder("title", "blue"), other.featureQueries().get(0));
    }
}
