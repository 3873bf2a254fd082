"""Learning's front door: ONE feedback cycle over what arrived since the checkpoints.

    consumers (rewards, Q2E memory, training rows) -> close the attribution window
    (``Learner.learn_from_rewards``) -> bandit sync -> optional retrain hook

Every step resumes from state kept in OpenSearch (consumer checkpoints, the
``rewards-closed`` marker, the bandit snapshot), so a cycle is safe to re-run, to run
after a crash, and to run from several workers at once. ``ltrr worker`` runs this on a
schedule; the benchmark harness (``evaluate/harness.py``) calls the same function, so the
benchmarks measure the shipped loop.

Retraining the ranker is not done here: ``retrain`` is a hook (a callable or None) that
the ranker registry plugs in, called at most every ``retrain_every`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.config import PACKAGE_ROOT, Settings

logger = logging.getLogger(__name__)

# The serving default when the config has no [bandit] section (see policies/linucb.toml).
DEFAULT_POLICY = PACKAGE_ROOT / "policies" / "linucb.toml"

# (client, settings, summary so far) -> anything JSON-able (e.g. the registry's gate verdict)
Retrain = Callable[[OpenSearch, Settings, "CycleSummary"], Any]


def serving_config(settings: Settings, policy_file: str | Path | None = None) -> Any:
    """The bandit config serving and the worker share: an explicit policy file, else the
    config's ``[bandit]``, else the packaged default policy. Both sides must agree on it,
    since the policy's name keys the shared snapshot."""
    from ltrr_opensearch.select.config import config_from_settings, load_config

    if policy_file is not None:
        return load_config(policy_file)
    if settings.section("bandit"):
        return config_from_settings(settings)
    return load_config(DEFAULT_POLICY)


@dataclass(frozen=True)
class CycleSummary:
    """What one cycle did (counts and wall-clock timings in ms)."""

    queries_read: int = 0  # UBI query docs read by the reward consumer
    events_read: int = 0  # UBI event docs read by the reward consumer
    rewards: int = 0  # per-(request, arm) reward docs recomputed
    memory: int = 0  # Q2E evidence docs written
    training_rows: int = 0  # LTR training rows written
    observations: int = 0  # new bandit observations (attribution window closed)
    bandit_version: int | None = None  # snapshot version after the sync (None: no bandit)
    bandit_observations: int | None = None  # observations the synced bandit has learned
    retrained: Any = None  # what the retrain hook returned, when it ran
    timings_ms: dict[str, float] = field(default_factory=dict)
    # After the consumers: the most docs any consumer still has to read in either log, and
    # how long the oldest of them has waited (feedback/lag.py).
    behind: int = 0
    lag_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"queries_read": self.queries_read, "events_read": self.events_read,
                "rewards": self.rewards, "memory": self.memory,
                "training_rows": self.training_rows, "observations": self.observations,
                "bandit_version": self.bandit_version,
                "bandit_observations": self.bandit_observations,
                "retrained": self.retrained, "behind": self.behind,
                "lag_seconds": self.lag_seconds,
                "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()}}


_OUTPUT = {"rewards": "rewards", "memory": "memory", "training": "training_rows"}


