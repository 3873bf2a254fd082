"""Off-policy estimates cover a target policy's true value on simulated logs."""

from __future__ import annotations

import numpy as np
import pytest

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.select import Bandit, Budget, Observation, PolicySpec
from ltrr_opensearch.select.ope import LoggedDecision, evaluate
from ltrr_opensearch.types import ContextVector

ARMS = ["a", "b", "c", "d"]


def ctx(x: float) -> ContextVector:
    return ContextVector("v1", ("x",), (x,))


def pay_prob(arm: str, x: float) -> float:
    return {"a": 0.8 if x else 0.1, "b": 0.1 if x else 0.8, "c": 0.3, "d": 0.5}[arm]


def target_policy() -> Bandit:
    """A LinUCB trained on a little uniform data, exploring 10%: the policy to evaluate."""
    rng = np.random.default_rng(1234)
    data = [Observation(f"t{i}", arm, float(rng.random() < pay_prob(arm, i % 2)), "v1",
                        (float(i % 2),)) for i in range(60) for arm in ARMS]
    return Bandit(ARMS, PolicySpec("LinUCB", {"alpha": 0.2}), Budget(2, 40, 10),
                  epsilon=0.1).fit(data)


def true_value(target: Bandit) -> float:
    """Run the target: E_x sum_a P(a runs | x) * P(reward | x, a), x uniform over {0, 1}."""
    return float(np.mean([sum(p * pay_prob(a, x) for a, p in target.propensities(ctx(x)).items())
                          for x in (0.0, 1.0)]))


def logging_policy(seed: int) -> Bandit:
    """A context-free epsilon-greedy logger favouring c and d, with exact propensities."""
    return Bandit(ARMS, PolicySpec("EpsilonGreedy", {"epsilon": 0.4}), Budget(2, 40, 10),
                  seed=seed).fit([Observation("w", "c", 1.0, "v1", (0.0,)),
                                  Observation("w", "d", 1.0, "v1", (0.0,))])


def logged(seed: int, n: int = 1500) -> list[LoggedDecision]:
    rng = np.random.default_rng(seed)
    logger = logging_policy(seed)
    out = []
    for i in range(n):
        x = float(rng.integers(0, 2))
        choices = logger.select(ctx(x), seed=int(rng.integers(2**31))).choices
        out.append(LoggedDecision(
            f"r{i}", ctx(x), {c.arm: c.propensity for c in choices},
            {c.arm: float(rng.random() < pay_prob(c.arm, x)) for c in choices}))
    return out


def test_estimates_cover_the_true_value_in_most_seeds():
    target = target_policy()
    truth = true_value(target)
    covered = {"ips": 0, "snips": 0, "dr": 0}
    seeds = range(10)
    for seed in seeds:
        estimates = evaluate(logged(seed), lambda c: target.propensities(c, seed=0),
                             bootstrap=200, seed=seed)
        for name in covered:
            covered[name] += estimates[name].low <= truth <= estimates[name].high
    # Nominal 95% intervals: P(fewer than 8 of 10 cover) is about 1% per estimator.
    assert all(count >= 8 for count in covered.values()), (truth, covered)


def test_logging_policy_evaluated_on_its_own_logs_matches_its_average_reward():
    estimates = evaluate(logged(3), logging_policy(3).propensities, bootstrap=0)
    # Importance weights are all 1: IPS is exactly the logged average; SNIPS and DR differ
    # only by their normaliser / control variate, which average out.
    assert estimates["ips"].value == pytest.approx(estimates["logged"].value, rel=1e-12)
    assert estimates["snips"].value == pytest.approx(estimates["logged"].value, rel=0.05)
    assert estimates["dr"].value == pytest.approx(estimates["logged"].value, rel=0.05)


def test_a_zero_propensity_in_the_log_is_a_clear_error():
    bad = [LoggedDecision("r1", ctx(1.0), {"a": 0.0}, {"a": 1.0})]
    with pytest.raises(ValidationError, match=r"propensity of 'a' must be in \(0, 1\]"):
        evaluate(bad, lambda c: {"a": 1.0})


def test_a_nan_reward_in_the_log_is_a_clear_error():
    bad = [LoggedDecision("r1", ctx(1.0), {"a": 0.5}, {"a": float("nan")})]
    with pytest.raises(ValidationError, match="not finite"):
        evaluate(bad, lambda c: {"a": 1.0})


def test_no_logged_decisions_is_a_clear_error():
    with pytest.raises(ValidationError, match="no logged decisions"):
        evaluate([], lambda c: {})


@pytest.mark.integration
def test_logged_decisions_of_one_variant_and_window(client, settings):
    """``ltrr bandit evaluate --variant`` reads only that variant's searches (a search in
    several experiments carries a list of labels) and ``until_ms`` bounds the window."""
    from datetime import datetime, timezone

    from ltrr_opensearch.feedback.querylog import ArmLog, SearchRecord, log_search
    from ltrr_opensearch.select.ope import read_logged_decisions

    context = ContextVector("v1", ("a", "b"), (1.0, 0.0))
    day = [datetime(2025, 1, d, tzinfo=timezone.utc) for d in (1, 2, 3)]
    records = [SearchRecord(f"q{i}", "x", ("e1",), arms=(ArmLog("bm25", 10, 0.5),),
                            client_id="u", variant=variant, context=context, timestamp=day[i])
               for i, variant in enumerate(["exp/control", "exp/treatment",
                                            ["other/a", "exp/control"]])]
    log_search(client, settings, records, refresh="wait_for")
    ids = [d.request_id for d in read_logged_decisions(client, settings, variant="exp/control")]
    assert sorted(ids) == ["q0", "q2"]
    before = read_logged_decisions(client, settings, variant="exp/control",
                                   until_ms=int(day[2].timestamp() * 1000))
    assert [d.request_id for d in before] == ["q0"]
