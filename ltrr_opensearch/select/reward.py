"""The ``[reward]`` section of a policy: what engine work costs the bandit.

There is one reward rule, in :mod:`ltrr_opensearch.feedback.rewards`: an arm earns the
weight of the strongest action (``[feedback] weights``) on any candidate it returned. The
bandit then learns that reward minus ``cost_per_candidate`` times the arm's budget k and
``cost_per_ms`` times the arm's engine time
(:meth:`~ltrr_opensearch.select.learner.Learner.learn_from_rewards`). Action weights are
not a policy setting: a ``[reward] weights`` table is an error, so two rules never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ltrr_opensearch.errors import ConfigError

_KEYS = ("cost_per_candidate", "cost_per_ms")


@dataclass(frozen=True)
class RewardConfig:
    """Costs subtracted from the feedback reward before the bandit learns it."""

    cost_per_candidate: float = 0.0
    # Per millisecond of the arm's engine time: the ``took`` of its sub-search, logged per
    # arm in the UBI record (``query_attributes.arms[].took_ms``); an arm whose time was not
    # logged (older records) pays nothing for it.
    cost_per_ms: float = 0.0

    def cost(self, k: int | None, took_ms: float | None) -> float:
        """What one arm's run costs: its candidate budget and its engine time."""
        return self.cost_per_candidate * (k or 0) + self.cost_per_ms * (took_ms or 0.0)

    def __post_init__(self) -> None:
        for name in _KEYS:
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"[reward] {name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> RewardConfig:
        if "weights" in raw:
            raise ConfigError(
                "[reward] weights is no longer a policy setting: action weights live in "
                "[feedback] weights of the main config (docs/feedback.md)",
                hint="remove weights from [reward]; keep only cost_per_candidate / cost_per_ms")
        unknown = set(raw) - set(_KEYS)
        if unknown:
            raise ConfigError(f"unknown key(s) in [reward]: {', '.join(sorted(unknown))}",
                              hint=f"known keys: {', '.join(_KEYS)}")
        values: dict[str, float] = {}
        for name in _KEYS:
            value = raw.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"[reward] {name} must be a number, got {value!r}")
            values[name] = float(value)
        return cls(**values)
