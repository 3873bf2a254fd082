"""Experiments end to end on the real node.

The simulated-world tests replay simulated users through ``Pipeline.search`` with a flag
file and the real feedback loop (``experiment.simulate.run_experiment``: the pipeline and
harness, not the HTTP service, to keep 400 searches within a minute); the report reads
the UBI logs they wrote. One replay serves the A/B experiment and 20 A/A experiments at
once: assignment is independent across experiments, so each A/A split sees the same
mix of A/B traffic in both arms. The service test checks ``ltrr serve --flags``.
"""

from __future__ import annotations

import json
import time

import pytest

from ltrr_opensearch.evaluate.experiment import embed_world, prepare_policy_indices, scratch_folder
from ltrr_opensearch.experiment.report import build_report, load_rows
from ltrr_opensearch.experiment.simulate import run_experiment
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config
from ltrr_opensearch.simulate.reformulate import Reformulator
from tests.test_service import catalog, count, policy, serving  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

WORLD = "configs/worlds/small.toml"
AA = [f"aa-{i}" for i in range(20)]
EVEN = {"fractional": [["control", 50], ["treatment", 50]]}


def flag_file(path) -> str:
    """control: BM25 alone (10 candidates); treatment: every strategy, 20 each. The
    simulated intents each favour a different strategy, so the treatment is known better."""
    flags = {
        "experiments": {"state": "ENABLED", "variants": {"on": ["mix-test", *AA]},
                        "defaultVariant": "on"},
        "mix-test": {"state": "ENABLED", "defaultVariant": "control", "targeting": EVEN,
                     "variants": {
                         "control": {"selection-mode": "single",
                                     "single-strategy": "bm25_popularity", "budget": 10},
                         "treatment": {"selection-mode": "fixed", "budget": 20}}},
        **{name: {"state": "ENABLED", "defaultVariant": "control", "targeting": EVEN,
                  "variants": {"control": {}, "treatment": {}}} for name in AA},
    }
    path.write_text(json.dumps({"flags": flags}))
    return str(path)


@pytest.fixture(scope="module")
def served(session_client, base_settings, tmp_path_factory):
    """400 simulated searches (plus reformulations) under the flag file; indices dropped after."""
    import uuid

    settings = base_settings.with_overrides(index_prefix=f"t{uuid.uuid4().hex[:10]}")
    client = session_client
    sim = load_sim_config(WORLD)
    world = World.generate(sim)
    data = embed_world(list(world.rows()), "tfidf", scratch_folder())
    folder = tmp_path_factory.mktemp("flags")
    try:
        prepare_policy_indices(client, settings, data)
        replay = run_experiment(client, settings, flag_file(folder / "flags.json"),
                                QueryStream(world, sim).take(400), ClickModel(sim, seed=1),
                                batch=100, follow_up=Reformulator(world, seed=3))
        yield client, settings, replay
    finally:
        resources.clear()
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


def test_every_logged_search_is_attributed_to_its_variants(served):
    client, settings, replay = served
    logged = load_rows(client, settings, "mix-test")
    assert len(logged) == len(replay.outcomes)
    assert {r.variant for r in logged} == {"control", "treatment"}
    assert all(r.took_ms is not None and r.took_ms > 0 for r in logged)


def test_the_variant_with_the_known_better_policy_wins_with_a_ci_excluding_zero(served):
    client, settings, _ = served
    report = build_report("mix-test", load_rows(client, settings, "mix-test"))
    ctr = next(d for d in report.diffs if d.metric == "ctr")
    recall = next(d for d in report.diffs if d.metric == "recall")
    assert ctr.low > 0, ctr
    assert recall.low > 0, recall
    assert report.srm_p > 0.001


def test_aa_tests_mostly_find_no_difference(served):
    client, settings, _ = served
    significant = [name for name in AA
                   if any(d.significant for d in build_report(
                       name, load_rows(client, settings, name), rounds=1000).diffs
                          if d.metric == "ctr")]
    # 20 A/A splits at a 95% level: 1 false positive is expected and P(4 or more) is 1.6%
    # for honest intervals; resampling searches instead of users gives far more.
    assert len(significant) <= 3, significant


def test_serve_with_flags_logs_the_variant_and_survives_a_broken_flag_file(
        catalog, client, policy, tmp_path):  # noqa: F811
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {
        "experiments": {"state": "ENABLED", "variants": {"on": ["ranker-test"]},
                        "defaultVariant": "on"},
        "ranker-test": {"state": "ENABLED", "defaultVariant": "control", "targeting": EVEN,
                        "variants": {"control": {"ranker-model": "none"},
                                     "treatment": {"ranker-model": "no-such-model"}}}}}))
    with serving(catalog, "--policy", policy, "--flags", str(path)) as api:
        for i in range(6):
            answer = api.post("/search", json={"query": "love", "client_id": f"u{i}", "k": 3},
                              headers={"X-Request-ID": f"req-{i}"})
            assert answer.status_code == 200, answer.text
        path.write_text('{"flags": {"experiments": ')  # broken mid-edit
        time.sleep(1.2)  # past the provider's reload check interval
        answer = api.post("/search", json={"query": "love", "client_id": "u0", "k": 3},
                          headers={"X-Request-ID": "req-after"})
        assert answer.status_code == 200, answer.text
        ready = api.get("/ready").json()
        deadline = time.monotonic() + 10
        while count(client, catalog.ubi_queries_index) < 7 and time.monotonic() < deadline:
            time.sleep(0.2)
    variants = {client.get(index=catalog.ubi_queries_index, id=f"req-{i}")["_source"]
                ["query_attributes"]["variant"] for i in range(6)}
    assert variants <= {"ranker-test/control", "ranker-test/treatment"} and len(variants) == 2
    after = client.get(index=catalog.ubi_queries_index, id="req-after")["_source"]
    assert after["query_attributes"]["variant"] == \
        client.get(index=catalog.ubi_queries_index, id="req-0")["_source"]["query_attributes"][
            "variant"]  # the last good flags stayed in force, and u0 kept its variant
    assert "not valid JSON" in json.dumps(ready)
