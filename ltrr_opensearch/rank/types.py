"""The records the ranking steps exchange: small, frozen, validated on construction.

Validation happens here, once, so a malformed log line fails with a message naming it
instead of skewing a click model silently.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ltrr_opensearch.errors import ValidationError


@dataclass(frozen=True, init=False)
class Impression:
    """One result list as a user saw it (best first) and what she clicked.

    ``clicked`` may be given as a set of doc ids or as one bool per position; it is kept as a
    tuple of bools aligned with ``doc_ids``. ``engagements`` optionally weighs actions past
    the click (``{doc_id: weight}``, e.g. plays, favorites); the click models read clicks only.
    """

    query_key: str
    doc_ids: tuple[str, ...]
    clicked: tuple[bool, ...]
    engagements: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __init__(self, query_key: str, doc_ids: Sequence[str],
                 clicked: Collection[str] | Sequence[bool] = (),
                 engagements: Mapping[str, float] | None = None) -> None:
        docs = tuple(doc_ids)
        if not isinstance(query_key, str) or not query_key:
            raise ValidationError(f"impression has an empty or non-string query_key: {query_key!r}")
        if not docs:
            raise ValidationError(f"impression for {query_key!r} shows no documents")
        if len(set(docs)) != len(docs):
            raise ValidationError(f"impression for {query_key!r} shows a document twice: {docs}")
        object.__setattr__(self, "query_key", query_key)
        object.__setattr__(self, "doc_ids", docs)
        object.__setattr__(self, "clicked", _click_flags(query_key, docs, clicked))
        weights = dict(engagements or {})
        stray = set(weights) - set(docs)
        if stray:
            raise ValidationError(f"impression for {query_key!r} has engagements on documents "
                                  f"it did not show: {sorted(stray)}")
        object.__setattr__(self, "engagements", weights)

    @property
    def clicked_ids(self) -> frozenset[str]:
        return frozenset(d for d, c in zip(self.doc_ids, self.clicked, strict=True) if c)

    @property
    def last_click(self) -> int:
        """0-based rank of the lowest click, -1 when nothing was clicked."""
        for rank in range(len(self.clicked) - 1, -1, -1):
            if self.clicked[rank]:
                return rank
        return -1


def _click_flags(query_key: str, docs: tuple[str, ...],
                 clicked: Collection[str] | Sequence[bool]) -> tuple[bool, ...]:
    items = list(clicked)
    if items and all(isinstance(c, bool) for c in items):
        if len(items) != len(docs):
            raise ValidationError(f"impression for {query_key!r} has {len(items)} click flags "
                                  f"for {len(docs)} documents")
        return tuple(bool(c) for c in items)
    names = [c for c in items if isinstance(c, str)]
    if len(names) != len(items):
        raise ValidationError(f"impression for {query_key!r}: clicked must be doc ids or one "
                              "bool per position, not a mix")
    unknown = set(names) - set(docs)
    if unknown:
        raise ValidationError(f"impression for {query_key!r} has clicks on documents it did "
                              f"not show: {sorted(unknown)}")
    chosen = set(names)
    return tuple(d in chosen for d in docs)


@dataclass(frozen=True)
class Judgment:
    """A graded label for (query, doc) derived from clicks, with what it rests on."""

    query_key: str
    doc_id: str
    grade: int
    relevance: float
    evidence: float


@dataclass(frozen=True)
class TrainingRow:
    """One (query, doc) with its feature values and label, as a trainer takes it.

    A feature absent from ``features`` is *missing* (the feature query did not match), as the
    plugin's feature logging leaves it out; explicit values must be finite.
    """

    query_id: str
    doc_id: str
    features: Mapping[str, float] = field(hash=False)
    label: int = 0

    @classmethod
    def of(cls, row: TrainingRow | Mapping[str, Any], index: int = 0) -> TrainingRow:
        """Accept a row or a dict ``{query_id, doc_id, features, label}``, checked."""
        if isinstance(row, TrainingRow):
            data: Mapping[str, Any] = {"query_id": row.query_id, "doc_id": row.doc_id,
                                       "features": row.features, "label": row.label}
        elif isinstance(row, Mapping):
            data = row
        else:
            raise ValidationError(f"row {index} is a {type(row).__name__}, expected a mapping")
        missing = [k for k in ("query_id", "doc_id", "features", "label") if k not in data]
        if missing:
            raise ValidationError(f"row {index} lacks {', '.join(missing)}")
        query_id, doc_id, feats, label = (data["query_id"], data["doc_id"], data["features"],
                                          data["label"])
        if not isinstance(query_id, str) or not query_id:
            raise ValidationError(f"row {index}: query_id must be a non-empty string")
        if not isinstance(doc_id, str) or not doc_id:
            raise ValidationError(f"row {index}: doc_id must be a non-empty string")
        if isinstance(label, bool) or not isinstance(label, int) or label < 0:
            raise ValidationError(f"row {index} ({query_id}/{doc_id}): label must be an int >= 0, "
                                  f"got {label!r}")
        if not isinstance(feats, Mapping):
            raise ValidationError(f"row {index} ({query_id}/{doc_id}): features must be a mapping")
        values: dict[str, float] = {}
        for name, value in feats.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ValidationError(
                    f"row {index} ({query_id}/{doc_id}): feature {name!r} has non-finite or "
                    f"non-numeric value {value!r}",
                    hint="leave a missing feature out of the row instead of writing NaN")
            values[str(name)] = float(value)
        return cls(query_id, doc_id, values, label)
