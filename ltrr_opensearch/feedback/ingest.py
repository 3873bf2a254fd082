"""Durable event ingestion: validate, dead-letter, de-duplicate, join, confirm.

An event counts as ingested only when OpenSearch confirmed its write (``op_type=create``):
a bulk item that succeeded is in the shard's translog, so it survives a node restart. The
ack does not wait for a refresh (``refresh=wait_for`` cost up to a refresh interval per
batch), so an event is durable before it is searchable: whoever reads the event log
refreshes it first (``run_consumers``, the worker cycle, the experiment reports); ``mget``
reads by id see it at once. A 409 means the same ``_id`` is already stored: a duplicate,
counted, not an error. Everything refused, by our checks or by OpenSearch, goes to the dead-letter
index with its original text and the reason before the batch returns; if even that write
fails, ingestion stops with an error rather than lose an event.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.bulk import action, bulk_outcomes, stored
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import unreachable
from ltrr_opensearch.errors import EngineBusy, LtrrError
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.feedback.events import Accepted, Rejected, format_ts, validate_event
from ltrr_opensearch.feedback.indices import ensure_log_indices
from ltrr_opensearch.feedback.sessions import reformulation_credits, session_of

logger = logging.getLogger(__name__)

MAX_DEADLETTER_PAYLOAD = 64 * 1024
JOIN_FIELDS = ("query", "normalized", "q2e_key")


@dataclass
class IngestReport:
    """Counts of one ingestion run; ``accepted`` counts confirmed new writes only."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    unjoined: int = 0  # accepted events whose query_id matched no logged query
    reformulations: int = 0  # derived credits to earlier searches (feedback/sessions.py)
    reasons: Counter = field(default_factory=Counter)
    examples: list[Rejected] = field(default_factory=list)  # the first few refusals

    def add_rejected(self, rejected: Rejected) -> None:
        self.dead_lettered += 1
        self.reasons[rejected.reason.split(" (", 1)[0][:120]] += 1
        if len(self.examples) < 20:
            self.examples.append(rejected)

    def merge(self, other: IngestReport) -> None:
        self.received += other.received
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.unjoined += other.unjoined
        self.reformulations += other.reformulations
        self.dead_lettered += other.dead_lettered
        self.reasons.update(other.reasons)
        self.examples.extend(other.examples[: max(0, 20 - len(self.examples))])


def ingest_events(client: OpenSearch, settings: Settings, events: Iterable[Any], *,
                  source: str = "api", config: FeedbackConfig | None = None,
                  first_line: int = 1) -> IngestReport:
    """Ingest events (dicts, or JSON text lines as read from a JSONL file), batch by batch.

    ``source`` and line numbers (counted from ``first_line``) are recorded on dead letters.
    """
    config = config or FeedbackConfig.from_settings(settings)
    ensure_log_indices(client, settings)
    report = IngestReport()
    numbered = enumerate(events, start=first_line)
    while batch := list(islice(numbered, config.batch_size)):
        report.merge(_ingest_batch(client, settings, config, batch, source))
    return report


def _ingest_batch(client: OpenSearch, settings: Settings, config: FeedbackConfig,
                  batch: list[tuple[int, Any]], source: str) -> IngestReport:
    report = IngestReport(received=len(batch))
    rejected: list[Rejected] = []
    accepted: dict[str, Accepted] = {}
    for line, raw in batch:
        if isinstance(raw, str) and not raw.strip():
            report.received -= 1  # blank line in a JSONL file: nothing was sent
            continue
        result = validate_event(raw, config, line)
        if isinstance(result, Rejected):
            rejected.append(result)
        elif result.key in accepted:
            report.duplicates += 1  # the same event twice in one batch
        else:
            accepted[result.key] = result

    if accepted:
        docs = [a.doc for a in accepted.values()]
        for doc in docs:
            if session_of(doc):
                doc["session_id"] = session_of(doc)
        join_events(client, settings, docs)
        derived = reformulation_credits(client, settings, docs, config)
        ingested_at = format_ts(datetime.now(timezone.utc))
        index = settings.ubi_events_index
        actions: list[dict[str, Any]] = []
        for item in accepted.values():
            item.doc["ingested_at"] = ingested_at
            actions.append(action("create", index, item.key, item.doc))
        derived_keys = list(dict.fromkeys(doc["event_key"] for doc in derived))
        for doc in derived:
            actions.append(action("create", index, doc["event_key"],
                                  {**doc, "ingested_at": ingested_at}))
        # Outcomes by id, not position: items retried after a 429 come back last.
        outcomes = _bulk(client, actions, settings)
        report.reformulations += sum(1 for key in derived_keys
                                     if key not in accepted and stored(outcomes[(index, key)]))
        busy = [outcomes[(index, item.key)] for item in accepted.values()
                if _transient(outcomes[(index, item.key)].get("status", 0))]
        if busy:  # the engine cannot store now: not the events' fault, nothing dead-lettered
            error = busy[0].get("error") or {}
            why = (f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict)
                   else str(error))
            raise EngineBusy(f"OpenSearch could not store {len(busy)} of {len(accepted)} events "
                             f"now (status {busy[0].get('status')}): {why}",
                             hint="send the same batch again later: events already stored are "
                                  "skipped as duplicates")
        for item in accepted.values():
            outcome = outcomes[(index, item.key)]
            status = outcome.get("status", 0)
            if 200 <= status < 300:
                report.accepted += 1
                report.unjoined += 0 if item.doc["joined"] else 1
            elif status == 409:
                report.duplicates += 1
            else:
                error = outcome.get("error") or {}
                if not isinstance(error, dict):
                    error = {"type": "error", "reason": str(error)}
                reason = f"OpenSearch refused it: {error.get('type')}: {error.get('reason')}"
                rejected.append(Rejected(item.payload, reason, item.line, "index"))

    if rejected:
        write_dead_letters(client, settings, rejected, source)
        for refusal in rejected:
            report.add_rejected(refusal)
    logger.debug("event batch from %s: %d received, %d stored, %d duplicates, %d dead-lettered",
                 source, report.received, report.accepted, report.duplicates, report.dead_lettered)
    return report


