"""The request budget: at most M strategies and K candidates, split by expected reward."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ltrr_opensearch.errors import ConfigError


@dataclass(frozen=True)
class Budget:
    """At most ``max_arms`` strategies share ``total_candidates``; each gets at least ``floor``.

    The rest is split in proportion to ``expected_reward ** sharpness``: 1 is plain
    proportional, larger values give the strategy the bandit trusts most a bigger share.
    ``always`` ((arm, k) pairs, ``[budget] always = { q2e_memory = 10 }``): arms that run
    with that k on top of the M chosen ones whenever they are available for the request.
    """

    max_arms: int = 3
    total_candidates: int = 100
    floor: int = 10
    sharpness: float = 1.0
    always: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.max_arms < 1:
            raise ConfigError(f"budget max_arms must be >= 1, got {self.max_arms}")
        if self.floor < 1:
            raise ConfigError(f"budget floor must be >= 1, got {self.floor}")
        if not (math.isfinite(self.sharpness) and self.sharpness > 0):
            raise ConfigError(f"budget sharpness must be a positive number, got {self.sharpness}")
        if self.total_candidates < self.max_arms * self.floor:
            raise ConfigError(
                f"budget total_candidates={self.total_candidates} cannot give {self.max_arms} "
                f"arms their floor of {self.floor}",
                hint="raise total_candidates or lower max_arms/floor",
            )
        names = [a for a, _ in self.always]
        if len(set(names)) != len(names) or not all(isinstance(a, str) and a for a in names):
            raise ConfigError(f"budget always must name distinct arms, got {names!r}")
        for arm, k in self.always:
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise ConfigError(f"budget always.{arm} must be a candidate count >= 1, got {k!r}")

    @property
    def always_k(self) -> dict[str, int]:
        """Arm -> k for the arms that run whenever available."""
        return dict(self.always)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Budget:  # values as TOML gave them
        unknown = set(raw) - {"max_arms", "total_candidates", "floor", "sharpness", "always"}
        if unknown:
            raise ConfigError(f"unknown key(s) in [budget]: {', '.join(sorted(unknown))}",
                              hint="known keys: always, max_arms, total_candidates, floor, "
                                   "sharpness")
        always = raw.get("always", {})
        if not isinstance(always, Mapping) or not all(
                isinstance(k, int) and not isinstance(k, bool) for k in always.values()):
            raise ConfigError("[budget] always must map arms to candidate counts, "
                              "e.g. always = { q2e_memory = 10 }")
        try:
            values: dict[str, Any] = {k: float(v) if k == "sharpness" else int(v)
                                      for k, v in raw.items() if k != "always"}
            return cls(**values, always=tuple((str(a), int(k)) for a, k in always.items()))
        except (TypeError, ValueError):
            raise ConfigError("[budget] values must be integers") from None


def allocate(expected: Mapping[str, float], budget: Budget) -> dict[str, int]:
    """Split ``total_candidates`` over the chosen arms: ``floor`` each, the rest in proportion
    to expected reward ** sharpness (negatives count as zero; all zero -> equal shares). Largest-remainder
    rounding keeps the sum exactly ``total_candidates``; ties go to the earlier arm."""
    arms = list(expected)
    if not arms:
        return {}
    if len(arms) > budget.max_arms:
        raise ValueError(f"{len(arms)} arms exceed the budget of {budget.max_arms}")
    weights = [max(0.0, float(expected[a])) ** budget.sharpness if math.isfinite(expected[a])
               else 0.0 for a in arms]
    total_weight = sum(weights)
    if total_weight <= 0:
        weights, total_weight = [1.0] * len(arms), float(len(arms))
    spare = budget.total_candidates - budget.floor * len(arms)
    shares = [spare * w / total_weight for w in weights]
    counts = [budget.floor + int(math.floor(s)) for s in shares]
    left = budget.total_candidates - sum(counts)
    by_remainder = sorted(range(len(arms)), key=lambda i: (-(shares[i] - math.floor(shares[i])), i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return dict(zip(arms, counts, strict=True))
