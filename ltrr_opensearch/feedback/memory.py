"""The Q2E memory consumer: evidence docs per (query key, entity) and the catalog's ``q2e``.

For every pair touched by new events (or by new searches that showed a remembered pair) the
consumer scores the pair from all its weighted events and impressions
(:mod:`ltrr_opensearch.feedback.scoring`), overwrites its evidence doc in ``<prefix>-memory``
and then rewrites the ``q2e`` map of each touched entity in the catalog with one batched
bulk of scripted partial updates. A pair's events and an entity's memory docs are kept
between batches and the new ones folded in (docs/feedback.md, "What a consumer keeps between
runs"); what is not held is read from the logs. Everything is recomputed, never
incremented, so re-applying a batch after a crash, or replaying events, leaves the same
result.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from ltrr_opensearch.feedback.events import format_ts, parse_timestamp
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.feedback.ingest import join_events
from ltrr_opensearch.feedback.scoring import PairEvent, merge_q2e, score_pair
from ltrr_opensearch.feedback.stream import History, logs

Pair = tuple[str, str]  # (q2e key, entity id)

logger = logging.getLogger(__name__)

# Replace (not merge) the map: a partial ``doc`` update would keep keys that were pruned.
# Only the memory field is touched (the description's ``[memory] field``).
_SET_Q2E = ("if (params.q2e.isEmpty()) { ctx._source.remove(params.field) } "
            "else { ctx._source[params.field] = params.q2e }")
_DECAYED_SUM = ("Math.pow(0.5, Math.max(0, params.now - doc['timestamp'].value.toInstant()"
                ".toEpochMilli()) / params.half_life_ms)")


SEEDED_MARKER = "marker:memory-seeded"  # state doc: a new token whenever seeding writes


def seeded_token(client: OpenSearch, settings: Settings) -> str | None:
    """The token `ltrr memory seed` last wrote (None: never seeded)."""
    doc = client.mget(index=settings.state_index, body={"ids": [SEEDED_MARKER]})["docs"][0]
    return doc["_source"].get("token") if doc.get("found") else None


def mark_seeded(client: OpenSearch, settings: Settings) -> None:
    """Tell memory consumers that predicted docs changed (their held entity docs are stale)."""
    client.index(index=settings.state_index, id=SEEDED_MARKER, refresh=True, body={
        "kind": "marker", "token": uuid.uuid4().hex,
        "updated_at": format_ts(datetime.now(timezone.utc))})


def memory_doc_id(source: str, key: str, entity_id: str) -> str:
    doc_id = f"{source}:{key}:{entity_id}"
    if len(doc_id.encode("utf-8")) > 500:  # OpenSearch caps _id at 512 bytes
        doc_id = f"{source}:#" + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()
    return doc_id


# What the memory consumer reads of an event (the late join writes back only its fields).
MEMORY_EVENT_FIELDS = ["query_id", "client_id", "action_name", "timestamp", "joined", "query",
                       "normalized", "q2e_key", "event_attributes.object.object_id"]
_PAIRS_PER_READ = 5000  # pairs per read of their history
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
        # Each entity's memory docs by _id (what its catalog map is merged from), held only
        # when they are all of them; also valid only until `ltrr memory seed` runs again.
        self.entities: KeyCache[dict[str, dict[str, Any]]] = KeyCache(
            self.feedback.consumer_cache_keys)
        # The batch being applied: its weighted, joined events per pair, by event key.
        self._new: dict[Pair, dict[str, Mapping[str, Any]]] = {}

    def follow(self, positions: Mapping[str, Any]) -> bool:
        """See :meth:`KeyCache.follow`; the entities' docs also follow the seed marker."""
        self.entities.follow(positions, seeded_token(self.client, self.settings))
        return self.cache.follow(positions)

    def saved(self, log: str, position: Any) -> None:
        self.cache.saved(log, position)
        self.entities.saved(log, position)

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
        shown = self._impressions(ordered, now)
        in_index = description_for(self.settings).memory_store == MEMORY_IN_INDEX
        # Entity partitions, side by side: one folds and scores while another's writes are
        # in the engine. By entity, so that each entity's map is rebuilt by one partition.
        parts: list[list[Pair]] = [[] for _ in range(_partitions(len(ordered)))]
        for pair in ordered:
            parts[zlib.crc32(pair[1].encode("utf-8")) % len(parts)].append(pair)
        if len(parts) == 1:
            return self._apply_part(parts[0], shown, now, in_index)
        with ThreadPoolExecutor(len(parts), thread_name_prefix="ltrr-memory") as pool:
            done = [pool.submit(self._apply_part, part, shown, now, in_index)
                    for part in parts]
        return sum(d.result() for d in done)

    def _apply_part(self, pairs: list[Pair],
                    shown: Mapping[Pair, tuple[int, float, str | None]], now: datetime,
                    in_index: bool) -> int:
        logs = self._pair_logs(pairs)
        docs = {}
        for key, entity in pairs:
            log = logs[(key, entity)]
            events = log.newest(now, self.config.max_events_per_pair)
            count, decayed, normalized = shown.get((key, entity), (0, 0.0, None))
            # The key's query text: from a search that showed the pair, else from its events
            # (both were joined from the same searches).
            query = ((normalized or log.normalized) if count
                     else log.normalized if events else "") or ""
            docs[memory_doc_id("observed", key, entity)] = score_pair(
                key, query, entity, events, impressions=decayed, impressions_raw=count,
                weights=self.feedback.weights, config=self.config, now=now).doc()
        # Searches read the memory index itself when it is kept outside the catalog.
        bulk_write(self.client, [action("index", memory_index(self.settings), doc_id, doc)
                                 for doc_id, doc in docs.items()],
                   "Q2E evidence docs", refresh=not in_index)
        for pair in pairs:
            logs[pair].scored = True
            logs[pair].trim(self.config.max_events_per_pair)
        if in_index:
            self._rebuild(docs)
        return len(docs)

    def _rebuild(self, written: Mapping[str, dict[str, Any]]) -> None:
        """Rewrite the catalog map of every entity among the evidence docs just written:
        from its held docs with those written over them, or, for an entity not held, from
        its docs read back from the memory index."""
        by_entity: dict[str, dict[str, dict[str, Any]]] = {}
        for doc_id, doc in written.items():
            by_entity.setdefault(doc["entity_id"], {})[doc_id] = {
                k: doc[k] for k in ("key", "value", "source", "eligible")}
        held: dict[str, dict[str, dict[str, Any]]] = {}
        missing = []
        for entity in sorted(by_entity):
            docs = self.entities.get(entity)
            if docs is None:
                missing.append(entity)
            else:
                held[entity] = docs
        if missing:
            self.client.indices.refresh(index=memory_index(self.settings))
            for entity, (docs, complete) in entity_memory(self.client, self.settings, missing,
                                                          self.config).items():
                held[entity] = docs
                if complete:  # more than a map reads: read them again each time
                    self.entities.put(entity, docs)
        maps = {}
        for entity, docs in held.items():
            docs.update(by_entity[entity])
            maps[entity] = merge_q2e(strongest(docs.values(), self.config),
                                     self.config.max_pairs_per_entity)
        write_q2e(self.client, self.settings, maps)

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
        history = History(events_log, (self.cache.position("events") or (None, 0))[0])
        if missing and history.clause is not None and not self.cache.complete:
            self._read_history(missing, history, out)
        for pair, log in out.items():
            for event_key, doc in self._new.get(pair, {}).items():
                log.add(event_key, doc)
            self.cache.put(pair, log)
        return out

    def _read_history(self, pairs: list[Pair], history: History,
                      out: dict[Pair, PairLog]) -> None:
        """Fill ``out`` with the weighted events of ``pairs`` up to the checkpoint: one
        scan per chunk of pairs, over the chunk's keys and entities. That also returns the
        other pairs of those keys and entities, complete: all are kept, so a later miss
        rarely reads again (one exact clause per pair cost the engine far more)."""
        for chunk in _chunks(pairs, _PAIRS_PER_READ):
            read = {pair: out[pair] for pair in chunk}
            for hit in scan(self.client, self.settings.ubi_events_index, {"bool": {"filter": [
                    {"terms": {"q2e_key": sorted({k for k, _ in chunk})}},
                    {"terms": {"event_attributes.object.object_id": sorted({e for _, e in chunk})}},
                    {"terms": {"action_name": self.weighted}}, history.clause]}},
                    source=MEMORY_EVENT_FIELDS + history.fields, page_size=5000):
                doc = hit["_source"]
                if history.covers(doc):
                    pair = (doc["q2e_key"], doc["event_attributes"]["object"]["object_id"])
                    read.setdefault(pair, PairLog()).add(hit["_id"], doc)
            for pair, log in read.items():
                if pair not in out:  # (another partition may hold it, folded: keep that)
                    self.cache.put_if_absent(pair, log)

    def _impressions(self, pairs: Sequence[Pair], now: datetime
                     ) -> dict[Pair, tuple[int, float, str | None]]:
        """(searches that showed it, their decayed sum at ``now``, the key's query text) per
        pair that was shown, from one paged composite aggregation of the query log per
        chunk of pairs (the same sum, over the same docs, as a search per pair)."""
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


