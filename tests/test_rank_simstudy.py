"""The offline parts of the clicks-vs-fusion protocol (rank/simstudy.py), no node needed."""

from __future__ import annotations

from types import SimpleNamespace

from ltrr_opensearch.rank.clicks import PBM
from ltrr_opensearch.rank.registry import ModelEntry
from ltrr_opensearch.rank.simstudy import Searched, click_rows, model_order, query_key, true_rows
from ltrr_opensearch.rank.types import Impression


def _searched(qid: str, fused: tuple[str, ...], relevant: dict[str, int],
              features: dict[str, dict[str, float]] | None = None, key: str = "k") -> Searched:
    query = SimpleNamespace(query_id=qid, relevant=relevant,
                            grade=lambda d, r=relevant: int(r.get(d, 0)))
    feats = features if features is not None else {d: {"f": float(i)} for i, d in enumerate(fused)}
    return Searched(query, key, fused, tuple(reversed(fused)), feats)


def _linear(weight: float) -> ModelEntry:
    return ModelEntry(name="m", type="model/linear", definition={"f": weight}, feature_set="",
                      feature_names=("f",), params=(), source="test")


def test_model_order_sorts_candidates_by_the_engine_score_of_their_logged_features():
    s = _searched("q", ("a", "b", "c"), {}, {"a": {"f": 1.0}, "b": {"f": 3.0}, "c": {"f": 2.0}})
    assert model_order(_linear(1.0), s) == ["b", "c", "a"]


def test_model_order_keeps_the_fused_order_on_ties_and_puts_unlogged_candidates_last():
    s = _searched("q", ("a", "b", "c", "d"), {},
                  {"b": {"f": 1.0}, "c": {"f": 1.0}, "d": {"f": 1.0}})
    assert model_order(_linear(0.0), s) == ["b", "c", "d", "a"]


def test_click_rows_label_only_judged_shown_docs_with_the_features_logged_in_that_search():
    s = _searched("q1", tuple(f"d{i}" for i in range(12)), {"d0": 3})
    model = PBM().fit([Impression("k", s.fused[:10], {"d0"})] * 5)
    labels = click_rows([s], model, min_evidence=0.5)
    docs = {r["doc_id"] for r in labels.rows}
    assert "d0" in docs and docs <= set(s.fused[:10])
    assert all(r["query_id"] == "q1" and r["features"] == s.features[r["doc_id"]]
               for r in labels.rows)
    assert next(r["label"] for r in labels.rows if r["doc_id"] == "d0") == 3


def test_true_rows_label_every_candidate_with_its_true_grade():
    s = _searched("q1", ("a", "b", "c"), {"b": 2})
    assert {r["doc_id"]: r["label"] for r in true_rows([s])} == {"a": 0, "b": 2, "c": 0}


def test_query_key_groups_spelling_variants_and_never_returns_an_empty_key():
    assert query_key("Chill  Jazz") == query_key("chill jazz")
    assert query_key("...")
