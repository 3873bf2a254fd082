"""``[budget] always``: an arm that runs on top of the M chosen ones whenever it is available,
once, with propensity 1 (0 when unavailable), and the explanation says why.

Same synthetic world as test_select_bandit.py: at context 1 arm "a" pays 0.8, "c" 0.3,
"d" 0.2 and "b" 0.1, so a greedy LinUCB (alpha 0) with M=2 runs a and c.
"""

from __future__ import annotations

import numpy as np
import pytest

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.select import Bandit, BanditConfig, Budget, Observation, PolicySpec
from ltrr_opensearch.types import ContextVector

ARMS = ["a", "b", "c", "d"]
PAY = {"a": 0.8, "b": 0.1, "c": 0.3, "d": 0.2}


def ctx() -> ContextVector:
    return ContextVector("v1", ("x",), (1.0,))


def trained(always: dict[str, int] | None = None, **kwargs) -> Bandit:
    rng = np.random.default_rng(7)
    data = [Observation(str(i), arm, float(rng.random() < PAY[arm]), "v1", (1.0,))
            for i in range(300) for arm in ARMS]
    budget = Budget(2, 40, 10, always=tuple((always or {}).items()))
    return Bandit(ARMS, PolicySpec("LinUCB", {"alpha": 0.0}), budget, **kwargs).fit(data)


def test_an_available_always_arm_runs_on_top_of_the_chosen_ones():
    selection = trained({"d": 5}).select(ctx(), seed=0)
    ks = {c.arm: c.k for c in selection.choices}
    assert ks == {"a": ks["a"], "c": ks["c"], "d": 5}
    assert ks["a"] + ks["c"] == 40
    d = next(c for c in selection.choices if c.arm == "d")
    assert d.propensity == 1.0
    why = {a.arm: a for a in selection.explanation.arms}["d"]
    assert why.chosen and why.k == 5 and why.propensity == 1.0
    assert "[budget] always" in why.always


def test_an_unavailable_always_arm_does_not_run_and_has_propensity_zero():
    bandit = trained({"d": 5})
    selection = bandit.select(ctx(), seed=0, unavailable={"d": "the memory has nothing"})
    assert "d" not in {c.arm for c in selection.choices}
    assert {a.arm: a for a in selection.explanation.arms}["d"].always is None
    assert bandit.propensities(ctx(), seed=0, unavailable={"d": "empty"})["d"] == 0.0


def test_an_always_arm_the_policy_chose_runs_once_with_propensity_one():
    selection = trained({"c": 5}).select(ctx(), seed=0)
    arms = [c.arm for c in selection.choices]
    assert sorted(arms) == ["a", "c"]
    c = next(c for c in selection.choices if c.arm == "c")
    assert c.propensity == 1.0 and c.k >= 10  # the policy's share, not the always k
    assert "the policy chose it too" in {a.arm: a for a in selection.explanation.arms}["c"].always


def test_the_other_arms_keep_the_propensities_of_the_plain_policy():
    plain = trained(epsilon=0.2).propensities(ctx(), seed=0)
    always = trained({"d": 5}, epsilon=0.2).propensities(ctx(), seed=0)
    assert always["d"] == 1.0
    assert {a: p for a, p in always.items() if a != "d"} == pytest.approx(
        {a: p for a, p in plain.items() if a != "d"})


def test_a_killed_always_arm_does_not_run():
    selection = trained({"d": 5}, killed=["d"]).select(ctx(), seed=0)
    assert "d" not in {c.arm for c in selection.choices}


def test_when_every_arm_is_unavailable_the_always_arm_does_not_join_the_fallback():
    bandit = trained({"d": 5})
    everything = dict.fromkeys(ARMS, "nothing to search")
    arms = [c.arm for c in bandit.select(ctx(), seed=0, unavailable=everything).choices]
    assert sorted(arms) == ["a", "c"]  # the policy's fallback pair, nothing on top


def test_policy_file_always_is_parsed_and_checked():
    config = BanditConfig.from_mapping({"arms": ARMS, "budget": {"always": {"d": 10}}})
    assert config.budget.always_k == {"d": 10}
    with pytest.raises(ConfigError, match="unknown arm"):
        BanditConfig.from_mapping({"arms": ARMS, "budget": {"always": {"zz": 10}}})
    with pytest.raises(ConfigError, match="candidate count"):
        BanditConfig.from_mapping({"arms": ARMS, "budget": {"always": {"d": 0}}})
    with pytest.raises(ConfigError, match="always must map"):
        BanditConfig.from_mapping({"arms": ARMS, "budget": {"always": {"d": "ten"}}})
