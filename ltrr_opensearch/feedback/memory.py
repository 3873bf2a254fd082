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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.feedback.cache import KeyCache
from ltrr_opensearch.feedback.config import FeedbackConfig, MemoryConfig
from ltrr_opensearch.feedback.events import parse_timestamp
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.feedback.ingest import join_events
from ltrr_opensearch.feedback.scoring import PairEvent, merge_q2e, score_pair
from ltrr_opensearch.feedback.stream import logs, up_to

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


# What the memory consumer reads of an event (the late join writes back only its fields).
MEMORY_EVENT_FIELDS = ["query_id", "client_id", "action_name", "timestamp", "joined", "query",
                       "normalized", "q2e_key", "event_attributes.object.object_id"]
_PAIRS_PER_READ = 250  # pairs per read of their events: 2 clauses each, 1024 at most
# Pairs per aggregation of their impressions: two terms lists of at most this many values
# (the engine accepts 65,536), and buckets returned a page at a time.
_PAIRS_PER_AGGREGATION = 20_000
_BUCKETS_PER_PAGE = 10_000


@dataclass
class PairLog:
    """What the memory consumer keeps of one pair's weighted, joined events."""

    events: dict[str, PairEvent] = field(default_factory=dict)  # by event key: idempotent
    normalized: str | None = None  # the query text of the pair's key, as joined
    scored: bool = False  # this process wrote the pair's evidence doc (it is remembered)

    def add(self, event_key: str, doc: Mapping[str, Any]) -> None:
        self.events[event_key] = PairEvent(doc["client_id"], doc["action_name"],
                                           parse_timestamp(doc["timestamp"]))
        if self.normalized is None:
            self.normalized = doc.get("normalized")

    def newest(self, now: datetime, limit: int) -> list[PairEvent]:
        """The ``limit`` newest events up to ``now`` (what a pair's score reads)."""
        events = sorted((e for e in self.events.values() if e.timestamp <= now),
                        key=lambda e: e.timestamp, reverse=True)
        return events[:limit]

    def trim(self, limit: int) -> None:
        # Only the newest events up to ``now`` are scored; keep twice that many so events
        # stamped a little in the future (replays) do not push out ones that still count.
        if len(self.events) > 2 * limit:
            keep = sorted(self.events.items(), key=lambda kv: kv[1].timestamp)[-2 * limit:]
            self.events = dict(keep)


