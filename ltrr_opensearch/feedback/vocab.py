"""Phrases learned from engagement: the vocabulary consumer, and what understanding reads.

When the engagement of queries containing a phrase concentrates on one facet value (most
items engaged after "community colleges ..." have ``degree=associate``), query
understanding learns ``"community colleges" -> degree=associate``; the rule is in
``feedback/phrases.py``. Everything lives in ``<prefix>-vocab``
(``mappings/vocab.v1.json``), three kinds of docs (field ``record``), all recomputed from
the logs and overwritten, never incremented, like the memory's:

* ``query:<key>``: one logged query (by memory key): its candidate phrases, the kinds its
  slots already name, and its weighted events with the engaged items' values (read from
  the catalog), recomputed when new events touch the key;
* ``phrase:<phrase>``: the decision for one phrase, recomputed from every query doc that
  has it whenever one of them is;
* ``version``: rewritten whenever what is learned changes, so servers poll one doc and
  reread the learned phrases only then (:func:`follow_learned`).

What understanding reads of it (the learned phrases, the version, the decisions) is in
``feedback/learned.py``: the gazetteer reads the learned phrases when it is built
(:meth:`Gazetteer.from_index`) and ``ltrr serve`` follows them on its resync interval.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.bulk import action, bulk_write, scan
from ltrr_opensearch.catalog.description import (
    ID_FROM_DOCUMENT,
    TYPE_KIND,
    CatalogDescription,
    description_for,
)
from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.config import FeedbackConfig, VocabConfig
from ltrr_opensearch.feedback.events import format_ts, parse_timestamp
from ltrr_opensearch.feedback.indices import vocab_index
from ltrr_opensearch.feedback.ingest import join_events
from ltrr_opensearch.feedback.learned import VERSION_ID
from ltrr_opensearch.feedback.phrases import (
    EngagedEvent,
    PhraseDecision,
    QueryEvidence,
    candidate_phrases,
    decide,
)

if TYPE_CHECKING:
    from ltrr_opensearch.understand import Gazetteer

logger = logging.getLogger(__name__)

_CHUNK = 100  # keys or phrases per _msearch


def learnable_kinds(description: CatalogDescription) -> dict[str, str]:
    """kind -> keyword field of what a phrase can be learned for: the facets and the
    entity type."""
    kinds = dict(description.facets)
    if description.type:
        kinds[TYPE_KIND] = description.type
    return kinds


def doc_id(record: str, name: str) -> str:
    doc = f"{record}:{name}"
    if len(doc.encode("utf-8")) > 500:  # OpenSearch caps _id at 512 bytes
        doc = f"{record}:#" + hashlib.sha256(doc.encode("utf-8")).hexdigest()
    return doc


class VocabConsumer:
    """Keeps the learned phrases in step with the logs (a feedback consumer)."""

    name = "vocab"

    def __init__(self, client: OpenSearch, settings: Settings,
                 config: VocabConfig | None = None, feedback: FeedbackConfig | None = None,
                 gazetteer: Gazetteer | None = None) -> None:
        self.client, self.settings = client, settings
        self.config = config or VocabConfig.from_settings(settings)
        self.feedback = feedback or FeedbackConfig.from_settings(settings)
        self.weighted = sorted(a for a in self.feedback.actions if self.feedback.weight(a) > 0)
        self.description = description_for(settings)
        # Nothing to learn: no facet nor type, or [vocab] learn = false.
        self.kinds = learnable_kinds(self.description) if self.config.learn else {}
        self._gazetteer = gazetteer  # the base vocabulary (no learned phrases), read lazily
        self._rate_cache: dict[tuple[str, str], float] = {}
        self._value_cache: dict[str, dict[str, tuple[str, ...]] | None] = {}

    # -- which query keys a page of the logs touches ---------------------------------------
    def keys_from_events(self, hits: list[dict[str, Any]]) -> set[str]:
        if not self.kinds:
            return set()
        late = [(h["_id"], h["_source"]) for h in hits if not h["_source"].get("joined")]
        if late:
            self._rejoin(late)
        return {d["q2e_key"] for d in (h["_source"] for h in hits)
                if d.get("joined") and d.get("q2e_key") and d["action_name"] in self.weighted}

    def keys_from_queries(self, hits: list[dict[str, Any]]) -> set[str]:
        """Keys of new queries that already have engagement: events that arrived before
        their query was logged were not joined when this consumer read them."""
        if not self.kinds:
            return set()
        ids = [h["_source"]["query_id"] for h in hits if h["_source"].get("q2e_key")]
        if not ids:
            return set()
        events = [(h["_id"], h["_source"]) for h in scan(
            self.client, self.settings.ubi_events_index, {"bool": {"filter": [
                {"terms": {"query_id": ids}}, {"terms": {"action_name": self.weighted}}]}})]
        late = [(doc_id_, doc) for doc_id_, doc in events if not doc.get("joined")]
        if late:
            self._rejoin(late)
        return {doc["q2e_key"] for _, doc in events if doc.get("joined") and doc.get("q2e_key")}

    def _rejoin(self, late: list[tuple[str, dict[str, Any]]]) -> None:
        join_events(self.client, self.settings, [d for _, d in late])
        actions = [action("update", self.settings.ubi_events_index, event_id, {"doc": {
            k: doc.get(k) for k in ("joined", "query", "normalized", "q2e_key")}})
            for event_id, doc in late if doc["joined"]]
        if actions:
            bulk_write(self.client, actions, "late event joins", refresh=True)

    # -- recompute -------------------------------------------------------------------------
    def apply(self, keys: set[str], now: datetime | None = None) -> int:
        now = now or datetime.now(timezone.utc)
        index = vocab_index(self.settings)
        written = 0
        phrases: set[str] = set()
        ordered = sorted(keys)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start:start + _CHUNK]
            before = self._stored_phrases(chunk)
            queries = self._queries(chunk, now)
            actions = [action("index", index, doc_id("query", q.key), _query_doc(q, now))
                       for q in queries.values()]
            actions += [action("delete", index, doc_id("query", key))
                        for key in chunk if key not in queries and key in before]
            phrases.update(p for q in queries.values() for p in q.phrases)
            phrases.update(p for found in before.values() for p in found)
            # Forced refresh: the phrase decisions below read these docs.
            written += bulk_write(self.client, actions, "vocabulary query docs", refresh=True,
                                  ok=(404,))
        if phrases:
            written += self._decide(sorted(phrases), now)
        return written

    def _base(self) -> Gazetteer:
        if self._gazetteer is None:
            from ltrr_opensearch.retrieve.resources import gazetteer_for

            # Candidates are what the catalog's own vocabulary leaves uncovered: a phrase
            # already learned must stay a candidate, or its evidence would never be renewed.
            self._gazetteer = gazetteer_for(self.client, self.settings).with_learned(())
        return self._gazetteer

    def _stored_phrases(self, keys: Sequence[str]) -> dict[str, list[str]]:
        response = self.client.mget(index=vocab_index(self.settings), body={
            "ids": [doc_id("query", k) for k in keys]}, _source=["phrases"])
        return {key: list(doc["_source"].get("phrases") or [])
                for key, doc in zip(keys, response["docs"], strict=True) if doc.get("found")}

    def _queries(self, keys: Sequence[str], now: datetime) -> dict[str, QueryEvidence]:
        """Each key's weighted events with the engaged items' values, and what its newest
        searches showed (the baseline engagement is compared with); keys without such
        events (or whose items are all gone from the catalog) are left out."""
        now_ms = int(now.timestamp() * 1000)
        until = {"range": {"timestamp": {"lte": now_ms, "format": "epoch_millis"}}}
        searches: list[dict[str, Any]] = []
        for key in keys:
            searches += [{"index": self.settings.ubi_events_index}, {
                "size": self.config.max_events_per_query, "sort": [{"timestamp": "desc"}],
                "_source": ["client_id", "action_name", "timestamp", "normalized",
                            "event_attributes.object.object_id"],
                "query": {"bool": {"filter": [
                    {"term": {"q2e_key": key}}, {"terms": {"action_name": self.weighted}},
                    until]}}}]
            searches += [{"index": self.settings.ubi_queries_index}, {
                "size": self.config.max_searches_per_query, "sort": [{"timestamp": "desc"}],
                "_source": ["query_response_hit_ids", "timestamp"],
                "query": {"bool": {"filter": [{"term": {"q2e_key": key}}, until]}}}]
        responses = _msearch(self.client, searches, "reading the events of a query")
        hits = {key: [h["_source"] for h in responses[2 * i]["hits"]["hits"]]
                for i, key in enumerate(keys)}
        served = {key: [h["_source"] for h in responses[2 * i + 1]["hits"]["hits"]]
                  for i, key in enumerate(keys)}
        engaged = {h["event_attributes"]["object"]["object_id"]
                   for found in hits.values() for h in found}
        shown_ids = {i for found in served.values() for s in found
                     for i in (s.get("query_response_hit_ids") or ())}
        values = self._values(engaged | shown_ids)
        if not any(entity in values for entity in engaged):
            return {}
        gazetteer = self._base()
        out: dict[str, QueryEvidence] = {}
        for key, found in hits.items():
            events = tuple(EngagedEvent(h["client_id"], h["action_name"],
                                        parse_timestamp(h["timestamp"]), values[entity], entity)
                           for h in found
                           if (entity := h["event_attributes"]["object"]["object_id"]) in values)
            normalized = next((h.get("normalized") for h in found if h.get("normalized")), "")
            if not events or not normalized:
                continue
            tokens = gazetteer.rewrite(normalized.split())
            matches = gazetteer.match(tokens)
            covered = {i for m in matches for i in range(m.start, m.end)}
            shown, mass = shown_values(served[key], values, now, self.config.half_life_days)
            out[key] = QueryEvidence(
                key, normalized, candidate_phrases(tokens, covered, self.config.max_phrase_tokens),
                frozenset(m.slot.kind for m in matches), events, shown, mass)
        return out

    def _values(self, entities: set[str]) -> dict[str, dict[str, tuple[str, ...]]]:
        """:func:`entity_values`, kept for the life of this consumer (one run): the items
        popular searches show come back for key after key."""
        missing = sorted(entities - set(self._value_cache))
        if missing:
            found = entity_values(self.client, self.settings, self.description, missing)
            for entity in missing:
                self._value_cache[entity] = found.get(entity)
        return {e: v for e in entities if (v := self._value_cache.get(e)) is not None}

    def _decide(self, phrases: Sequence[str], now: datetime) -> int:
        index = vocab_index(self.settings)
        decisions: list[PhraseDecision] = []
        for start in range(0, len(phrases), _CHUNK):
            chunk = phrases[start:start + _CHUNK]
            searches: list[dict[str, Any]] = []
            for phrase in chunk:
                searches.append({"index": index})
                searches.append({
                    "size": self.config.max_queries_per_phrase,
                    "sort": [{"computed_at": "desc"}, {"key": "asc"}],
                    "query": {"bool": {"filter": [{"term": {"record": "query"}},
                                                  {"term": {"phrases": phrase}}]}}})
            responses = _msearch(self.client, searches, "reading the queries of a phrase")
            found = {phrase: [query_evidence(h["_source"]) for h in response["hits"]["hits"]]
                     for phrase, response in zip(chunk, responses, strict=True)}
            rates = self._rates({(kind, value) for queries in found.values()
                                 for q in queries for e in q.events
                                 for kind, values in e.values.items() for value in values})
            decisions.extend(decide(phrase, queries, self.feedback.weights, self.config, now,
                                    rates) for phrase, queries in found.items())
        before = self.client.mget(index=index, body={
            "ids": [doc_id("phrase", d.phrase) for d in decisions]},
            _source=["eligible", "kind", "value", "share"])["docs"]
        changed = any(_served(d.doc()) != _served(old.get("_source") if old.get("found")
                                                  else None)
                      for d, old in zip(decisions, before, strict=True))
        actions = [action("index", index, doc_id("phrase", d.phrase), d.doc())
                   for d in decisions if d.queries or d.eligible]
        actions += [action("delete", index, doc_id("phrase", d.phrase))
                    for d, old in zip(decisions, before, strict=True)
                    if not d.queries and old.get("found")]
        written = bulk_write(self.client, actions, "vocabulary phrase docs", refresh=True,
                             ok=(404,))
        if changed:
            new_version(self.client, self.settings, now)
        return written

    def _rates(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """The share of the catalog's items that have each (kind, value): one aggregation
        per kind, kept for the life of this consumer (one run)."""
        missing = sorted(pairs - set(self._rate_cache))
        kinds = sorted({kind for kind, _ in missing if kind in self.kinds})
        if kinds:
            searches: list[dict[str, Any]] = []
            for kind in kinds:
                values = sorted(v for k, v in missing if k == kind)
                searches.append({"index": self.description.target(self.settings)})
                searches.append({"size": 0, "track_total_hits": True, "aggs": {"values": {
                    "terms": {"field": self.kinds[kind], "include": values,
                              "size": len(values)}}}})
            responses = self.client.msearch(body=searches)["responses"]
            for kind, response in zip(kinds, responses, strict=True):
                if "error" in response:  # no catalog (any more): every rate stays 0
                    continue
                items = max(1, int(response["hits"]["total"]["value"]))
                for bucket in response["aggregations"]["values"]["buckets"]:
                    self._rate_cache[(kind, str(bucket["key"]))] = bucket["doc_count"] / items
        for pair in missing:
            self._rate_cache.setdefault(pair, 0.0)
        return {pair: self._rate_cache[pair] for pair in pairs}


def new_version(client: OpenSearch, settings: Settings, now: datetime) -> str:
    """Mark the learned vocabulary as changed (servers reread it on their next resync)."""
    version = f"{format_ts(datetime.now(timezone.utc))}/{uuid.uuid4().hex[:8]}"
    client.index(index=vocab_index(settings), id=VERSION_ID, refresh=True, body={
        "record": "version", "version": version, "computed_at": format_ts(now)})
    return version


def relearn(client: OpenSearch, settings: Settings, now: datetime | None = None,
            settle_seconds: float | None = None) -> int:
    """Recompute the learned vocabulary from the whole log: its docs and the vocabulary
    consumer's checkpoints are dropped and the consumer is run from the start (after a
    facet or a synonym was added, which changes what can be learned). Returns the docs
    written."""
    from ltrr_opensearch.feedback.consumers import run_consumers
    from ltrr_opensearch.feedback.indices import ensure_feedback_indices
    from ltrr_opensearch.feedback.stream import checkpoint_id, logs

    ensure_feedback_indices(client, settings)
    now = now or datetime.now(timezone.utc)
    client.delete_by_query(index=vocab_index(settings), refresh=True, conflicts="proceed",
                           body={"query": {"terms": {"record": ["query", "phrase"]}}})
    for log in logs(settings):
        client.delete(index=settings.state_index, id=checkpoint_id(VocabConsumer.name, log.name),
                      ignore=[404], refresh=True)
    runs = run_consumers(client, settings, [VocabConsumer(client, settings)], now=now,
                         settle_seconds=settle_seconds)
    new_version(client, settings, now)  # phrases no longer supported at all went too
    return sum(run.outputs for run in runs)


def _served(doc: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """What serving uses of a phrase doc: a change here is a new vocabulary version."""
    if not doc or not doc.get("eligible"):
        return None
    return (doc.get("kind"), doc.get("value"), round(float(doc.get("share") or 0.0), 2))


def shown_values(searches: Sequence[Mapping[str, Any]],
                 values: Mapping[str, Mapping[str, tuple[str, ...]]], now: datetime,
                 half_life_days: float) -> tuple[dict[str, dict[str, float]], float]:
    """What a query's searches showed, per kind and value: each shown item weighs
    1 / log2(rank + 2) (users look at the top more) times the search's decay; and the
    total weight. The values engagement must stand out from."""
    from ltrr_opensearch.feedback.scoring import decay

    shown: dict[str, dict[str, float]] = {}
    mass = 0.0
    for search in searches:
        age = (now - parse_timestamp(search["timestamp"])).total_seconds()
        fresh = decay(age, half_life_days)
        for rank, entity in enumerate(search.get("query_response_hit_ids") or ()):
            weight = fresh / math.log2(rank + 2)
            mass += weight
            for kind, found in (values.get(entity) or {}).items():
                for value in set(found):
                    shown.setdefault(kind, {})[value] = shown.get(kind, {}).get(value, 0.0) \
                        + weight
    return shown, mass


def _query_doc(query: QueryEvidence, now: datetime) -> dict[str, Any]:
    return {"record": "query", "key": query.key, "query": query.query,
            "phrases": list(query.phrases), "named_kinds": sorted(query.named_kinds),
            "shown": query.shown, "shown_mass": query.shown_mass,
            "events": [{"client_id": e.client_id, "action": e.action, "entity": e.entity_id,
                        "timestamp": format_ts(e.timestamp),
                        "values": {k: list(v) for k, v in e.values.items()}}
                       for e in query.events],
            "computed_at": format_ts(now)}


def query_evidence(doc: Mapping[str, Any]) -> QueryEvidence:
    """A stored query doc read back."""
    return QueryEvidence(
        doc["key"], doc.get("query") or "", tuple(doc.get("phrases") or ()),
        frozenset(doc.get("named_kinds") or ()),
        tuple(EngagedEvent(e["client_id"], e["action"], parse_timestamp(e["timestamp"]),
                           {k: tuple(v) for k, v in (e.get("values") or {}).items()},
                           e.get("entity", ""))
              for e in doc.get("events") or ()),
        {k: dict(v) for k, v in (doc.get("shown") or {}).items()},
        float(doc.get("shown_mass") or 0.0))


def entity_values(client: OpenSearch, settings: Settings, description: CatalogDescription,
                  entities: Sequence[str]) -> dict[str, dict[str, tuple[str, ...]]]:
    """entity id -> {kind: its values} for the learnable kinds, as the index stores them
    (doc values: what the keyword fields match and the gazetteer holds). Entities missing
    from the catalog are left out."""
    kinds = learnable_kinds(description)
    if not entities or not kinds:
        return {}
    by_id = description.managed or description.id == ID_FROM_DOCUMENT
    fields = sorted(set(kinds.values()) | (set() if by_id else {description.id}))
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    target = description.target(settings)
    for start in range(0, len(entities), 500):
        chunk = list(entities[start:start + 500])
        query = ({"ids": {"values": chunk}} if by_id
                 else {"terms": {description.id: chunk}})
        try:
            response = client.search(index=target, body={
                "size": 2 * len(chunk), "_source": False, "track_total_hits": False,
                "docvalue_fields": fields, "query": query})
        except os_exc.NotFoundError:
            logger.warning("catalog %r does not exist: nothing learned about its values",
                           target)
            return {}
        for hit in response["hits"]["hits"]:
            found = hit.get("fields", {})
            ids = [hit["_id"]] if by_id else [str(v) for v in found.get(description.id, [])]
            values = {kind: tuple(str(v) for v in found.get(field, []))
                      for kind, field in kinds.items()}
            for entity in ids:
                out[entity] = values
    return out


def _msearch(client: OpenSearch, searches: list[dict[str, Any]],
             what: str) -> list[dict[str, Any]]:
    from ltrr_opensearch.feedback.rewards import _check

    responses = client.msearch(body=searches)["responses"]
    for response in responses:
        if "error" in response:
            _check({"errors": True, "items": [{"search": response}]}, what)
    return list(responses)
