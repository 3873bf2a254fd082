"""One worker's view of the shared bandit: select from memory, record to the log, sync.

``select`` never writes (a search never writes). ``record`` appends observations to the
shared log (idempotent per request and arm). ``sync`` moves this worker to the newest
snapshot and, if settled observations exist past its watermark, commits the next
snapshot version with optimistic concurrency; the loser of a race re-reads and retries,
so every worker's model is the same function of the same ordered observations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.select.bandit import Bandit, Observation, Selection
from ltrr_opensearch.select.config import BanditConfig
from ltrr_opensearch.select.store import (
    BanditStore,
    RecordResult,
    Snapshot,
    Watermark,
    counts_of,
    now_ms,
)
from ltrr_opensearch.types import ArmChoice, ContextVector

_SYNC_ATTEMPTS = 5
_CLOSED_MARKER = "rewards-closed"


@dataclass(frozen=True)
class SyncResult:
    version: int
    observations: int
    new: int
    late: int
    committed: bool


class Learner:
    """The bandit of ``config`` backed by the state index of ``settings``."""

    def __init__(self, client: Any, settings: Settings, config: BanditConfig) -> None:
        self.config = config
        self.store = BanditStore(client, settings)
        self.bandit: Bandit = config.bandit()
        self.version = 0
        self._log: list[Observation] = []
        self._watermark: Watermark | None = None

    @classmethod
    def load(cls, client: Any, settings: Settings, config: BanditConfig) -> Learner:
        learner = cls(client, settings, config)
        learner.sync()
        return learner

    # ---------------------------------------------------------------- serving
    def select(self, context: ContextVector, seed: int | None = None,
               unavailable: Mapping[str, str] | None = None) -> Selection:
        return self.bandit.select(context, seed, unavailable)

    # --------------------------------------------------------------- feedback
    def record(self, observations: Sequence[Observation], refresh: bool | str = False
               ) -> RecordResult:
        """Validate, stamp ``logged_at`` where missing, and append to the shared log.
        Learned by every worker at its next ``sync``; a bad batch writes nothing."""
        checked = self.bandit.validate(observations)
        stamp = now_ms()
        stamped = [o if o.logged_at else _with_time(o, stamp) for o in checked]
        return self.store.record(stamped, refresh=refresh)

    def record_feedback(self, request_id: str, context: ContextVector,
                        rewards: Mapping[str, float], choices: Sequence[ArmChoice] = (),
                        refresh: bool | str = False) -> RecordResult:
        """Convenience for the feedback path: one observation per arm that ran."""
        if not request_id:
            raise ValidationError("feedback needs a request id")
        by_arm = {c.arm: c for c in choices}
        return self.record([
            Observation(request_id=str(request_id), arm=arm, reward=reward,
                        context_version=context.version, context=tuple(context.values),
                        k=by_arm[arm].k if arm in by_arm else None,
                        propensity=by_arm[arm].propensity if arm in by_arm else None)
            for arm, reward in rewards.items()
        ], refresh=refresh)

    def learn_from_rewards(self, now: int | None = None,
                           attribution_seconds: float | None = None) -> RecordResult:
        """Close the attribution window of logged requests and learn their rewards.

        The feedback loop keeps one ``kind: reward`` doc per (request, arm), recomputed as
        events arrive. Once a request is older than the attribution window its reward is
        final: it is appended to the write-once observation log (requests without any
        engagement included, as reward 0), and later events for it are ignored. Safe to
        run from every worker: observations are idempotent and the marker only moves on.
        """
        now = now_ms() if now is None else now
        window = (self.config.attribution_seconds if attribution_seconds is None
                  else attribution_seconds)
        until = now - int(window * 1000)
        after = self.store.get_marker(_CLOSED_MARKER)
        if after is not None and until <= after:
            return RecordResult(0, 0)
        self.store.refresh()  # reward docs written a moment ago must not slip behind the marker
        observations = self.store.closed_rewards(after, until)
        costs = self.config.reward
        if costs.cost_per_candidate or costs.cost_per_ms:  # engine work is part of the reward
            observations = [replace(o, reward=o.reward - costs.cost(o.k, o.took_ms))
                            for o in observations]
        result = (self.store.record(observations, refresh="wait_for") if observations
                  else RecordResult(0, 0))
        self.store.put_marker(_CLOSED_MARKER, until)
        return result

    # ------------------------------------------------------------------ state
    def kill(self, arm: str) -> set[str]:
        self._known(arm)
        killed = self.store.set_killed(arm, True)
        self.bandit.set_killed(killed)
        return killed

    def revive(self, arm: str) -> set[str]:
        self._known(arm)
        killed = self.store.set_killed(arm, False)
        self.bandit.set_killed(killed)
        return killed

    def sync(self, now: int | None = None) -> SyncResult:
        """Catch up with the shared log and snapshot (see module docstring)."""
        now = now_ms() if now is None else now
        until = now - int(self.config.settle_seconds * 1000)
        variant = self.config.variant
        for _ in range(_SYNC_ATTEMPTS):
            snap, seq_no, term = self.store.get_snapshot(self.config.name)
            base_wm = snap.watermark if snap else None
            base_count = snap.applied if snap else 0
            log = self._catch_up(base_wm, base_count)
            late = (self.store.count(base_wm, variant) - base_count
                    if base_wm is not None else 0)
            if late > 0:  # written behind the watermark after it was committed
                log = self.store.fetch(upto=base_wm, variant=variant)
            new = self.store.fetch(after=base_wm, until_ms=until, variant=variant)
            log = log + new
            if not new and late <= 0 and snap is not None:
                self._apply(log, snap)
                return SyncResult(snap.version, len(log), 0, 0, False)
            if not log and snap is None:
                if variant is not None:  # registered, so the worker finds and syncs it
                    self.store.put_snapshot(Snapshot(policy=self.config.name, version=0,
                                                     watermark=None, applied=0,
                                                     updated_at=now, variant=variant),
                                            None, None)
                self._apply(log, None)
                return SyncResult(0, 0, 0, 0, False)
            nxt = Snapshot(policy=self.config.name, version=(snap.version if snap else 0) + 1,
                           watermark=_wm(log[-1]) if log else base_wm, applied=len(log),
                           counts=counts_of(log), updated_at=now, variant=variant)
            if self.store.put_snapshot(nxt, seq_no, term):
                self._apply(log, nxt)
                return SyncResult(nxt.version, len(log), len(new), max(late, 0), True)
        raise LtrrError(f"could not commit bandit snapshot {self.config.name!r} after "
                        f"{_SYNC_ATTEMPTS} attempts (other workers keep winning)",
                        hint="retry; this resolves once concurrent syncs finish")

    def _catch_up(self, wm: Watermark | None, count: int) -> list[Observation]:
        """The observations covered by a snapshot, reusing what this worker already has."""
        if wm is None:
            return []
        if self._watermark == wm and len(self._log) == count:
            return list(self._log)
        variant = self.config.variant
        if self._watermark is not None and self._watermark <= wm:
            log = self._log + self.store.fetch(after=self._watermark, upto=wm, variant=variant)
            if len(log) == count:
                return log
        return self.store.fetch(upto=wm, variant=variant)

    def _apply(self, log: list[Observation], snap: Snapshot | None) -> None:
        self.bandit.set_killed(self.store.killed())
        if log != self._log or self.bandit.observations == 0 and log:
            self.bandit.fit(log, strict=False)
        self._log = log
        self._watermark = snap.watermark if snap else None
        self.version = snap.version if snap else 0

    def _known(self, arm: str) -> None:
        if arm not in self.bandit.arms:
            raise ValidationError(f"unknown arm {arm!r}",
                                  hint=f"arms of policy {self.config.name!r}: "
                                       f"{', '.join(self.bandit.arms)}")


def _wm(o: Observation) -> Watermark:
    return (o.logged_at, o.key)


def _with_time(o: Observation, stamp: int) -> Observation:
    from dataclasses import replace

    return replace(o, logged_at=stamp)
