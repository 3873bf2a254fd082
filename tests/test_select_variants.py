"""Per-arm engine time in the reward and per-variant bandit state, on the real node."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ltrr_opensearch.loop import FeedbackLoop
from ltrr_opensearch.select import BanditConfig, Budget, Learner, Observation, PolicySpec
from ltrr_opensearch.select.reward import RewardConfig
from ltrr_opensearch.select.store import BanditStore

pytestmark = pytest.mark.integration

ARMS = ("a", "b", "c")
T0 = 1_700_000_000_000


def config(**changes) -> BanditConfig:
    base = BanditConfig(name="test", arms=ARMS, policy=PolicySpec("LinUCB", {"alpha": 1.0}),
                        budget=Budget(2, 40, 10), epsilon=0.0, settle_seconds=0.0)
    return replace(base, **changes)


def observations(variant: str | None, n: int, prefix: str) -> list[Observation]:
    return [Observation(f"{prefix}{i}", ARMS[i % 3], 1.0, "v1", (1.0,), logged_at=T0 + i,
                        variant=variant) for i in range(n)]


def test_a_variant_bandit_learns_only_from_its_own_variants_traffic(client, settings):
    shared = Learner.load(client, settings, config())
    shared.record(observations("exp/control", 30, "c") + observations("exp/treat", 12, "t"),
                  refresh=True)
    treat = Learner.load(client, settings, config(name="test-exp_treat", variant="exp/treat"))
    assert treat.bandit.observations == 12
    assert treat.bandit.counts == {"a": 4, "b": 4, "c": 4}  # the treatment's 12, by arm
    assert shared.sync().observations == 42  # the shared bandit still learns from everything


def test_the_worker_cycle_syncs_every_variant_bandit(client, settings):
    main = Learner.load(client, settings, config())
    treat = Learner.load(client, settings, config(name="test-exp_treat", variant="exp/treat"))
    main.record(observations("exp/treat", 9, "t"), refresh=True)
    assert treat.version == 0
    FeedbackLoop(client, settings, main, settle_seconds=0).cycle()
    snap, _, _ = BanditStore(client, settings).get_snapshot("test-exp_treat")
    assert snap is not None and snap.applied == 9 and snap.variant == "exp/treat"


def test_closed_rewards_are_charged_for_each_arms_engine_time(client, settings):
    costly = config(reward=RewardConfig(cost_per_candidate=0.0, cost_per_ms=0.01))
    learner = Learner.load(client, settings, costly)
    learner.store.ensure_index()
    for arm, took in (("a", 20.0), ("b", None)):
        client.index(index=settings.state_index, id=f"r1:{arm}", body={
            "kind": "reward", "request_id": "r1", "arm": arm, "reward": 1.0, "k": 20,
            "propensity": 1.0, "took_ms": took, "context_version": "v1", "context": [1.0],
            "logged_at": T0, "variant": ["exp/treat", "other/x"]})
    created = learner.learn_from_rewards(now=T0 + 10**7)
    assert created.created == 2
    learned = {o.arm: o for o in BanditStore(client, settings).fetch()}
    assert learned["a"].reward == pytest.approx(1.0 - 0.2)
    assert learned["a"].took_ms == 20.0 and learned["a"].variant == "exp/treat,other/x"
    assert learned["b"].reward == pytest.approx(1.0)  # no time logged: no time charged
