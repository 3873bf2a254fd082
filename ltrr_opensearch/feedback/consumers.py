"""Running the feedback consumers once, up to now, each from its own checkpoints.

Per consumer and per log (queries first, then events): read the next batch after the
checkpoint (``consumer_batch_size`` docs, in pages), let the consumer name the keys the
batch touches, recompute those keys, then move the checkpoint. Only docs that arrived at
least ``settle_seconds`` ago are read, so a write still in flight cannot slip behind a
checkpoint; the logs are refreshed once before they are read (ingestion acknowledges on
store, not on refresh).

The consumers share nothing but the logs (each writes its own outputs and checkpoints), so
they run side by side, one thread each: while one waits for the engine another computes.
A consumer that keeps per-key state between runs (:mod:`ltrr_opensearch.feedback.cache`)
is told which checkpoints a run starts from (``follow``) and which ones it saves
(``saved``), so the state is dropped whenever another process moved them.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.feedback.indices import ensure_feedback_indices
from ltrr_opensearch.feedback.memory import MemoryConsumer
from ltrr_opensearch.feedback.rewards import RewardConsumer
from ltrr_opensearch.feedback.stream import (
    Log,
    load_checkpoint,
    logs,
    read_batches,
    save_checkpoint,
)
from ltrr_opensearch.feedback.training import TrainingSetConsumer
from ltrr_opensearch.feedback.vocab import VocabConsumer

logger = logging.getLogger(__name__)

MAX_PAGE = 10_000  # the engine's index.max_result_window: no search returns more hits
DEFAULT_PAGE = 5_000


class Consumer(Protocol):
    """What :func:`run_consumers` drives. Optional, looked up by name: ``sources`` (log name
    -> the fields it reads of a doc; default the whole doc), ``follow(positions) -> bool``
    and ``saved(log, position)`` (a consumer that keeps state between runs is told the
    checkpoints a run starts from and each one it saves; see feedback/cache.py)."""

    name: str

    def keys_from_queries(self, hits: list[dict[str, Any]]) -> set[Any]: ...

    def keys_from_events(self, hits: list[dict[str, Any]]) -> set[Any]: ...

    def apply(self, keys: set[Any], now: datetime | None = None) -> int: ...


@dataclass(frozen=True)
class ConsumerRun:
    consumer: str
    log: str
    docs: int  # log docs read in this run
    keys: int  # requests or pairs recomputed
    outputs: int  # docs written (rewards, evidence, rows)
    seconds: float = 0.0  # time this consumer spent applying this log's batches


def default_consumers(client: OpenSearch, settings: Settings) -> list[Consumer]:
    return [RewardConsumer(client, settings), MemoryConsumer(client, settings),
            TrainingSetConsumer(client, settings), VocabConsumer(client, settings)]


def run_consumers(client: OpenSearch, settings: Settings,
                  consumers: Sequence[Consumer] | None = None, *,
                  now: datetime | None = None, settle_seconds: float | None = None,
                  page_size: int | None = None, batch_size: int | None = None,
                  parallel: bool = True) -> list[ConsumerRun]:
    """Apply everything that arrived more than ``settle_seconds`` ago; safe to re-run.
    ``now`` is the clock scores decay against (default: the wall clock). ``batch_size``
    docs are applied at once (default ``[feedback] consumer_batch_size``, or ``page_size``
    when only that is given), read ``page_size`` at a time. ``parallel=False`` applies one
    consumer after the other. Runs come back in consumer order, queries before events. A
    consumer that fails stops there (its checkpoint stays before the failed batch) while
    the others go on; the first failure is raised at the end."""
    config = FeedbackConfig.from_settings(settings)
    ensure_feedback_indices(client, settings)
    now = now or datetime.now(timezone.utc)
    settle = config.settle_seconds if settle_seconds is None else settle_seconds
    # Arrival (ingested_at) is wall-clock time; ``now`` is only the scoring clock (decay),
    # which a replay of past traffic sets to its own simulated time.
    until = datetime.now(timezone.utc) - timedelta(seconds=settle)
    batch = batch_size or page_size or config.consumer_batch_size
    page = min(page_size or min(batch, DEFAULT_PAGE), MAX_PAGE)
    # Ingestion acknowledges an event once it is stored, not once it is searchable: make
    # everything stored so far visible before reading past it.
    client.indices.refresh(index=",".join(log.index for log in logs(settings)),
                           ignore_unavailable=True)
    chosen = list(consumers) if consumers is not None else default_consumers(client, settings)
    positions = {id(c): {log.name: load_checkpoint(client, settings, c.name, log.name)
                         for log in logs(settings)} for c in chosen}
    for consumer in chosen:
        follow = getattr(consumer, "follow", None)
        if follow is not None and not follow(positions[id(consumer)]):
            logger.debug("consumer %s starts with an empty cache", consumer.name)
    runs: dict[tuple[int, str], ConsumerRun] = {}
    failures: dict[int, BaseException] = {}
    workers = len(chosen) + 1 if parallel else 1
    with _collector_paused(), ThreadPoolExecutor(max_workers=workers,
                                                 thread_name_prefix="ltrr-consumer") as pool:
        for log in logs(settings):
            # Consumers at the same position share one read of the log.
            groups: dict[str, list[Consumer]] = {}
            for consumer in chosen:
                if id(consumer) not in failures:
                    at = json.dumps(positions[id(consumer)][log.name])
                    groups.setdefault(at, []).append(consumer)
            for group in groups.values():
                state = _Group(client, settings, log, group, positions, now, until, page, batch,
                               pool if parallel else None)
                state.run()
                runs.update(((id(c), log.name), run) for c, run in state.runs.items())
                failures.update(state.failures)
    if failures:
        raise next(failures[id(c)] for c in chosen if id(c) in failures)
    return [runs[(id(c), log.name)] for c in chosen for log in logs(settings)
            if (id(c), log.name) in runs]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the run. A batch allocates (and reference
    counting frees) hundreds of thousands of small containers while the consumers' caches
    hold as many more, and each collection traversed them all: a quarter of a warm run's
    time (measured, docs/feedback.md). The consumers make no reference cycles; whatever
    cycles a run leaves are collected once it ends."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class _Group:
    """Consumers at the same position in one log: each batch is read once (the next one
    while the consumers apply this one) and applied by every consumer, side by side. They
    share the hits: a consumer may add fields to a hit (the memory consumer's late join
    does) but reads only the fields it asked for."""

    def __init__(self, client: OpenSearch, settings: Settings, log: Log,
                 consumers: list[Consumer], positions: dict[int, dict[str, Any]],
                 now: datetime, until: datetime, page: int, batch: int,
                 pool: ThreadPoolExecutor | None) -> None:
        self.client, self.settings, self.log, self.now = client, settings, log, now
        self.consumers, self.pool = consumers, pool
        self.after, self.processed = positions[id(consumers[0])][log.name]
        wanted = [getattr(c, "sources", {}).get(log.name) for c in consumers]
        source = (None if any(w is None for w in wanted)
                  else sorted({name for w in wanted if w for name in w}))
        self.batches = read_batches(client, log, self.after, until, page, batch, source)
        self.runs: dict[Consumer, ConsumerRun] = {}
        self.failures: dict[int, BaseException] = {}
        self._counts = {id(c): [0, 0, 0, 0.0] for c in consumers}  # docs, keys, outputs, s

    def run(self) -> None:
        alive = list(self.consumers)
        upcoming = self._submit(next, self.batches, None)
        docs = 0
        while alive and (hits := upcoming.result()) is not None:
            upcoming = self._submit(next, self.batches, None)  # read ahead while applying
            docs += len(hits)
            position = (hits[-1]["sort"], self.processed + docs)
            applied = [(c, self._submit(self._apply, c, hits)) for c in alive]
            for consumer, future in applied:
                error = future.exception()
                if error is not None:
                    self.failures[id(consumer)] = error
                    alive.remove(consumer)
                    continue
                save_checkpoint(self.client, self.settings, consumer.name, self.log.name,
                                *position)
                saved = getattr(consumer, "saved", None)
                if saved is not None:
                    saved(self.log.name, position)
        if not alive:  # every consumer failed: the read ahead no longer matters
            with contextlib.suppress(Exception):
                upcoming.result()
        for consumer in self.consumers:
            d, k, o, s = self._counts[id(consumer)]
            self.runs[consumer] = ConsumerRun(consumer.name, self.log.name, int(d), int(k),
                                              int(o), s)
            logger.debug("consumer %s read %d %s docs (%d keys, %d outputs) in %.2f s",
                         consumer.name, d, self.log.name, k, o, s)

    def _apply(self, consumer: Consumer, hits: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        touched = getattr(consumer, f"keys_from_{self.log.name}")(hits)
        outputs = consumer.apply(touched, self.now) if touched else 0
        counts = self._counts[id(consumer)]
        counts[0] += len(hits)
        counts[1] += len(touched)
        counts[2] += outputs
        counts[3] += time.perf_counter() - started

    def _submit(self, fn: Any, *args: Any) -> Future:
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller like a pool's
            done.set_exception(exc)
        return done
