"""Reformulation credit: engagement after a retyped query also teaches the failed one.

A user who types slang ("workout bangers") and finds nothing often retypes what they meant
("gym power hour") and engages there. The only evidence linking the failed query to the
entity is that both searches happened in one session, minutes apart. For every engaged,
joined event with a ``session_id``, each *earlier* search of the same session within
``reformulation_window_seconds`` whose results did not contain the engaged entity gets a
derived event: action ``reformulation`` (its own, lower weight), the earlier search's
query id and Q2E key, and a deterministic key ``r:<earlier query>:<entity>`` so replays and
repeated engagement derive it once. The memory and reward consumers then treat it like
any other event of that earlier search.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.feedback.events import REFORMULATION, parse_timestamp

_QUERY_FIELDS = ["query_id", "query", "normalized", "q2e_key", "timestamp",
                 "query_response_hit_ids", "query_attributes.session_id"]


def session_of(event: dict[str, Any]) -> str | None:
    """UBI clients put the session either at the top level or in ``event_attributes``."""
    session = event.get("session_id") or (event.get("event_attributes") or {}).get("session_id")
    return str(session) if session else None


def reformulation_credits(client: OpenSearch, settings: Settings, docs: list[dict[str, Any]],
                          config: FeedbackConfig) -> list[dict[str, Any]]:
    """Derived ``reformulation`` event docs for the engaged, joined events in ``docs``."""
    window = config.reformulation_window_seconds
    if window <= 0 or config.weight(REFORMULATION) <= 0:
        return []
    engaged = [d for d in docs if d.get("joined") and d.get("session_id")
               and d["action_name"] != REFORMULATION and config.weight(d["action_name"]) > 0]
    if not engaged:
        return []
    sessions = sorted({d["session_id"] for d in engaged})
    hits = scan(client, settings.ubi_queries_index,  # every search of these sessions
                {"terms": {"query_attributes.session_id": sessions}}, source=list(_QUERY_FIELDS))
    by_id: dict[str, dict[str, Any]] = {}
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for hit in hits:
        query = hit["_source"]
        by_id[query["query_id"]] = query
        by_session[query["query_attributes"]["session_id"]].append(query)

    derived: dict[str, dict[str, Any]] = {}
    for event in engaged:
        own = by_id.get(event["query_id"])
        if own is None:
            continue
        engaged_at = parse_timestamp(own["timestamp"])
        entity = event["event_attributes"]["object"]["object_id"]
        for earlier in by_session.get(event["session_id"], []):
            if not earlier.get("q2e_key") or earlier["q2e_key"] == event.get("q2e_key"):
                continue
            age = (engaged_at - parse_timestamp(earlier["timestamp"])).total_seconds()
            if not 0 < age <= window or entity in (earlier.get("query_response_hit_ids") or []):
                continue
            key = f"r:{earlier['query_id']}:{entity}"
            derived[key] = {
                **event, "event_key": key, "event_id": key, "action_name": REFORMULATION,
                "query_id": earlier["query_id"], "query": earlier.get("query"),
                "normalized": earlier.get("normalized"), "q2e_key": earlier["q2e_key"],
                "joined": True, "credited_from": event["query_id"],
                "original_action": event["action_name"]}
    return list(derived.values())
