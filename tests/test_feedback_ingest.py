"""Event ingestion, dead letters, de-duplication, joins, rewards and training rows on the real
node."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.feedback import (
    ArmLog,
    SearchRecord,
    ingest_events,
    log_search,
    run_consumers,
)
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.feedback.training import export_training_rows
from ltrr_opensearch.types import ContextVector

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc).isoformat()


def event(query_id="r1", entity="t1", action="play", client="u1", **extra):
    doc = {"action_name": action, "query_id": query_id, "client_id": client, "timestamp": NOW,
           "event_attributes": {"object": {"object_id": entity}, "position": {"ordinal": 1}}}
    return {**doc, **extra}


def served(query_id="r1", text="Beyoncé Halo", hits=("t2", "t1", "t3")):
    return SearchRecord(
        query_id=query_id, user_query=text, hit_ids=hits, client_id="u1", variant="A",
        model_version="m1", context=ContextVector("ctx1", ("len", "hour"), (2.0, 0.5)),
        arms=(ArmLog("bm25", 10, 0.6, ("t2", "t1")), ArmLog("knn", 5, 0.4, ("t3",))))


def dead_letters(client, settings):
    client.indices.refresh(index=settings.deadletter_index)
    hits = client.search(index=settings.deadletter_index, body={"size": 100})["hits"]["hits"]
    return {h["_source"]["line"]: h["_source"] for h in hits}


def test_malformed_events_are_dead_lettered_with_a_reason_and_good_ones_kept(client, settings):
    no_query = event()
    del no_query["query_id"]
    lines = [
        json.dumps(event(event_id="good-1")),
        json.dumps(no_query),
        json.dumps(event(action="teleport")),
        json.dumps(event(query_id=42)),
        json.dumps(event(event_attributes={"object": {"object_id": "t1"},
                                           "position": {"ordinal": "3"}})),
        json.dumps(event(timestamp="yesterday-ish")),
        json.dumps(event(event_id="big", message="x" * 20000)),
        "{not json",
        json.dumps(event(event_id="good-2", action="click")),
    ]
    report = ingest_events(client, settings, lines, source="test.jsonl")
    assert (report.received, report.accepted, report.dead_lettered) == (9, 2, 7)
    letters = dead_letters(client, settings)
    assert set(letters) == {2, 3, 4, 5, 6, 7, 8}
    assert letters[2]["reason"] == "missing query_id"
    assert "unknown action_name 'teleport'" in letters[3]["reason"]
    assert "query_id must be a non-empty string" in letters[4]["reason"]
    assert "ordinal" in letters[5]["reason"]
    assert "timestamp" in letters[6]["reason"]
    assert "over the 16384-byte cap" in letters[7]["reason"]
    assert "not valid JSON" in letters[8]["reason"]
    assert letters[8]["payload"] == "{not json" and letters[8]["source"] == "test.jsonl"
    client.indices.refresh(index=settings.ubi_events_index)  # acked = stored, not searchable
    assert client.count(index=settings.ubi_events_index)["count"] == 2


def test_an_event_opensearch_refuses_is_dead_lettered_not_lost(client, settings):
    bad_shape = event(event_id="odd", event_attributes={"object": {"object_id": "t1",
                                                                   "name": {"nested": 1}}})
    report = ingest_events(client, settings, [bad_shape, event(event_id="fine")])
    assert (report.accepted, report.dead_lettered) == (1, 1)
    letter = next(iter(dead_letters(client, settings).values()))
    assert letter["stage"] == "index" and "OpenSearch refused it" in letter["reason"]


def test_duplicates_by_event_id_or_content_are_counted_not_stored_twice(client, settings):
    with_id = event(event_id="e-1")
    without_id = event(action="click")
    first = ingest_events(client, settings, [with_id, without_id, dict(without_id)])
    second = ingest_events(client, settings, [with_id, without_id])
    assert (first.accepted, first.duplicates) == (2, 1)
    assert (second.accepted, second.duplicates) == (0, 2)
    client.indices.refresh(index=settings.ubi_events_index)  # acked = stored, not searchable
    assert client.count(index=settings.ubi_events_index)["count"] == 2


def test_events_are_joined_to_their_logged_query_or_flagged_unjoined(client, settings):
    log_search(client, settings, served("r1"), refresh="wait_for")
    report = ingest_events(client, settings, [event(query_id="r1", event_id="a"),
                                              event(query_id="nobody", event_id="b")])
    assert report.unjoined == 1
    a = client.get(index=settings.ubi_events_index, id="a")["_source"]
    b = client.get(index=settings.ubi_events_index, id="b")["_source"]
    assert (a["joined"], a["normalized"], a["q2e_key"]) == (True, "beyonce halo", "beyonce_halo")
    assert b["joined"] is False


def test_reward_docs_give_each_arm_the_weight_of_its_strongest_engaged_candidate(client,
                                                                                 settings):
    log_search(client, settings, [served("r1"), served("r2")], refresh="wait_for")
    ingest_events(client, settings, [event("r1", "t1", "click", event_id="c"),
                                     event("r1", "t1", "play", event_id="p"),
                                     event("r1", "zz", "play", event_id="x")])
    run_consumers(client, settings, settle_seconds=0)
    get = lambda i: client.get(index=settings.state_index, id=i)["_source"]  # noqa: E731
    assert (get("r1:bm25")["reward"], get("r1:bm25")["engaged_ids"]) == (1.0, ["t1"])
    assert get("r1:knn")["reward"] == 0.0
    assert get("r2:bm25")["reward"] == 0.0  # served, nobody acted: a zero reward, not nothing
    doc = get("r1:bm25")
    assert (doc["propensity"], doc["k"], doc["context"], doc["variant"]) == (0.6, 10,
                                                                            [2.0, 0.5], "A")


def test_training_rows_list_every_shown_hit_with_position_and_actions(client, settings):
    log_search(client, settings, [served("r1"), served("r2")], refresh="wait_for")
    ingest_events(client, settings, [event("r1", "t1", "click", event_id="c"),
                                     event("r1", "t1", "play", event_id="p")])
    run_consumers(client, settings, settle_seconds=0)
    out = io.StringIO()
    assert export_training_rows(client, settings, out) == 3  # r2 had no events
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["doc_id"], r["position"], r["clicked"]) for r in rows] == [
        ("t2", 1, False), ("t1", 2, True), ("t3", 3, False)]
    assert rows[1]["actions"] == ["click", "play"]
    assert rows[1]["normalized"] == "beyonce halo"


def test_an_event_that_arrives_before_its_query_is_joined_later_and_learned(client, settings):
    ingest_events(client, settings, [event("late", "t1", "play", event_id="early")])
    run_consumers(client, settings, settle_seconds=0)
    log_search(client, settings, served("late"), refresh="wait_for")
    run_consumers(client, settings, settle_seconds=0)
    assert client.get(index=settings.ubi_events_index, id="early")["_source"]["joined"]
    pair = client.get(index=memory_index(settings), id="observed:beyonce_halo:t1")["_source"]
    assert pair["events"] == 1


def test_consumers_resume_from_checkpoints_and_skip_what_they_applied(client, settings):
    log_search(client, settings, served("r1"), refresh="wait_for")
    ingest_events(client, settings, [event("r1", "t1", event_id="one")])
    first = run_consumers(client, settings, settle_seconds=0)
    ingest_events(client, settings, [event("r1", "t3", event_id="two")])
    second = run_consumers(client, settings, settle_seconds=0)
    read = lambda runs: {(r.consumer, r.log): r.docs for r in runs}  # noqa: E731
    assert read(first)[("memory", "events")] == 1 and read(first)[("memory", "queries")] == 1
    assert read(second)[("memory", "events")] == 1 and read(second)[("memory", "queries")] == 0


def test_cli_ingest_reports_counts_and_an_unreachable_cluster_is_one_clear_line(
        settings, client, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(event(event_id="ok")) + "\n\n" + "oops\n", encoding="utf-8")
    assert main(["events", "ingest", str(path), "--url", settings.urls[0]]) == 0
    out = capsys.readouterr()
    assert "stored 1" in out.out and "dead-lettered 1" in out.out and "line 3" in out.err
    assert main(["events", "ingest", str(path), "--url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach OpenSearch") and "Traceback" not in err
