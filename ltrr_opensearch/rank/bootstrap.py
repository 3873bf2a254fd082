"""Training data for a ranker from labelled queries: every candidate the search path
retrieves, with the feature values the engine logged for it and the query's grade for it.

Used to train the shipped default ranker (``benchmarks/train_default_ranker.py``) on music
catalogs with known answers: simulated worlds (graded by the simulator's truth) and real
catalogs with generated known-item, typo, partial and attribute queries. The candidates
come from the real pipeline with a logging-only ranker (``sltr`` with the feature set and no
model), so training sees exactly the candidates and feature values serving will.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.rank.features import FeatureSet
from ltrr_opensearch.rank.ranker import Ranker


@dataclass(frozen=True)
class Labelled:
    """One query to learn from: its text, its answers (id -> grade) and its clock."""

    qid: str
    text: str
    grades: Mapping[str, int] | Callable[[str], int]
    kind: str = ""
    now: datetime | None = None

    def grade(self, doc_id: str) -> int:
        g = self.grades
        return int(g(doc_id)) if callable(g) else int(g.get(doc_id, 0))


def logging_pipeline(pipeline: Pipeline, feature_set: FeatureSet) -> Pipeline:
    ranker = Ranker.logging_only(feature_set.store_name, tuple(feature_set.names),
                                 frozenset(feature_set.params))
    # Every candidate comes back with its features, in the fused order.
    return replace(pipeline, ranker=ranker, selector=None, log_features_depth=10_000)


def collect_rows(pipeline: Pipeline, queries: Iterable[Labelled], *, source: str = "",
                 progress: Callable[[int], None] | None = None
                 ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Rows ``{query_id, doc_id, features, label, kind}`` for every candidate of every query
    (queries whose candidates hold nothing relevant are kept: they teach nothing but cost
    nothing either), and each query's fused order as the baseline ranking."""
    names = pipeline.ranker.feature_names
    rows: list[dict[str, Any]] = []
    baseline: dict[str, list[str]] = {}
    for i, q in enumerate(queries, start=1):
        response = pipeline.search(q.text, k=10, now=q.now, log=False)
        qid = f"{source}:{q.qid}"
        baseline[qid] = [c.id for c in response.candidates]
        for c in response.candidates:
            if c.features is None:
                continue
            rows.append({"query_id": qid, "doc_id": c.id, "kind": q.kind,
                         "features": dict(zip(names, c.features, strict=True)),
                         "label": q.grade(c.id)})
        if progress and i % 100 == 0:
            progress(i)
    return rows, baseline
