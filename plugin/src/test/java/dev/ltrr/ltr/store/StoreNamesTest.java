package dev.ltrr.ltr.store;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StoreNamesTest {
    @Test
    void defaultAndNamedStoreIndices() {
        assertEquals(".ltrstore", StoreNames.indexName(null));
        assertEquals(".ltrstore", StoreNames.indexName("_default_"));
        assertEquals(".ltrstore_mine", StoreNames.indexName("mine"));
    }

    @Test
    void storeNameOfIndex() {
        assertEquals("_default_", StoreNames.storeName(".ltrstore"));
        assertEquals("mine", StoreNames.storeName(".ltrstore_mine"));
        assertNull(StoreNames.storeName(".ltrstoreX"));
        assertNull(StoreNames.storeName("docs"));
    }

    @Test
    void invalidStoreNamesAreRefused() {
        for (String bad : new String[] {"Upper", "a b", "a*", "_x", "a/b", "x".repeat(101)}) {
            assertThrows(IllegalArgumentException.class, () -> StoreNames.indexName(bad), bad);
        }
    }

    @Test
    void dotSegmentElementNamesAreRefused() {
        for (String bad : new String[] {".", ".."}) {
            assertEquals("feature name must not be [" + bad + "]: clients resolve it as a path segment",
                assertThrows(IllegalArgumentException.class, () -> StoreNames.checkName("feature", bad)).getMessage());
        }
        assertEquals("...", StoreNames.checkName("feature", "..."));
    }

    @Test
    void docIds() {
        assertEquals("feature-a b", StoreNames.docId("feature", "a b"));
        assertEquals("model-m", StoreNames.docId("model", "m"));
        assertEquals("unknown element type [rule]: expected feature, featureset or model",
            assertThrows(IllegalArgumentException.class, () -> StoreNames.docId("rule", "x")).getMessage());
    }
}
