"""Per-arm rewards from user feedback (semi-bandit: every arm that ran is one observation)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ltrr_opensearch.errors import ConfigError, ValidationError

DEFAULT_ACTION_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"play": 1.0, "add_to_favorites": 0.8, "click": 0.5}
)


@dataclass(frozen=True)
class RewardConfig:
    """Action weights (max over engaged entities) and optional costs that buy engine time."""

    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_ACTION_WEIGHTS)
    cost_per_candidate: float = 0.0
    cost_per_ms: float = 0.0

    def __post_init__(self) -> None:
        for action, weight in self.weights.items():
            if not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise ConfigError(f"reward weight for {action!r} must be a finite number")
        if self.cost_per_candidate < 0 or self.cost_per_ms < 0:
            raise ConfigError("reward costs must be >= 0")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> RewardConfig:
        unknown = set(raw) - {"weights", "cost_per_candidate", "cost_per_ms"}
        if unknown:
            raise ConfigError(f"unknown key(s) in [reward]: {', '.join(sorted(unknown))}")
        weights = raw.get("weights", DEFAULT_ACTION_WEIGHTS)
        if not isinstance(weights, Mapping) or not weights:
            raise ConfigError("[reward] weights must be a table such as {play = 1.0, click = 0.5}")
        try:
            return cls(
                weights=MappingProxyType({str(k): float(v) for k, v in weights.items()}),
                cost_per_candidate=float(raw.get("cost_per_candidate", 0.0)),  # type: ignore[arg-type]
                cost_per_ms=float(raw.get("cost_per_ms", 0.0)),  # type: ignore[arg-type]
            )
        except (TypeError, ValueError):
            raise ConfigError("[reward] weights and costs must be numbers") from None


def reward_for(
    arm_candidates: Mapping[str, Sequence[str]],
    engaged: Mapping[str, str],
    config: RewardConfig | None = None,
    took_ms: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Reward of each arm that ran.

    ``arm_candidates``: arm -> ids it returned. ``engaged``: entity id -> action name.
    An arm earns the largest action weight among engaged entities it returned (0 if none),
    minus ``cost_per_candidate`` per returned id and ``cost_per_ms`` per millisecond in
    ``took_ms``. Arms not in ``arm_candidates`` did not run and get nothing.
    """
    config = config or RewardConfig()
    unknown = sorted({a for a in engaged.values() if a not in config.weights})
    if unknown:
        raise ValidationError(
            f"feedback has unknown action(s): {', '.join(unknown)}",
            hint=f"known actions: {', '.join(sorted(config.weights))} ([reward] weights)",
        )
    rewards: dict[str, float] = {}
    for arm, ids in arm_candidates.items():
        earned = max((config.weights[engaged[i]] for i in ids if i in engaged), default=0.0)
        cost = config.cost_per_candidate * len(ids)
        if config.cost_per_ms and took_ms and arm in took_ms:
            ms = float(took_ms[arm])
            if not math.isfinite(ms) or ms < 0:
                raise ValidationError(f"took_ms for arm {arm!r} is not a valid duration: {ms!r}")
            cost += config.cost_per_ms * ms
        rewards[arm] = earned - cost
    return rewards
