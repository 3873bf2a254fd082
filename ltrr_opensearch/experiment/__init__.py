"""Feature flags (OpenFeature, flagd-format files) and experiments: assignment, reports."""

from ltrr_opensearch.experiment.flags import FlagSource, Variant

__all__ = ["FlagSource", "Variant"]
