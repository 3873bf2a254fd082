package dev.ltrr.ltr.store;

/**
 * A feature normalizer as the official plugin accepts it.
 *
 * @param kind   "standard" ({@code a} = mean, {@code b} = standard_deviation) or
 *               "min_max" ({@code a} = minimum, {@code b} = maximum)
 */
public record NormalizerSpec(String kind, double a, double b) {
}
