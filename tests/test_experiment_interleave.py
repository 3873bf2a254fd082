"""Team-draft interleaving: the draft, the credit, the win-rate summary (no cluster)."""

from __future__ import annotations

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


@pytest.mark.integration
@pytest.mark.ltr
def test_interleaving_served_on_the_node_prefers_the_model_over_fusion(
        client, settings, require_ltr):
    """150 simulated searches, each interleaving fusion (a) with the shipped model (b), logged,
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
        for q in QueryStream(world, sim).take(150):
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
    assert report.searches == 150
    assert report.low > 0.5, report  # the shipped model wins: its CI lies above one half
