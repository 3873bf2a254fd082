"""A small OpenFeature provider of our own, given to ltrr by class path in a test config
(``[experiments] provider = "tests.flag_provider_example:ParityProvider"``): it proves that
any provider plugs in, not only the flag file.

It runs one experiment: ``experiments`` is ``[experiment]``, and the experiment's variant
is chosen by the sum of the targeting key's bytes modulo the number of variants (sorted
variant names, ``order`` ascending or descending, so a test can predict each user's
variant). Every other flag is not found (built-in
behaviour)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata


class Order(Enum):
    ASCENDING = "ascending"
    DESCENDING = "descending"


def variant_of(key: str, names: Sequence[str], order: Order = Order.ASCENDING) -> str:
    ordered = sorted(names, reverse=order is Order.DESCENDING)
    return ordered[sum(key.encode()) % len(names)]


class ParityProvider(AbstractProvider):
    def __init__(self, experiment: str, variants: Mapping[str, Mapping[str, Any]],
                 order: Order | None = None) -> None:
        super().__init__()
        if not variants:
            raise ValueError("variants must name at least one variant")
        self.experiment = experiment
        self.order = order or Order.ASCENDING
        self.variants = {k: dict(v) for k, v in variants.items()}

    def get_metadata(self) -> Metadata:
        return Metadata(name="parity-test-provider")

    def _missing(self, key: str, default: Any) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(default, ErrorCode.FLAG_NOT_FOUND, f"no flag {key!r}",
                                     Reason.ERROR)

    def resolve_boolean_details(self, flag_key: str, default_value: bool,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[bool]:
        return self._missing(flag_key, default_value)

    def resolve_string_details(self, flag_key: str, default_value: str,
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[str]:
        return self._missing(flag_key, default_value)

    def resolve_integer_details(self, flag_key: str, default_value: int,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[int]:
        return self._missing(flag_key, default_value)

    def resolve_float_details(self, flag_key: str, default_value: float,
                              evaluation_context: EvaluationContext | None = None
                              ) -> FlagResolutionDetails[float]:
        return self._missing(flag_key, default_value)

    def resolve_object_details(self, flag_key: str,
                               default_value: Sequence[Any] | Mapping[str, Any],
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[Any]:
        if flag_key == "experiments":
            return FlagResolutionDetails([self.experiment], variant="on",
                                         reason=Reason.STATIC)
        if flag_key == self.experiment:
            key = (evaluation_context.targeting_key if evaluation_context else None) or ""
            name = variant_of(key, list(self.variants), self.order)
            return FlagResolutionDetails(self.variants[name], variant=name,
                                         reason=Reason.TARGETING_MATCH)
        return self._missing(flag_key, default_value)
