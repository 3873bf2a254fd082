"""Probability that each arm is among the top-M of a request (semi-bandit marginals).

Deterministic scores: exact. Arms strictly above the M-th score are chosen with
probability 1; arms tied at the boundary share the remaining slots uniformly.
Sampled scores (Thompson-style policies): Monte-Carlo frequency over S draws of the
policy's own sampling distribution, an unbiased estimate with standard error
<= 0.5 / sqrt(S).
Exploration mixes in a uniform random M-subset with probability epsilon, so every
eligible arm has propensity >= epsilon * M / N.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _clean(scores: np.ndarray) -> np.ndarray:
    # NaN (e.g. a neighbourhood policy without neighbours) means "no opinion": lowest rank.
    return np.where(np.isfinite(scores), scores, -np.inf)


def top_m(scores: Sequence[float] | np.ndarray, m: int, rng: np.random.Generator) -> list[int]:
    """Indices of the ``m`` best scores, ties broken uniformly at random."""
    values = _clean(np.asarray(scores, dtype=float))
    order = np.lexsort((rng.random(len(values)), -values))
    return [int(i) for i in order[:m]]


def exact_top_m(scores: Sequence[float] | np.ndarray, m: int) -> np.ndarray:
    """P(arm in top-m) under uniform random tie-breaking, for fixed scores."""
    values = _clean(np.asarray(scores, dtype=float))
    n = len(values)
    m = min(m, n)
    probs = np.zeros(n)
    if m == 0:
        return probs
    boundary = np.sort(values)[::-1][m - 1]
    above = values > boundary
    if np.isneginf(boundary):  # everything at the boundary is "no opinion"
        above = np.isfinite(values)
    tied = ~above & (values == boundary)
    probs[above] = 1.0
    slots = m - int(above.sum())
    if tied.any():
        probs[tied] = slots / int(tied.sum())
    return probs


def sampled_top_m(samples: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Monte-Carlo P(arm in top-m) from an (S, N) array of sampled scores."""
    s, n = samples.shape
    m = min(m, n)
    values = _clean(samples)
    jitter = rng.random(samples.shape)  # random tie-break, as in top_m
    order = np.lexsort((jitter, -values), axis=1)[:, :m]
    counts = np.bincount(order.ravel(), minlength=n)
    return counts / s


def mix_uniform(probs: np.ndarray, m: int, epsilon: float) -> np.ndarray:
    """Propensities after exploring a uniform random m-subset with probability epsilon."""
    n = len(probs)
    if n == 0:
        return probs
    return (1.0 - epsilon) * probs + epsilon * min(m, n) / n
