"""The deploy gate: does a candidate model beat the deployed one on held-out judgments?

Both models score the candidate's held-out rows offline, from the feature vectors the engine
logged (the same numbers ``sltr`` computes), with the plugin's own evaluation rules
(:mod:`ltrr_opensearch.rank.predict`). The candidate passes when the 95% paired-bootstrap
interval of its NDCG@10 gain over queries lies above zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ltrr_opensearch.rank.offline import METRICS, compare, per_query
from ltrr_opensearch.rank.predict import predict_linear, predict_xgboost_json

LINEAR, XGBOOST = "model/linear", "model/xgboost+json"


def predict(entry: Any, rows: Sequence[Mapping[str, float]]) -> list[float]:
    """A registry entry's scores for feature rows ({name: value})."""
    if entry.type == LINEAR:
        return predict_linear(entry.definition, entry.feature_normalizers or {}, rows)
    if entry.type == XGBOOST:
        return predict_xgboost_json(entry.definition, rows)
    raise ValueError(f"cannot score model type {entry.type!r} offline")


def rankings(rows: Sequence[Mapping[str, Any]], scores: Sequence[float]) -> dict[str, list[str]]:
    by_query: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for row, score in zip(rows, scores, strict=True):
        by_query[row["query_id"]].append((score, row["doc_id"]))
    return {q: [d for _, d in sorted(pairs, key=lambda p: (-p[0], p[1]))]
            for q, pairs in by_query.items()}


def heldout_gate(candidate: Any, deployed: Any) -> tuple[bool, str]:
    rows = list(candidate.heldout.get("rows", ()))
    if not rows:
        return False, "the candidate has no held-out judgments to compare on"
    labels: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        labels[row["query_id"]][row["doc_id"]] = int(row["label"])
    features = [row["features"] for row in rows]
    ours = rankings(rows, predict(candidate, features))
    theirs = rankings(rows, predict(deployed, features))
    metric = METRICS["ndcg@10"]
    result = compare(per_query(ours, labels, metric), per_query(theirs, labels, metric))
    d = result.difference
    message = (f"NDCG@10 {result.model.mean:.3f} vs {result.baseline.mean:.3f} "
               f"({d.mean:+.3f}, 95% CI {d.low:+.3f}..{d.high:+.3f}) on {result.queries} "
               "held-out queries")
    return d.low > 0.0, message
