"""Bandit rewards: one doc per (request, arm) in the state index, recomputed from the logs.

Rule: an arm's reward for a request is the weight of the strongest action (play 1.0 >
add_to_favorites 0.8 > click 0.5 by default) on any entity among that arm's candidates,
0 when none was engaged. Docs are written with ``_id = <query_id>:<arm>`` and
``kind: reward``; their shape is documented in docs/feedback.md for the bandit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import action, bulk_write, scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.feedback.cache import KeyCache
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.feedback.events import format_ts, parse_timestamp
from ltrr_opensearch.feedback.stream import History, logs


def engaged_weights(events: Iterable[Mapping[str, Any]], config: FeedbackConfig
                    ) -> dict[str, tuple[float, list[str]]]:
    """entity id -> (strongest action weight, action names) over the given events."""
    out: dict[str, tuple[float, list[str]]] = {}
    for event in events:
        entity = event["event_attributes"]["object"]["object_id"]
        action = event["action_name"]
        best, actions = out.get(entity, (0.0, []))
        out[entity] = (max(best, config.weight(action)), sorted({*actions, action}))
    return out


def arm_reward(candidates: Sequence[str], engaged: Mapping[str, tuple[float, list[str]]]
               ) -> tuple[float, list[str]]:
    """(reward, engaged candidate ids) for one arm of one request."""
    hits = [c for c in candidates if engaged.get(c, (0.0, []))[0] > 0]
    return max((engaged[c][0] for c in hits), default=0.0), hits


def reward_docs(query: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                config: FeedbackConfig, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """(doc id, doc) per arm of one logged query."""
    attributes = query.get("query_attributes") or {}
    engaged = engaged_weights(events, config)
    context = attributes.get("context") or {}
    logged_at = int(parse_timestamp(query["timestamp"]).timestamp() * 1000)
    docs = []
    for arm in attributes.get("arms") or []:
        reward, hits = arm_reward(arm.get("candidates") or [], engaged)
        docs.append((f"{query['query_id']}:{arm['arm']}", {
            "kind": "reward", "query_id": query["query_id"], "request_id": query["query_id"],
            "arm": arm["arm"], "k": arm.get("k"), "propensity": arm.get("propensity"),
            "took_ms": arm.get("took_ms"),
            "reward": reward, "engaged": reward > 0, "engaged_ids": hits,
            "actions": {h: engaged[h][1] for h in hits},
            "candidates": len(arm.get("candidates") or []),
            "context_version": context.get("version"), "context": context.get("values"),
            "context_names": context.get("names"), "logged_at": logged_at,
            "variant": attributes.get("variant"), "model_version": attributes.get("model_version"),
            "client_id": query.get("client_id"), "timestamp": query.get("timestamp"),
            "computed_at": format_ts(now),
        }))
    return docs


def events_by_query(client: OpenSearch, settings: Settings, query_ids: Sequence[str]
                    ) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {q: [] for q in query_ids}
    fields = ["query_id", "action_name", "event_attributes", "timestamp", "client_id"]
    # Events are acknowledged once stored, before a refresh makes them searchable.
    client.indices.refresh(index=settings.ubi_events_index, ignore_unavailable=True)
    for hit in scan(client, settings.ubi_events_index, {"terms": {"query_id": list(query_ids)}},
                    ("event_key",), fields):
        out[hit["_source"]["query_id"]].append(hit["_source"])
    return out


def logged_queries(client: OpenSearch, settings: Settings, query_ids: Sequence[str]
                   ) -> dict[str, dict[str, Any]]:
    if not query_ids:
        return {}
    response = client.mget(index=settings.ubi_queries_index, body={"ids": list(query_ids)})
    return {d["_id"]: d["_source"] for d in response["docs"] if d.get("found")}


# What the per-request consumers read of an event: the request, the entity, the action.
REQUEST_EVENT_FIELDS = ["query_id", "action_name", "event_attributes.object.object_id"]
Engagement = set[tuple[str, str]]  # (entity id, action name) of every event of one request


class PerRequestConsumer:
    """A consumer whose unit of work is a request: new query docs and new events both name
    the requests (query ids) whose outputs must be recomputed.

    A request's outputs depend only on its query doc and on which actions were taken on
    which entities (:data:`Engagement`). The consumer keeps that per request
    (:class:`~ltrr_opensearch.feedback.cache.KeyCache`) and folds the new events in; for a
    request it does not hold, the events up to its checkpoint are read from the log."""

    name = "per-request"
    sources = {"queries": ["query_id"], "events": REQUEST_EVENT_FIELDS}

    def __init__(self, client: OpenSearch, settings: Settings,
                 config: FeedbackConfig | None = None) -> None:
        self.client, self.settings = client, settings
        self.config = config or FeedbackConfig.from_settings(settings)
        self.cache: KeyCache[Engagement] = KeyCache(self.config.consumer_cache_keys)
        self._new: dict[str, Engagement] = {}  # the batch being applied, per request

    def follow(self, positions: Mapping[str, Any]) -> bool:
        """A run starts from ``positions``; see :meth:`KeyCache.follow`."""
        return self.cache.follow(positions)

    def saved(self, log: str, position: Any) -> None:
        self.cache.saved(log, position)

    def keys_from_queries(self, hits: list[dict[str, Any]]) -> set[str]:
        self._new = {}
        return {h["_source"]["query_id"] for h in hits}

    def keys_from_events(self, hits: list[dict[str, Any]]) -> set[str]:
        self._new = {}
        for hit in hits:
            event = hit["_source"]
            self._new.setdefault(event["query_id"], set()).add(
                (event["event_attributes"]["object"]["object_id"], event["action_name"]))
        return set(self._new)

    def requests(self, query_ids: set[str]
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """(query doc, events) of each logged request among ``query_ids``; the events as
        one ``{action_name, event_attributes.object.object_id}`` per distinct pair, which
        is all the reward and training rules read."""
        queries = logged_queries(self.client, self.settings, sorted(query_ids))
        # Every touched request is held, logged or not yet: a request logged later then
        # finds its early events here rather than in the log.
        held = {q: self.cache.get(q) for q in query_ids}
        history = self._history([q for q, h in held.items() if h is None])
        events: dict[str, list[dict[str, Any]]] = {}
        for query_id in query_ids:
            cached = held[query_id]
            engagement = cached if cached is not None else history[query_id]
            engagement |= self._new.get(query_id, set())
            self.cache.put(query_id, engagement)
            if query_id in queries:
                events[query_id] = [
                    {"action_name": action, "event_attributes": {"object": {"object_id": e}}}
                    for e, action in sorted(engagement)]
        return queries, events

    def _history(self, query_ids: list[str]) -> dict[str, Engagement]:
        """The engagement of each request from the event log, up to the checkpoint (none
        to read when the cache holds every request that has events)."""
        out: dict[str, Engagement] = {q: set() for q in query_ids}
        _, events_log = logs(self.settings)
        history = History(events_log, (self.cache.position("events") or (None, 0))[0])
        if not query_ids or history.clause is None or self.cache.complete:
            return out
        for hit in scan(self.client, self.settings.ubi_events_index, {"bool": {"filter": [
                {"terms": {"query_id": query_ids}}, history.clause]}},
                source=REQUEST_EVENT_FIELDS + history.fields, page_size=5000):
            event = hit["_source"]
            if history.covers(event):
                out[event["query_id"]].add((event["event_attributes"]["object"]["object_id"],
                                            event["action_name"]))
        return out


class RewardConsumer(PerRequestConsumer):
    """Recomputes the reward docs of every request touched by new queries or events."""

    name = "rewards"

    def apply(self, query_ids: set[str], now: datetime | None = None) -> int:
        now = now or datetime.now(timezone.utc)
        queries, events = self.requests(query_ids)
        actions = [action("index", self.settings.state_index, doc_id, doc)
                   for query_id, query in queries.items()
                   for doc_id, doc in reward_docs(query, events[query_id], self.config, now)]
        if actions:
            bulk_write(self.client, actions, "reward docs")
        return len(actions)


def _check(response: Mapping[str, Any], what: str) -> None:
    if response.get("errors"):
        for item in response["items"]:
            outcome = next(iter(item.values()))
            if outcome.get("error"):
                error = outcome["error"]
                raise LtrrError(f"OpenSearch refused {what}: {error.get('type')}: "
                                f"{error.get('reason')}")
