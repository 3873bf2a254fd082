"""The numeric context vector the bandit sees (version ``ctx-v3``).

Every field, its range and meaning are listed in ``docs/context-vector.md``. The fields
describe the query in terms any catalog has (slot *classes* rather than music's facets,
the catalog's own entity types by how common they are, whether the query is a title,
whether the memory knows it), so a policy learns the same things on films, products or
music. Values lie in [0, 1] (the optional clock's sin/cos in [-1, 1]) because linear
bandits learn best from scaled inputs.

Changing, adding, removing or reordering a field requires a new :data:`CONTEXT_VERSION`;
a policy trained on one layout must refuse vectors of another (:meth:`ContextSpec.check`).
The clock fields are part of the layout only when a config turns them on
(``ContextSpec(clock=True)``, version ``ctx-v3+clock``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ltrr_opensearch.types import ContextVector
from ltrr_opensearch.understand.gazetteer import CREATOR_KIND, PERIOD_KINDS, SpanMatch

CONTEXT_VERSION = "ctx-v3"
CLOCK_SUFFIX = "+clock"

# Slot classes, counted generically: the catalog's creators, any facet it describes
# (genre, state, colour...), periods (decades, years from its date), type words.
SLOT_CLASSES = ("creator", "facet", "period", "type")
# Intent: the catalog's own entity types by how many entities it has of each (1 = its
# most common type: tracks in music, movies in a films catalog), any rarer type, or none.
TYPE_RANKS = 3
INTENTS = (*(f"type_{rank}" for rank in range(1, TYPE_RANKS + 1)), "type_other", "none")

QUERY_CHARS_SCALE = 64  # characters; longer queries read as 1.0
TOKEN_COUNT_SCALE = 8  # tokens
SLOT_COUNT_SCALE = 2  # slots of one class; 0, 0.5 or 1

CONTEXT_NAMES: tuple[str, ...] = (
    "bias",
    "query_chars",
    "token_count",
    "has_digits",
    *(f"slots_{name}" for name in SLOT_CLASSES),
    "slot_confidence_max",
    "slot_confidence_mean",
    "slot_coverage",
    "typo_score",
    "known_word_fraction",
    "recency_cue",
    "exact_title",
    "memory_available",
    *(f"intent_{name}" for name in INTENTS),
    "intent_confidence",
)
"""The ``ctx-v3`` fields in order; the clock fields (if on), then user features (if
declared) follow."""

CLOCK_NAMES = ("hour_sin", "hour_cos", "weekend")

# Words that ask for what is new: the cue the recency strategies serve.
RECENCY_WORDS = frozenset({"new", "newest", "latest", "recent", "recently", "fresh", "upcoming",
                           "release", "releases", "released", "debut"})

USER_PREFIX = "user."


def slot_class(kind: str) -> str:
    """The class a slot kind counts in: ``creator``, ``type``, ``period`` or ``facet``."""
    if kind == CREATOR_KIND:
        return "creator"
    if kind == "entity_type":
        return "type"
    if kind in PERIOD_KINDS:
        return "period"
    return "facet"


@dataclass(frozen=True)
class ContextSpec:
    """The layout of a context vector: the fixed fields, the clock fields when ``clock``
    is on, and declared user features.

    ``user_features`` names the user/segment features appended last, in this order (e.g.
    ``("premium", "age_18_24")``). The clock and user features change the width, so they
    change the version: ``ctx-v3+clock``, ``ctx-v3+u:<hash of the names>``.
    """

    user_features: tuple[str, ...] = ()
    clock: bool = False

    def __post_init__(self) -> None:
        names = tuple(self.user_features)
        for name in names:
            if not isinstance(name, str) or not name or name != name.strip():
                raise ValueError(f"user feature name {name!r} must be a non-empty string")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"user feature(s) declared twice: {', '.join(duplicates)}")
        object.__setattr__(self, "user_features", names)
        object.__setattr__(self, "clock", bool(self.clock))

    @property
    def names(self) -> tuple[str, ...]:
        clock = CLOCK_NAMES if self.clock else ()
        return CONTEXT_NAMES + clock + tuple(USER_PREFIX + n for n in self.user_features)

    @property
    def width(self) -> int:
        return len(self.names)

    @property
    def version(self) -> str:
        version = CONTEXT_VERSION + (CLOCK_SUFFIX if self.clock else "")
        if not self.user_features:
            return version
        joined = "\n".join(self.user_features).encode("utf-8")
        digest = hashlib.sha1(joined, usedforsecurity=False).hexdigest()[:8]
        return f"{version}+u:{digest}"

    def user_values(self, user_features: Mapping[str, float] | None) -> tuple[float, ...]:
        """Declared features in order; a missing one is 0, an undeclared one an error."""
        given = dict(user_features or {})
        unknown = sorted(set(given) - set(self.user_features))
        if unknown:
            declared = ", ".join(self.user_features) or "none"
            raise ValueError(
                f"unknown user feature(s) {', '.join(map(repr, unknown))}; "
                f"declared in the ContextSpec: {declared}"
            )
        values = []
        for name in self.user_features:
            value = given.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"user feature {name!r} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"user feature {name!r} must be finite, got {value!r}")
            values.append(float(value))
        return tuple(values)

    def check(self, vector: ContextVector) -> None:
        """Raise ``ValueError`` unless ``vector`` has this spec's version and width."""
        if vector.version != self.version or len(vector.values) != self.width:
            raise ValueError(
                f"context vector {vector.version!r} of width {len(vector.values)} does not "
                f"match {self.version!r} of width {self.width}"
            )


