"""What a serving process shares between requests and its background threads.

* :class:`PublishedSelector`: the bandit requests select from. A background thread syncs a
  private :class:`~ltrr_opensearch.select.learner.Learner` from the state index and, when
  its snapshot version (or the killed arms) changed, publishes a copy; requests never see
  a bandit while it is being refitted, and several serving processes converge on the same
  snapshot without a restart.
* :class:`LockedSearchLog`: the buffered UBI query log, safe to append to from request
  threads and flushed on an interval by a background thread (and at shutdown).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ltrr_opensearch.pipeline import BufferedSearchLog

logger = logging.getLogger(__name__)


class PublishedSelector:
    """A Selector (``select(context, seed)``) over the last published bandit copy."""

    def __init__(self, learner: Any) -> None:
        self.learner = learner  # synced by the refresher thread only
        self._lock = threading.Lock()
        self._publish()

    def _publish(self) -> None:
        # A fresh bandit fitted on the synced log: the learner's own keeps being refitted
        # in place by later syncs, so requests must never hold it.
        learner = self.learner
        bandit = learner.config.bandit()
        bandit.set_killed(learner.bandit.killed)
        if learner._state is not None:  # linear policies sync arrays, not the log
            bandit.load_state(learner._state)
        elif learner._log:
            bandit.fit(list(learner._log), strict=False)
        self.bandit, self.version = bandit, learner.version
        self.killed = frozenset(bandit.killed)

    @property
    def context_spec(self) -> Any:
        """The context layout the served policy reads (understand.context.ContextSpec)."""
        return self.learner.config.context_spec

    def select(self, context: Any, seed: int | None = None, unavailable: Any = None) -> Any:
        bandit = self.bandit  # one read: a swap mid-request cannot mix two versions
        with self._lock:  # the bandit's random generator is not thread-safe
            return bandit.select(context, seed, unavailable)

    def refresh(self) -> bool:
        """Sync from the state index; publish if anything changed. True when published."""
        result = self.learner.sync()
        if result.version == self.version and frozenset(self.learner.bandit.killed) == self.killed:
            return False
        self._publish()
        logger.info("bandit state published", extra={"fields": {
            "event": "bandit_sync", "policy": self.learner.config.name,
            "version": self.version, "observations": result.observations}})
        return True


class LockedSearchLog(BufferedSearchLog):
    """:class:`BufferedSearchLog` for many request threads: appends never flush inline
    (the flusher thread does), and a failed flush keeps its records for the next try."""

    def __init__(self, client: Any, settings: Any, max_pending: int = 100_000) -> None:
        super().__init__(client, settings, batch=max_pending)
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self.dropped = 0

    def __call__(self, record: Any) -> None:
        with self._lock:
            if len(self.pending) >= self.batch:  # the cluster is gone for long: bound memory
                self.pending.pop(0)
                self.dropped += 1
            self.pending.append(record)

    def flush(self, refresh: bool | str = False) -> int:
        from ltrr_opensearch.feedback.querylog import log_search

        with self._flushing:
            with self._lock:
                records, self.pending = self.pending, []
            if not records:
                return 0
            try:
                self.written += log_search(self.client, self.settings, records, refresh=refresh)
            except Exception:
                with self._lock:
                    self.pending[:0] = records
                raise
            return len(records)
