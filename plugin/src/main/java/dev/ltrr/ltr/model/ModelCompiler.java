package dev.ltrr.ltr.model;

import dev.ltrr.ltr.store.NormalizerSpec;
import dev.ltrr.ltr.store.StoredModel;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.XContentParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Validates a stored model and compiles it into a {@link RankingModel}. Every problem is an
 * {@link IllegalArgumentException} whose message names the model and what is wrong.
 */
public final class ModelCompiler {
    public static final String LINEAR = "model/linear";
    public static final String XGBOOST_JSON = "model/xgboost+json";

    private static final Set<String> RAW_OBJECTIVES = Set.of("reg:linear", "reg:squarederror", "rank:pairwise",
        "rank:ndcg", "rank:map", "binary:logitraw");
    private static final Set<String> SIGMOID_OBJECTIVES = Set.of("binary:logistic", "reg:logistic");

    private ModelCompiler() {
    }

    public static RankingModel compile(StoredModel model, ModelLimits limits) {
        return compile(model.name(), model.type(), model.featureSet().featureNames(), model.definition(),
            model.normalizers(), limits);
    }

    /**
     * @param name         the model's name, for messages
     * @param featureNames the feature set's names in order (the model's input vector)
     */
    public static RankingModel compile(String name, String type, List<String> featureNames, String definition,
                                       Map<String, NormalizerSpec> normalizers, ModelLimits limits) {
        String where = "model [" + name + "]: ";
        if (type == null) {
            throw new IllegalArgumentException(where + "model type is missing");
        }
        if (definition == null) {
            throw new IllegalArgumentException(where + "model definition is missing");
        }
        int bytes = definition.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > limits.maxDefinitionBytes()) {
            throw new IllegalArgumentException(where + "definition is " + bytes + " bytes, over the limit of "
                + limits.maxDefinitionBytes());
        }
        Map<String, Integer> ordinals = new HashMap<>();
        for (int i = 0; i < featureNames.size(); i++) {
            if (ordinals.putIfAbsent(featureNames.get(i), i) != null) {
                throw new IllegalArgumentException(where + "duplicate feature [" + featureNames.get(i) + "]");
            }
        }
        RankingModel compiled = switch (type) {
            case LINEAR -> compileLinear(where, ordinals, parseJson(where, definition));
            case XGBOOST_JSON -> compileXgboost(where, ordinals, parseJson(where, definition), limits);
            default -> throw new IllegalArgumentException(where + "unknown model type [" + type + "], supported: ["
                + LINEAR + ", " + XGBOOST_JSON + "]");
        };
        return withNormalizers(where, ordinals, compiled, normalizers == null ? Map.of() : normalizers);
    }

    /** Parses JSON text; a JSON string holding JSON (the definition given as a string) is parsed once more. */
    static Object parseJson(String where, String text) {
        Object value = parseOnce(where, text);
        if (value instanceof String s) {
            value = parseOnce(where, s);
        }
        return value;
    }

    private static Object parseOnce(String where, String text) {
        try (XContentParser parser = JsonXContent.jsonXContent.createParser(NamedXContentRegistry.EMPTY,
            DeprecationHandler.THROW_UNSUPPORTED_OPERATION, text)) {
            XContentParser.Token token = parser.nextToken();
            Object value;
            if (token == null) {
                throw new IllegalArgumentException(where + "definition is empty");
            } else if (token == XContentParser.Token.START_OBJECT) {
                value = parser.map();
            } else if (token == XContentParser.Token.START_ARRAY) {
                value = parser.list();
            } else if (token == XContentParser.Token.VALUE_STRING) {
                value = parser.text();
            } else {
                throw new IllegalArgumentException(where + "definition must be a JSON object, array or string, got "
                    + token);
            }
            if (parser.nextToken() != null) {
                throw new IllegalArgumentException(where + "definition has trailing content after the JSON value");
            }
            return value;
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException iae && iae.getMessage() != null
                && iae.getMessage().startsWith(where)) {
                throw iae;
            }
            throw new IllegalArgumentException(where + "definition is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static RankingModel compileLinear(String where, Map<String, Integer> ordinals, Object definition) {
        if (!(definition instanceof Map<?, ?> weights)) {
            throw new IllegalArgumentException(where + "a model/linear definition must be an object "
                + "{feature: weight}, got " + describe(definition));
        }
        float[] w = new float[ordinals.size()];
        for (Map.Entry<?, ?> e : weights.entrySet()) {
            String feature = String.valueOf(e.getKey());
            Integer ord = ordinals.get(feature);
            if (ord == null) {
                throw new IllegalArgumentException(where + "unknown feature [" + feature + "] in the linear weights");
            }
            if (!(e.getValue() instanceof Number n)) {
                throw new IllegalArgumentException(where + "weight of feature [" + feature + "] must be a number, got "
                    + describe(e.getValue()));
            }
            float f = n.floatValue();
            if (!Float.isFinite(f)) {
                throw new IllegalArgumentException(where + "weight of feature [" + feature + "] is not finite: " + n);
            }
            w[ord] = f;
        }
        return new LinearModel(w);
    }

    private static RankingModel compileXgboost(String where, Map<String, Integer> ordinals, Object definition,
                                               ModelLimits limits) {
        List<?> trees;
        boolean sigmoid = false;
        if (definition instanceof List<?> list) {
            trees = list;
        } else if (definition instanceof Map<?, ?> map) {
            for (Object key : map.keySet()) {
                if (!"objective".equals(key) && !"splits".equals(key)) {
                    throw new IllegalArgumentException(where + "unknown field [" + key
                        + "] in the xgboost definition (expected [objective, splits])");
                }
            }
            Object objective = map.get("objective");
            if (objective != null) {
                if (SIGMOID_OBJECTIVES.contains(objective)) {
                    sigmoid = true;
                } else if (!RAW_OBJECTIVES.contains(objective)) {
                    throw new IllegalArgumentException(where + "unknown objective [" + objective + "], supported: "
                        + new java.util.TreeSet<>(RAW_OBJECTIVES) + " and " + new java.util.TreeSet<>(SIGMOID_OBJECTIVES));
                }
            }
            if (!(map.get("splits") instanceof List<?> list)) {
                throw new IllegalArgumentException(where + "the xgboost definition needs [splits], a list of trees");
            }
            trees = list;
        } else {
            throw new IllegalArgumentException(where + "a model/xgboost+json definition must be a list of trees or "
                + "{\"objective\", \"splits\"}, got " + describe(definition));
        }
        if (trees.isEmpty()) {
            throw new IllegalArgumentException(where + "the xgboost definition has no trees");
        }
        TreeBuilder builder = new TreeBuilder(where, ordinals, limits);
        int[] roots = new int[trees.size()];
        for (int t = 0; t < trees.size(); t++) {
            roots[t] = builder.addTree(t, trees.get(t));
        }
        return builder.build(roots, sigmoid);
    }

    private static final class TreeBuilder {
        private final String where;
        private final Map<String, Integer> ordinals;
        private final ModelLimits limits;
        private int size;
        private int[] feature = new int[64];
        private float[] threshold = new float[64];
        private int[] yes = new int[64];
        private int[] no = new int[64];
        private int[] missing = new int[64];
        private float[] leaf = new float[64];

        TreeBuilder(String where, Map<String, Integer> ordinals, ModelLimits limits) {
            this.where = where;
            this.ordinals = ordinals;
            this.limits = limits;
        }

        int addTree(int tree, Object root) {
            return addNode(tree, root, 0, new HashSet<>());
        }

        private int addNode(int tree, Object value, int depth, Set<Long> idsInTree) {
            String at = where + "tree " + tree + ": ";
            if (!(value instanceof Map<?, ?> node)) {
                throw new IllegalArgumentException(at + "a node must be an object, got " + describe(value));
            }
            Long id = node.containsKey("nodeid") ? integral(at, node, "nodeid") : null;
            if (id != null) {
                at = where + "tree " + tree + " node " + id + ": ";
                if (!idsInTree.add(id)) {
                    throw new IllegalArgumentException(at + "node id appears twice in the tree (a cycle or duplicate)");
                }
            }
            if (depth > limits.maxTreeDepth()) {
                throw new IllegalArgumentException(at + "tree depth " + depth + " is over the limit of "
                    + limits.maxTreeDepth());
            }
            if (size >= limits.maxNodes()) {
                throw new IllegalArgumentException(where + "more than " + limits.maxNodes() + " tree nodes");
            }
            int n = allocate();
            if (node.containsKey("leaf")) {
                if (node.containsKey("children") || node.containsKey("split")) {
                    throw new IllegalArgumentException(at + "a node cannot be both a leaf and a split");
                }
                feature[n] = -1;
                leaf[n] = finite(at, node, "leaf");
                return n;
            }
            if (!(node.get("split") instanceof String split)) {
                throw new IllegalArgumentException(at + "a node needs either [leaf] or [split] (a feature name)");
            }
            Integer ord = ordinals.get(split);
            if (ord == null) {
                throw new IllegalArgumentException(at + "unknown feature [" + split + "] in split");
            }
            if (id == null) {
                throw new IllegalArgumentException(at + "a split node needs [nodeid]");
            }
            feature[n] = ord;
            threshold[n] = finite(at, node, "split_condition");
            long yesId = integral(at, node, "yes");
            long noId = integral(at, node, "no");
            Long missingId = node.containsKey("missing") ? integral(at, node, "missing") : null;
            if (!(node.get("children") instanceof List<?> children) || children.isEmpty()) {
                throw new IllegalArgumentException(at + "a split node needs [children]");
            }
            Map<Long, Integer> childIndex = new HashMap<>();
            List<Long> childIds = new ArrayList<>();
            for (Object child : children) {
                if (!(child instanceof Map<?, ?> c) || !c.containsKey("nodeid")) {
                    throw new IllegalArgumentException(at + "every child needs [nodeid]");
                }
                long childId = integral(at, c, "nodeid");
                childIds.add(childId);
                childIndex.put(childId, addNode(tree, child, depth + 1, idsInTree));
            }
            for (long childId : childIds) {
                if (childId != yesId && childId != noId && (missingId == null || childId != missingId)) {
                    throw new IllegalArgumentException(at + "child " + childId + " is not referenced by yes/no/missing");
                }
            }
            yes[n] = child(at, childIndex, "yes", yesId);
            no[n] = child(at, childIndex, "no", noId);
            missing[n] = missingId == null ? no[n] : child(at, childIndex, "missing", missingId);
            return n;
        }

        private static int child(String at, Map<Long, Integer> childIndex, String field, long id) {
            Integer index = childIndex.get(id);
            if (index == null) {
                throw new IllegalArgumentException(at + "[" + field + "] names child " + id
                    + ", which is not among its children");
            }
            return index;
        }

        private int allocate() {
            if (size == feature.length) {
                int cap = size * 2;
                feature = java.util.Arrays.copyOf(feature, cap);
                threshold = java.util.Arrays.copyOf(threshold, cap);
                yes = java.util.Arrays.copyOf(yes, cap);
                no = java.util.Arrays.copyOf(no, cap);
                missing = java.util.Arrays.copyOf(missing, cap);
                leaf = java.util.Arrays.copyOf(leaf, cap);
            }
            return size++;
        }

        TreeEnsembleModel build(int[] roots, boolean sigmoid) {
            return new TreeEnsembleModel(ordinals.size(), roots, java.util.Arrays.copyOf(feature, size),
                java.util.Arrays.copyOf(threshold, size), java.util.Arrays.copyOf(yes, size),
                java.util.Arrays.copyOf(no, size), java.util.Arrays.copyOf(missing, size),
                java.util.Arrays.copyOf(leaf, size), sigmoid);
        }
    }

    private static long integral(String at, Map<?, ?> node, String field) {
        Object v = node.get(field);
        if (v instanceof Integer || v instanceof Long || v instanceof Short) {
            return ((Number) v).longValue();
        }
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && Double.isFinite(n.doubleValue())) {
            return n.longValue();
        }
        throw new IllegalArgumentException(at + "[" + field + "] must be an integer, got " + describe(v));
    }

    private static float finite(String at, Map<?, ?> node, String field) {
        Object v = node.get(field);
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException(at + "[" + field + "] must be a number, got " + describe(v));
        }
        float f = n.floatValue();
        if (!Float.isFinite(f)) {
            throw new IllegalArgumentException(at + "[" + field + "] is not finite: " + n);
        }
        return f;
    }

    private static RankingModel withNormalizers(String where, Map<String, Integer> ordinals, RankingModel model,
                                                Map<String, NormalizerSpec> normalizers) {
        if (normalizers.isEmpty()) {
            return model;
        }
        int n = ordinals.size();
        boolean[] normalized = new boolean[n];
        double[] offset = new double[n];
        double[] scale = new double[n];
        for (Map.Entry<String, NormalizerSpec> e : normalizers.entrySet()) {
            String at = where + "normalizer of feature [" + e.getKey() + "]: ";
            Integer ord = ordinals.get(e.getKey());
            if (ord == null) {
                throw new IllegalArgumentException(where + "unknown feature [" + e.getKey() + "] in feature_normalizers");
            }
            NormalizerSpec spec = e.getValue();
            if (spec == null || spec.kind() == null) {
                throw new IllegalArgumentException(at + "missing normalizer kind");
            }
            if (!Double.isFinite(spec.a()) || !Double.isFinite(spec.b())) {
                throw new IllegalArgumentException(at + "parameters must be finite, got " + spec.a() + ", " + spec.b());
            }
            switch (spec.kind()) {
                case "standard" -> {
                    if (!(spec.b() > 0)) {
                        throw new IllegalArgumentException(at + "standard_deviation must be > 0, got " + spec.b());
                    }
                    offset[ord] = spec.a();
                    scale[ord] = spec.b();
                }
                case "min_max" -> {
                    if (!(spec.b() > spec.a())) {
                        throw new IllegalArgumentException(at + "maximum must be greater than minimum, got minimum "
                            + spec.a() + " and maximum " + spec.b());
                    }
                    offset[ord] = spec.a();
                    scale[ord] = spec.b() - spec.a();
                }
                default -> throw new IllegalArgumentException(at + "unknown normalizer [" + spec.kind()
                    + "], supported: [standard, min_max]");
            }
            normalized[ord] = true;
        }
        return new NormalizedModel(model, normalized, offset, scale);
    }

    private static String describe(Object v) {
        if (v == null) {
            return "nothing";
        }
        if (v instanceof Map) {
            return "an object";
        }
        if (v instanceof List) {
            return "a list";
        }
        if (v instanceof String s) {
            return "the string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
        }
        return v.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT) + " " + v;
    }
}
