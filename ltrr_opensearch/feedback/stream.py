"""Reading the query and event logs in a stable order, resuming from checkpoints.

Each log is read sorted by (arrival time, doc key) with ``search_after``; a consumer's
position in each log is one doc in the state index (``_id = checkpoint:<consumer>:<log>``),
written only after the consumer applied the batch. A crash between the two re-applies that
batch on restart, which is harmless because every consumer recomputes its outputs from all
the logs hold for a key (idempotent) instead of incrementing them. ``search_after`` rather
than ``helpers.scan``: a checkpoint is a sort position a later run resumes from, which a
scroll cannot give. Full reads without a checkpoint use :func:`ltrr_opensearch.bulk.scan`;
:class:`History` reads what a checkpoint covers for keys a consumer does not hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.events import format_ts, parse_timestamp


@dataclass(frozen=True)
class Log:
    name: str  # "queries" | "events"
    index: str
    time_field: str  # when the doc arrived (stamped by us, not by the client)
    key_field: str  # unique per doc: the tie-breaker of the sort


def logs(settings: Settings) -> tuple[Log, Log]:
    return (Log("queries", settings.ubi_queries_index, "logged_at", "query_id"),
            Log("events", settings.ubi_events_index, "ingested_at", "event_key"))


def checkpoint_id(consumer: str, log: str) -> str:
    return f"checkpoint:{consumer}:{log}"


def load_checkpoint(client: OpenSearch, settings: Settings, consumer: str,
                    log: str) -> tuple[list[Any] | None, int]:
    """(sort values of the last applied doc or None, docs processed so far)."""
    # mget, not get: a missing checkpoint is normal and should not log a 404 warning.
    doc = client.mget(index=settings.state_index,
                      body={"ids": [checkpoint_id(consumer, log)]})["docs"][0]
    if not doc.get("found"):
        return None, 0
    return doc["_source"]["position"]["after"], int(doc["_source"].get("processed", 0))


def save_checkpoint(client: OpenSearch, settings: Settings, consumer: str, log: str,
                    after: list[Any], processed: int) -> None:
    client.index(index=settings.state_index, id=checkpoint_id(consumer, log), body={
        "kind": "checkpoint", "consumer": consumer, "stream": log,
        "position": {"after": after}, "processed": processed,
        "updated_at": format_ts(datetime.now(timezone.utc)),
    })


def up_to(log: Log, after: list[Any] | None) -> dict[str, Any] | None:
    """A query clause for the docs of ``log`` at or before the sort position ``after`` (what
    a consumer at that checkpoint has applied); None when nothing was applied yet."""
    if after is None:
        return None
    arrived, key = after
    return {"bool": {"minimum_should_match": 1, "should": [
        {"range": {log.time_field: {"lt": arrived, "format": "epoch_millis"}}},
        {"bool": {"filter": [
            {"range": {log.time_field: {"gte": arrived, "lte": arrived,
                                        "format": "epoch_millis"}}},
            {"range": {log.key_field: {"lte": key}}}]}}]}}


class History:
    """Reading the docs of a log that a checkpoint covers, for keys a consumer does not hold:
    :attr:`clause` narrows a search to docs that arrived by the checkpoint's millisecond (a
    single range: cheap next to the keys' own clauses) and :meth:`covers` drops the docs of
    that millisecond past it. Searches must return the log's time and key fields."""

    def __init__(self, log: Log, after: list[Any] | None) -> None:
        self.log, self.after = log, after
        self.clause = (None if after is None else
                       {"range": {log.time_field: {"lte": after[0], "format": "epoch_millis"}}})

    @property
    def fields(self) -> list[str]:
        return [self.log.time_field, self.log.key_field]

    def covers(self, doc: Mapping[str, Any]) -> bool:
        if self.after is None:
            return False
        arrived = round(parse_timestamp(doc[self.log.time_field]).timestamp() * 1000)
        return (arrived, doc[self.log.key_field]) <= (self.after[0], self.after[1])


def read_pages(client: OpenSearch, log: Log, after: list[Any] | None, until: datetime,
               page_size: int, source: list[str] | None = None
               ) -> Iterator[list[dict[str, Any]]]:
    """Pages of hits (with ``sort`` values) after ``after``, up to arrival time ``until``;
    ``source`` names the fields to return (None: the whole doc)."""
    query = {"range": {log.time_field: {"lte": format_ts(until)}}}
    while True:
        body: dict[str, Any] = {
            "size": page_size, "query": query, "track_total_hits": False,
            "sort": [{log.time_field: "asc"}, {log.key_field: "asc"}],
        }
        if source is not None:
            body["_source"] = source
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=log.index, body=body)["hits"]["hits"]
        if not hits:
            return
        yield hits
        after = hits[-1]["sort"]
        if len(hits) < page_size:
            return


def read_batches(client: OpenSearch, log: Log, after: list[Any] | None, until: datetime,
                 page_size: int, batch_size: int, source: list[str] | None = None
                 ) -> Iterator[list[dict[str, Any]]]:
    """:func:`read_pages` gathered into batches of at least ``batch_size`` docs (the last
    one may be smaller): a consumer applies a batch at once, so a key touched by many docs
    of the batch is recomputed once."""
    batch: list[dict[str, Any]] = []
    for page in read_pages(client, log, after, until, page_size, source):
        batch.extend(page)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
