"""Bounded bandit state: snapshots carry the fitted arrays, the log stays the source of truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ltrr_opensearch.select import BanditConfig, Budget, Learner, Observation, PolicySpec
from ltrr_opensearch.select.modelstate import ModelState, model_key
from ltrr_opensearch.select.store import BanditStore
from ltrr_opensearch.types import ContextVector

ARMS = ("a", "b", "c")
NAMES = ("x", "y")
T0 = 1_700_000_000_000
FEATURES = {"a": {"kind": "lexical", "vector": [0.0]}, "b": {"kind": "memory", "vector": [5.0]},
            "c": {"kind": "lexical", "vector": [0.1]}}  # c, young, is warm-started from a


def config(**changes) -> BanditConfig:
    base = BanditConfig(name="state", arms=ARMS, policy=PolicySpec("LinUCB", {"alpha": 0.5}),
                        budget=Budget(2, 40, 10), epsilon=0.0, min_propensity=0.0,
                        settle_seconds=0.0, warm_start_min_obs=20, arm_features=FEATURES)
    return replace(base, **changes)


def ctx(x: float, y: float) -> ContextVector:
    return ContextVector("v1", NAMES, (x, y))


def feedback(start: int, stop: int, young: str = "c") -> list[Observation]:
    """Arms a and b learn a lot; ``young`` only every 15th request (warm-started)."""
    rng = np.random.default_rng(start)
    out = []
    for i in range(start, stop):
        x, y = float(i % 2), float(rng.random())
        arms = ("a", young) if i % 15 == 0 else ("a", "b")
        for arm in arms:
            p = {"a": 0.8 * x, "b": 0.3 + 0.4 * y, "c": 0.5}[arm]
            out.append(Observation(f"r{i}", arm, float(rng.random() < p), "v1", (x, y),
                                   logged_at=T0 + i))
    return out


def expectations(bandit) -> np.ndarray:
    return np.array([[a.score for a in bandit.explain(ctx(x, y), seed=0).arms]
                     for x in (0.0, 1.0) for y in (0.0, 0.5, 1.0)], dtype=float)


@pytest.mark.parametrize("window", [0, 40])
@pytest.mark.parametrize("learning", ["LinUCB", "LinTS"])
def test_arrays_predict_what_a_refit_from_the_log_predicts(window, learning):
    cfg = config(window=window, policy=PolicySpec(learning, {"alpha": 0.5}))
    log = feedback(0, 200)
    refit = cfg.bandit().fit(log, strict=False)
    loaded = cfg.bandit().load_state(cfg.bandit().state_from(log, model_key(cfg)))
    assert loaded.counts == refit.counts
    if learning == "LinUCB":
        assert np.allclose(expectations(loaded), expectations(refit))
    for arm in ARMS:  # ridge arrays, incl. the warm-started young arm c
        ours, theirs = loaded._mab._imp.arm_to_model[arm], refit._mab._imp.arm_to_model[arm]
        assert np.allclose(ours.A, theirs.A) and np.allclose(ours.beta, theirs.beta)


def test_extending_arrays_equals_rebuilding_them():
    cfg = config(window=30)
    bandit, key = cfg.bandit(), model_key(cfg)
    log = feedback(0, 300)
    head, tail = log[:250], log[250:]

    def newest(arm, version, since):
        return [o for o in log if o.arm == arm][-cfg.window:]

    extended = bandit.extend_state(bandit.state_from(head, key), tail, newest)
    rebuilt = bandit.state_from(log, key)
    assert extended.counts == rebuilt.counts
    for arm in ARMS:
        assert extended.arms[arm].n == rebuilt.arms[arm].n
        assert np.allclose(extended.arms[arm].xtx, rebuilt.arms[arm].xtx)


def test_a_new_context_version_asks_for_a_rebuild():
    cfg = config()
    bandit = cfg.bandit()
    state = bandit.state_from(feedback(0, 20), model_key(cfg))
    newer = [replace(o, context_version="v2") for o in feedback(20, 22)]
    assert bandit.extend_state(state, newer, lambda arm, v, s: []) is None


def test_a_state_of_another_format_is_not_used():
    cfg = config()
    doc = cfg.bandit().state_from(feedback(0, 20), model_key(cfg)).to_doc()
    assert ModelState.from_doc(doc) is not None
    assert ModelState.from_doc({**doc, "format": 0}) is None
    assert ModelState.from_doc({**doc, "arms": {"a": {"n": 1, "xtx": [1.0], "xty": [0.0]}}}) is None


@pytest.mark.integration
def test_a_worker_loads_the_arrays_without_reading_the_log(client, settings):
    writer = Learner.load(client, settings, config(window=40))
    writer.record(feedback(0, 150), refresh=True)
    writer.sync()
    writer.record(feedback(150, 200), refresh=True)
    writer.sync()  # incremental: window arrays advanced from each arm's newest 40
    refit = config(window=40).bandit().fit(BanditStore(client, settings).fetch(), strict=False)
    # Deleting the log proves the next worker reads only the snapshot's arrays.
    client.delete_by_query(index=settings.state_index, refresh=True,
                           body={"query": {"term": {"kind": "observation"}}})
    reader = Learner.load(client, settings, config(window=40))
    assert reader.version == writer.version == 2
    assert reader.bandit.counts == refit.counts
    assert np.allclose(expectations(reader.bandit), expectations(refit))
    for seed in range(5):
        assert reader.select(ctx(1.0, 0.5), seed=seed) == writer.select(ctx(1.0, 0.5), seed=seed)


@pytest.mark.integration
def test_a_snapshot_made_by_another_policy_is_rebuilt_from_the_log(client, settings):
    other = Learner.load(client, settings, config(policy=PolicySpec("LinUCB", {"alpha": 3.0})))
    other.record(feedback(0, 120), refresh=True)
    other.sync()
    ours = Learner.load(client, settings, config())
    refit = config().bandit().fit(BanditStore(client, settings).fetch(), strict=False)
    assert np.allclose(expectations(ours.bandit), expectations(refit))
    snap, _, _ = BanditStore(client, settings).get_snapshot("state")
    assert snap.version == 2 and snap.applied == len(feedback(0, 120))
    assert snap.model["key"] == model_key(config())  # the rebuilt arrays replace the foreign ones
