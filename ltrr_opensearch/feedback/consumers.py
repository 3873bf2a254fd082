"""Running the feedback consumers once, up to now, each from its own checkpoints.

Per consumer and per log (queries first, then events): read the next page after the
checkpoint, let the consumer name the keys the page touches, recompute those keys from the
logs, then move the checkpoint. Only docs that arrived at least ``settle_seconds`` ago are
read, so a write still in flight cannot slip behind a checkpoint; the logs are refreshed
before they are read (ingestion acknowledges on store, not on refresh).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.feedback.indices import ensure_feedback_indices
from ltrr_opensearch.feedback.memory import MemoryConsumer
from ltrr_opensearch.feedback.rewards import RewardConsumer
from ltrr_opensearch.feedback.stream import load_checkpoint, logs, read_pages, save_checkpoint
from ltrr_opensearch.feedback.training import TrainingSetConsumer
from ltrr_opensearch.feedback.vocab import VocabConsumer

logger = logging.getLogger(__name__)


class Consumer(Protocol):
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


def default_consumers(client: OpenSearch, settings: Settings) -> list[Consumer]:
    return [RewardConsumer(client, settings), MemoryConsumer(client, settings),
            TrainingSetConsumer(client, settings), VocabConsumer(client, settings)]


def run_consumers(client: OpenSearch, settings: Settings,
                  consumers: Sequence[Consumer] | None = None, *,
                  now: datetime | None = None, settle_seconds: float | None = None,
                  page_size: int | None = None) -> list[ConsumerRun]:
    """Apply everything that arrived more than ``settle_seconds`` ago; safe to re-run.
    ``now`` is the clock scores decay against (default: the wall clock)."""
    config = FeedbackConfig.from_settings(settings)
    ensure_feedback_indices(client, settings)
    now = now or datetime.now(timezone.utc)
    settle = config.settle_seconds if settle_seconds is None else settle_seconds
    # Arrival (ingested_at) is wall-clock time; ``now`` is only the scoring clock (decay),
    # which a replay of past traffic sets to its own simulated time.
    until = datetime.now(timezone.utc) - timedelta(seconds=settle)
    page_size = page_size or config.batch_size
    # Ingestion acknowledges an event once it is stored, not once it is searchable: make
    # everything stored so far visible before reading past it.
    client.indices.refresh(index=",".join(log.index for log in logs(settings)),
                           ignore_unavailable=True)
    runs = []
    for consumer in consumers if consumers is not None else default_consumers(client, settings):
        for log in logs(settings):
            after, processed = load_checkpoint(client, settings, consumer.name, log.name)
            docs = keys = outputs = 0
            for page in read_pages(client, log, after, until, page_size):
                touched = getattr(consumer, f"keys_from_{log.name}")(page)
                if touched:
                    outputs += consumer.apply(touched, now)
                docs, keys = docs + len(page), keys + len(touched)
                save_checkpoint(client, settings, consumer.name, log.name, page[-1]["sort"],
                                processed + docs)
            runs.append(ConsumerRun(consumer.name, log.name, docs, keys, outputs))
            logger.debug("consumer %s read %d %s docs (%d keys, %d outputs)", consumer.name,
                         docs, log.name, keys, outputs)
    return runs
