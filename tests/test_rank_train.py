"""Trainers: exports reproduce the trained models, and learning beats a random order."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xgboost as xgb

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.dataset import build_dataset
from ltrr_opensearch.rank.predict import predict_linear, predict_xgboost_json, xgboost_margins
from ltrr_opensearch.rank.train import train_lambdamart, train_linear

NAMES = ["title_bm25", "popularity", "fresh", "noise"]


def learnable_rows(n_queries=80, per_query=12, seed=0, missing=0.1):
    """Label grows with title_bm25 and popularity (non-linearly); ``noise`` is irrelevant."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_queries):
        for d in range(per_query):
            f = {"title_bm25": rng.gamma(2.0, 2.0), "popularity": rng.random(),
                 "fresh": float(rng.integers(0, 2)), "noise": rng.normal()}
            utility = 0.4 * f["title_bm25"] + 3.0 * (f["popularity"] > 0.7) + f["fresh"]
            label = int(np.clip(np.floor(utility / 1.5), 0, 3))
            for name in NAMES:  # some features did not match: left out, as the plugin logs
                if rng.random() < missing:
                    del f[name]
            rows.append({"query_id": f"q{q}", "doc_id": f"q{q}-d{d}", "features": f,
                         "label": label})
    return rows


def random_baseline(rows, seed=1):
    rng = np.random.default_rng(seed)
    out = {}
    for r in rows:
        out.setdefault(r["query_id"], []).append(r["doc_id"])
    return {q: list(rng.permutation(docs)) for q, docs in out.items()}


@pytest.fixture(scope="module")
def rows():
    return learnable_rows()


@pytest.fixture(scope="module")
def lambdamart(rows):
    return train_lambdamart(rows, NAMES, rounds=60, max_depth=4, baseline=random_baseline(rows))


def test_xgboost_export_equals_booster_margin_with_nan(lambdamart, rows):
    data = build_dataset(rows, NAMES)
    assert np.isnan(data.X).sum() > 50 and len(data) >= 200
    own = lambdamart.model.predict(xgb.DMatrix(data.X, feature_names=NAMES, missing=np.nan),
                                   output_margin=True)
    exported = predict_xgboost_json(lambdamart.definition, data.feature_rows(), "rank:ndcg")
    assert np.max(np.abs(np.asarray(exported) - own)) < 1e-4


def test_xgboost_export_is_the_dump_with_feature_names(lambdamart):
    trees = lambdamart.definition
    assert len(trees) == 60
    assert trees[0]["nodeid"] == 0 and trees[0]["split"] in NAMES
    body = lambdamart.model_body("m1")["model"]
    assert body["model"]["type"] == "model/xgboost+json"
    assert json.loads(body["model"]["definition"]) == trees


def test_lambdamart_beats_a_random_order(lambdamart):
    ndcg = lambdamart.metrics["ndcg@10"]
    assert ndcg.difference.mean > 0.15 and ndcg.difference.low > 0.0
    assert ndcg.p_not_better < 0.01
    assert lambdamart.train_queries + lambdamart.validation_queries == 80


def test_linear_export_equals_its_own_prediction(rows):
    result = train_linear(rows, NAMES)
    data = build_dataset(rows, NAMES)
    exported = predict_linear(result.definition, result.feature_normalizers, data.feature_rows())
    assert np.max(np.abs(np.asarray(exported) - result.model.score(data.X))) < 1e-9
    assert set(result.feature_normalizers) == set(NAMES)
    assert result.definition["title_bm25"] > abs(result.definition["noise"])


def test_linear_ranker_beats_a_random_order(rows):
    result = train_linear(rows, NAMES, baseline=random_baseline(rows))
    assert result.metrics["ndcg@10"].difference.low > 0.0


def test_predict_xgboost_routes_nan_to_missing_else_no():
    tree = {"nodeid": 0, "split": "x", "split_condition": 0.5, "yes": 1, "no": 2, "missing": 1,
            "children": [{"nodeid": 1, "leaf": 1.0},
                         {"nodeid": 2, "split": "y", "split_condition": 1.0, "yes": 3, "no": 4,
                          "children": [{"nodeid": 3, "leaf": 10.0}, {"nodeid": 4, "leaf": 20.0}]}]}
    rows = [{"x": 0.2}, {"x": 0.5}, {}, {"x": 0.9, "y": 0.0}, {"x": 0.9}]
    assert predict_xgboost_json([tree], rows) == [1.0, 20.0, 1.0, 10.0, 20.0]
    assert predict_xgboost_json({"objective": "binary:logistic", "splits": [tree]}, [{}]) == \
        [pytest.approx(1 / (1 + math.exp(-1.0)))]


