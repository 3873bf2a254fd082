"""Bounded bandit state: the fitted models' sufficient statistics, not the log.

A linear policy (LinUCB, LinTS, LinGreedy) is a ridge regression per arm, fully
determined by ``X'X`` and ``X'y`` over the observations it learned (``A = l2_lambda I +
X'X``, ``beta = A^-1 X'y``). :class:`ModelState` keeps those arrays per arm (over the arm's
``[state] window`` when one is set) plus each arm's observation count over the whole log,
so a worker loads a model in time independent of the log's length, and a sync only reads
what is new (and, with a window, each touched arm's newest ``window`` observations).

The log stays the source of truth: :func:`state_from_log` rebuilds a state from it, and a
state whose :func:`model_key` differs from the config's (another policy, arms, window,
warm start or context version) is ignored and rebuilt. Warm start is not baked into the
arrays: each arm keeps only its own data and the nearest-arm copy is redone when the
model is assembled, exactly as a refit from the log would.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ltrr_opensearch.select.policy import CONTEXTUAL

FORMAT = 1  # bump when the meaning of the stored arrays changes: old snapshots are rebuilt


@dataclass(frozen=True)
class ArmStats:
    """One arm's own data in the model: ``n`` observations, ``X'X`` and ``X'y`` (rows with
    the intercept column when the bandit fits one)."""

    n: int
    xtx: np.ndarray
    xty: np.ndarray
    # With a window: logged_at (ms) of the oldest observation in it, so the next sync reads
    # only the arm's observations from there on (bounded, not the arm's whole history).
    since: int | None = None

    @classmethod
    def zeros(cls, width: int) -> ArmStats:
        return cls(0, np.zeros((width, width)), np.zeros(width))

    @classmethod
    def of(cls, rows: np.ndarray, rewards: np.ndarray, since: int | None = None) -> ArmStats:
        return cls(int(rows.shape[0]), rows.T @ rows, rows.T @ rewards, since)

    def plus(self, other: ArmStats) -> ArmStats:
        return ArmStats(self.n + other.n, self.xtx + other.xtx, self.xty + other.xty)

    def to_doc(self) -> dict[str, Any]:
        return {"n": self.n, "xtx": [float(v) for v in self.xtx.ravel()],
                "xty": [float(v) for v in self.xty], "since": self.since}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], width: int) -> ArmStats:
        xtx = np.asarray(doc["xtx"], dtype=float)
        xty = np.asarray(doc["xty"], dtype=float)
        if xtx.size != width * width or xty.size != width:
            raise ValueError(f"arm arrays do not match width {width}")
        since = doc.get("since")
        return cls(int(doc["n"]), xtx.reshape(width, width), xty,
                   None if since is None else int(since))


@dataclass(frozen=True)
class ModelState:
    """What a snapshot stores instead of the log (see module docstring)."""

    key: str  # model_key(config): a state is only reused by the config that made it
    context_version: str | None
    width: int | None  # row width (context values + intercept column)
    counts: dict[str, int] = field(default_factory=dict)  # whole log, per configured arm
    arms: dict[str, ArmStats] = field(default_factory=dict)  # the model's data (windowed)

    @property
    def observations(self) -> int:
        return sum(self.counts.values())

    def to_doc(self) -> dict[str, Any]:
        return {"format": FORMAT, "key": self.key, "context_version": self.context_version,
                "width": self.width, "counts": dict(self.counts),
                "arms": {a: s.to_doc() for a, s in self.arms.items()}}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> ModelState | None:
        """The stored state, or None when absent, of another format, or malformed (the
        caller then rebuilds from the log)."""
        if not doc or doc.get("format") != FORMAT:
            return None
        try:
            width = None if doc.get("width") is None else int(doc["width"])
            arms = ({} if width is None else
                    {str(a): ArmStats.from_doc(s, width) for a, s in doc["arms"].items()})
            return cls(key=str(doc["key"]), context_version=doc.get("context_version"),
                       width=width, counts={str(a): int(n) for a, n in doc["counts"].items()},
                       arms=arms)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def supports_state(config: Any) -> bool:
    """Policies whose fitted model is a per-arm ridge regression on unscaled contexts."""
    spec = config.policy
    return (spec.neighborhood is None and spec.learning in CONTEXTUAL
            and not spec.params.get("scale", False))


def model_key(config: Any) -> str:
    """Fingerprint of everything in ``config`` that shapes the fitted model."""
    shape = {"format": FORMAT, "policy": config.policy.to_dict(), "arms": list(config.arms),
             "window": config.window, "warm_start_min_obs": config.warm_start_min_obs,
             "warm_start_quantile": config.warm_start_quantile,
             "arm_vectors": config.arm_vectors(), "fit_intercept": config.fit_intercept,
             "context_version": config.context_version, "variant": config.variant}
    text = json.dumps(shape, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def rows_of(observations: Sequence[Any], fit_intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([o.context for o in observations], dtype=float)
    if fit_intercept:
        x = np.hstack([x, np.ones((x.shape[0], 1))])
    return x, np.array([o.reward for o in observations], dtype=float)


def arm_stats(observations: Sequence[Any], width: int, fit_intercept: bool,
              windowed: bool = False) -> ArmStats:
    if not observations:
        return ArmStats.zeros(width)
    rows, rewards = rows_of(observations, fit_intercept)
    return ArmStats.of(rows, rewards, observations[0].logged_at if windowed else None)


def newest_per_arm(data: Iterable[Any], window: int) -> list[Any]:
    """Each arm's newest ``window`` observations, in the given (canonical) order."""
    data = list(data)
    left: Counter[str] = Counter()
    keep = []
    for o in reversed(data):
        if left[o.arm] < window:
            left[o.arm] += 1
            keep.append(o)
    keep.reverse()
    return keep


def check_finite(state: ModelState) -> bool:
    return all(math.isfinite(float(v)) for s in state.arms.values()
               for v in (*s.xtx.ravel(), *s.xty))
