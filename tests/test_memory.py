"""Q2E memory against the real node: engagement -> evidence -> catalog ``q2e`` -> ranking."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ltrr_opensearch.catalog.index import catalog_body
from ltrr_opensearch.feedback import (
    ArmLog,
    SearchRecord,
    ingest_events,
    log_search,
    run_consumers,
    seed_memory,
)
from ltrr_opensearch.feedback.explain import explain
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.feedback.memory import MemoryConsumer
from ltrr_opensearch.understand.normalize import normalize_query, q2e_key

pytestmark = pytest.mark.integration

CATALOG = [
    {"id": "t1", "entity_type": "track", "title": "Halo", "artist": "Beyoncé",
     "album": "I Am... Sasha Fierce", "genres": ["pop"], "popularity": 0.9},
    {"id": "t2", "entity_type": "track", "title": "Halo", "artist": "Texas",
     "album": "White on Blonde", "genres": ["rock"], "popularity": 0.4},
    {"id": "t3", "entity_type": "track", "title": "Crazy in Love", "artist": "Beyoncé",
     "genres": ["pop"], "popularity": 0.8},
    {"id": "p1", "entity_type": "playlist", "title": "Late Night Jazz", "genres": ["jazz"],
     "moods": ["chill"], "description": "Smooth jazz for late nights.", "popularity": 0.3},
]


def make_catalog(client, settings, rows=CATALOG):
    body = catalog_body(settings, 8, {})
    index = f"{settings.catalog_alias}-v1"
    client.indices.create(index=index, body=body)
    client.indices.put_alias(index=index, name=settings.catalog_alias)
    ops = []
    for row in rows:
        ops += [{"index": {"_index": index, "_id": row["id"]}}, row]
    client.bulk(body=ops, refresh=True)


def key(text):
    return q2e_key(normalize_query(text))


def search(client, settings, query, rid, hits, user="u0", when=None):
    arms = (ArmLog("bm25", 10, 0.7, tuple(hits[:2])), ArmLog("knn", 10, 0.3, tuple(hits[2:])))
    return SearchRecord(query_id=rid, user_query=query, hit_ids=tuple(hits), arms=arms,
                        client_id=user, timestamp=when)


def event(rid, entity, action="play", client="u0", when=None, n=0):
    when = when or datetime.now(timezone.utc)
    return {"action_name": action, "query_id": rid, "client_id": client,
            "timestamp": when.isoformat(), "event_id": f"{rid}-{entity}-{action}-{client}-{n}",
            "event_attributes": {"object": {"object_id": entity}, "position": {"ordinal": 0}}}


def top_for(client, settings, query):
    body = {"query": {"rank_feature": {"field": f"q2e.{key(query)}"}}}
    hits = client.search(index=settings.catalog_alias, body=body)["hits"]["hits"]
    return [h["_id"] for h in hits]


def memory_state(client, settings):
    client.indices.refresh(index=memory_index(settings))
    hits = client.search(index=memory_index(settings), body={"size": 1000})["hits"]["hits"]
    evidence = {h["_id"]: {k: v for k, v in h["_source"].items() if k != "computed_at"}
                for h in hits}
    catalog = client.search(index=settings.catalog_alias, body={"size": 100})["hits"]["hits"]
    return evidence, {h["_id"]: h["_source"].get("q2e") for h in catalog}


def engage_halo(client, settings, when=None):
    """Three users search Beyoncé Halo differently and play t1; one clicks t2."""
    records, events = [], []
    for i, text in enumerate(["Beyoncé Halo", "beyonce halo", "BEYONCE  HALO"]):
        records.append(search(client, settings, text, f"r{i}", ["t2", "t1", "t3"], f"u{i}",
                              when))
        events.append(event(f"r{i}", "t1", "play", f"u{i}", when))
    events.append(event("r0", "t2", "click", "u0", when))
    log_search(client, settings, records, refresh="wait_for")
    return events


def test_engaged_entity_ranks_first_for_the_query_and_its_normalised_variants(client, settings):
    make_catalog(client, settings)
    ingest_events(client, settings, engage_halo(client, settings))
    run_consumers(client, settings, settle_seconds=0)
    assert top_for(client, settings, "Beyoncé Halo")[0] == "t1"
    assert top_for(client, settings, "beyonce  halo!")[0] == "t1"
    assert top_for(client, settings, "crazy in love") == []  # no evidence, no pair


def test_time_decay_lowers_a_stale_pair_and_drops_it_from_the_catalog(client, settings):
    make_catalog(client, settings)
    old = datetime.now(timezone.utc) - timedelta(days=90)
    fresh = engage_halo(client, settings)
    stale = []
    for i in range(3):
        log_search(client, settings, search(client, settings, "crazy in love", f"s{i}",
                                            ["t3"] * 1, f"u{i}", old), refresh="wait_for")
        stale.append(event(f"s{i}", "t3", "play", f"u{i}", old))
    ingest_events(client, settings, fresh + stale)
    run_consumers(client, settings, settle_seconds=0)
    evidence, catalog = memory_state(client, settings)
    fresh_doc = evidence[f"observed:{key('beyonce halo')}:t1"]
    stale_doc = evidence[f"observed:{key('crazy in love')}:t3"]
    assert stale_doc["engagement_undecayed"] == fresh_doc["engagement_undecayed"]
    assert stale_doc["value"] < fresh_doc["value"]
    assert not stale_doc["eligible"]
    assert key("crazy in love") not in (catalog["t3"] or {})


def test_one_client_spamming_plays_is_capped_and_loses_to_several_real_users(client, settings):
    make_catalog(client, settings)
    log_search(client, settings, [search(client, settings, "halo", f"q{i}", ["t1", "t2"],
                                         f"u{i}") for i in range(5)], refresh="wait_for")
    events = [event("q0", "t2", "play", "spammer", n=n) for n in range(50)]
    events += [event(f"q{i}", "t1", "play", f"u{i}") for i in range(1, 5)]
    ingest_events(client, settings, events)
    run_consumers(client, settings, settle_seconds=0)
    evidence, _ = memory_state(client, settings)
    spam = evidence[f"observed:{key('halo')}:t2"]
    assert spam["events"] == 50
    assert spam["events_capped"] == 47
    assert spam["engagement_undecayed"] == pytest.approx(3.0)
    assert top_for(client, settings, "halo")[0] == "t1"


def test_replaying_the_same_events_changes_nothing(client, settings, tmp_path):
    make_catalog(client, settings)
    events = engage_halo(client, settings)
    first = ingest_events(client, settings, [json.dumps(e) for e in events])
    run_consumers(client, settings, settle_seconds=0)
    before = memory_state(client, settings)
    again = ingest_events(client, settings, [json.dumps(e) for e in events])
    runs = run_consumers(client, settings, settle_seconds=0)
    assert (first.accepted, again.accepted, again.duplicates) == (4, 0, 4)
    assert all(run.docs == 0 for run in runs)
    assert memory_state(client, settings) == before


class Crash(RuntimeError):
    pass


class CrashingMemory(MemoryConsumer):
    """Dies on its second batch, like a worker killed mid-run."""

    calls = 0

    def apply(self, pairs, now=None):
        CrashingMemory.calls += 1
        if CrashingMemory.calls == 2:
            raise Crash("killed")
        return super().apply(pairs, now)


def test_an_updater_killed_midway_and_restarted_ends_like_an_uninterrupted_run(client,
                                                                               settings):
    other = settings.with_overrides(index_prefix=f"{settings.index_prefix}-b")
    when = datetime.now(timezone.utc) - timedelta(hours=1)
    for env in (settings, other):
        make_catalog(client, env)
        records = [search(client, env, q, f"r{i}", ["t1", "t2", "t3"], f"u{i}", when)
                   for i, q in enumerate(["halo", "Halo!", "crazy in love", "beyonce"])]
        log_search(client, env, records, refresh="wait_for")
        events = [event(f"r{i % 4}", f"t{1 + i % 3}", ["play", "click"][i % 2], f"u{i}", when)
                  for i in range(12)]
        ingest_events(client, env, events)
    now = datetime.now(timezone.utc)
    run_consumers(client, other, [MemoryConsumer(client, other)], now=now, settle_seconds=0,
                  page_size=3)
    CrashingMemory.calls = 0
    with pytest.raises(Crash):
        run_consumers(client, settings, [CrashingMemory(client, settings)], now=now,
                      settle_seconds=0, page_size=3)
    run_consumers(client, settings, [MemoryConsumer(client, settings)], now=now,
                  settle_seconds=0, page_size=3)
    assert memory_state(client, settings) == memory_state(client, other)
    assert memory_state(client, settings)[0]  # something was learned at all


def test_seeding_predicts_queries_and_observed_evidence_replaces_the_prediction(client,
                                                                                settings):
    make_catalog(client, settings)
    assert seed_memory(client, settings) == len(CATALOG)
    assert top_for(client, settings, "late night jazz") == ["p1"]
    assert set(top_for(client, settings, "halo")) == {"t1", "t2"}
    predicted = client.get(index=settings.catalog_alias, id="t1")["_source"]["q2e"]
    ingest_events(client, settings, engage_halo(client, settings))
    run_consumers(client, settings, settle_seconds=0)
    observed = client.get(index=settings.catalog_alias, id="t1")["_source"]["q2e"]
    assert observed[key("beyonce halo")] > predicted[key("beyonce halo")]
    lines = "\n".join(explain(client, settings, "beyonce halo"))
    assert "observed: value" in lines and "predicted: value" in lines