def test_predict_xgboost_rejects_a_malformed_tree():
    broken = {"nodeid": 0, "split": "x", "yes": 1, "no": 2, "children": []}
    with pytest.raises(ValidationError, match="lacks split_condition"):
        predict_xgboost_json([broken], [{"x": 1.0}])
    dangling = {**broken, "split_condition": 0.5, "children": [{"nodeid": 1, "leaf": 1.0}]}
    with pytest.raises(ValidationError, match="missing node 2"):
        predict_xgboost_json([dangling], [{"x": 1.0}])


def test_predict_linear_applies_normalizers_and_skips_missing():
    norms = {"a": {"standard": {"mean": 1.0, "standard_deviation": 2.0}},
             "b": {"min_max": {"minimum": 0.0, "maximum": 4.0}}}
    assert predict_linear({"a": 2.0, "b": 1.0}, norms, [{"a": 5.0, "b": 2.0}, {"b": 4.0}]) == \
        [pytest.approx(4.5), pytest.approx(1.0)]


def test_one_query_only_is_rejected():
    rows = [r for r in learnable_rows(n_queries=1)]
    with pytest.raises(ValidationError, match="at least 2 queries"):
        train_lambdamart(rows, NAMES, rounds=2)


def test_no_rows_is_rejected():
    with pytest.raises(ValidationError, match="no training rows"):
        train_linear([], NAMES)


def test_rank_map_with_graded_labels_is_rejected(rows):
    with pytest.raises(ValidationError, match="binary labels"):
        train_lambdamart(rows, NAMES, objective="rank:map", rounds=2)


def test_unknown_objective_is_rejected(rows):
    with pytest.raises(ValidationError, match="objective"):
        train_lambdamart(rows, NAMES, objective="reg:squarederror")


def test_margins_of_many_rows_equal_the_boosters_own(lambdamart, rows):
    data = build_dataset(rows, NAMES)
    own = lambdamart.model.predict(xgb.DMatrix(data.X, feature_names=NAMES, missing=np.nan),
                                   output_margin=True)
    at_once = xgboost_margins(lambdamart.definition, data.X, NAMES)
    assert np.max(np.abs(at_once - own)) < 1e-4
    # A feature the columns lack is missing, as the plugin treats an unlogged one.
    assert np.array_equal(xgboost_margins(lambdamart.definition, data.X[:, :1], NAMES[:1]),
                          xgboost_margins(lambdamart.definition,
                                          np.c_[data.X[:, :1], np.full((len(data), 3), np.nan)],
                                          NAMES))


def test_a_refined_model_is_the_deployed_trees_then_the_new_ones(lambdamart, rows):
    refined = train_lambdamart(rows, NAMES, rounds=5, max_depth=2,
                               start_from=lambdamart.definition)
    assert refined.definition[:60] == lambdamart.definition
    assert len(refined.definition) == 65
    assert refined.hyperparameters["refined_trees"] == 60


def test_refining_learns_what_the_deployed_model_could_not_see(rows):
    """A model blind to popularity and freshness, refined on rows that log them, ranks the
    validation queries better than it did (the same split, its ranking as the baseline)."""
    seen = ("title_bm25", "noise")
    blind = train_lambdamart([{**r, "features": {k: v for k, v in r["features"].items()
                                                 if k in seen}} for r in rows],
                             list(seen), rounds=30, max_depth=3)
    scores = predict_xgboost_json(blind.definition, build_dataset(rows, NAMES).feature_rows())
    by_query: dict[str, list[tuple[float, str]]] = {}
    for row, score in zip(rows, scores, strict=True):
        by_query.setdefault(row["query_id"], []).append((-score, row["doc_id"]))
    blind_order = {q: [d for _, d in sorted(pairs)] for q, pairs in by_query.items()}
    refined = train_lambdamart(rows, NAMES, rounds=40, max_depth=3, min_child_weight=5.0,
                               start_from=blind.definition, baseline=blind_order)
    assert refined.metrics["ndcg@10"].difference.mean > 0.05
