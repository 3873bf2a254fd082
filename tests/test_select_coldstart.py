"""Cold start follows the prior plan, unavailable arms are never chosen, a window forgets."""

from __future__ import annotations

import pytest

from ltrr_opensearch.select import Bandit, Budget, Observation, PolicySpec
from ltrr_opensearch.types import ContextVector

ARMS = ("bm25", "structured", "memory", "knn")
PRIOR = {"bm25": 1.0, "structured": 0.9, "memory": 0.95, "knn": 0.5}


def ctx(x: float = 1.0) -> ContextVector:
    return ContextVector("v1", ("x",), (x,))


def bandit(**kw) -> Bandit:
    base = dict(policy=PolicySpec("LinUCB", {"alpha": 1.0}), budget=Budget(2, 40, 10),
                prior=PRIOR, cold_start_min_obs=5, cold_start_epsilon=0.0)
    return Bandit(ARMS, **{**base, **kw})


def test_a_cold_bandit_runs_the_prior_plan_every_time():
    b = bandit()
    picks = {tuple(c.arm for c in b.select(ctx(), seed=s).choices) for s in range(30)}
    assert picks == {("bm25", "memory")}
    assert b.explain(ctx(), seed=0).plan == "prior"


def test_an_arm_that_cannot_answer_is_not_chosen_and_the_explanation_says_why():
    b = bandit()
    sel = b.select(ctx(), seed=1, unavailable={"memory": "the memory has nothing for key 'x'"})
    assert [c.arm for c in sel.choices] == ["bm25", "structured"]
    memory = next(a for a in sel.explanation.arms if a.arm == "memory")
    assert memory.unavailable == "the memory has nothing for key 'x'"
    assert memory.propensity == 0.0 and not memory.killed and not memory.chosen
    assert b.propensities(ctx(), unavailable={"memory": "empty"})["memory"] == 0.0


def test_cold_start_exploration_has_exact_propensities():
    b = bandit(cold_start_epsilon=0.2)
    p = b.propensities(ctx(), seed=0)
    assert p["knn"] == pytest.approx(0.2 * 2 / 4)
    assert p["bm25"] == pytest.approx(0.8 + 0.2 * 2 / 4)
    assert sum(p.values()) == pytest.approx(2.0)


def test_with_enough_evidence_for_every_arm_the_learned_policy_decides():
    b = bandit()
    data = [Observation(f"r{i}", arm, 1.0 if arm == "knn" else 0.0, "v1", (1.0,))
            for i in range(6) for arm in ARMS]
    b.fit(data)
    sel = b.select(ctx(), seed=0)
    assert sel.explanation.plan == "learned" and sel.choices[0].arm == "knn"


def test_a_window_relearns_an_arm_whose_quality_changed():
    def history(n_old: int, n_new: int) -> list[Observation]:
        out = []
        for i in range(n_old + n_new):
            good = "knn" if i < n_old else "bm25"  # knn breaks; bm25 becomes the best
            out += [Observation(f"r{i}", arm, 1.0 if arm == good else 0.1, "v1", (1.0,),
                                logged_at=i) for arm in ARMS]
        return out

    windowed = bandit(window=50, budget=Budget(1, 40, 10)).fit(history(500, 60))
    forever = bandit(budget=Budget(1, 40, 10)).fit(history(500, 60))
    assert windowed.select(ctx(), seed=0).choices[0].arm == "bm25"
    assert forever.select(ctx(), seed=0).choices[0].arm == "knn"
    assert windowed.counts["bm25"] == 560  # the log keeps everything; the fit uses the window


def test_day_one_runs_every_available_arm_as_deep_as_cold_start_k():
    b = bandit(cold_start_plan="all", cold_start_k=25)
    sel = b.select(ctx(), seed=3, unavailable={"memory": "no key"})
    assert [c.arm for c in sel.choices] == ["bm25", "structured", "knn"]  # prior order
    assert all(c.k == 25 and c.propensity == 1.0 for c in sel.choices)
    assert sel.explanation.plan == "all" and not sel.explanation.explored
    assert b.propensities(ctx(), unavailable={"memory": "no key"}) == {
        "bm25": 1.0, "structured": 1.0, "memory": 0.0, "knn": 1.0}


def test_day_one_depth_defaults_to_an_even_share_of_the_budget():
    b = bandit(cold_start_plan="all", budget=Budget(2, 200, 10))
    assert {c.k for c in b.select(ctx(), seed=0).choices} == {100}


def test_every_arm_runs_until_each_available_one_has_enough_evidence():
    b = bandit(cold_start_plan="all")
    seen = [Observation(f"r{i}", arm, 1.0 if arm == "knn" else 0.0, "v1", (1.0,))
            for i in range(6) for arm in ARMS if arm != "memory"]
    b.fit(seen)
    assert len(b.select(ctx(), seed=0).choices) == 4  # the memory has no evidence yet
    learned = b.select(ctx(), seed=0, unavailable={"memory": "no key"})
    assert learned.explanation.plan == "learned" and len(learned.choices) == 2
    assert learned.choices[0].arm == "knn"
