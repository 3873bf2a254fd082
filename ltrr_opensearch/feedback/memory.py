"""The Q2E memory consumer: evidence docs per (query key, entity) and the catalog's ``q2e``.

For every pair touched by new events (or by new searches that showed a remembered pair) the
consumer re-reads that pair's whole evidence from the logs, scores it
(:mod:`ltrr_opensearch.feedback.scoring`), overwrites its evidence doc in ``<prefix>-memory``
and then rewrites the ``q2e`` map of each touched entity in the catalog with one batched
bulk of scripted partial updates. Everything is recomputed, never incremented, so
re-applying a batch after a crash, or replaying events, leaves the same result.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import action, bulk_write, scan
from ltrr_opensearch.catalog.description import (
    ID_FROM_DOCUMENT,
    MEMORY_IN_INDEX,
    CatalogDescription,
    description_for,
)
from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.config import FeedbackConfig, MemoryConfig
from ltrr_opensearch.feedback.events import parse_timestamp
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.feedback.ingest import join_events
from ltrr_opensearch.feedback.rewards import _check
from ltrr_opensearch.feedback.scoring import Evidence, PairEvent, merge_q2e, score_pair

Pair = tuple[str, str]  # (q2e key, entity id)

logger = logging.getLogger(__name__)

# Replace (not merge) the map: a partial ``doc`` update would keep keys that were pruned.
# Only the memory field is touched (the description's ``[memory] field``).
_SET_Q2E = ("if (params.q2e.isEmpty()) { ctx._source.remove(params.field) } "
            "else { ctx._source[params.field] = params.q2e }")
_DECAYED_SUM = ("Math.pow(0.5, Math.max(0, params.now - doc['timestamp'].value.toInstant()"
                ".toEpochMilli()) / params.half_life_ms)")


def memory_doc_id(source: str, key: str, entity_id: str) -> str:
    doc_id = f"{source}:{key}:{entity_id}"
    if len(doc_id.encode("utf-8")) > 500:  # OpenSearch caps _id at 512 bytes
        doc_id = f"{source}:#" + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()
    return doc_id


class MemoryConsumer:
    """Keeps Q2E evidence and the catalog's ``q2e`` field in step with the logs."""

    name = "memory"

    def __init__(self, client: OpenSearch, settings: Settings,
                 config: MemoryConfig | None = None,
                 feedback: FeedbackConfig | None = None) -> None:
        self.client, self.settings = client, settings
        self.config = config or MemoryConfig.from_settings(settings)
        self.feedback = feedback or FeedbackConfig.from_settings(settings)
        self.weighted = sorted(a for a in self.feedback.actions if self.feedback.weight(a) > 0)

    # -- which pairs a page of the logs touches -------------------------------------------
    def keys_from_events(self, hits: list[dict[str, Any]]) -> set[Pair]:
        docs = [h["_source"] for h in hits]
        late = [(h["_id"], h["_source"]) for h in hits if not h["_source"].get("joined")]
        if late:
            self._rejoin(late)
        return {(d["q2e_key"], d["event_attributes"]["object"]["object_id"]) for d in docs
                if d.get("joined") and d.get("q2e_key") and d["action_name"] in self.weighted}

    def keys_from_queries(self, hits: list[dict[str, Any]]) -> set[Pair]:
        queries = [h["_source"] for h in hits if h["_source"].get("q2e_key")]
        # Events that arrived before their query was logged can be joined now.
        ids = [q["query_id"] for q in queries]
        pairs: set[Pair] = set()
        if ids:
            late = [(h["_id"], h["_source"]) for h in scan(
                self.client, self.settings.ubi_events_index, {"bool": {"filter": [
                    {"terms": {"query_id": ids}}, {"term": {"joined": False}}]}})]
            if late:
                self._rejoin(late)
                pairs |= {(d["q2e_key"], d["event_attributes"]["object"]["object_id"])
                          for _, d in late if d.get("joined") and d.get("q2e_key")}
        # New impressions change the score of pairs already remembered, nothing else.
        shown = {(q["q2e_key"], hit) for q in queries for hit in q.get("query_response_hit_ids")
                 or []}
        return pairs | self._remembered(shown)

    def _rejoin(self, late: list[tuple[str, dict[str, Any]]]) -> None:
        join_events(self.client, self.settings, [d for _, d in late])
        actions = [action("update", self.settings.ubi_events_index, doc_id, {"doc": {
            k: doc.get(k) for k in ("joined", "query", "normalized", "q2e_key")}})
            for doc_id, doc in late if doc["joined"]]
        if actions:
            bulk_write(self.client, actions, "late event joins", refresh=True)

    def _remembered(self, pairs: set[Pair]) -> set[Pair]:
        if not pairs:
            return set()
        ordered = sorted(pairs)
        ids = [memory_doc_id("observed", k, e) for k, e in ordered]
        response = self.client.mget(index=memory_index(self.settings), body={"ids": ids},
                                    _source=False)
        return {pair for pair, doc in zip(ordered, response["docs"], strict=True)
                if doc.get("found")}

    # -- recompute ---------------------------------------------------------------------
    def apply(self, pairs: set[Pair], now: datetime | None = None) -> int:
        now = now or datetime.now(timezone.utc)
        ordered = sorted(pairs)
        evidence: list[Evidence] = []
        for start in range(0, len(ordered), 100):
            evidence.extend(self._score(ordered[start:start + 100], now))
        if not evidence:
            return 0
        actions = [action("index", memory_index(self.settings),
                          memory_doc_id("observed", item.key, item.entity_id), item.doc())
                   for item in evidence]
        # Forced refresh: the entity rebuild below must read these docs.
        bulk_write(self.client, actions, "Q2E evidence docs", refresh=True)
        rebuild_entities(self.client, self.settings, {e.entity_id for e in evidence},
                         self.config)
        return len(evidence)

    def _score(self, pairs: Sequence[Pair], now: datetime) -> list[Evidence]:
        now_ms = int(now.timestamp() * 1000)
        half_life_ms = self.config.half_life_days * 86400_000.0
        searches: list[dict[str, Any]] = []
        for key, entity in pairs:
            searches.append({"index": self.settings.ubi_events_index})
            searches.append({
                "size": self.config.max_events_per_pair, "sort": [{"timestamp": "desc"}],
                "_source": ["client_id", "action_name", "timestamp", "normalized"],
                "query": {"bool": {"filter": [
                    {"term": {"q2e_key": key}},
                    {"term": {"event_attributes.object.object_id": entity}},
                    {"terms": {"action_name": self.weighted}},
                    {"range": {"timestamp": {"lte": now_ms, "format": "epoch_millis"}}}]}}})
            searches.append({"index": self.settings.ubi_queries_index})
            searches.append({
                "size": 1, "track_total_hits": True, "_source": ["normalized"],
                "query": {"bool": {"filter": [
                    {"term": {"q2e_key": key}}, {"term": {"query_response_hit_ids": entity}},
                    {"range": {"timestamp": {"lte": now_ms, "format": "epoch_millis"}}}]}},
                "aggs": {"decayed": {"sum": {"script": {
                    "source": _DECAYED_SUM,
                    "params": {"now": now_ms, "half_life_ms": half_life_ms}}}}}})
        responses = self.client.msearch(body=searches)["responses"]
        out = []
        for i, (key, entity) in enumerate(pairs):
            events_r, imps_r = responses[2 * i], responses[2 * i + 1]
            for r in (events_r, imps_r):
                if "error" in r:
                    _check({"errors": True, "items": [{"search": r}]}, "a Q2E evidence search")
            hits = events_r["hits"]["hits"]
            events = [PairEvent(h["_source"]["client_id"], h["_source"]["action_name"],
                                parse_timestamp(h["_source"]["timestamp"])) for h in hits]
            shown = imps_r["hits"]["hits"]
            query = (shown[0]["_source"].get("normalized") if shown
                     else hits[0]["_source"].get("normalized") if hits else "") or ""
            out.append(score_pair(
                key, query, entity, events,
                impressions=float(imps_r["aggregations"]["decayed"]["value"] or 0.0),
                impressions_raw=int(imps_r["hits"]["total"]["value"]),
                weights=self.feedback.weights, config=self.config, now=now))
        return out