DEFAULT_SPEC = ContextSpec()


@dataclass(frozen=True)
class QuerySignals:
    """What query understanding knows about a query beyond its slots, looked up in the
    gazetteer and the memory's key set (no engine round trip)."""

    known_word_fraction: float = 0.0
    exact_title: bool = False  # the query is the title of a catalog entity
    memory_available: bool = False  # the Q2E memory holds the query's key
    intent_rank: int | None = None  # the intent's rank among the catalog's types (1 = most common)


def build_context(
    normalized: str,
    tokens: Sequence[str],
    matches: Sequence[SpanMatch],
    intent: str | None,
    intent_confidence: float,
    now: datetime,
    user_features: Mapping[str, float] | None = None,
    spec: ContextSpec = DEFAULT_SPEC,
    signals: QuerySignals = QuerySignals(),
) -> ContextVector:
    """The context vector for one understood query at time ``now`` (its own time zone;
    read only when the spec has the clock)."""
    confidences = [m.slot.confidence for m in matches]
    fuzzy = [c for c in confidences if c < 1.0]
    covered = sum(m.end - m.start for m in matches)
    class_counts = dict.fromkeys(SLOT_CLASSES, 0)
    for match in matches:
        class_counts[slot_class(match.slot.kind)] += 1
    values = [
        1.0,
        min(len(normalized), QUERY_CHARS_SCALE) / QUERY_CHARS_SCALE,
        min(len(tokens), TOKEN_COUNT_SCALE) / TOKEN_COUNT_SCALE,
        1.0 if any(c.isdigit() for c in normalized) else 0.0,
        *(min(class_counts[c], SLOT_COUNT_SCALE) / SLOT_COUNT_SCALE for c in SLOT_CLASSES),
        max(confidences, default=0.0),
        sum(confidences) / len(confidences) if confidences else 0.0,
        covered / len(tokens) if tokens else 0.0,
        1.0 - sum(fuzzy) / len(fuzzy) if fuzzy else 0.0,
        signals.known_word_fraction,
        1.0 if any(t in RECENCY_WORDS for t in tokens) else 0.0,
        1.0 if signals.exact_title else 0.0,
        1.0 if signals.memory_available else 0.0,
        *_intent_one_hot(intent, signals.intent_rank),
        intent_confidence if intent is not None else 0.0,
    ]
    if spec.clock:
        hour = (now.hour + now.minute / 60.0) / 24.0 * 2.0 * math.pi
        values += [math.sin(hour), math.cos(hour), 1.0 if now.weekday() >= 5 else 0.0]
    values += spec.user_values(user_features)
    return ContextVector(spec.version, spec.names, tuple(values))


def _intent_one_hot(intent: str | None, rank: int | None) -> tuple[float, ...]:
    if intent is None:
        name = "none"
    elif rank is not None and 1 <= rank <= TYPE_RANKS:
        name = f"type_{rank}"
    else:
        name = "type_other"
    return tuple(1.0 if n == name else 0.0 for n in INTENTS)
