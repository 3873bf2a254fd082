"""Training rows -> a checked feature matrix, and the split BY QUERY.

Rows of one query are not independent: splitting by row leaks a query's documents into both
sides and flatters the validation score. :func:`split_by_query` never does that.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.rank.types import TrainingRow

# xgboost refuses these in feature names; the plugin matches names exactly, so keep them simple.
_FORBIDDEN = set("[]<,\"\\")


@dataclass(frozen=True)
class Dataset:
    """Rows as arrays. ``X`` holds NaN where a feature is missing for that row."""

    feature_names: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    query_ids: tuple[str, ...]
    doc_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)

    def queries(self) -> list[str]:
        """Distinct query ids in first-seen order."""
        return list(dict.fromkeys(self.query_ids))

    def subset(self, queries: Iterable[str]) -> Dataset:
        """The rows of these queries, in their original order."""
        keep = set(queries)
        mask = np.array([q in keep for q in self.query_ids], dtype=bool)
        idx = np.flatnonzero(mask)
        return Dataset(self.feature_names, self.X[idx], self.y[idx],
                       tuple(self.query_ids[i] for i in idx), tuple(self.doc_ids[i] for i in idx))

    def by_query(self) -> dict[str, np.ndarray]:
        """Query id -> row indices, in row order (the served order when rows come from logs)."""
        out: dict[str, list[int]] = {}
        for i, q in enumerate(self.query_ids):
            out.setdefault(q, []).append(i)
        return {q: np.asarray(ix) for q, ix in out.items()}

    def feature_rows(self) -> list[dict[str, float]]:
        """Each row as ``{feature: value}`` without its missing features (as the plugin logs)."""
        return [{f: float(v) for f, v in zip(self.feature_names, row, strict=True)
                 if not math.isnan(v)} for row in self.X]


def check_feature_names(feature_names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(feature_names)
    if not names:
        raise ValidationError("no feature names given", hint="pass the feature set's names in order")
    for name in names:
        if not isinstance(name, str) or not name.strip() or _FORBIDDEN & set(name):
            raise ValidationError(f"bad feature name {name!r}: must be a non-empty string "
                                  "without [ ] < , \" or \\")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(f"feature names repeat: {dupes}")
    return names


def build_dataset(rows: Iterable[TrainingRow | Mapping[str, Any]],
                  feature_names: Sequence[str]) -> Dataset:
    """Check every row and lay them out in ``feature_names`` order."""
    names = check_feature_names(feature_names)
    column = {n: j for j, n in enumerate(names)}
    checked = [TrainingRow.of(r, i) for i, r in enumerate(rows)]
    if not checked:
        raise ValidationError("no training rows")
    X = np.full((len(checked), len(names)), np.nan)
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(checked):
        unknown = sorted(set(row.features) - set(column))
        if unknown:
            raise ValidationError(f"row {i} ({row.query_id}/{row.doc_id}) has unknown feature(s) "
                                  f"{unknown}", hint=f"known features: {list(names)}")
        key = (row.query_id, row.doc_id)
        if key in seen:
            raise ValidationError(f"row {i}: ({row.query_id}, {row.doc_id}) appears twice")
        seen.add(key)
        for name, value in row.features.items():
            X[i, column[name]] = value
    y = np.array([r.label for r in checked], dtype=np.int64)
    return Dataset(names, X, y, tuple(r.query_id for r in checked),
                   tuple(r.doc_id for r in checked))


def split_by_query(data: Dataset, validation_fraction: float = 0.2,
                   seed: int = 0) -> tuple[Dataset, Dataset]:
    """(train, validation): a seeded shuffle of the distinct queries, never of rows.

    The result depends on the set of query ids and the seed, not on the row order.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValidationError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    queries = sorted(set(data.query_ids))
    if len(queries) < 2:
        raise ValidationError(f"need at least 2 queries to split by query, got {len(queries)}",
                              hint="a ranker learns from many queries; log more traffic first")
    order = np.random.default_rng(seed).permutation(len(queries))
    n_valid = min(max(1, round(validation_fraction * len(queries))), len(queries) - 1)
    valid = {queries[i] for i in order[:n_valid]}
    train = [q for q in queries if q not in valid]
    return data.subset(train), data.subset(valid)
