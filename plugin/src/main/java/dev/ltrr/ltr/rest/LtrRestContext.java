package dev.ltrr.ltr.rest;

import dev.ltrr.ltr.store.ElementParser;
import dev.ltrr.ltr.store.ElementValidator;
import dev.ltrr.ltr.store.LtrSettings;
import org.opensearch.common.settings.Settings;

import java.util.function.Supplier;

/**
 * What the REST handlers share: parse limits, the request body limit, and the validator run before
 * every write (supplied lazily so the plugin can wire it after construction).
 */
public record LtrRestContext(ElementParser.Limits limits, long maxRequestBytes, Supplier<ElementValidator> validator) {
    public static LtrRestContext fromSettings(Settings settings, Supplier<ElementValidator> validator) {
        return new LtrRestContext(LtrSettings.parseLimits(settings), LtrSettings.MAX_REQUEST_BYTES.get(settings).getBytes(),
            validator);
    }

    public ElementValidator validatorOrNone() {
        ElementValidator v = validator.get();
        return v == null ? ElementValidator.NONE : v;
    }
}
