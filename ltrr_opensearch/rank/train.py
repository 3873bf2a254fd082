"""Trainers whose output is a model definition the LTR plugin can store and run.

* :func:`train_lambdamart` - xgboost with a ranking objective; the definition is xgboost's
  own JSON dump (one tree per entry, features named), trained with ``base_score=0`` because
  the plugin adds no intercept: its score is the plain tree sum.
* :func:`train_linear` - a RankNet-style linear model (logistic regression on within-query
  pairwise differences of standardized features), exported as ``{feature: weight}`` plus the
  plugin's ``standard`` normalizers.

Both split by query (dataset.py), check that the export reproduces the trained model's own
scores (predict.py) before returning, and report NDCG@10/MRR@10 on the held-out queries
against a baseline order with bootstrap intervals (offline.py).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.dataset import Dataset, build_dataset, split_by_query
from ltrr_opensearch.rank.offline import Comparison, evaluate
from ltrr_opensearch.rank.predict import (
    SIGMOID_OBJECTIVES,
    predict_linear,
    predict_xgboost_json,
    trees_and_objective,
    xgboost_margins,
)
from ltrr_opensearch.rank.types import TrainingRow

XGBOOST_TYPE = "model/xgboost+json"
LINEAR_TYPE = "model/linear"
RANK_OBJECTIVES = ("rank:ndcg", "rank:pairwise", "rank:map")
EXPORT_TOLERANCE = 1e-4

Rows = Iterable[TrainingRow | Mapping[str, Any]]


@dataclass(frozen=True)
class TrainingResult:
    """A trained model ready to store, with how it was made and how it did offline."""

    model_type: str
    definition: Any
    feature_names: tuple[str, ...]
    hyperparameters: Mapping[str, Any]
    train_queries: int
    validation_queries: int
    metrics: Mapping[str, Comparison]
    feature_normalizers: Mapping[str, Any] | None = None
    model: Any = field(default=None, compare=False, repr=False)  # the trained object itself

    def model_body(self, name: str) -> dict[str, Any]:
        """The body of ``POST _ltr/_featureset/<set>/_createmodel`` for this model.

        The xgboost definition goes as JSON text (as the official plugin's docs show it), the
        linear one as an object.
        """
        model: dict[str, Any] = {"type": self.model_type}
        model["definition"] = (json.dumps(self.definition) if self.model_type == XGBOOST_TYPE
                               else dict(self.definition))
        if self.feature_normalizers:
            model["feature_normalizers"] = dict(self.feature_normalizers)
        return {"model": {"name": name, "model": model}}

    def summary(self) -> dict[str, Any]:
        """Everything but the definition and the trained object, JSON-ready."""
        return {"model_type": self.model_type, "feature_names": list(self.feature_names),
                "hyperparameters": dict(self.hyperparameters),
                "train_queries": self.train_queries,
                "validation_queries": self.validation_queries,
                "metrics": {k: asdict(v) for k, v in self.metrics.items()}}


def _rankings(data: Dataset, scores: Sequence[float]) -> dict[str, list[str]]:
    """Each query's docs by descending score; ties keep the row (served) order."""
    out = {}
    for q, idx in data.by_query().items():
        order = sorted((-scores[i], k) for k, i in enumerate(idx))
        out[q] = [data.doc_ids[idx[k]] for _, k in order]
    return out


def _offline(valid: Dataset, scores: Sequence[float],
             baseline: Mapping[str, Sequence[str]] | None, seed: int) -> dict[str, Comparison]:
    labels = {q: {valid.doc_ids[i]: int(valid.y[i]) for i in idx}
              for q, idx in valid.by_query().items()}
    served = {q: [valid.doc_ids[i] for i in idx] for q, idx in valid.by_query().items()}
    base = dict(served)
    if baseline is not None:
        base.update({q: list(baseline[q]) for q in served if q in baseline})
    return evaluate(_rankings(valid, scores), base, labels, seed=seed)


def _check_export(exported: Sequence[float], own: np.ndarray, what: str) -> None:
    worst = float(np.max(np.abs(np.asarray(exported) - own))) if len(own) else 0.0
    if not worst <= EXPORT_TOLERANCE:
        raise ValidationError(f"the exported {what} disagrees with the trained model by {worst:.3g}",
                              hint="this is a bug in the export; do not store this model")


def _grouped(data: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X, y, qid with each query's rows contiguous (xgboost's requirement)."""
    groups = data.by_query()
    order = np.concatenate(list(groups.values()))
    qid = np.concatenate([np.full(len(ix), k) for k, ix in enumerate(groups.values())])
    return data.X[order], data.y[order], qid


def train_lambdamart(rows: Rows, feature_names: Sequence[str], *, objective: str = "rank:ndcg",
                     rounds: int = 100, max_depth: int = 4, learning_rate: float = 0.1,
                     min_child_weight: float = 1.0, validation_fraction: float = 0.2,
                     baseline: Mapping[str, Sequence[str]] | None = None, seed: int = 0,
                     nthread: int = 1, start_from: Any = None) -> TrainingResult:
    """LambdaMART on rows ``{query_id, doc_id, features, label}``; missing features stay NaN
    (xgboost learns a default direction per split, which the dump records as ``missing``).

    ``start_from`` (an xgboost+json definition) refines that model: the new trees learn from
    its scores (xgboost's base margin) and the result is its trees followed by the new ones.
    A few hundred clicked searches then correct what the model gets wrong, instead of
    replacing what it learnt from far more."""
    import xgboost as xgb

    if objective not in RANK_OBJECTIVES:
        raise ValidationError(f"objective must be one of {RANK_OBJECTIVES}, got {objective!r}")
    if rounds < 1 or max_depth < 1:
        raise ValidationError("rounds and max_depth must be >= 1")
    data = build_dataset(rows, feature_names)
    if objective == "rank:map" and data.y.max() > 1:
        raise ValidationError("rank:map needs binary labels (0/1), got grades up to "
                              f"{int(data.y.max())}", hint="use rank:ndcg for graded labels")
    train, valid = split_by_query(data, validation_fraction, seed)
    X, y, qid = _grouped(train)
    names = list(data.feature_names)
    params = {"objective": objective, "eta": learning_rate, "max_depth": max_depth,
              "min_child_weight": min_child_weight, "base_score": 0.0, "seed": seed,
              "nthread": nthread, "tree_method": "hist"}
    base: list[Any] = []
    if start_from is not None:
        base, base_objective = trees_and_objective(start_from, None)
        if base_objective != objective and base_objective in SIGMOID_OBJECTIVES:
            raise ValidationError(f"cannot refine a {base_objective} model with {objective}")

    def matrix(X: np.ndarray, **labels: Any) -> Any:
        margin = xgboost_margins(base, X, names) if base else None
        return xgb.DMatrix(X, feature_names=names, missing=np.nan, base_margin=margin, **labels)

    try:
        booster = xgb.train(params, matrix(X, label=y, qid=qid), num_boost_round=rounds)
    except xgb.core.XGBoostError as exc:
        raise ValidationError(f"xgboost refused the training data: {str(exc).splitlines()[0]}") \
            from None
    trees = base + [json.loads(t) for t in booster.get_dump(dump_format="json")]
    own = booster.predict(matrix(valid.X), output_margin=True)
    exported = predict_xgboost_json(trees, valid.feature_rows(), objective)
    _check_export(exported, own.astype(np.float64), "xgboost trees")
    return TrainingResult(XGBOOST_TYPE, trees, data.feature_names,
                          {**params, "rounds": rounds, "validation_fraction": validation_fraction,
                           **({"refined_trees": len(base)} if base else {})},
                          len(train.queries()), len(valid.queries()),
                          _offline(valid, exported, baseline, seed), None, booster)


@dataclass(frozen=True)
class LinearRanker:
    """Weights on standardized features; a missing feature contributes 0, as in the plugin."""

    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def standardize(self, X: np.ndarray) -> np.ndarray:
        return np.nan_to_num((X - self.mean) / self.scale, nan=0.0)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.standardize(X) @ self.weights


def _pairs(data: Dataset, Z: np.ndarray, max_pairs: int,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Differences z_i - z_j for label_i > label_j within a query, both signs (balanced)."""
    diffs = []
    for idx in data.by_query().values():
        labels = data.y[idx]
        hi, lo = np.nonzero(labels[:, None] > labels[None, :])
        if len(hi) > max_pairs:
            keep = rng.choice(len(hi), size=max_pairs, replace=False)
            hi, lo = hi[keep], lo[keep]
        diffs.append(Z[idx[hi]] - Z[idx[lo]])
    d = np.concatenate(diffs) if diffs else np.zeros((0, Z.shape[1]))
    return np.concatenate([d, -d]), np.concatenate([np.ones(len(d)), np.zeros(len(d))])


def train_linear(rows: Rows, feature_names: Sequence[str], *, regularization: float = 1.0,
                 standardize: bool = True, max_pairs_per_query: int = 500,
                 validation_fraction: float = 0.2,
                 baseline: Mapping[str, Sequence[str]] | None = None,
                 seed: int = 0) -> TrainingResult:
    """Pairwise logistic regression: P(i above j) = sigmoid(w . (z_i - z_j))."""
    from sklearn.linear_model import LogisticRegression

    if not regularization > 0:
        raise ValidationError(f"regularization must be > 0, got {regularization}")
    data = build_dataset(rows, feature_names)
    train, valid = split_by_query(data, validation_fraction, seed)
    width = len(data.feature_names)
    if standardize:
        with warnings.catch_warnings():  # a feature missing from every row: mean 0, sd 1
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nan_to_num(np.nanmean(train.X, axis=0), nan=0.0)
            sd = np.nan_to_num(np.nanstd(train.X, axis=0), nan=0.0)
        scale = np.where(sd > 0, sd, 1.0)  # a constant feature: keep the plugin off sd = 0
    else:
        mean, scale = np.zeros(width), np.ones(width)
    ranker = LinearRanker(np.zeros(width), mean, scale)
    X_pairs, y_pairs = _pairs(train, ranker.standardize(train.X), max_pairs_per_query,
                              np.random.default_rng(seed))
    if not len(y_pairs):
        raise ValidationError("no training query has two documents with different labels",
                              hint="a ranker learns from preferences within a query")
    fit = LogisticRegression(C=regularization, fit_intercept=False, max_iter=1000)
    fit.fit(X_pairs, y_pairs)
    ranker = LinearRanker(fit.coef_[0].astype(np.float64), mean, scale)
    definition = {f: float(w) for f, w in zip(data.feature_names, ranker.weights, strict=True)}
    normalizers = ({f: {"standard": {"mean": float(m), "standard_deviation": float(s)}}
                    for f, m, s in zip(data.feature_names, mean, scale, strict=True)}
                   if standardize else None)
    exported = predict_linear(definition, normalizers, valid.feature_rows())
    _check_export(exported, ranker.score(valid.X), "linear weights")
    params = {"regularization": regularization, "standardize": standardize,
              "max_pairs_per_query": max_pairs_per_query,
              "validation_fraction": validation_fraction, "seed": seed}
    return TrainingResult(LINEAR_TYPE, definition, data.feature_names, params,
                          len(train.queries()), len(valid.queries()),
                          _offline(valid, exported, baseline, seed), normalizers, ranker)
