"""The deployed model as the search path uses it: an ``sltr`` rescore on every sub-search.

Each sub-search of the ``_msearch`` carries the same rescore, so every candidate, whichever
strategy found it, is scored by one model on features of (query, item) alone: the union is
then ordered by that score with no second round trip. The rescore also logs the feature
values it computed (``ext.ltr_log``), which become the training data of the next model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LOG_NAME = "ltrr"  # the ltr_log spec name the search path reads back


@dataclass(frozen=True)
class Ranker:
    """A model in the LTR store and what its features need."""

    model: str | None  # model name in the store; None logs a feature set's values only
    feature_names: tuple[str, ...]  # in the model's feature-set order
    params: frozenset[str]  # the sltr params its features declare
    store: str | None = None  # None: the default store
    feature_set: str | None = None  # the feature set the model was created from
    # Scores feature rows ({name: value}) as the engine does, for explanations (None: unknown).
    predict: Callable[[Sequence[Mapping[str, float]]], list[float]] | None = field(
        default=None, compare=False, repr=False)

    @classmethod
    def logging_only(cls, feature_set: str, feature_names: tuple[str, ...],
                     params: frozenset[str], store: str | None = None) -> Ranker:
        """Log a feature set's values without a model (every score 0: fusion orders)."""
        return cls(None, feature_names, params, store, feature_set)

    def rescore(self, params: Mapping[str, Any], window: int) -> dict[str, Any]:
        """The rescore clause: the model's score replaces the strategy's (query_weight 0)."""
        sltr: dict[str, Any] = {"params": {k: v for k, v in params.items() if k in self.params},
                                "_name": LOG_NAME}
        if self.model is not None:
            sltr["model"] = self.model
        else:  # logging only: keep each strategy's own order (its score, plus 0)
            sltr["featureset"] = self.feature_set
        if self.store:
            sltr["store"] = self.store
        weights = (0.0, 1.0) if self.model is not None else (1.0, 0.0)
        return {"window_size": int(window),
                "query": {"rescore_query": {"sltr": sltr}, "query_weight": weights[0],
                          "rescore_query_weight": weights[1], "score_mode": "total"}}

    @staticmethod
    def log_ext() -> dict[str, Any]:
        return {"ltr_log": {"log_specs": [{"name": LOG_NAME, "rescore_index": 0,
                                           "missing_as_zero": True}]}}

    def features_of(self, hit: Mapping[str, Any]) -> tuple[float, ...] | None:
        """The logged feature vector of one hit, in feature-set order (None if not logged)."""
        for entry in (hit.get("fields") or {}).get("_ltrlog") or []:
            values = entry.get(LOG_NAME) if isinstance(entry, Mapping) else None
            if isinstance(values, Sequence):
                found = {v["name"]: float(v.get("value", 0.0)) for v in values
                         if isinstance(v, Mapping) and "name" in v}
                return tuple(found.get(name, 0.0) for name in self.feature_names)
        return None

    def explain(self, candidates: Sequence[Any]) -> dict[str, Any]:
        """Per candidate: its feature values and each feature's contribution, measured as the
        score lost when that feature alone is set to 0 (exact for a linear model without
        normalizers; for trees, a leave-one-out attribution)."""
        out: dict[str, Any] = {"model": self.model, "feature_set": self.feature_set, "hits": []}
        for c in candidates:
            if c.features is None:
                continue
            row = dict(zip(self.feature_names, c.features, strict=True))
            entry: dict[str, Any] = {"id": c.id, "score": c.score, "features": row}
            if self.predict is not None:
                probes = [row] + [{**row, name: 0.0} for name in self.feature_names]
                scores = self.predict(probes)
                entry["contributions"] = {
                    name: round(scores[0] - s, 6)
                    for name, s in zip(self.feature_names, scores[1:], strict=True)
                    if scores[0] != s}
            out["hits"].append(entry)
        return out
