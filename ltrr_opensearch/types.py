"""Small typed objects the stages of the funnel pass to each other.

understand -> ``Understanding`` (slots, intent, ``ContextVector``)
select     -> ``ArmChoice`` per chosen strategy (candidate count and propensity)
retrieve   -> ``StrategyResult`` per strategy, merged into ``Candidate`` objects
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Slot:
    """A span of the query recognised as a catalog attribute (artist, genre, decade...)."""

    kind: str  # artist | genre | mood | decade | language | entity_type | album | title
    value: str  # the canonical catalog value, e.g. "Taylor Swift", "1990s", "rock"
    text: str  # the normalised query text it was matched from
    confidence: float  # 1.0 exact, lower for fuzzy matches (and for learned phrases: their share)
    # Where the phrase comes from: "catalog" (a value or its built-in aliases), "synonym"
    # (the description's [synonyms]) or "learned" (a phrase learned from engagement).
    source: str = "catalog"


@dataclass(frozen=True)
class ContextVector:
    """The numeric context the bandit sees; ``names`` documents each position."""

    version: str
    names: tuple[str, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.values):
            raise ValueError("context names and values differ in length")


@dataclass(frozen=True)
class Understanding:
    """What query understanding made of one query."""

    raw: str
    normalized: str
    tokens: tuple[str, ...]
    slots: tuple[Slot, ...]
    keywords: tuple[str, ...]  # tokens not covered by a slot
    intent: str | None  # the entity type the user most likely wants, if any
    intent_confidence: float
    context: ContextVector
    unknown: tuple[str, ...] = ()  # tokens that are no catalog word: the likely typos

    @property
    def match_text(self) -> str:
        """What strategies search with: the tokens as the catalog spells them ("titan ae"
        -> "titan a.e"), falling back to ``normalized``. Memory keys and logs use
        ``normalized``, which does not depend on the catalog."""
        return " ".join(self.tokens) or self.normalized


@dataclass(frozen=True)
class ArmChoice:
    """One strategy chosen for a request, how many candidates it may return, and why."""

    arm: str
    k: int
    propensity: float  # probability the policy runs this arm for this context
    expected_reward: float | None = None
    bound: float | None = None


@dataclass(frozen=True)
class Hit:
    id: str
    score: float | None
    source: dict[str, Any]
    doc_id: str | None = None  # the engine's _id (the id field may be another field)


@dataclass(frozen=True)
class StrategyResult:
    """What one sub-search of the ``_msearch`` returned."""

    strategy: str
    hits: tuple[Hit, ...]
    took_ms: int | None
    error: str | None = None


@dataclass
class Candidate:
    """A merged candidate with its provenance: strategy -> (rank, score) in that strategy."""

    id: str
    source: dict[str, Any]
    provenance: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    score: float | None = None  # final ranking score (model score or fallback)
    features: tuple[float, ...] | None = None  # the ranker's feature values, if ranked
    doc_id: str | None = None  # the engine's _id, what the reranking search looks up
