"""Click models on synthetic logs whose true attractiveness and position bias are known."""

from __future__ import annotations

import numpy as np
import pytest

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.clicks import CTR, PBM, SDBN
from ltrr_opensearch.rank.types import Impression
from ltrr_opensearch.rank.ubi import impression_from_events

FILLERS = ["f1", "f2", "f3", "f4", "f5", "f6"]
ATTRACT = {"great": 0.7, "meh": 0.35, **{f: 0.1 for f in FILLERS}}
THETA = [1.0, 0.6, 0.45, 0.35, 0.25, 0.2, 0.15, 0.1]


def biased_orders(rng, n):
    """'meh' served on top and 'great' fifth 90% of the time, else a random order."""
    for _ in range(n):
        rest = list(FILLERS)
        rng.shuffle(rest)
        if rng.random() < 0.9:
            yield ["meh", *rest[:3], "great", *rest[3:]]
        else:
            order = ["meh", "great", *rest]
            rng.shuffle(order)
            yield order


def pbm_log(n=6000, seed=1):
    rng = np.random.default_rng(seed)
    return [Impression("q", order, [bool(rng.random() < THETA[r] * ATTRACT[d])
                                    for r, d in enumerate(order)])
            for order in biased_orders(rng, n)]


def cascade_log(n=6000, seed=2, stop=0.9):
    """Top-down scan as in simulate/clicks.py: examine rank r with THETA[r], click with the
    doc's attractiveness, stop after a click with ``stop``."""
    rng = np.random.default_rng(seed)
    out = []
    for order in biased_orders(rng, n):
        clicks = [False] * len(order)
        for r, d in enumerate(order):
            if rng.random() < THETA[r] * ATTRACT[d]:
                clicks[r] = True
                if rng.random() < stop:
                    break
        out.append(Impression("q", order, clicks))
    return out


def test_raw_ctr_is_misled_by_position():
    ctr = CTR().fit(pbm_log())
    assert ctr.relevance("q", "meh") > ctr.relevance("q", "great")


def test_pbm_recovers_order_and_attractiveness():
    pbm = PBM().fit(pbm_log())
    assert pbm.relevance("q", "great") > pbm.relevance("q", "meh") > pbm.relevance("q", "f1")
    assert pbm.relevance("q", "great") == pytest.approx(0.7, abs=0.06)
    assert pbm.theta[:3] == pytest.approx(THETA[:3], abs=0.06)


def test_sdbn_recovers_order_on_cascade_clicks():
    log = cascade_log()
    assert CTR().fit(log).relevance("q", "meh") > CTR().fit(log).relevance("q", "great")
    sdbn = SDBN().fit(log)
    assert sdbn.relevance("q", "great") > sdbn.relevance("q", "meh") > sdbn.relevance("q", "f1")


@pytest.mark.parametrize("prior", [(1.0, 1.0), (2.0, 5.0)])
def test_pbm_em_objective_never_decreases(prior):
    pbm = PBM(prior=prior, tol=0.0, max_iter=60).fit(pbm_log(n=800, seed=5))
    steps = np.diff(pbm.objective_trace)
    assert len(steps) == 60
    assert steps.min() >= -1e-9


def test_sdbn_counts_examinations_at_or_above_last_click():
    log = [Impression("q", ["a", "b", "c"], {"b"}), Impression("q", ["a", "b", "c"], ()),
           Impression("q", ["c", "a", "b"], {"a"})]
    sdbn = SDBN(prior=(1.0, 1.0)).fit(log)
    assert sdbn.evidence("q", "a") == 2 and sdbn.evidence("q", "b") == 1
    assert sdbn.evidence("q", "c") == 1
    assert sdbn.relevance("q", "a") == pytest.approx((1 + 1) / (2 + 2))


def test_unknown_pair_and_unfitted_model_are_clear_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        SDBN().relevance("q", "a")
    with pytest.raises(KeyError, match="never shown"):
        SDBN().fit([Impression("q", ["a"], {"a"})]).relevance("q", "zzz")


def test_no_impressions_is_a_validation_error():
    with pytest.raises(ValidationError, match="no impressions"):
        PBM().fit([])


def test_impression_rejects_clicks_on_unshown_docs():
    with pytest.raises(ValidationError, match="did not show"):
        Impression("q", ["a", "b"], {"c"})


def test_impression_from_ubi_events_reads_clicks_and_engagement():
    def ev(action, doc, qid="x"):
        return {"action_name": action, "query_id": qid,
                "event_attributes": {"object": {"object_id": doc}}}
    events = [ev("click", "b"), ev("play", "b"), ev("click", "a", qid="other"), ev("click", "z")]
    imp = impression_from_events("q", ["a", "b", "c"], events, query_id="x")
    assert imp.clicked == (False, True, False)
    assert imp.engagements == {"b": 3.0}
