"""Bandit state through the real OpenSearch node: persistence, sharing, idempotence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.select import BanditConfig, Budget, Learner, Observation, PolicySpec
from ltrr_opensearch.select.store import BanditStore
from ltrr_opensearch.types import ContextVector

pytestmark = pytest.mark.integration

ARMS = ("a", "b", "c")
NAMES = ("x",)


def config(**changes) -> BanditConfig:
    base = BanditConfig(name="test", arms=ARMS, policy=PolicySpec("LinTS", {"alpha": 0.5}),
                        budget=Budget(2, 40, 10), epsilon=0.1, propensity_samples=32,
                        settle_seconds=0.0)
    return replace(base, **changes)


def ctx(x: float) -> ContextVector:
    return ContextVector("v1", NAMES, (x,))


def feedback(start: int, stop: int, t0: int = 1_700_000_000_000) -> list[Observation]:
    rng = np.random.default_rng(start)
    out = []
    for i in range(start, stop):
        x = float(i % 2)
        for arm in ("a", "b") if i % 3 else ("b", "c"):
            p = {"a": 0.8 * x, "b": 0.5, "c": 0.2}[arm]
            out.append(Observation(f"r{i}", arm, float(rng.random() < p), "v1", (x,),
                                   logged_at=t0 + i))
    return out


def test_a_reloaded_worker_makes_identical_choices(client, settings):
    first = Learner.load(client, settings, config())
    first.record(feedback(0, 60), refresh=True)
    result = first.sync()
    assert result.committed and result.version == 1 and result.observations == len(feedback(0, 60))
    second = Learner.load(client, settings, config())
    assert second.version == 1
    for seed in range(5):
        for x in (0.0, 1.0):
            assert second.select(ctx(x), seed=seed) == first.select(ctx(x), seed=seed)


def test_two_workers_with_overlapping_feedback_converge_without_double_counting(client, settings):
    one = Learner.load(client, settings, config())
    two = Learner.load(client, settings, config())
    created_one = one.record(feedback(0, 60), refresh=True)
    created_two = two.record(feedback(40, 100), refresh=True)
    assert created_one.created == len(feedback(0, 60))
    assert created_two.duplicates == 2 * 20  # requests 40-59, two arms each, already logged
    one.sync()
    two.sync()
    one.sync()
    expected = {"a": 0, "b": 0, "c": 0}
    for o in feedback(0, 100):
        expected[o.arm] += 1
    assert one.bandit.counts == two.bandit.counts == expected
    assert one.version == two.version
    assert one.select(ctx(1.0), seed=7) == two.select(ctx(1.0), seed=7)


def test_recording_the_same_feedback_twice_changes_nothing(client, settings):
    learner = Learner.load(client, settings, config())
    learner.record(feedback(0, 10), refresh=True)
    learner.sync()
    again = learner.record(feedback(0, 10), refresh=True)
    assert again.created == 0 and again.duplicates == len(feedback(0, 10))
    result = learner.sync()
    assert not result.committed and result.observations == len(feedback(0, 10))


def test_feedback_written_behind_the_watermark_is_picked_up(client, settings):
    learner = Learner.load(client, settings, config())
    learner.record(feedback(10, 20), refresh=True)
    learner.sync()
    learner.record(feedback(0, 5), refresh=True)  # older timestamps, arrived late
    result = learner.sync()
    assert result.late == len(feedback(0, 5))
    assert learner.bandit.observations == len(feedback(0, 5)) + len(feedback(10, 20))


def test_unsettled_feedback_waits_for_the_next_sync(client, settings):
    learner = Learner.load(client, settings, config(settle_seconds=60.0))
    learner.record([replace(o, logged_at=0) for o in feedback(0, 3)], refresh=True)  # now
    assert learner.sync().observations == 0


def test_bad_feedback_is_rejected_before_anything_is_written(client, settings):
    learner = Learner.load(client, settings, config())
    bad = feedback(0, 5) + [Observation("r99", "nope", 1.0, "v1", (1.0,))]
    with pytest.raises(ValidationError, match="unknown arm 'nope'"):
        learner.record(bad, refresh=True)
    nan = [Observation("r98", "a", float("nan"), "v1", (1.0,))]
    with pytest.raises(ValidationError, match="finite"):
        learner.record(nan, refresh=True)
    assert BanditStore(client, settings).fetch() == []


def test_kill_switch_is_shared_and_survives_reload(client, settings):
    one = Learner.load(client, settings, config())
    one.kill("a")
    two = Learner.load(client, settings, config())
    assert "a" not in [c.arm for s in range(20) for c in two.select(ctx(1.0), seed=s).choices]
    one.revive("a")
    two.sync()
    assert two.bandit.killed == frozenset()
    with pytest.raises(ValidationError, match="unknown arm"):
        one.kill("zzz")


def test_removing_an_arm_by_configuration_keeps_the_others_learning(client, settings):
    full = Learner.load(client, settings, config())
    full.record(feedback(0, 60), refresh=True)
    full.sync()
    fewer = Learner.load(client, settings, config(arms=("a", "b")))
    assert fewer.bandit.counts == {"a": full.bandit.counts["a"], "b": full.bandit.counts["b"]}
    before = {a.arm: a.expected_reward for a in full.bandit.explain(ctx(1.0), seed=0).arms}
    after = {a.arm: a.expected_reward for a in fewer.bandit.explain(ctx(1.0), seed=0).arms}
    assert after == {k: before[k] for k in ("a", "b")}


def test_a_stale_snapshot_write_loses_instead_of_overwriting(client, settings):
    learner = Learner.load(client, settings, config())
    learner.record(feedback(0, 10), refresh=True)
    learner.sync()
    store = BanditStore(client, settings)
    snap, seq_no, term = store.get_snapshot("test")
    assert store.put_snapshot(replace(snap, version=snap.version + 1), seq_no, term)
    assert not store.put_snapshot(replace(snap, version=99), seq_no, term)
    assert store.get_snapshot("test")[0].version == snap.version + 1
