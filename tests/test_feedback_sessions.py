"""Reformulation credit on the real node: engagement after a retyped query also teaches the
failed query of the same session."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ltrr_opensearch.feedback import SearchRecord, ingest_events, log_search, run_consumers
from ltrr_opensearch.understand import normalize_query, q2e_key

pytestmark = pytest.mark.integration

T0 = datetime.now(timezone.utc) - timedelta(minutes=30)


def search(query_id, text, hits, session, at, client="u1"):
    return SearchRecord(query_id=query_id, user_query=text, hit_ids=tuple(hits), client_id=client,
                        timestamp=at, extra={"session_id": session})


def click(query_id, entity, session, at, client="u1", action="play"):
    return {"event_id": f"{query_id}:{entity}:{action}", "action_name": action,
            "query_id": query_id, "client_id": client, "timestamp": at.isoformat(),
            "event_attributes": {"object": {"object_id": entity}, "position": {"ordinal": 0},
                                 "session_id": session}}


def derived(client, settings):
    client.indices.refresh(index=settings.ubi_events_index)
    hits = client.search(index=settings.ubi_events_index, body={
        "query": {"term": {"action_name": "reformulation"}}, "size": 100})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def test_engagement_after_a_retyped_query_credits_the_failed_one_once(client, settings):
    log_search(client, settings, [
        search("q1", "workout bangers", ["a", "b"], "s1", T0),
        search("q2", "Gym Power Hour", ["p"], "s1", T0 + timedelta(seconds=20)),
        search("q0", "gym power", ["p"], "s1", T0 - timedelta(seconds=30)),  # showed p
        search("old", "pump it", ["c"], "s1", T0 - timedelta(hours=2)),  # outside the window
    ], refresh="wait_for")
    events = [click("q2", "p", "s1", T0 + timedelta(seconds=25))]
    first = ingest_events(client, settings, events)
    again = ingest_events(client, settings, events)

    credits = derived(client, settings)
    assert set(credits) == {"r:q1:p"}
    doc = credits["r:q1:p"]
    assert doc["query_id"] == "q1" and doc["credited_from"] == "q2"
    assert doc["q2e_key"] == q2e_key(normalize_query("workout bangers"))
    assert (first.reformulations, again.reformulations, again.duplicates) == (1, 0, 1)


def test_credited_slang_reaches_the_q2e_memory(client, settings):
    from ltrr_opensearch.catalog.embed import make_embedder
    from ltrr_opensearch.catalog.index import ensure_catalog

    embedder = make_embedder("tfidf").fit(["gym power hour playlist", "quiet piano"])
    ensure_catalog(client, settings, embedder)
    client.index(index=settings.catalog_alias, id="p", refresh=True,
                 body={"id": "p", "entity_type": "playlist", "title": "Gym Power Hour"})
    records, events = [], []
    for n, user in enumerate(("u1", "u2", "u3")):  # three users, same slang, same retype
        at = T0 + timedelta(minutes=n)
        records += [search(f"{user}-1", "workout bangers", ["x"], f"s-{user}", at, user),
                    search(f"{user}-2", "gym power hour", ["p"], f"s-{user}",
                           at + timedelta(seconds=20), user)]
        events.append(click(f"{user}-2", "p", f"s-{user}", at + timedelta(seconds=25), user))
    log_search(client, settings, records, refresh="wait_for")
    ingest_events(client, settings, events)
    run_consumers(client, settings, settle_seconds=0)

    key = q2e_key(normalize_query("workout bangers"))
    hits = client.search(index=settings.catalog_alias, body={
        "query": {"rank_feature": {"field": f"q2e.{key}"}}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["p"]


def test_clients_cannot_send_reformulation_events(client, settings):
    forged = click("q9", "p", "s9", T0, action="reformulation")
    report = ingest_events(client, settings, [json.dumps(forged)])
    assert report.accepted == 0 and report.dead_lettered == 1
    assert "derived by ltrr" in report.examples[0].reason