class MemoryConsumer:
    """Keeps Q2E evidence and the catalog's ``q2e`` field in step with the logs.

    A pair's score reads its weighted events and its impressions. The consumer keeps each
    pair's events (:class:`PairLog`, in a :class:`~ltrr_opensearch.feedback.cache.KeyCache`)
    and folds new ones in; pairs it does not hold are read from the event log in one bulk
    read per batch. Impressions are summed by the engine for all touched pairs at once (one
    paged aggregation), since a re-logged search can change what was shown."""

    name = "memory"
    sources = {"queries": ["query_id", "q2e_key", "query_response_hit_ids"],
               "events": MEMORY_EVENT_FIELDS}

    def __init__(self, client: OpenSearch, settings: Settings,
                 config: MemoryConfig | None = None,
                 feedback: FeedbackConfig | None = None) -> None:
        self.client, self.settings = client, settings
        self.config = config or MemoryConfig.from_settings(settings)
        self.feedback = feedback or FeedbackConfig.from_settings(settings)
        self.weighted = sorted(a for a in self.feedback.actions if self.feedback.weight(a) > 0)
        self.cache: KeyCache[PairLog] = KeyCache(self.feedback.consumer_cache_keys)
        # The batch being applied: its weighted, joined events per pair, by event key.
        self._new: dict[Pair, dict[str, Mapping[str, Any]]] = {}

    # -- which pairs a batch of the logs touches ------------------------------------------
    def keys_from_events(self, hits: list[dict[str, Any]]) -> set[Pair]:
        self._new = {}
        late = [(h["_id"], h["_source"]) for h in hits if not h["_source"].get("joined")]
        if late:
            self._rejoin(late)
        return self._note((h["_id"], h["_source"]) for h in hits)

    def keys_from_queries(self, hits: list[dict[str, Any]]) -> set[Pair]:
        self._new = {}
        queries = [h["_source"] for h in hits if h["_source"].get("q2e_key")]
        # Events that arrived before their query was logged can be joined now.
        ids = [q["query_id"] for q in queries]
        pairs: set[Pair] = set()
        if ids:
            late = [(h["_id"], h["_source"]) for h in scan(
                self.client, self.settings.ubi_events_index, {"bool": {"filter": [
                    {"terms": {"query_id": ids}}, {"term": {"joined": False}}]}},
                source=MEMORY_EVENT_FIELDS)]
            if late:
                self._rejoin(late)
                pairs |= self._note(late)
        # New impressions change the score of pairs already remembered, nothing else.
        shown = {(q["q2e_key"], hit) for q in queries for hit in q.get("query_response_hit_ids")
                 or []}
        return pairs | self._remembered(shown)

    def _note(self, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> set[Pair]:
        """The pairs of the weighted, joined events among ``docs`` (kept for :meth:`apply`
        to fold in)."""
        touched: set[Pair] = set()
        for event_key, doc in docs:
            if not (doc.get("joined") and doc.get("q2e_key")
                    and doc["action_name"] in self.weighted):
                continue
            pair = (doc["q2e_key"], doc["event_attributes"]["object"]["object_id"])
            touched.add(pair)
            self._new.setdefault(pair, {})[event_key] = doc
        return touched

    def _rejoin(self, late: list[tuple[str, dict[str, Any]]]) -> None:
        join_events(self.client, self.settings, [d for _, d in late])
        actions = [action("update", self.settings.ubi_events_index, doc_id, {"doc": {
            k: doc.get(k) for k in ("joined", "query", "normalized", "q2e_key")}})
            for doc_id, doc in late if doc["joined"]]
        if actions:
            bulk_write(self.client, actions, "late event joins", refresh=True)

    def _remembered(self, pairs: set[Pair]) -> set[Pair]:
        known = {pair for pair in pairs if (held := self.cache.get(pair)) and held.scored}
        ordered = sorted(pairs - known)
        if not ordered:
            return known
        ids = [memory_doc_id("observed", k, e) for k, e in ordered]
        response = self.client.mget(index=memory_index(self.settings), body={"ids": ids},
                                    _source=False)
        return known | {pair for pair, doc in zip(ordered, response["docs"], strict=True)
                        if doc.get("found")}

    # -- recompute ---------------------------------------------------------------------
    def apply(self, pairs: set[Pair], now: datetime | None = None) -> int:
        now = now or datetime.now(timezone.utc)
        ordered = sorted(pairs)
        if not ordered:
            return 0
        logs = self._pair_logs(ordered)
        shown = self._impressions(ordered, now)
        evidence = []
        for key, entity in ordered:
            log = logs[(key, entity)]
            events = log.newest(now, self.config.max_events_per_pair)
            count, decayed, normalized = shown.get((key, entity), (0, 0.0, None))
            # The key's query text: from a search that showed the pair, else from its events
            # (both were joined from the same searches).
            query = ((normalized or log.normalized) if count
                     else log.normalized if events else "") or ""
            evidence.append(score_pair(key, query, entity, events, impressions=decayed,
                                       impressions_raw=count, weights=self.feedback.weights,
                                       config=self.config, now=now))
        actions = [action("index", memory_index(self.settings),
                          memory_doc_id("observed", item.key, item.entity_id), item.doc())
                   for item in evidence]
        # Forced refresh: the entity rebuild below must read these docs.
        bulk_write(self.client, actions, "Q2E evidence docs", refresh=True)
        for pair in ordered:
            logs[pair].scored = True
            logs[pair].trim(self.config.max_events_per_pair)
        rebuild_entities(self.client, self.settings, {e.entity_id for e in evidence},
                         self.config)
        return len(evidence)

    def _pair_logs(self, pairs: Sequence[Pair]) -> dict[Pair, PairLog]:
        """Each pair's log with the batch folded in: held ones from the cache, the others
        read from the event log up to the checkpoint (nothing to read when the cache holds
        every pair that has events)."""
        out: dict[Pair, PairLog] = {}
        missing = []
        for pair in pairs:
            held = self.cache.get(pair)
            if held is None:
                missing.append(pair)
                out[pair] = PairLog()
            else:
                out[pair] = held
        _, events_log = logs(self.settings)
        applied = up_to(events_log, (self.cache.position("events") or (None, 0))[0])
        if missing and applied is not None and not self.cache.complete:
            self._read_history(missing, applied, out)
        for pair, log in out.items():
            for event_key, doc in self._new.get(pair, {}).items():
                log.add(event_key, doc)
            self.cache.put(pair, log)
        return out

    def _read_history(self, pairs: list[Pair], applied: Mapping[str, Any],
                      out: dict[Pair, PairLog]) -> None:
        """Fill ``out`` with the weighted events of ``pairs`` up to the checkpoint: one
        read per chunk of pairs, each pair its own clause (the engine's clause limit is
        1024), so a hot key's events with other entities are not read."""
        for start in range(0, len(pairs), _PAIRS_PER_READ):
            chunk = pairs[start:start + _PAIRS_PER_READ]
            either = {"bool": {"minimum_should_match": 1, "should": [
                {"bool": {"filter": [{"term": {"q2e_key": key}},
                                     {"term": {"event_attributes.object.object_id": entity}}]}}
                for key, entity in chunk]}}
            for hit in scan(self.client, self.settings.ubi_events_index, {"bool": {"filter": [
                    either, {"terms": {"action_name": self.weighted}}, applied]}},
                    source=MEMORY_EVENT_FIELDS, page_size=5000):
                doc = hit["_source"]
                out[(doc["q2e_key"], doc["event_attributes"]["object"]["object_id"])].add(
                    hit["_id"], doc)

    def _impressions(self, pairs: Sequence[Pair], now: datetime
                     ) -> dict[Pair, tuple[int, float, str | None]]:
        """(searches that showed it, their decayed sum at ``now``, the key's query text) per
        pair that was shown, from one paged composite aggregation of the query log per
        chunk of keys (the same sum, over the same docs, as a search per pair)."""
        now_ms = int(now.timestamp() * 1000)
        half_life_ms = self.config.half_life_days * 86400_000.0
        out: dict[Pair, tuple[int, float, str | None]] = {}
        for chunk in _chunks(pairs):
            body: dict[str, Any] = {"size": 0, "track_total_hits": False, "query": {"bool": {
                "filter": [{"terms": {"q2e_key": sorted({k for k, _ in chunk})}},
                           {"terms": {"query_response_hit_ids": sorted({e for _, e in chunk})}},
                           {"range": {"timestamp": {"lte": now_ms,
                                                    "format": "epoch_millis"}}}]}},
                "aggs": {"pairs": {"composite": {"size": _BUCKETS_PER_PAGE, "sources": [
                    {"key": {"terms": {"field": "q2e_key"}}},
                    {"entity": {"terms": {"field": "query_response_hit_ids"}}},
                    {"normalized": {"terms": {"field": "normalized", "missing_bucket": True}}},
                ]}, "aggs": {"decayed": {"sum": {"script": {
                    "source": _DECAYED_SUM,
                    "params": {"now": now_ms, "half_life_ms": half_life_ms}}}}}}}}
            while True:
                result = self.client.search(index=self.settings.ubi_queries_index,
                                            body=body)["aggregations"]["pairs"]
                for bucket in result["buckets"]:
                    pair = (bucket["key"]["key"], bucket["key"]["entity"])
                    count, decayed, normalized = out.get(pair, (0, 0.0, None))
                    out[pair] = (count + bucket["doc_count"],
                                 decayed + float(bucket["decayed"]["value"] or 0.0),
                                 normalized or bucket["key"]["normalized"])
                if len(result["buckets"]) < _BUCKETS_PER_PAGE:
                    break
                body["aggs"]["pairs"]["composite"]["after"] = result["after_key"]
        return out


def _chunks(pairs: Sequence[Pair], size: int = _PAIRS_PER_AGGREGATION
            ) -> Iterator[list[Pair]]:
    """Pairs in key order, ``size`` at a time: one bulk read's terms lists stay short."""
    ordered = sorted(pairs)
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


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
    actions: list[dict[str, Any]] = []
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
        for entity, response in zip(chunk, responses, strict=True):
            if "error" in response:  # an empty answer would erase the entity's memory
                error = response["error"]
                raise LtrrError(f"reading the memory docs of entity {entity!r} failed: "
                                f"{error.get('type') if isinstance(error, dict) else error}")
            docs = [h["_source"] for h in response["hits"]["hits"]]
            q2e = merge_q2e(docs, config.max_pairs_per_entity)
            for doc_index, doc_id in where.get(entity, ()):
                actions.append({**action("update", doc_index, doc_id, {"script": {
                    "source": _SET_Q2E, "lang": "painless",
                    "params": {"q2e": q2e, "field": description.memory_field}}}),
                    "retry_on_conflict": 3})
    # One bulk and one refresh for all of them. 404: a pair for an entity not (or no
    # longer) in the catalog, skipped.
    return bulk_write(client, actions, "catalog q2e updates", refresh=True, ok=(404,))


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
