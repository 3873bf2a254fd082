"""Logging the searches the product serves as UBI query docs.

The pipeline calls :func:`log_search` once per request (or with a list, for bulk): the doc
``_id`` is the request id, so logging the same request twice overwrites, never duplicates.
``query_attributes`` carries what the bandit and the LTR builder need later: the chosen
arms with budgets, propensities and their candidates, the variant, model version and the
context vector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import action, bulk_write
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.feedback.events import format_ts
from ltrr_opensearch.feedback.indices import ensure_log_indices
from ltrr_opensearch.feedback.keys import query_key
from ltrr_opensearch.types import ArmChoice, ContextVector


@dataclass(frozen=True)
class ArmLog:
    """One arm run for a request: its budget, propensity and the ids it returned."""

    arm: str
    k: int
    propensity: float
    candidates: tuple[str, ...] = ()
    took_ms: float | None = None  # the engine's `took` of this arm's sub-search (reward cost)

    @classmethod
    def from_choice(cls, choice: ArmChoice, candidates: Sequence[str],
                    took_ms: float | None = None) -> ArmLog:
        return cls(choice.arm, choice.k, choice.propensity, tuple(candidates), took_ms)


@dataclass(frozen=True)
class SearchRecord:
    """What the product served for one request (the input of :func:`log_search`)."""

    query_id: str  # the request id; events refer to it
    user_query: str  # what the user typed
    hit_ids: tuple[str, ...]  # what was shown, in order
    arms: tuple[ArmLog, ...] = ()
    client_id: str | None = None
    application: str = "ltrr"
    variant: str | None = None
    model_version: str | None = None
    context: ContextVector | None = None
    timestamp: datetime | None = None  # when served; defaults to now
    extra: Mapping[str, Any] = field(default_factory=dict)  # more query_attributes


def query_doc(record: SearchRecord, now: datetime | None = None) -> dict[str, Any]:
    """The UBI query doc for ``record`` (also usable in a caller's own bulk request)."""
    if not isinstance(record.query_id, str) or not record.query_id:
        raise ValidationError("a search record needs a non-empty query_id (the request id)")
    now = now or datetime.now(timezone.utc)
    try:
        normalized, key = query_key(record.user_query)
    except ValueError:
        normalized, key = "", None  # an empty query is logged but feeds no Q2E pair
    attributes: dict[str, Any] = dict(record.extra)
    attributes["arms"] = [
        {"arm": a.arm, "k": int(a.k), "propensity": float(a.propensity),
         "candidates": list(a.candidates),
         **({"took_ms": float(a.took_ms)} if a.took_ms is not None else {})}
        for a in record.arms]
    if record.variant is not None:
        attributes["variant"] = record.variant
    if record.model_version is not None:
        attributes["model_version"] = record.model_version
    if record.context is not None:
        attributes["context"] = {"version": record.context.version,
                                 "names": list(record.context.names),
                                 "values": list(record.context.values)}
    return {
        "query_id": record.query_id,
        "query": normalized,
        "user_query": record.user_query,
        "normalized": normalized,
        "q2e_key": key,
        "timestamp": format_ts(record.timestamp or now),
        "logged_at": format_ts(now),
        "client_id": record.client_id,
        "application": record.application,
        "query_response_id": record.query_id,
        "query_response_hit_ids": list(record.hit_ids),
        "query_attributes": attributes,
    }


def log_search(client: OpenSearch, settings: Settings,
               record: SearchRecord | Iterable[SearchRecord], *,
               refresh: bool | str = False) -> int:
    """Write one record or many (one bulk request); returns how many were written.

    Raises :class:`LtrrError` if OpenSearch refused any doc (the message names the first).
    """
    records = [record] if isinstance(record, SearchRecord) else list(record)
    if not records:
        return 0
    ensure_log_indices(client, settings)
    now = datetime.now(timezone.utc)
    bulk_write(client, (action("index", settings.ubi_queries_index, rec.query_id,
                               query_doc(rec, now)) for rec in records),
               "search log docs", refresh=refresh)
    return len(records)