def rebuild_entities(client: OpenSearch, settings: Settings, entity_ids: Iterable[str],
                     config: MemoryConfig) -> int:
    """Rewrite the memory map of each entity in the catalog from its memory docs; returns
    how many catalog docs were updated (entities missing from the catalog are skipped).

    The catalog is ``settings.catalog_index`` (the user's own index or the managed alias)
    and the field the description's ``[memory] field``; an entity id is mapped to its
    document ``_id`` through the description's id field when they differ. With
    ``[memory] store = "outside"`` the catalog is never written: the memory index alone
    holds the memory (:func:`memory_for_key` reads it at search time)."""
    description = description_for(settings)
    if description.memory_store != MEMORY_IN_INDEX:
        return 0
    index = settings.catalog_index
    ids = sorted(set(entity_ids))
    updated = 0
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        searches: list[dict[str, Any]] = []
        for entity in chunk:
            searches.append({"index": memory_index(settings)})
            searches.append({"size": 10 * config.max_pairs_per_entity + 100,
                             "_source": ["key", "value", "source", "eligible"],
                             "sort": [{"value": "desc"}],
                             "query": {"term": {"entity_id": entity}}})
        responses = client.msearch(body=searches)["responses"]
        where = entity_documents(client, index, description, chunk)
        actions: list[dict[str, Any]] = []
        for entity, response in zip(chunk, responses, strict=True):
            docs = [h["_source"] for h in response.get("hits", {}).get("hits", [])]
            q2e = merge_q2e(docs, config.max_pairs_per_entity)
            for doc_index, doc_id in where.get(entity, ()):
                actions.append({**action("update", doc_index, doc_id, {"script": {
                    "source": _SET_Q2E, "lang": "painless",
                    "params": {"q2e": q2e, "field": description.memory_field}}}),
                    "retry_on_conflict": 3})
        # 404: a pair for an entity not (or no longer) in the catalog, skipped.
        updated += bulk_write(client, actions, "catalog q2e updates", refresh=True, ok=(404,))
    return updated


