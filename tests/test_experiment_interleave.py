"""Team-draft interleaving: the draft, the credit, the win-rate summary (no cluster)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import numpy as np
import pytest

from ltrr_opensearch.experiment.interleave import summarize_wins, team_draft, winner

A = [f"a{i}" for i in range(10)]
B = [f"b{i}" for i in range(10)]


def test_each_team_contributes_its_own_top_results_in_order():
    shown, teams = team_draft(A, B, 10, np.random.default_rng(0))
    assert [x for x, t in zip(shown, teams, strict=True) if t == "a"] == A[:teams.count("a")]
    assert [x for x, t in zip(shown, teams, strict=True) if t == "b"] == B[:teams.count("b")]
    assert abs(teams.count("a") - teams.count("b")) <= 1


def test_shared_results_are_shown_once():
    shown, _ = team_draft(["x", "y", "z"], ["y", "x", "w"], 10, np.random.default_rng(1))
    assert sorted(shown) == ["w", "x", "y", "z"]


def test_identical_rankings_give_the_same_list():
    shown, _ = team_draft(A, A, 10, np.random.default_rng(2))
    assert shown == A


def test_a_click_credits_the_team_of_the_clicked_result():
    assert winner(["a", "b", "a"], [1]) == "b"
    assert winner(["a", "b", "a"], [0, 1]) is None
    assert winner(["a", "b"], []) is None


def test_win_rate_interval_excludes_half_only_for_a_real_preference():
    rng = np.random.default_rng(3)
    biased = [(f"u{i % 200}", "b" if rng.random() < 0.65 else "a") for i in range(1000)]
    fair = [(f"u{i % 200}", "b" if rng.random() < 0.5 else "a") for i in range(1000)]
    assert summarize_wins("x", "a", "b", biased).low > 0.5
    report = summarize_wins("x", "a", "b", fair)
    assert report.low < 0.5 < report.high



def interleave_flags(tmp_path, on: object):
    import json

    from ltrr_opensearch.experiment.flags import FlagSource

    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"interleave": {
        "state": "ENABLED", "defaultVariant": "off", "variants": {"on": on, "off": {}},
        "targeting": {"fractional": [["on", 50], ["off", 50]]}}}}))
    return FlagSource.from_file(str(path))


def test_the_interleave_flag_names_the_experiment_and_its_two_slots_per_user(tmp_path):
    flags = interleave_flags(tmp_path, {"name": "m-vs-f", "a": "none", "b": "deployed"})
    specs = [flags.interleaving(f"user-{i}") for i in range(400)]
    assert set(specs) == {None, ("m-vs-f", "none", "deployed")}
    assert 150 < specs.count(None) < 250  # the 50% split
    assert specs == [flags.interleaving(f"user-{i}") for i in range(400)]  # sticky
    assert not flags.problems


@pytest.mark.parametrize("on", [{"a": "none", "b": "none"}, {"a": "none"},
                                {"a": "none", "b": "x", "colour": 1}, ["none", "deployed"],
                                {"name": "has space", "a": "none", "b": "x"}])
def test_an_invalid_interleave_value_serves_the_ordinary_search_and_is_counted(tmp_path, on):
    flags = interleave_flags(tmp_path, on)
    assert all(flags.interleaving(f"user-{i}") is None for i in range(50))
    assert [key for key, _ in flags.problems] == ["interleave"]

@pytest.mark.integration
@pytest.mark.ltr
def test_interleaving_served_on_the_node_prefers_the_model_over_fusion(
        client, settings, require_ltr):
    """300 simulated searches, each interleaving fusion (a) with the shipped model (b), logged,
    clicked by the click model and ingested; the report reads them back from the logs."""
    from ltrr_opensearch.evaluate.experiment import (
        embed_world,
        prepare_policy_indices,
        scratch_folder,
    )
    from ltrr_opensearch.experiment.interleave import Interleaver, interleave_report
    from ltrr_opensearch.feedback.ingest import ingest_events
    from ltrr_opensearch.pipeline import BufferedSearchLog, Pipeline
    from ltrr_opensearch.rank.setup import ltr_init
    from ltrr_opensearch.retrieve import resources
    from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config

    sim = load_sim_config("configs/worlds/small.toml")
    world = World.generate(sim)
    try:
        prepare_policy_indices(client, settings,
                               embed_world(list(world.rows()), "tfidf", scratch_folder()))
        ltr_init(client, settings)
        pipeline = Pipeline.from_cluster(client, settings)
        log = BufferedSearchLog(client, settings, batch=10 ** 6)
        pipeline.search_log = log
        pipeline.default_k = 20
        interleaver = Interleaver(pipeline, "fusion-vs-model", "none", "deployed", seed=1)
        clicks = ClickModel(sim, seed=2)
        events = []
        for q in QueryStream(world, sim).take(300):
            response, teams = interleaver.search(q.text, client_id=q.user_id,
                                                 session_id=q.session_id,
                                                 request_id=q.query_id, now=q.timestamp)
            assert len(teams) == len(response.shown)
            events += clicks.simulate(q, [c.id for c in response.shown],
                                      query_id=q.query_id, client_id=q.user_id)
        log.flush(refresh="wait_for")
        ingest_events(client, settings, events, source="simulation")
        client.indices.refresh(index=f"{settings.index_prefix}-*")
        report = interleave_report(client, settings, "fusion-vs-model")
    finally:
        resources.clear()
    assert report.searches == 300
    assert report.low > 0.5, report  # the shipped model wins: its CI lies above one half


@pytest.mark.integration
@pytest.mark.ltr
def test_the_service_interleaves_by_flag_and_credits_clicks_posted_later(
        client, settings, require_ltr, tmp_path):
    """``ltrr serve --flags`` with an ``interleave`` flag for 80% of 120 searches' users: their searches
    come back team-draft interleaved (fusion a, shipped model b) and are logged with each
    shown result's team; the other users get ordinary searches. The click model's events
    go through POST /events, and the report credits each click to its result's team.
    (That the model wins is shown in process above, where the simulated clock is used.)"""
    import json

    from ltrr_opensearch.evaluate.experiment import (
        embed_world,
        prepare_policy_indices,
        scratch_folder,
    )
    from ltrr_opensearch.experiment.interleave import interleave_report
    from ltrr_opensearch.rank.setup import ltr_init
    from ltrr_opensearch.retrieve import resources
    from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config
    from tests.test_service import count

    sim = load_sim_config("configs/worlds/small.toml")
    world = World.generate(sim)
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps({"flags": {"interleave": {
        "state": "ENABLED", "defaultVariant": "off",
        "variants": {"on": {"name": "fusion-vs-model", "a": "none", "b": "deployed"}, "off": {}},
        "targeting": {"fractional": [["on", 80], ["off", 20]]}},
        # The service's own flags still apply to interleaved searches: every strategy, 20 each.
        "selection-mode": {"state": "ENABLED", "variants": {"v": "fixed"}, "defaultVariant": "v"},
        "budget": {"state": "ENABLED", "variants": {"v": 20}, "defaultVariant": "v"}}}))
    clicks = ClickModel(sim, seed=2)
    queries = QueryStream(world, sim).take(120)
    try:
        prepare_policy_indices(client, settings,
                               embed_world(list(world.rows()), "tfidf", scratch_folder()))
        ltr_init(client, settings)
        events, served = [], {}
        with logged_server(settings, tmp_path, "--no-bandit", "--flags", str(flags)) as api:
            for q in queries:
                answer = api.post("/search", json={"query": q.text, "client_id": q.user_id,
                                                   "session_id": q.session_id, "k": 10},
                                  headers={"X-Request-ID": q.query_id})
                assert answer.status_code == 200, answer.text
                shown = served[q.query_id] = [r["id"] for r in answer.json()["results"]]
                events += clicks.simulate(q, shown, query_id=q.query_id, client_id=q.user_id)
            deadline = time.monotonic() + 10
            while count(client, settings.ubi_queries_index) < len(queries) \
                    and time.monotonic() < deadline:
                time.sleep(0.2)
            posted = api.post("/events", json=events)
            assert posted.status_code == 200 and posted.json()["unjoined"] == 0, posted.text
        docs = {d["_id"]: d["_source"] for d in client.search(
            index=settings.ubi_queries_index, body={"size": 1000})["hits"]["hits"]}
        report = interleave_report(client, settings, "fusion-vs-model")
        from tests.test_service import env_for

        command = subprocess.run([sys.executable, "-m", "ltrr_opensearch.cli", "experiment",
                                  "interleave-report", "fusion-vs-model"],
                                 env=env_for(settings), capture_output=True, text=True,
                                 timeout=120)
    finally:
        resources.clear()
    assert command.returncode == 0, command.stderr
    assert f"| {report.searches} | {report.users} | {report.wins_a} | {report.wins_b} |" \
        in command.stdout
    interleaved = {i: d for i, d in docs.items() if "interleave" in d["query_attributes"]}
    assert 0.65 < len(interleaved) / len(queries) < 0.95  # the flag's 80% of users
    # What the user saw is what was logged, with one team per shown result.
    assert all(d["query_response_hit_ids"] == served[i]
               and len(d["query_attributes"]["interleave"]["teams"]) == len(served[i])
               for i, d in interleaved.items())
    # Every posted click is credited to the team of the result it hit.
    clicked: dict[str, list[int]] = {i: [] for i in interleaved}
    for e in events:
        if e["action_name"] == "click" and e["query_id"] in clicked:
            clicked[e["query_id"]].append(e["event_attributes"]["position"]["ordinal"])
    expected = [winner(d["query_attributes"]["interleave"]["teams"], clicked[i])
                for i, d in interleaved.items()]
    assert (report.searches, report.wins_a, report.wins_b) == \
        (len(interleaved), expected.count("a"), expected.count("b"))
    assert report.wins_a + report.wins_b > 20  # enough clicks for the check to mean something
    assert report.low <= report.win_rate_b <= report.high


@contextmanager
def logged_server(settings, folder, *extra: str):
    """``ltrr serve`` as a subprocess whose log goes to a file: 120 searches log more than
    a pipe holds, and an unread pipe would stall the server."""
    from tests.test_service import env_for, free_port

    port = free_port()
    log = open(folder / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "ltrr_opensearch.cli", "serve", "--port",
                             str(port), "--resync", "0.3", "--flush", "0.2", *extra],
                            env=env_for(settings), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, \
                (folder / "serve.log").read_text()[-2000:]
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as api:
            yield api
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@pytest.mark.integration
def test_an_unservable_slot_serves_the_ordinary_search_and_is_retried_later(
        client, settings, tmp_path):
    from types import SimpleNamespace

    from ltrr_opensearch.experiment.interleave import Interleavers

    flags = interleave_flags(tmp_path, {"name": "x", "a": "no-such-model", "b": "none"})
    user = next(f"user-{i}" for i in range(100) if flags.interleaving(f"user-{i}"))
    pipeline = SimpleNamespace(client=client, settings=settings, ranker=None, flags=flags)
    patient, eager = Interleavers(flags), Interleavers(flags, retry_seconds=0.0)
    assert patient.for_request(pipeline, user) is None
    assert patient.for_request(pipeline, user) is None  # not rebuilt within the minute
    assert sum(flags.problems.values()) == 1
    assert "no-such-model" in next(iter(flags.problems))[1]
    eager.for_request(pipeline, user)
    eager.for_request(pipeline, user)
    assert sum(flags.problems.values()) == 3  # tried again each time
