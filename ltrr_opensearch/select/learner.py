"""One worker's view of the shared bandit: select from memory, record to the log, sync.

``select`` never writes (a search never writes). ``record`` appends observations to the
shared log (idempotent per request and arm). ``sync`` moves this worker to the newest
snapshot and, if settled observations exist past its watermark, commits the next
snapshot version with optimistic concurrency; the loser of a race re-reads and retries,
so every worker's model is the same function of the same ordered observations.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.select.bandit import Bandit, Observation, Selection
from ltrr_opensearch.select.config import BanditConfig
from ltrr_opensearch.select.modelstate import ModelState, check_finite, model_key, supports_state
from ltrr_opensearch.select.store import (
    BanditStore,
    RecordResult,
    Snapshot,
    Watermark,
    counts_of,
    now_ms,
)
from ltrr_opensearch.types import ArmChoice, ContextVector
from ltrr_opensearch.understand.context import ContextSpec

_SYNC_ATTEMPTS = 5
_CLOSED_MARKER = "rewards-closed"

logger = logging.getLogger(__name__)


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
        # Array state (bounded load and sync) where the policy allows it, else refit from the log.
        self._key: str | None = model_key(config) if supports_state(config) else None
        self._state: ModelState | None = None
        self._unused: dict[str, int] = {}  # observations of other context layouts, last seen

    @classmethod
    def load(cls, client: Any, settings: Settings, config: BanditConfig) -> Learner:
        learner = cls(client, settings, config)
        learner.sync()
        return learner

    # ---------------------------------------------------------------- serving
    @property
    def context_spec(self) -> ContextSpec:
        """The context layout this policy reads (the pipeline builds contexts so)."""
        return self.config.context_spec

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
        if self._key is not None:
            return self._sync_state(now)
        return self._sync_log(now)

    def _sync_state(self, now: int) -> SyncResult:
        """Linear policies: the snapshot carries the model's arrays (select/modelstate.py),
        so loading reads one document and a sync reads only what is new (with a window,
        plus each touched arm's newest ``window`` observations). The log is read in full
        only to rebuild: no usable arrays (absent, another policy/context version) or
        observations written behind the watermark."""
        until = now - int(self.config.settle_seconds * 1000)
        variant, key = self.config.variant, self._key
        assert key is not None
        for _ in range(_SYNC_ATTEMPTS):
            snap, seq_no, term = self.store.get_snapshot(self.config.name)
            base_wm = snap.watermark if snap else None
            base_count = snap.applied if snap else 0
            late = (self.store.count(base_wm, variant) - base_count
                    if base_wm is not None else 0)
            state = self._state_of(snap) if late <= 0 else None
            new = self.store.fetch(after=base_wm, until_ms=until, variant=variant)
            if state is not None and new:
                state = self.bandit.extend_state(state, new, self._newest(_wm(new[-1])))
            rebuilt = state is None
            applied = base_count + len(new)
            if state is None:  # the log is the source of truth
                log = self.store.fetch(upto=base_wm, variant=variant) if base_wm else []
                state = self.bandit.state_from(log + new, key)
                applied = len(log) + len(new)
                self._note_other_layouts(log + new)
            if not new and late <= 0 and (not rebuilt or base_wm is None):
                if snap is None and variant is not None:  # registered for the worker to sync
                    self.store.put_snapshot(Snapshot(policy=self.config.name, version=0,
                                                     watermark=None, applied=0,
                                                     updated_at=now, variant=variant),
                                            None, None)
                version = snap.version if snap else 0
                self._apply_state(state, version, base_wm)
                return SyncResult(version, applied, 0, 0, False)
            counts = dict(snap.counts) if snap and not rebuilt else {}
            for arm, n in (counts_of(new) if not rebuilt else state.counts).items():
                counts[arm] = counts.get(arm, 0) + n
            nxt = Snapshot(policy=self.config.name, version=(snap.version if snap else 0) + 1,
                           watermark=_wm(new[-1]) if new else base_wm, applied=applied,
                           counts=counts, updated_at=now, variant=variant,
                           model=state.to_doc())
            if self.store.put_snapshot(nxt, seq_no, term):
                self._apply_state(state, nxt.version, nxt.watermark)
                return SyncResult(nxt.version, applied, len(new), max(late, 0), True)
        raise LtrrError(f"could not commit bandit snapshot {self.config.name!r} after "
                        f"{_SYNC_ATTEMPTS} attempts (other workers keep winning)",
                        hint="retry; this resolves once concurrent syncs finish")

    def _newest(self, upto: Watermark) -> Callable[[str, str, int | None], list[Observation]]:
        def newest(arm: str, context_version: str, since: int | None) -> list[Observation]:
            return self.store.newest(arm, self.config.window, upto, self.config.variant,
                                     context_version, since_ms=since)
        return newest

    def _state_of(self, snap: Snapshot | None) -> ModelState | None:
        """The snapshot's arrays if this config made them (ours in memory if current)."""
        if snap is None:
            return None
        if self._state is not None and self.version == snap.version \
                and self._watermark == snap.watermark:
            return self._state
        state = ModelState.from_doc(snap.model)
        if state is None or state.key != self._key or not check_finite(state):
            return None  # another policy, arms, window or format: rebuild from the log
        return state

    def _apply_state(self, state: ModelState, version: int, wm: Watermark | None) -> None:
        self.bandit.set_killed(self.store.killed())
        if state is not self._state:
            self.bandit.load_state(state)
        self._state = state
        self._watermark = wm
        self.version = version

    def _sync_log(self, now: int) -> SyncResult:
        """Policies without array state (neighbourhoods, non-contextual): refit from the log."""
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
            self._note_other_layouts(log)
        self._log = log
        self._watermark = snap.watermark if snap else None
        self.version = snap.version if snap else 0

    def _note_other_layouts(self, log: Sequence[Observation]) -> None:
        """Say once (per change) that observations of another context layout are kept in
        the log but not learned from: after an upgrade the bandit relearns from new
        traffic, starting with its cold-start plan."""
        version = self.bandit.context_version
        if version is None:
            return
        unused = dict(Counter(o.context_version for o in log if o.context_version != version))
        if unused and unused != self._unused:
            logger.warning(
                "bandit %r learns on context %s; %s kept in the log but not learned from "
                "(an older layout): it relearns from new traffic, starting with its "
                "cold-start plan", self.config.name, version,
                ", ".join(f"{n} observations of {v}" for v, n in sorted(unused.items())))
        self._unused = unused

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
