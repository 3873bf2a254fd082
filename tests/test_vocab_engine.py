"""Vocabulary on the real node: the description's synonyms checked against the live
values, and phrases learned from engagement, stored, reloaded, followed by a server, and
both reaching the structured strategy as plain facet slots."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.feedback import ArmLog, SearchRecord, ingest_events, log_search
from ltrr_opensearch.feedback.consumers import run_consumers
from ltrr_opensearch.feedback.indices import vocab_index
from ltrr_opensearch.feedback.learned import follow_learned, phrase_decisions, read_learned
from ltrr_opensearch.feedback.vocab import VocabConsumer, relearn
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.types import Slot
from ltrr_opensearch.understand import Gazetteer, understand
from tests.own_facets import make_institutions

pytestmark = pytest.mark.integration


@pytest.fixture()
def institutions(client, settings, tmp_path, monkeypatch):
    return make_institutions(client, settings, tmp_path, monkeypatch)

UNIVERSITIES = {"degree": {"universities": "bachelor", "four year colleges": "Bachelor"}}


def structured(client, settings, query):
    pipeline = Pipeline.from_cluster(client, settings)
    response = pipeline.search(query, k=10, strategies=[("structured_qu", 10)], log=False)
    assert [r.error for r in response.results] == [None]
    return [c.id for c in response.shown]


# What every logged search showed before the engaged item: two bachelor and two associate
# schools, so engagement elsewhere stands out from what was shown.
SHOWN = ("i2", "i6", "i5", "i3")


def engage(client, settings, sessions, when=None):
    """Log one search per ``(query, client, engaged id, action)`` and its event."""
    when = when or datetime.now(timezone.utc) - timedelta(minutes=5)
    records, events = [], []
    for n, (query, user, entity, action) in enumerate(sessions):
        rid = f"q{n}-{user}"
        hits = (*(i for i in SHOWN if i != entity), entity)
        records.append(SearchRecord(query_id=rid, user_query=query, hit_ids=hits,
                                    arms=(ArmLog("structured_qu", 10, 1.0, hits),),
                                    client_id=user, timestamp=when))
        events.append({"action_name": action, "query_id": rid, "client_id": user,
                       "timestamp": when.isoformat(), "event_id": f"e{n}-{user}",
                       "event_attributes": {"object": {"object_id": entity}}})
    log_search(client, settings, records, refresh="wait_for")
    report = ingest_events(client, settings, events)
    assert report.accepted == len(events)


# Four users look for trade schools and play a certificate-granting school each time; the
# state slot explains where, not what.
TRADE_SCHOOLS = [("trade schools in minnesota", "u1", "i10", "play"),
                 ("trade schools ohio", "u2", "i4", "play"),
                 ("Trade Schools", "u3", "i7", "play"),
                 ("trade schools", "u4", "i9", "play")]


# -- synonyms ----------------------------------------------------------------------------

def test_a_synonym_changes_what_the_structured_strategy_retrieves(client, institutions):
    plain = institutions.configure()
    assert structured(client, plain, "universities in virginia") == ["i6", "i5", "i7"]
    settings = institutions.configure(synonyms=UNIVERSITIES)
    assert understand("universities in virginia", resources.gazetteer_for(client, settings)
                      ).slots == (Slot("degree", "bachelor", "universities", 1.0, "synonym"),
                                  Slot("state", "Virginia", "virginia", 1.0, "catalog"))
    assert structured(client, settings, "universities in virginia") == ["i5"]
    assert structured(client, settings, "four year colleges in minnesota") == ["i11"]


def test_validate_and_doctor_name_each_synonym_the_index_cannot_serve_with_a_fix(
        client, institutions, capsys):
    institutions.configure(synonyms={"degree": {"universities": "bachelors",
                                                "grad schools": "doctorate",
                                                "four year colleges": "Bachelor",
                                                "certificate": "associate"}})
    assert main(["templates", "validate"]) == 1
    out = capsys.readouterr().out.splitlines()
    errors = [line for line in out if line.startswith("catalog ") and "ERROR" in line]
    fixes = [line.strip() for line in out if line.strip().startswith("fix:")]
    assert len(errors) == 2 and "templates not run" in out[-1]
    assert "[synonyms.degree] 'universities' names 'bachelors', a value field 'degree'" \
        in errors[0]
    assert fixes[0].endswith("did you mean 'universities' = 'bachelor'?")
    assert "[synonyms.degree] 'grad schools' names 'doctorate'" in errors[1]
    assert "name one of the values of degree" in fixes[1]
    warnings = [line for line in out if "WARN" in line]
    assert len(warnings) == 1 and "'certificate' is itself the value 'certificate'" \
        in warnings[0]

    main(["doctor", "--json"])
    checks = [c for c in json.loads(capsys.readouterr().out)["checks"]
              if c["name"] == "catalog"]
    assert [c["status"] for c in checks] == ["ok", "error", "error", "warn"]


def test_a_description_whose_synonyms_all_resolve_passes_the_live_check(
        client, institutions, capsys):
    institutions.configure(synonyms=UNIVERSITIES)
    main(["doctor", "--json"])
    checks = [c for c in json.loads(capsys.readouterr().out)["checks"]
              if c["name"] == "catalog"]
    assert [c["status"] for c in checks] == ["ok", "ok"]
    assert checks[1]["detail"].startswith("2 synonym(s) name values")


# -- learned phrases ------------------------------------------------------------------------

def test_a_learned_phrase_reaches_the_structured_strategy(client, institutions):
    settings = institutions.configure()
    assert structured(client, settings, "trade schools in minnesota") == ["i11", "i10"]
    engage(client, settings, TRADE_SCHOOLS)
    run_consumers(client, settings, settle_seconds=0)  # the default consumers include it

    resources.clear()  # a new process: the gazetteer is read again, learned phrases too
    gazetteer = resources.gazetteer_for(client, settings)
    assert gazetteer.learned_version is not None
    assert understand("trade schools in minnesota", gazetteer).slots == (
        Slot("degree", "certificate", "trade schools", 1.0, "learned"),
        Slot("state", "Minnesota", "minnesota", 1.0, "catalog"))
    assert structured(client, settings, "trade schools in minnesota") == ["i10"]
    assert structured(client, settings, "trade schools") == ["i4", "i10", "i7", "i9"]


def test_only_the_phrase_the_evidence_supports_is_learned_and_explained(client, institutions):
    settings = institutions.configure()
    engage(client, settings, TRADE_SCHOOLS)
    run_consumers(client, settings, [VocabConsumer(client, settings)], settle_seconds=0)
    _, learned = read_learned(client, settings)
    assert [(p.phrase, p.kind, p.value, p.share, p.clients) for p in learned] == [
        ("trade schools", "degree", "certificate", 1.0, 4)]
    by_phrase = {d["phrase"]: d for d in phrase_decisions(client, settings,
                                                          ["trade", "Trade Schools"])}
    assert by_phrase["trade"]["reason"] == "always part of 'trade schools'"
    assert by_phrase["trade schools"]["eligible"] is True
    assert by_phrase["trade schools"]["queries"] == 3  # "Trade Schools" is "trade schools"


def test_conflicting_engagement_learns_nothing(client, institutions):
    # Every value here is common in so small a catalog: the comparison with what was shown
    # is switched off to reach the tie rule.
    settings = institutions.configure(config="[vocab]\nmin_margin = -1\n")
    # Three associate and three bachelor schools; half of them in Ohio.
    schools = ["i1", "i3", "i6", "i2", "i5", "i11"]
    engage(client, settings, [("colleges", f"u{n}", school, "play")
                              for n, school in enumerate(schools)])
    run_consumers(client, settings, [VocabConsumer(client, settings)], settle_seconds=0)
    assert read_learned(client, settings)[1] == ()
    decision = phrase_decisions(client, settings, ["colleges"])[0]
    assert decision["reason"].startswith("tied: degree=associate and ")


def test_engagement_on_items_missing_from_the_catalog_teaches_nothing(client, institutions):
    settings = institutions.configure()
    engage(client, settings, [("trade schools", f"u{i}", "gone", "play") for i in range(4)])
    runs = run_consumers(client, settings, [VocabConsumer(client, settings)],
                         settle_seconds=0)
    assert sum(r.outputs for r in runs) == 0
    assert read_learned(client, settings) == (None, ())


def test_a_server_follows_the_learned_vocabulary_without_a_restart(client, institutions):
    from ltrr_opensearch.service.app import ServiceState

    settings = institutions.configure()
    state = ServiceState(settings, client, use_bandit=False)
    assert state.build()
    before = state.pipeline.gazetteer
    state._resync_job()
    assert state.pipeline.gazetteer is before  # nothing learned: nothing reread

    engage(client, settings, TRADE_SCHOOLS)
    run_consumers(client, settings, settle_seconds=0)
    state._resync_job()
    assert [p.phrase for p in state.pipeline.gazetteer.learned] == ["trade schools"]
    response = state.pipeline.search("trade schools in minnesota",
                                     strategies=[("structured_qu", 10)], log=False)
    assert [c.id for c in response.shown] == ["i10"]
    followed = state.pipeline.gazetteer
    assert follow_learned(client, settings, followed) is followed  # one mget, no reread


def test_replaying_the_logs_relearns_the_same_vocabulary(client, institutions):
    settings = institutions.configure()
    engage(client, settings, TRADE_SCHOOLS)
    now = datetime.now(timezone.utc)
    run_consumers(client, settings, [VocabConsumer(client, settings)], now=now,
                  settle_seconds=0)

    def stored():
        client.indices.refresh(index=vocab_index(settings))
        hits = client.search(index=vocab_index(settings), body={
            "size": 100, "query": {"terms": {"record": ["query", "phrase"]}}})["hits"]["hits"]
        return {h["_id"]: h["_source"] for h in hits}

    first = stored()
    assert relearn(client, settings, now=now, settle_seconds=0) >= len(first)
    assert stored() == first and len(first) == 6  # 3 queries, 3 phrases


def test_understand_shows_where_each_slot_came_from(client, institutions, capsys):
    settings = institutions.configure(synonyms=UNIVERSITIES)
    engage(client, settings, TRADE_SCHOOLS)
    run_consumers(client, settings, [VocabConsumer(client, settings)], settle_seconds=0)
    assert main(["understand", "universities in ohio", "trade schools"]) == 0
    out = capsys.readouterr().out
    assert "degree='bachelor' (1.00, synonym), state='Ohio' (1.00)" in out
    assert "degree='certificate' (1.00, learned)" in out
    assert "learned:  'trade schools' -> degree='certificate': 100% of its engagement" in out
    assert main(["vocab", "show"]) == 0
    assert "'trade schools' -> degree='certificate'  learned" in capsys.readouterr().out


def test_a_gazetteer_built_without_learned_phrases_ignores_them(client, institutions):
    settings = institutions.configure()
    engage(client, settings, TRADE_SCHOOLS)
    run_consumers(client, settings, [VocabConsumer(client, settings)], settle_seconds=0)
    assert Gazetteer.from_index(client, settings, learned=False).learned == ()
    assert len(Gazetteer.from_index(client, settings).learned) == 1


def test_learned_phrases_that_cannot_be_read_leave_the_catalogs_vocabulary_working(
        client, institutions, caplog):
    settings = institutions.configure(synonyms=UNIVERSITIES)
    engage(client, settings, TRADE_SCHOOLS)
    run_consumers(client, settings, [VocabConsumer(client, settings)], settle_seconds=0)
    client.indices.close(index=vocab_index(settings))
    gazetteer = Gazetteer.from_index(client, settings)
    assert gazetteer.learned == ()
    assert understand("universities", gazetteer).slots[0].source == "synonym"
    assert "learned phrases not read" in caplog.text


def test_learning_switched_off_learns_and_serves_nothing(client, institutions):
    settings = institutions.configure(config="[vocab]\nlearn = false\n")
    engage(client, settings, TRADE_SCHOOLS)
    runs = run_consumers(client, settings, settle_seconds=0)
    assert sum(r.outputs for r in runs if r.consumer == "vocab") == 0
    assert Gazetteer.from_index(client, settings).learned == ()
