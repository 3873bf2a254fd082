"""Click models: position-debiased relevance of (query, doc) pairs from logged impressions.

Raw CTR confuses "shown high" with "relevant": a mediocre result at rank 1 out-clicks a great
one at rank 8. Each model here separates examination (depends on the position) from
attractiveness (depends on the pair) under its own assumption:

* :class:`SDBN` - a result counts as examined iff it is at or above the last click of its
  impression (impressions without a click say nothing); attractiveness is the Beta-smoothed
  ratio ``(clicks + a) / (examinations + a + b)``.
* :class:`PBM` - ``P(click) = theta[rank] * alpha[q, d]``, fitted by expectation-maximisation;
  ``theta[0]`` is pinned to 1 because only the product is identified.
* :class:`CTR` - clicks / impressions, the biased baseline the others are measured against.

All expose ``fit(impressions) -> self``, ``relevance(q, d)`` and ``evidence(q, d)`` (how many
impressions examined the pair; an expectation for PBM). A pair never shown raises KeyError.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.types import Impression

Pair = tuple[str, str]


@dataclass(frozen=True)
class _Observations:
    """Every (impression, position) as flat arrays: pair index, 0-based rank, click."""

    pairs: tuple[Pair, ...]
    index: dict[Pair, int]
    pair: np.ndarray
    rank: np.ndarray
    click: np.ndarray
    last_click: np.ndarray  # the impression's last click rank, per observation (-1: none)

    @classmethod
    def of(cls, impressions: Iterable[Impression]) -> _Observations:
        index: dict[Pair, int] = {}
        pair, rank, click, last = [], [], [], []
        for imp in impressions:
            if not isinstance(imp, Impression):
                raise ValidationError(f"expected Impression records, got {type(imp).__name__}")
            lc = imp.last_click
            for r, (doc, c) in enumerate(zip(imp.doc_ids, imp.clicked, strict=True)):
                pair.append(index.setdefault((imp.query_key, doc), len(index)))
                rank.append(r)
                click.append(c)
                last.append(lc)
        if not pair:
            raise ValidationError("no impressions to fit a click model on")
        return cls(tuple(index), index, np.asarray(pair, dtype=np.int64),
                   np.asarray(rank, dtype=np.int64), np.asarray(click, dtype=np.float64),
                   np.asarray(last, dtype=np.int64))

    def sum_by_pair(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.pair, weights=values, minlength=len(self.pairs))


class _Fitted:
    """Lookup shared by the models once ``_relevance``/``_evidence`` arrays are set."""

    name = "model"
    _obs: _Observations | None = None
    _relevance: np.ndarray
    _evidence: np.ndarray

    def _at(self, query_key: str, doc_id: str) -> int:
        if self._obs is None:
            raise RuntimeError(f"{self.name} is not fitted: call fit(impressions) first")
        try:
            return self._obs.index[(query_key, doc_id)]
        except KeyError:
            raise KeyError(f"{self.name}: ({query_key!r}, {doc_id!r}) was never shown") from None

    def relevance(self, query_key: str, doc_id: str) -> float:
        i = self._at(query_key, doc_id)
        return float(self._relevance[i])

    def evidence(self, query_key: str, doc_id: str) -> float:
        i = self._at(query_key, doc_id)
        return float(self._evidence[i])

    def pairs(self) -> tuple[Pair, ...]:
        """Every (query_key, doc_id) seen in the fitted impressions, in first-seen order."""
        if self._obs is None:
            raise RuntimeError(f"{self.name} is not fitted: call fit(impressions) first")
        return self._obs.pairs


def _check_prior(a: float, b: float) -> None:
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        raise ValidationError(f"Beta prior needs a > 0 and b > 0, got ({a}, {b})")


class CTR(_Fitted):
    """Clicks / impressions per pair: position-biased, kept as the baseline."""

    name = "ctr"

    def fit(self, impressions: Iterable[Impression]) -> CTR:
        obs = _Observations.of(impressions)
        shown = np.bincount(obs.pair, minlength=len(obs.pairs)).astype(np.float64)
        self._relevance = obs.sum_by_pair(obs.click) / shown
        self._evidence = shown
        self._obs = obs
        return self


class SDBN(_Fitted):
    """Simplified DBN: examined iff at or above the impression's last click.

    ``prior=(a, b)`` is a Beta prior on attractiveness; (1, 1) is Laplace smoothing.
    """

    name = "sdbn"

    def __init__(self, prior: tuple[float, float] = (1.0, 1.0)) -> None:
        _check_prior(*prior)
        self.prior = prior

    def fit(self, impressions: Iterable[Impression]) -> SDBN:
        obs = _Observations.of(impressions)
        a, b = self.prior
        examined = (obs.rank <= obs.last_click).astype(np.float64)
        exams = obs.sum_by_pair(examined)
        clicks = obs.sum_by_pair(obs.click)
        self._relevance = (clicks + a) / (exams + a + b)
        self._evidence = exams
        self._obs = obs
        return self


class PBM(_Fitted):
    """Position-based model ``P(C=1) = theta[rank] * alpha[q, d]`` fitted by EM.

    E-step, for an observation without a click (one with a click has E = A = 1)::

        P(A=1 | C=0) = alpha (1 - theta) / (1 - theta alpha)
        P(E=1 | C=0) = theta (1 - alpha) / (1 - theta alpha)

    M-step: ``alpha[q,d]`` = (sum of P(A=1) + a - 1) / (n[q,d] + a + b - 2) (MAP under a
    Beta(a, b) prior; (1, 1) is maximum likelihood) and ``theta[r]`` = mean of P(E=1) at rank r.
    ``theta[0]`` stays 1 (``pin_top=True``): the model only identifies theta*alpha, and
    pinning the top makes alpha "the click rate if examined". Each step cannot lower the
    objective (log-likelihood + log prior), kept in ``objective_trace``.
    """

    name = "pbm"

    def __init__(self, prior: tuple[float, float] = (1.0, 1.0), max_iter: int = 200,
                 tol: float = 1e-7, pin_top: bool = True) -> None:
        _check_prior(*prior)
        if prior[0] < 1 or prior[1] < 1:
            raise ValidationError(f"PBM's Beta prior needs a, b >= 1 (a mode), got {prior}")
        if max_iter < 1:
            raise ValidationError(f"max_iter must be >= 1, got {max_iter}")
        self.prior = prior
        self.max_iter = max_iter
        self.tol = tol
        self.pin_top = pin_top
        self.theta = np.zeros(0)
        self.objective_trace: list[float] = []
        self.iterations = 0

    def fit(self, impressions: Iterable[Impression]) -> PBM:
        obs = _Observations.of(impressions)
        a, b = self.prior
        n_pair = np.bincount(obs.pair, minlength=len(obs.pairs)).astype(np.float64)
        n_rank = np.bincount(obs.rank).astype(np.float64)
        alpha = np.full(len(obs.pairs), 0.5)
        theta = np.full(len(n_rank), 0.5)
        if self.pin_top:
            theta[0] = 1.0
        c = obs.click
        self.objective_trace = [self._objective(obs, theta, alpha)]
        self.iterations = 0
        for _ in range(self.max_iter):
            t, al = theta[obs.rank], alpha[obs.pair]
            miss = np.maximum(1.0 - t * al, 1e-12)
            post_a = c + (1.0 - c) * al * (1.0 - t) / miss
            post_e = c + (1.0 - c) * t * (1.0 - al) / miss
            alpha = (obs.sum_by_pair(post_a) + a - 1.0) / (n_pair + a + b - 2.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                theta = np.bincount(obs.rank, weights=post_e, minlength=len(n_rank)) / n_rank
            theta = np.nan_to_num(theta, nan=0.0)
            if self.pin_top:
                theta[0] = 1.0
            self.iterations += 1
            self.objective_trace.append(self._objective(obs, theta, alpha))
            before, after = self.objective_trace[-2], self.objective_trace[-1]
            if abs(after - before) <= self.tol * max(1.0, abs(before)):
                break
        t, al = theta[obs.rank], alpha[obs.pair]
        post_e = c + (1.0 - c) * t * (1.0 - al) / np.maximum(1.0 - t * al, 1e-12)
        self.theta = theta
        self._relevance = alpha
        self._evidence = obs.sum_by_pair(post_e)
        self._obs = obs
        return self

    def _objective(self, obs: _Observations, theta: np.ndarray, alpha: np.ndarray) -> float:
        p = np.clip(theta[obs.rank] * alpha[obs.pair], 1e-300, 1.0)
        q = np.clip(1.0 - theta[obs.rank] * alpha[obs.pair], 1e-300, 1.0)
        ll = float(np.sum(obs.click * np.log(p) + (1.0 - obs.click) * np.log(q)))
        a, b = self.prior
        if a == 1.0 and b == 1.0:
            return ll
        al = np.clip(alpha, 1e-300, 1.0 - 1e-16)
        return ll + float(np.sum((a - 1.0) * np.log(al) + (b - 1.0) * np.log1p(-al)))

    @property
    def log_likelihood(self) -> float:
        """The objective after the last iteration (log-likelihood when the prior is flat)."""
        return self.objective_trace[-1] if self.objective_trace else float("nan")


MODELS = {"ctr": CTR, "sdbn": SDBN, "pbm": PBM}
