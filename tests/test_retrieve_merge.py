"""Merging per-strategy hits: one candidate per id, provenance kept, RRF order."""

from __future__ import annotations

import pytest

from ltrr_opensearch.retrieve.merge import merge_results
from ltrr_opensearch.types import Hit, StrategyResult


def result(strategy: str, ids: list[str], error: str | None = None) -> StrategyResult:
    hits = tuple(Hit(i, 10.0 - n, {"id": i, "title": i.upper(), strategy: True})
                 for n, i in enumerate(ids))
    return StrategyResult(strategy, hits, 3, error)


def test_duplicates_become_one_candidate_with_every_strategys_rank_and_score():
    merged = merge_results([result("bm25", ["a", "b", "c"]), result("knn", ["c", "d"])])
    assert sorted(c.id for c in merged) == ["a", "b", "c", "d"]
    c = next(c for c in merged if c.id == "c")
    assert c.provenance == {"bm25": (3, 8.0), "knn": (1, 10.0)}
    assert c.source["bm25"] and c.source["knn"]  # fields from both strategies kept


def test_order_is_reciprocal_rank_fusion():
    merged = merge_results([result("bm25", ["a", "b", "c"]), result("knn", ["c", "d"])], rrf_k=60)
    assert [c.id for c in merged] == ["c", "a", "b", "d"]  # b and d tie: id decides
    assert merged[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert merged[1].score == pytest.approx(1 / 61)


def test_ties_prefer_agreement_then_best_rank_then_id():
    merged = merge_results([result("x", ["b", "a"]), result("y", ["a", "b"])])
    assert [c.id for c in merged] == ["a", "b"]  # equal scores and ranks: id decides


def test_weights_scale_a_strategys_votes():
    merged = merge_results([result("bm25", ["a"]), result("knn", ["b"])],
                           weights={"knn": 2.0})
    assert [c.id for c in merged] == ["b", "a"]


def test_failed_or_empty_strategies_contribute_nothing():
    merged = merge_results([result("bm25", [], error="boom"), result("knn", ["a"])])
    assert [(c.id, c.provenance) for c in merged] == [("a", {"knn": (1, 10.0)})]
    assert merge_results([]) == []


def test_an_id_repeated_inside_one_strategy_keeps_its_best_rank():
    merged = merge_results([result("bm25", ["a", "a"])])
    assert merged[0].provenance == {"bm25": (1, 10.0)}
