package dev.ltrr.ltr.model;

import dev.ltrr.ltr.store.NormalizerSpec;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelCompilerTest {
    private static final List<String> FEATURES = List.of("a", "b", "c");
    private static final float NAN = Float.NaN;

    private static RankingModel compile(String type, String definition) {
        return ModelCompiler.compile("m", type, FEATURES, definition, Map.of(), ModelLimits.DEFAULT);
    }

    private static RankingModel tree(String definition) {
        return compile(ModelCompiler.XGBOOST_JSON, definition);
    }

    private static String error(String type, String definition) {
        return assertThrows(IllegalArgumentException.class, () -> compile(type, definition)).getMessage();
    }

    private static void assertMessage(String expectedPart, String message) {
        assertTrue(message.contains(expectedPart), () -> "message [" + message + "] lacks [" + expectedPart + "]");
    }

    /** a < 1 ? (b < 2 ? 10 : 20) : 30; missing a goes to yes (node 1), missing b to the default, no. */
    private static final String ONE_TREE = """
        [{"nodeid": 0, "depth": 0, "split": "a", "split_condition": 1.0, "yes": 1, "no": 2, "missing": 1,
          "children": [
            {"nodeid": 1, "depth": 1, "split": "b", "split_condition": 2, "yes": 3, "no": 4,
             "children": [{"nodeid": 3, "leaf": 10}, {"nodeid": 4, "leaf": 20}]},
            {"nodeid": 2, "leaf": 30}]}]""";

    @Test
    void linearIsTheWeightedSum() {
        RankingModel m = compile(ModelCompiler.LINEAR, "{\"a\": 2, \"b\": -0.5, \"c\": 1.5}");
        assertEquals(2 * 3 - 0.5 * 4 + 1.5 * 2, m.score(new float[]{3, 4, 2}), 1e-6);
    }

    @Test
    void linearCountsMissingFeaturesAsZero() {
        RankingModel m = compile(ModelCompiler.LINEAR, "{\"a\": 2, \"b\": -0.5}");
        assertEquals(-2f, m.score(new float[]{NAN, 4, 100}), 1e-6);
    }

    @Test
    void linearAcceptsTheDefinitionAsAJsonString() {
        RankingModel m = compile(ModelCompiler.LINEAR, "\"{\\\"a\\\": 2}\"");
        assertEquals(6f, m.score(new float[]{3, 1, 1}), 1e-6);
    }

    @Test
    void treeBelowConditionGoesYes() {
        assertEquals(10f, tree(ONE_TREE).score(new float[]{0.5f, 1.9f, 0}));
    }

    @Test
    void treeAtConditionGoesNo() {
        assertEquals(30f, tree(ONE_TREE).score(new float[]{1.0f, 0, 0}));
        assertEquals(20f, tree(ONE_TREE).score(new float[]{0, 2.0f, 0}));
    }

    @Test
    void treeNaNFollowsTheMissingChild() {
        assertEquals(10f, tree(ONE_TREE).score(new float[]{NAN, 1, 0}));
    }

    @Test
    void treeNaNWithoutMissingChildGoesNo() {
        assertEquals(20f, tree(ONE_TREE).score(new float[]{0, NAN, 0}));
    }

    @Test
    void treeWithASingleLeaf() {
        assertEquals(0.25f, tree("[{\"leaf\": 0.25}]").score(new float[]{1, 2, 3}));
    }

    @Test
    void treesAreSummed() {
        String two = "[" + ONE_TREE.substring(ONE_TREE.indexOf('[') + 1, ONE_TREE.lastIndexOf(']'))
            + ", {\"nodeid\": 0, \"split\": \"c\", \"split_condition\": 0, \"yes\": 1, \"no\": 2,"
            + " \"children\": [{\"nodeid\": 1, \"leaf\": -1.5}, {\"nodeid\": 2, \"leaf\": 0.5}]}]";
        assertEquals(30.5f, tree(two).score(new float[]{5, 0, 1}), 1e-6);
        assertEquals(8.5f, tree(two).score(new float[]{0, 0, -1}), 1e-6);
    }

    @Test
    void rawObjectivesSumWithoutTransform() {
        for (String objective : List.of("reg:linear", "reg:squarederror", "rank:pairwise", "rank:ndcg", "rank:map",
            "binary:logitraw")) {
            RankingModel m = tree("{\"objective\": \"" + objective + "\", \"splits\": [{\"leaf\": 1.5}]}");
            assertEquals(1.5f, m.score(new float[3]), objective);
        }
    }

    @Test
    void logisticObjectivesApplyASigmoid() {
        for (String objective : List.of("binary:logistic", "reg:logistic")) {
            RankingModel m = tree("{\"objective\": \"" + objective + "\", \"splits\": [{\"leaf\": 0.5}, {\"leaf\": 1}]}");
            assertEquals(1 / (1 + Math.exp(-1.5)), m.score(new float[3]), 1e-6, objective);
        }
    }

    @Test
    void standardNormalizerAppliesBeforeTheModel() {
        RankingModel m = ModelCompiler.compile("m", ModelCompiler.LINEAR, FEATURES, "{\"a\": 1, \"b\": 1}",
            Map.of("a", new NormalizerSpec("standard", 10, 4)), ModelLimits.DEFAULT);
        assertEquals((18 - 10) / 4f + 3, m.score(new float[]{18, 3, 0}), 1e-6);
    }

    @Test
    void minMaxNormalizerAppliesBeforeTheModel() {
        RankingModel m = ModelCompiler.compile("m", ModelCompiler.LINEAR, FEATURES, "{\"a\": 1}",
            Map.of("a", new NormalizerSpec("min_max", 2, 6)), ModelLimits.DEFAULT);
        assertEquals(0.75f, m.score(new float[]{5, 0, 0}), 1e-6);
    }

    @Test
    void normalizerLeavesMissingValuesMissing() {
        RankingModel m = ModelCompiler.compile("m", ModelCompiler.XGBOOST_JSON, FEATURES, ONE_TREE,
            Map.of("a", new NormalizerSpec("min_max", 2, 6)), ModelLimits.DEFAULT);
        assertEquals(10f, m.score(new float[]{NAN, 1, 0}));
    }

    @Test
    void unknownFeatureInLinearWeights() {
        assertMessage("unknown feature [zz]", error(ModelCompiler.LINEAR, "{\"zz\": 1}"));
    }

    @Test
    void nonFiniteLinearWeight() {
        assertMessage("weight of feature [a] is not finite", error(ModelCompiler.LINEAR, "{\"a\": 1e39}"));
    }

    @Test
    void nonNumericLinearWeight() {
        assertMessage("weight of feature [a] must be a number", error(ModelCompiler.LINEAR, "{\"a\": \"x\"}"));
    }

    @Test
    void invalidJsonDefinition() {
        assertMessage("not valid JSON", error(ModelCompiler.LINEAR, "{\"a\": "));
    }

    @Test
    void unknownModelType() {
        assertMessage("unknown model type [model/ranklib]", error("model/ranklib", "{}"));
    }

    @Test
    void unknownObjective() {
        assertMessage("unknown objective [multi:softmax]",
            error(ModelCompiler.XGBOOST_JSON, "{\"objective\": \"multi:softmax\", \"splits\": [{\"leaf\": 1}]}"));
    }

    @Test
    void unknownFeatureInSplit() {
        assertMessage("unknown feature [zz] in split", error(ModelCompiler.XGBOOST_JSON, ONE_TREE.replace("\"b\"", "\"zz\"")));
    }

    @Test
    void splitWithoutChildren() {
        assertMessage("needs [children]", error(ModelCompiler.XGBOOST_JSON,
            "[{\"nodeid\": 0, \"split\": \"a\", \"split_condition\": 1, \"yes\": 1, \"no\": 2}]"));
    }

    @Test
    void splitMissingTheNoChild() {
        assertMessage("[no] names child 2, which is not among its children", error(ModelCompiler.XGBOOST_JSON,
            "[{\"nodeid\": 0, \"split\": \"a\", \"split_condition\": 1, \"yes\": 1, \"no\": 2,"
                + " \"children\": [{\"nodeid\": 1, \"leaf\": 1}]}]"));
    }

    @Test
    void missingChildIdNotFound() {
        assertMessage("[missing] names child 7", error(ModelCompiler.XGBOOST_JSON, ONE_TREE.replace("\"missing\": 1", "\"missing\": 7")));
    }

    @Test
    void repeatedNodeIdIsACycle() {
        assertMessage("appears twice", error(ModelCompiler.XGBOOST_JSON,
            "[{\"nodeid\": 0, \"split\": \"a\", \"split_condition\": 1, \"yes\": 0, \"no\": 2,"
                + " \"children\": [{\"nodeid\": 0, \"leaf\": 1}, {\"nodeid\": 2, \"leaf\": 1}]}]"));
    }

    @Test
    void depthOverTheLimit() {
        RuntimeException e = assertThrows(IllegalArgumentException.class, () -> ModelCompiler.compile("m",
            ModelCompiler.XGBOOST_JSON, FEATURES, ONE_TREE, Map.of(), new ModelLimits(1 << 20, 1000, 1)));
        assertMessage("tree depth 2 is over the limit of 1", e.getMessage());
    }

    @Test
    void tooManyNodes() {
        RuntimeException e = assertThrows(IllegalArgumentException.class, () -> ModelCompiler.compile("m",
            ModelCompiler.XGBOOST_JSON, FEATURES, ONE_TREE, Map.of(), new ModelLimits(1 << 20, 4, 10)));
        assertMessage("more than 4 tree nodes", e.getMessage());
    }

    @Test
    void definitionOverTheByteLimit() {
        RuntimeException e = assertThrows(IllegalArgumentException.class, () -> ModelCompiler.compile("m",
            ModelCompiler.LINEAR, FEATURES, "{\"a\": 1}", Map.of(), new ModelLimits(5, 10, 10)));
        assertMessage("over the limit of 5", e.getMessage());
    }

    @Test
    void nonFiniteSplitCondition() {
        assertMessage("[split_condition] is not finite", error(ModelCompiler.XGBOOST_JSON, ONE_TREE.replace("1.0", "1e39")));
    }

    @Test
    void nonFiniteLeaf() {
        assertMessage("[leaf] is not finite", error(ModelCompiler.XGBOOST_JSON, "[{\"leaf\": -1e40}]"));
    }

    @Test
    void nodeWithNeitherLeafNorSplit() {
        assertMessage("needs either [leaf] or [split]", error(ModelCompiler.XGBOOST_JSON, "[{\"nodeid\": 0}]"));
    }

    @Test
    void noTrees() {
        assertMessage("no trees", error(ModelCompiler.XGBOOST_JSON, "[]"));
    }

    @Test
    void unknownFeatureInNormalizers() {
        RuntimeException e = assertThrows(IllegalArgumentException.class, () -> ModelCompiler.compile("m",
            ModelCompiler.LINEAR, FEATURES, "{}", Map.of("zz", new NormalizerSpec("standard", 0, 1)),
            ModelLimits.DEFAULT));
        assertMessage("unknown feature [zz] in feature_normalizers", e.getMessage());
    }

    @Test
    void zeroStandardDeviation() {
        RuntimeException e = assertThrows(IllegalArgumentException.class, () -> ModelCompiler.compile("m",
            ModelCompiler.LINEAR, FEATURES, "{}", Map.of("a", new NormalizerSpec("standard", 0, 0)),
            ModelLimits.DEFAULT));
        assertMessage("standard_deviation must be > 0", e.getMessage());
    }

    @Test
    void emptyMinMaxRange() {
        RuntimeException e = assertThrows(IllegalArgumentException.class, () -> ModelCompiler.compile("m",
            ModelCompiler.LINEAR, FEATURES, "{}", Map.of("a", new NormalizerSpec("min_max", 3, 3)),
            ModelLimits.DEFAULT));
        assertMessage("maximum must be greater than minimum", e.getMessage());
    }
}
