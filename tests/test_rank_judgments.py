"""Graded judgments from a fitted click model."""

from __future__ import annotations

import pytest

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.clicks import SDBN
from ltrr_opensearch.rank.judgments import grade_of, judgments
from ltrr_opensearch.rank.types import Impression


def test_thin_pairs_are_left_out_not_labelled_zero():
    log = [Impression("q", ["a", "b"], {"b"}) for _ in range(12)]
    log += [Impression("q", ["thin", "a"], {"thin"}) for _ in range(3)]
    judged = {(j.query_key, j.doc_id): j for j in judgments(SDBN().fit(log), min_evidence=10)}
    assert set(judged) == {("q", "a"), ("q", "b")}
    assert judged[("q", "b")].grade == 3 and judged[("q", "a")].grade == 0
    assert judged[("q", "a")].evidence == 12


def test_grades_follow_the_thresholds():
    assert [grade_of(r, (0.15, 0.4, 0.7)) for r in (0.1, 0.15, 0.5, 0.7, 1.0)] == [0, 1, 2, 3, 3]
    assert grade_of(0.95, (0.1, 0.3, 0.6, 0.9)) == 4


@pytest.mark.parametrize("cuts", [(0.5, 0.4, 0.7), (0.1, 0.2), (0.0, 0.4, 0.7), (0.2, 0.4, 1.5)])
def test_bad_thresholds_are_rejected(cuts):
    model = SDBN().fit([Impression("q", ["a"], {"a"})])
    with pytest.raises(ValidationError, match="threshold"):
        judgments(model, thresholds=cuts)
