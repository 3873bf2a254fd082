"""Training rows are checked, and the split is by query."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.dataset import build_dataset, split_by_query


def row(q, d, label=0, **features):
    return {"query_id": q, "doc_id": d, "features": features, "label": label}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=200), st.integers(0, 10_000),
       st.floats(0.05, 0.95))
def test_split_never_puts_a_query_on_both_sides(query_numbers, seed, fraction):
    rows = [row(f"q{n}", f"d{i}", x=1.0) for i, n in enumerate(query_numbers)]
    data = build_dataset(rows, ["x"])
    if len(set(query_numbers)) < 2:
        with pytest.raises(ValidationError, match="at least 2 queries"):
            split_by_query(data, fraction, seed)
        return
    train, valid = split_by_query(data, fraction, seed)
    assert set(train.query_ids).isdisjoint(valid.query_ids)
    assert len(train) + len(valid) == len(data)
    assert train.queries() and valid.queries()


def test_split_depends_on_queries_and_seed_not_row_order():
    rows = [row(f"q{i % 7}", f"d{i}", x=float(i)) for i in range(40)]
    a = split_by_query(build_dataset(rows, ["x"]), 0.3, seed=4)[1]
    b = split_by_query(build_dataset(rows[::-1], ["x"]), 0.3, seed=4)[1]
    assert set(a.query_ids) == set(b.query_ids)


def test_absent_feature_is_missing_not_zero():
    data = build_dataset([row("q", "a", 1, x=2.0), row("q", "b", 0)], ["x", "y"])
    assert data.X[0, 0] == 2.0 and math.isnan(data.X[0, 1]) and math.isnan(data.X[1, 0])


@pytest.mark.parametrize(("rows", "names", "message"), [
    ([], ["x"], "no training rows"),
    ([row("q", "a", x=float("nan"))], ["x"], "non-finite"),
    ([row("q", "a", x=float("inf"))], ["x"], "non-finite"),
    ([row("q", "a", z=1.0)], ["x"], "unknown feature"),
    ([row("q", "a", x=1.0), row("q", "a", x=2.0)], ["x"], "appears twice"),
    ([row("q", "a", label=-1, x=1.0)], ["x"], "label"),
    ([row("q", "a", x=1.0)], [], "no feature names"),
    ([row("q", "a", x=1.0)], ["x", "x"], "repeat"),
    ([row("q", "a", x=1.0)], ["x", "f[0]"], "bad feature name"),
    ([{"query_id": "q", "features": {}, "label": 0}], ["x"], "lacks doc_id"),
])
def test_bad_rows_are_rejected_with_the_reason(rows, names, message):
    with pytest.raises(ValidationError, match=message):
        build_dataset(rows, names)
