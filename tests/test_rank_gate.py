"""The deploy gate's rule, offline: a candidate passes only when the whole 95% interval of its
NDCG@10 gain lies above zero."""

from __future__ import annotations

import re

from ltrr_opensearch.rank.gate import LINEAR, heldout_gate
from ltrr_opensearch.rank.registry import ModelEntry


def _model(weights: dict[str, float], rows: list[dict]) -> ModelEntry:
    return ModelEntry(name="m", type=LINEAR, definition=weights, feature_set="fs",
                      feature_names=("a", "b"), params=(), heldout={"rows": rows})


def _rows(wins: int, losses: int) -> list[dict]:
    """Two docs per query, one relevant. Feature ``a`` puts the relevant doc first on the
    queries the candidate wins, feature ``b`` on the ones it loses."""
    rows = []
    for q in range(wins + losses):
        a_right = q < wins
        for doc, label in (("rel", 1), ("irr", 0)):
            first = (label == 1) == a_right
            rows.append({"query_id": f"q{q}", "doc_id": f"q{q}-{doc}", "label": label,
                         "features": {"a": 1.0 if first else 0.0,
                                      "b": 0.0 if first else 1.0}})
    return rows


def test_a_candidate_whose_gain_interval_straddles_zero_is_refused():
    rows = _rows(wins=7, losses=5)  # better on average, but not surely better
    candidate, deployed = _model({"a": 1.0}, rows), _model({"b": 1.0}, rows)
    passed, message = heldout_gate(candidate, deployed)
    low, high = map(float, re.search(r"95% CI ([-+][\d.]+)\.\.([-+][\d.]+)", message).groups())
    mean = float(re.search(r"\(([-+][\d.]+), 95% CI", message).group(1))
    assert low < 0 < mean < high  # the case the rule is for
    assert not passed, message
