"""Graded labels from a fitted click model, only where the clicks say enough.

A pair examined in 2 impressions with 1 click has a relevance estimate of ~0.5 that means
nothing; labelling it (or labelling it 0) would teach the ranker noise. Pairs whose evidence
(impressions that examined them) is below ``min_evidence`` are left out.

Grades come from absolute thresholds on the relevance (a click-if-examined probability):
with the defaults ``(0.15, 0.4, 0.7)`` a pair clicked on under 15% of its examinations is
grade 0, 15-40% grade 1, 40-70% grade 2, 70% and more grade 3. Give four thresholds for 0..4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.types import Judgment

DEFAULT_THRESHOLDS: tuple[float, ...] = (0.15, 0.4, 0.7)
DEFAULT_MIN_EVIDENCE = 10.0


class FittedClickModel(Protocol):
    def pairs(self) -> Sequence[tuple[str, str]]: ...
    def relevance(self, query_key: str, doc_id: str) -> float: ...
    def evidence(self, query_key: str, doc_id: str) -> float: ...


def check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(t) for t in thresholds)
    if len(values) not in (3, 4):
        raise ValidationError(f"need 3 thresholds (grades 0..3) or 4 (0..4), got {len(values)}")
    if any(not math.isfinite(t) or not 0.0 < t <= 1.0 for t in values) \
            or any(x >= y for x, y in zip(values, values[1:], strict=False)):
        raise ValidationError(f"thresholds must increase strictly within (0, 1], got {values}")
    return values


def grade_of(relevance: float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> int:
    """How many thresholds the relevance reaches: 0 below the first, len(thresholds) above all."""
    return sum(1 for t in thresholds if relevance >= t)


def judgments(model: FittedClickModel, min_evidence: float = DEFAULT_MIN_EVIDENCE,
              thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> list[Judgment]:
    """One :class:`Judgment` per pair with at least ``min_evidence`` examinations."""
    cuts = check_thresholds(thresholds)
    if not math.isfinite(min_evidence) or min_evidence < 0:
        raise ValidationError(f"min_evidence must be a finite number >= 0, got {min_evidence}")
    out = []
    for query_key, doc_id in model.pairs():
        evidence = model.evidence(query_key, doc_id)
        if evidence < min_evidence:
            continue
        rel = model.relevance(query_key, doc_id)
        out.append(Judgment(query_key, doc_id, grade_of(rel, cuts), rel, evidence))
    return out
