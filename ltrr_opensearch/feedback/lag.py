"""How far each feedback consumer is behind the logs, read from its checkpoints.

Per consumer and log: the checkpoint (docs applied so far, arrival time of the last one),
how many docs arrived after it, and how long the oldest of those has waited. One
``_msearch`` for all of them; the logs are not refreshed first (a reader such as
``/metrics`` must not force refreshes), so docs stored within the last refresh interval
(1 s by default) are not counted yet. Docs younger than ``settle_seconds`` count as behind:
they are, by design (docs/feedback.md, "Checkpoints").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.feedback.events import format_ts
from ltrr_opensearch.feedback.stream import checkpoint_id, logs, up_to

CONSUMERS = ("rewards", "memory", "training")  # the worker's consumers (default_consumers)


@dataclass(frozen=True)
class ConsumerLag:
    consumer: str
    log: str  # "queries" | "events"
    processed: int  # docs applied so far
    checkpoint: str | None  # arrival time of the last doc applied (None: nothing yet)
    behind: int  # docs that arrived after the checkpoint
    seconds_behind: float  # how long the oldest of them has waited (0 when none)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def consumer_lag(client: OpenSearch, settings: Settings,
                 consumers: Sequence[str] = CONSUMERS, now: datetime | None = None
                 ) -> list[ConsumerLag]:
    """Each consumer's lag in each log, in consumer order, queries before events. Logs
    that do not exist yet count as empty."""
    now = now or datetime.now(timezone.utc)
    streams = logs(settings)
    ids = [checkpoint_id(c, log.name) for c in consumers for log in streams]
    found = client.mget(index=settings.state_index, body={"ids": ids},
                        ignore=[404])  # no state index yet: nothing applied
    docs = {d["_id"]: d["_source"] for d in found.get("docs", []) if d.get("found")}
    searches: list[dict[str, Any]] = []
    rows = []
    for consumer in consumers:
        for log in streams:
            checkpoint = docs.get(checkpoint_id(consumer, log.name))
            after = checkpoint["position"]["after"] if checkpoint else None
            applied = up_to(log, after)
            query = {"bool": {"must_not": [applied]}} if applied else {"match_all": {}}
            searches.append({"index": log.index, "ignore_unavailable": True})
            searches.append({"size": 1, "track_total_hits": True, "_source": False,
                             "query": query, "sort": [{log.time_field: "asc"}]})
            rows.append((consumer, log, checkpoint, after))
    responses = client.msearch(body=searches)["responses"]
    out = []
    for (consumer, log, checkpoint, after), response in zip(rows, responses, strict=True):
        if "error" in response:
            error = response["error"]
            raise LtrrError(f"reading how far consumer {consumer!r} is behind in the {log.name} "
                            f"log failed: {error.get('type') if isinstance(error, dict) else error}")
        hits = response["hits"]["hits"]
        oldest = hits[0]["sort"][0] if hits else None
        waited = max(0.0, now.timestamp() - oldest / 1000.0) if oldest is not None else 0.0
        out.append(ConsumerLag(
            consumer, log.name, int(checkpoint.get("processed", 0)) if checkpoint else 0,
            format_ts(datetime.fromtimestamp(after[0] / 1000.0, tz=timezone.utc))
            if after else None,
            int(response["hits"]["total"]["value"]), round(waited, 3)))
    return out
