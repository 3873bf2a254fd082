"""Which MABWiser policy to run, chosen by configuration rather than by code path.

``PolicySpec`` names a MABWiser learning policy (and optionally a neighbourhood policy)
with its parameters, validates them at the edge, and builds the ``MAB`` object. Two
project-level adjustments keep propensities honest:

* epsilon-style policies (EpsilonGreedy, LinGreedy) are built with ``epsilon=0`` and the
  selector applies the epsilon itself; the action distribution is the same as MABWiser's
  (a random subset is the top-M of i.i.d. uniform scores) but the propensity is exact.
* ThompsonSampling needs binary rewards; ``binarize_threshold`` (default 0) turns our
  weighted rewards into successes (reward > threshold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ltrr_opensearch.errors import ConfigError

LEARNING_POLICIES = (
    "EpsilonGreedy", "LinGreedy", "LinTS", "LinUCB", "Popularity", "Random", "Softmax",
    "ThompsonSampling", "UCB1",
)
NEIGHBORHOOD_POLICIES = ("Clusters", "KNearest", "LSHNearest", "Radius", "TreeBandit")
# Policies whose predict_expectations are random draws: propensities are estimated by sampling.
STOCHASTIC = frozenset({"LinTS", "Popularity", "Random", "Softmax", "ThompsonSampling"})
CONTEXTUAL = frozenset({"LinGreedy", "LinTS", "LinUCB"})
_EPSILON_POLICIES = frozenset({"EpsilonGreedy", "LinGreedy"})
_OUR_PARAMS = {"ThompsonSampling": {"binarize_threshold"}}


def _binarizer(threshold: float):
    def binarize(arm: Any, reward: float) -> bool:
        return reward > threshold

    return binarize


@dataclass(frozen=True)
class PolicySpec:
    """A MABWiser learning policy (+ optional neighbourhood policy) and their parameters."""

    learning: str = "LinUCB"
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    neighborhood: str | None = None
    neighborhood_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        from mabwiser.mab import LearningPolicy, NeighborhoodPolicy

        if self.learning not in LEARNING_POLICIES:
            raise ConfigError(f"unknown learning policy {self.learning!r}",
                              hint=f"choose one of {', '.join(LEARNING_POLICIES)}")
        allowed = set(getattr(LearningPolicy, self.learning)._fields) - {"binarizer"}
        allowed |= _OUR_PARAMS.get(self.learning, set())
        _check_keys(f"policy {self.learning}", self.params, allowed)
        if self.neighborhood is not None:
            if self.neighborhood not in NEIGHBORHOOD_POLICIES:
                raise ConfigError(f"unknown neighborhood policy {self.neighborhood!r}",
                                  hint=f"choose one of {', '.join(NEIGHBORHOOD_POLICIES)}")
            allowed = set(getattr(NeighborhoodPolicy, self.neighborhood)._fields)
            _check_keys(f"neighborhood {self.neighborhood}", self.neighborhood_params, allowed)
        elif self.neighborhood_params:
            raise ConfigError("neighborhood_params given without a neighborhood policy")
        eps = self.epsilon
        if not 0.0 <= eps <= 1.0:
            raise ConfigError(f"policy epsilon must be within [0, 1], got {eps}")
        self._policies(check_only=True)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PolicySpec:
        """From a ``[policy]`` table: ``learning = "LinUCB"``, its parameters as keys,
        ``neighborhood = "KNearest"`` and ``[policy.neighborhood_params]``."""
        raw = dict(raw)
        learning = str(raw.pop("learning", "LinUCB"))
        neighborhood = raw.pop("neighborhood", None)
        nparams = raw.pop("neighborhood_params", {})
        if not isinstance(nparams, Mapping):
            raise ConfigError("[policy] neighborhood_params must be a table")
        return cls(learning=learning, params=MappingProxyType(raw),
                   neighborhood=None if neighborhood is None else str(neighborhood),
                   neighborhood_params=MappingProxyType(dict(nparams)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"learning": self.learning, **dict(self.params)}
        if self.neighborhood:
            out["neighborhood"] = self.neighborhood
            out["neighborhood_params"] = dict(self.neighborhood_params)
        return out

    @property
    def name(self) -> str:
        return self.learning if not self.neighborhood else f"{self.neighborhood}({self.learning})"

    @property
    def stochastic(self) -> bool:
        """True when one decision is a random draw (propensity then estimated by sampling)."""
        return self.learning in STOCHASTIC

    @property
    def contextual(self) -> bool:
        return self.neighborhood is not None or self.learning in CONTEXTUAL

    @property
    def epsilon(self) -> float:
        """The policy's own epsilon, applied by the selector (exact propensities)."""
        if self.learning not in _EPSILON_POLICIES:
            return 0.0
        from mabwiser.mab import LearningPolicy

        default = getattr(LearningPolicy, self.learning)._field_defaults["epsilon"]
        value = self.params.get("epsilon", default)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"policy epsilon must be a number, got {value!r}")
        return float(value)

    def build(self, arms: list[str], seed: int):
        """A fresh ``mabwiser.mab.MAB`` over ``arms``."""
        from mabwiser.mab import MAB

        learning, neighborhood = self._policies()
        return MAB(list(arms), learning, neighborhood, seed=int(seed))

    def _policies(self, check_only: bool = False):
        from mabwiser.mab import LearningPolicy, NeighborhoodPolicy

        params = dict(self.params)
        if self.learning in _EPSILON_POLICIES:
            params["epsilon"] = 0  # applied by the selector, see module docstring
        if self.learning == "ThompsonSampling":
            threshold = float(params.pop("binarize_threshold", 0.0))
            params["binarizer"] = _binarizer(threshold)
        try:
            learning = getattr(LearningPolicy, self.learning)(**params)
            learning._validate()
            neighborhood = None
            if self.neighborhood:
                neighborhood = getattr(NeighborhoodPolicy, self.neighborhood)(
                    **dict(self.neighborhood_params))
                neighborhood._validate()
                if self.neighborhood == "TreeBandit" and not neighborhood._is_compatible(learning):
                    raise ValueError(f"TreeBandit does not support {self.learning}")
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid policy {self.name}: {exc}",
                              hint="see MABWiser's LearningPolicy/NeighborhoodPolicy docs") from None
        return learning, neighborhood


def _check_keys(what: str, given: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(given) - allowed
    if unknown:
        raise ConfigError(f"unknown parameter(s) for {what}: {', '.join(sorted(unknown))}",
                          hint=f"known: {', '.join(sorted(allowed)) or '(none)'}")
