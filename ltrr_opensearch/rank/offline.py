"""Offline ranking metrics on held-out queries, with bootstrap intervals over queries.

The unit of evidence is the query, so intervals resample queries, and a model is compared to
a baseline order (e.g. the served one) with a PAIRED bootstrap of per-query differences: the
two share the queries, and pairing removes the between-query variance from the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ltrr_opensearch.evaluate.metrics import ndcg, reciprocal_rank

Metric = Callable[[Sequence[str], Mapping[str, int]], float]
METRICS: dict[str, Metric] = {
    "ndcg@10": lambda ranked, labels: ndcg(ranked, labels, k=10),
    "mrr@10": lambda ranked, labels: reciprocal_rank(ranked, labels, k=10),
}


@dataclass(frozen=True)
class Interval:
    """A mean over queries and its bootstrap percentile interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """Model vs baseline on the same queries; ``p_not_better`` = share of paired resamples in
    which the model's mean is not above the baseline's."""

    model: Interval
    baseline: Interval
    difference: Interval
    p_not_better: float
    queries: int


def _resample_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, len(values), size=(n_boot, len(values)))
    return values[picks].mean(axis=1)


def bootstrap(values: Sequence[float] | np.ndarray, n_boot: int = 2000, level: float = 0.95,
              seed: int = 0) -> Interval:
    v = np.asarray(values, dtype=float)
    if not len(v):
        return Interval(float("nan"), float("nan"), float("nan"))
    means = _resample_means(v, n_boot, np.random.default_rng(seed))
    tail = (1.0 - level) / 2.0 * 100.0
    return Interval(float(v.mean()), float(np.percentile(means, tail)),
                    float(np.percentile(means, 100.0 - tail)))


def compare(model: Sequence[float], baseline: Sequence[float], n_boot: int = 2000,
            level: float = 0.95, seed: int = 0) -> Comparison:
    """Per-query values of model and baseline (same queries, same order)."""
    a, b = np.asarray(model, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in length: {a.shape} vs {b.shape}")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = _resample_means(diff, n_boot, rng) if len(diff) else np.array([np.nan])
    return Comparison(bootstrap(a, n_boot, level, seed), bootstrap(b, n_boot, level, seed),
                      bootstrap(diff, n_boot, level, seed), float(np.mean(means <= 0.0)), len(a))


def per_query(rankings: Mapping[str, Sequence[str]], labels: Mapping[str, Mapping[str, int]],
              metric: Metric) -> list[float]:
    """The metric of each query's ranking against its labels, in ``rankings`` order."""
    return [metric(ranked, labels[q]) for q, ranked in rankings.items()]


def evaluate(model_rankings: Mapping[str, Sequence[str]],
             baseline_rankings: Mapping[str, Sequence[str]],
             labels: Mapping[str, Mapping[str, int]], n_boot: int = 2000,
             seed: int = 0) -> dict[str, Comparison]:
    """Every metric in :data:`METRICS`, model vs baseline, over the model's queries."""
    base = {q: baseline_rankings[q] for q in model_rankings}
    return {name: compare(per_query(model_rankings, labels, fn), per_query(base, labels, fn),
                          n_boot=n_boot, seed=seed)
            for name, fn in METRICS.items()}
