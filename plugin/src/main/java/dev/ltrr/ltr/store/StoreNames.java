package dev.ltrr.ltr.store;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Names of stores, store indices and element documents. The default store lives in index
 * {@code .ltrstore}; a named store {@code s} in {@code .ltrstore_s}. An element's document id is
 * {@code <type>-<name>} ({@code feature-x}, {@code featureset-x}, {@code model-x}).
 */
public final class StoreNames {
    public static final String DEFAULT_STORE = "_default_";
    public static final String INDEX_PREFIX = ".ltrstore";
    public static final String FEATURE = "feature";
    public static final String FEATURESET = "featureset";
    public static final String MODEL = "model";
    /** Longest element name accepted (the doc id must stay under OpenSearch's 512 bytes). */
    public static final int MAX_NAME_LENGTH = 256;

    private static final Pattern STORE_NAME = Pattern.compile("[a-z0-9][a-z0-9_\\-]{0,99}");

    private StoreNames() {
    }

    /** The index holding {@code store}; null or empty or {@code _default_} means the default store. */
    public static String indexName(String store) {
        if (isDefault(store)) {
            return INDEX_PREFIX;
        }
        if (!STORE_NAME.matcher(store).matches()) {
            throw new IllegalArgumentException("invalid store name [" + store
                + "]: use 1 to 100 lowercase letters, digits, '_' or '-', starting with a letter or digit");
        }
        return INDEX_PREFIX + "_" + store;
    }

    public static boolean isDefault(String store) {
        return store == null || store.isEmpty() || DEFAULT_STORE.equals(store);
    }

    /** The store name of a store index ({@code _default_} for {@code .ltrstore}), or null when it is not one. */
    public static String storeName(String indexName) {
        if (INDEX_PREFIX.equals(indexName)) {
            return DEFAULT_STORE;
        }
        if (indexName != null && indexName.startsWith(INDEX_PREFIX + "_")) {
            String store = indexName.substring(INDEX_PREFIX.length() + 1);
            return STORE_NAME.matcher(store).matches() ? store : null;
        }
        return null;
    }

    /** Display name of a store in messages. */
    public static String display(String store) {
        return isDefault(store) ? DEFAULT_STORE : store;
    }

    /** Checks an element type given by a caller: feature, featureset or model. */
    public static String checkType(String type) {
        String t = type == null ? "" : type.toLowerCase(Locale.ROOT);
        if (!t.equals(FEATURE) && !t.equals(FEATURESET) && !t.equals(MODEL)) {
            throw new IllegalArgumentException("unknown element type [" + type + "]: expected feature, featureset or model");
        }
        return t;
    }

    /**
     * Checks an element name: not blank, at most {@link #MAX_NAME_LENGTH} characters, no control characters,
     * not {@code .} or {@code ..}.
     */
    public static String checkName(String what, String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException(what + " name must not be empty");
        }
        if (name.length() > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException(what + " name is longer than " + MAX_NAME_LENGTH + " characters");
        }
        if (name.equals(".") || name.equals("..")) {
            // curl, browsers and many URL libraries collapse /_ltr/_feature/.. into /_ltr, so such an
            // element could be deleted only by a request that deletes the whole store.
            throw new IllegalArgumentException(what + " name must not be [" + name + "]: clients resolve it as a path"
                + " segment");
        }
        for (int i = 0; i < name.length(); i++) {
            if (Character.isISOControl(name.charAt(i))) {
                throw new IllegalArgumentException(what + " name [" + name + "] contains a control character");
            }
        }
        return name;
    }

    public static String docId(String type, String name) {
        return checkType(type) + "-" + name;
    }
}