class FeedbackLoop:
    """One feedback cycle per :meth:`cycle` call (see module docstring).

    ``learner`` is a :class:`select.learner.Learner` (None: consumers only, no bandit).
    ``settle_seconds`` overrides how old a log doc must be before it is read (None: the
    ``[feedback]`` setting); a replay of simulated time passes 0. ``clock`` gives the
    bandit's "now" in ms (default: the wall clock); a replay passes simulated time.
    """

    def __init__(self, client: OpenSearch, settings: Settings, learner: Any = None, *,
                 retrain: Retrain | None = None, retrain_every: float = 24 * 3600.0,
                 settle_seconds: float | None = None) -> None:
        self.client, self.settings, self.learner = client, settings, learner
        self.retrain, self.retrain_every = retrain, retrain_every
        self.settle_seconds = settle_seconds
        self._last_retrain: float | None = None
        self.variant_learners: dict[str, Any] = {}  # snapshot name -> Learner (experiments)
        # Kept across cycles: each consumer holds what it read of the logs per key
        # (feedback/cache.py), so a cycle reads only what is new.
        self.consumers: list[Any] | None = None

    @classmethod
    def for_serving(cls, client: OpenSearch, settings: Settings,
                    policy_file: str | Path | None = None, **kwargs: Any) -> FeedbackLoop:
        """The production loop: the serving bandit (see :func:`serving_config`)."""
        from ltrr_opensearch.select.learner import Learner

        learner = Learner.load(client, settings, serving_config(settings, policy_file))
        return cls(client, settings, learner, **kwargs)

    def cycle(self, now: datetime | None = None) -> CycleSummary:
        """Run one cycle. ``now`` is the scoring clock (memory decay, attribution window);
        default the wall clock."""
        from ltrr_opensearch.feedback.consumers import default_consumers, run_consumers
        from ltrr_opensearch.feedback.lag import consumer_lag

        started = time.perf_counter()
        timings: dict[str, float] = {}
        counts: dict[str, Any] = {"queries_read": 0, "events_read": 0}  # CycleSummary fields
        if self.consumers is None:
            self.consumers = default_consumers(self.client, self.settings)
        runs = run_consumers(self.client, self.settings, self.consumers, now=now,
                             settle_seconds=self.settle_seconds)
        lags = consumer_lag(self.client, self.settings, [c.name for c in self.consumers])
        counts["behind"] = max((lag.behind for lag in lags), default=0)
        counts["lag_seconds"] = max((lag.seconds_behind for lag in lags), default=0.0)
        mark = _lap(timings, "consumers", started)
        for run in runs:
            if run.consumer == "rewards":
                counts[f"{run.log}_read"] += run.docs
            key = _OUTPUT.get(run.consumer)
            if key:
                counts[key] = counts.get(key, 0) + run.outputs
        observations = 0
        version = learned = None
        if self.learner is not None:
            now_ms = int(now.timestamp() * 1000) + 1 if now is not None else None
            observations = self.learner.learn_from_rewards(now=now_ms).created
            mark = _lap(timings, "learn", mark)
            synced = self.learner.sync(now=now_ms)
            version, learned = synced.version, synced.observations
            self._sync_variants(now_ms)
            mark = _lap(timings, "sync", mark)
        partial = CycleSummary(**counts, observations=observations, bandit_version=version,
                               bandit_observations=learned)
        retrained = None
        if self.retrain is not None and self._retrain_due():
            retrained = self.retrain(self.client, self.settings, partial)
            self._last_retrain = time.monotonic()
            mark = _lap(timings, "retrain", mark)
        timings["total"] = (mark - started) * 1000
        return CycleSummary(**counts, observations=observations, bandit_version=version,
                            bandit_observations=learned, retrained=retrained,
                            timings_ms=timings)

    def _sync_variants(self, now_ms: int | None) -> None:
        """Advance every experiment variant's own bandit (``bandit-state: variant``): the
        serving processes load them on demand; the worker keeps their snapshots current."""
        from dataclasses import replace

        from ltrr_opensearch.select.learner import Learner

        for snap in self.learner.store.variant_snapshots():
            learner = self.variant_learners.get(snap.policy)
            if learner is None:
                config = replace(self.learner.config, name=snap.policy, variant=snap.variant)
                learner = self.variant_learners[snap.policy] = Learner(
                    self.client, self.settings, config)
            learner.sync(now=now_ms)

    def _retrain_due(self) -> bool:
        # In-process schedule: a restarted worker retrains at its first cycle, and the
        # registry's gate decides whether the new model is promoted.
        return (self._last_retrain is None
                or time.monotonic() - self._last_retrain >= self.retrain_every)


def run_cycle(client: OpenSearch, settings: Settings, learner: Any = None, *,
              now: datetime | None = None, settle_seconds: float | None = None) -> CycleSummary:
    """One cycle without keeping a loop object (tests, scripts)."""
    return FeedbackLoop(client, settings, learner, settle_seconds=settle_seconds).cycle(now)


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    mark = time.perf_counter()
    timings[name] = (mark - since) * 1000
    return mark


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