def join_events(client: OpenSearch, settings: Settings, docs: list[dict[str, Any]]) -> int:
    """Copy query text and Q2E key from each event's logged query onto the event doc
    (one ``mget`` per batch); events with no logged query get ``joined: false``.
    Returns how many stayed unjoined."""
    ids = sorted({d["query_id"] for d in docs})
    found: dict[str, dict[str, Any]] = {}
    if ids:
        response = client.mget(index=settings.ubi_queries_index, body={"ids": ids},
                               _source_includes=list(JOIN_FIELDS))
        found = {d["_id"]: d.get("_source", {}) for d in response["docs"] if d.get("found")}
    unjoined = 0
    for doc in docs:
        query = found.get(doc["query_id"])
        doc["joined"] = query is not None
        if query is None:
            unjoined += 1
            continue
        for name in JOIN_FIELDS:
            if query.get(name) is not None:
                doc[name] = query[name]
    return unjoined


def write_dead_letters(client: OpenSearch, settings: Settings, rejected: list[Rejected],
                       source: str) -> None:
    """Store refusals; ``_id`` is a hash of the payload so replays do not pile up copies."""
    received_at = format_ts(datetime.now(timezone.utc))
    actions: list[dict[str, Any]] = []
    for item in rejected:
        raw = item.payload.encode("utf-8")
        digest = hashlib.sha256(raw).hexdigest()[:40]
        actions.append(action("create", settings.deadletter_index, digest, {
            "payload": raw[:MAX_DEADLETTER_PAYLOAD].decode("utf-8", errors="ignore"),
            "payload_bytes": len(raw), "reason": item.reason, "stage": item.stage,
            "source": source, "line": item.line, "received_at": received_at,
        }))
    for (_index, doc_id), result in _bulk(client, actions, settings).items():
        status = result.get("status", 0)
        if not (200 <= status < 300 or status == 409):
            error = result.get("error") or {}
            reason = (f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict)
                      else str(error))
            raise LtrrError(
                f"could not store a dead letter in {settings.deadletter_index} "
                f"(first refused: {doc_id}): {reason}",
                hint="fix the dead-letter index, then re-run: accepted events are de-duplicated")


def _bulk(client: OpenSearch, actions: list[dict[str, Any]], settings: Settings
          ) -> dict[tuple[str, str], dict[str, Any]]:
    try:
        return bulk_outcomes(client, actions)  # durable on success; see module doc
    except os_exc.ConnectionError:
        raise unreachable(settings, "ingesting", hint="re-run the same input when it is back: "
                          "already stored events are skipped as duplicates") from None
    except os_exc.TransportError as exc:
        if _transient(exc.status_code):
            raise EngineBusy(f"OpenSearch refused the bulk write now (status {exc.status_code}):"
                             f" {exc.error}", hint="send the same batch again later") from None
        raise LtrrError(f"bulk write refused by OpenSearch: {exc.error}") from None


def _transient(status: Any) -> bool:
    """429 (queue full, breaker, read-only-allow-delete block) and 5xx: retry later."""
    return isinstance(status, int) and (status == 429 or status >= 500)


def read_lines(stream: Iterable[str]) -> Iterator[str]:
    """JSONL lines without their newline; blank lines are kept so line numbers stay true."""
    for line in stream:
        yield line.rstrip("\r\n")