def entity_documents(client: OpenSearch, index: str, description: CatalogDescription,
                  entities: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """entity id -> the (index, _id) of its catalog document(s). A managed catalog and a
    description with ``id = "_id"`` use the entity id as ``_id`` (no request); an own index
    with an id field is asked which documents hold these ids."""
    if description.managed or description.id == ID_FROM_DOCUMENT:
        return {entity: [(index, entity)] for entity in entities}
    response = client.search(index=index, body={
        "size": 2 * len(entities), "_source": False, "track_total_hits": False,
        "query": {"terms": {description.id: list(entities)}},
        "docvalue_fields": [description.id]})
    found: dict[str, list[tuple[str, str]]] = {}
    for hit in response["hits"]["hits"]:
        for value in hit.get("fields", {}).get(description.id, []):
            found.setdefault(str(value), []).append((hit["_index"], hit["_id"]))
    return found


# --- the memory read path when it is kept outside the catalog ---------------------------

MEMORY_CACHE_SECONDS = 5.0  # a key's entities are re-read at most this often per process
_MEMORY_CACHE_MAX = 4096
_memory_cache: dict[tuple[str, str, int], tuple[float, list[tuple[str, float]]]] = {}
_memory_cache_lock = threading.Lock()


def memory_for_key(client: OpenSearch, settings: Settings, key: str | None, size: int,
                   *, cache_seconds: float | None = None) -> list[tuple[str, float]]:
    """The remembered ``(entity id, weight)`` pairs of one query key, strongest first, read
    from the memory index (``[memory] store = "outside"``): the same rule as the catalog
    field (an eligible observed value replaces the predicted one). Cached per key for
    ``cache_seconds`` (default :data:`MEMORY_CACHE_SECONDS`; 0: always read), so repeated
    searches of a key cost no extra request."""
    if not key:
        return []
    if cache_seconds is None:
        cache_seconds = MEMORY_CACHE_SECONDS
    index = memory_index(settings)
    cache_key = (index, key, int(size))
    now = time.monotonic()
    if cache_seconds > 0:
        with _memory_cache_lock:
            hit = _memory_cache.get(cache_key)
            if hit is not None and now - hit[0] < cache_seconds:
                return hit[1]
    from opensearchpy import exceptions as os_exc

    try:
        response = client.search(index=index, body={
            "size": 10 * int(size) + 100, "track_total_hits": False,
            "_source": ["entity_id", "value", "source", "eligible"],
            "sort": [{"value": "desc"}], "query": {"term": {"key": key}}})
    except os_exc.NotFoundError:  # no memory index yet: nothing learned
        return []
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for h in response["hits"]["hits"]:
        doc = h["_source"]
        by_entity.setdefault(doc["entity_id"], []).append({**doc, "key": key})
    weights = [(entity, merged[key]) for entity, docs in by_entity.items()
               if key in (merged := merge_q2e(docs, 1))]
    ranked = sorted(weights, key=lambda ew: (-ew[1], ew[0]))[:int(size)]
    if cache_seconds > 0:
        with _memory_cache_lock:
            if len(_memory_cache) >= _MEMORY_CACHE_MAX:
                _memory_cache.clear()
            _memory_cache[cache_key] = (now, ranked)
    return ranked


def forget_memory_cache() -> None:
    with _memory_cache_lock:
        _memory_cache.clear()


def template_memory(client: OpenSearch, settings: Settings, catalog: Mapping[str, Any],
                    key: str | None, size: int) -> list[tuple[str, float]] | None:
    """The ``memory`` variable of a template that ``needs: memory``: None when the memory
    is a field of the catalog (the template reads ``catalog.memory_field``, no request),
    else the key's remembered entities from the memory index (:func:`memory_for_key`).
    A failed read leaves the memory strategy empty, never the search."""
    from opensearchpy import exceptions as os_exc

    if catalog.get("memory_field"):
        return None
    try:
        return memory_for_key(client, settings, key, size)
    except os_exc.TransportError as exc:
        logger.warning("reading the memory of key %r failed (%s): the memory strategy "
                       "returns nothing for this search", key, exc)
        return []