def _partitions(pairs: int) -> int:
    """How many partitions a batch of ``pairs`` is applied in: up to 3, each of at least
    4,000 pairs (smaller ones cost more in requests than they save)."""
    return max(1, min(3, pairs // 4000))


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
    if description_for(settings).memory_store != MEMORY_IN_INDEX:
        return 0
    docs = entity_memory(client, settings, sorted(set(entity_ids)), config)
    return write_q2e(client, settings, {entity: merge_q2e(held.values(),
                                                          config.max_pairs_per_entity)
                                        for entity, (held, _) in docs.items()})


def entity_memory(client: OpenSearch, settings: Settings, entity_ids: Sequence[str],
                  config: MemoryConfig) -> dict[str, tuple[dict[str, dict[str, Any]], bool]]:
    """entity id -> (its strongest memory docs by ``_id``, whether that is all of them):
    what a memory map is merged from, one ``_msearch`` per 200 entities."""
    out: dict[str, tuple[dict[str, dict[str, Any]], bool]] = {}
    size = docs_per_entity(config)
    for start in range(0, len(entity_ids), 200):
        chunk = entity_ids[start:start + 200]
        searches: list[dict[str, Any]] = []
        for entity in chunk:
            searches.append({"index": memory_index(settings)})
            searches.append({"size": size, "track_total_hits": size + 1,
                             "_source": ["key", "value", "source", "eligible"],
                             "sort": [{"value": "desc"}],
                             "query": {"term": {"entity_id": entity}}})
        responses = client.msearch(body=searches)["responses"]
        for entity, response in zip(chunk, responses, strict=True):
            if "error" in response:  # an empty answer would erase the entity's memory
                error = response["error"]
                raise LtrrError(f"reading the memory docs of entity {entity!r} failed: "
                                f"{error.get('type') if isinstance(error, dict) else error}")
            hits = response["hits"]
            out[entity] = ({h["_id"]: h["_source"] for h in hits["hits"]},
                           hits["total"]["value"] <= size)
    return out


def docs_per_entity(config: MemoryConfig) -> int:
    # An entity's map keeps max_pairs_per_entity keys; read ten times as many docs (plus
    # room) so ineligible observed docs cannot crowd eligible ones out.
    return 10 * config.max_pairs_per_entity + 100


def strongest(docs: Iterable[dict[str, Any]], config: MemoryConfig) -> list[dict[str, Any]]:
    """The docs a map is merged from when more are held: the strongest, as read."""
    return sorted(docs, key=lambda d: -float(d["value"]))[:docs_per_entity(config)]


def write_q2e(client: OpenSearch, settings: Settings, maps: Mapping[str, dict[str, float]]
              ) -> int:
    """Replace each entity's memory map in the catalog: one bulk of scripted partial updates
    and one refresh; returns the catalog docs updated (404, an entity not or no longer in
    the catalog, is skipped)."""
    description = description_for(settings)
    ids = sorted(maps)
    actions: list[dict[str, Any]] = []
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        where = entity_documents(client, settings.catalog_index, description, chunk)
        for entity in chunk:
            for doc_index, doc_id in where.get(entity, ()):
                actions.append({**action("update", doc_index, doc_id, {"script": {
                    "source": _SET_Q2E, "lang": "painless",
                    "params": {"q2e": maps[entity], "field": description.memory_field}}}),
                    "retry_on_conflict": 3})
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
