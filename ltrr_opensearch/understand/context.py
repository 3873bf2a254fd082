"""The numeric context vector the bandit sees (version ``ctx-v2``).

Every field, its range and meaning are listed in ``docs/context-vector.md``. Values lie
in [0, 1] (or [-1, 1] for the hour's sin/cos) because linear bandits learn best from
scaled inputs. Changing, adding, removing or reordering a field requires a new
:data:`CONTEXT_VERSION`; a policy trained on one version must refuse vectors of another
(:meth:`ContextSpec.check`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ltrr_opensearch.types import ContextVector
from ltrr_opensearch.understand.gazetteer import SpanMatch

CONTEXT_VERSION = "ctx-v2"

SLOT_KINDS = ("artist", "genre", "mood", "decade", "language", "entity_type")
INTENTS = ("track", "artist", "album", "playlist", "podcast", "other", "none")

QUERY_CHARS_SCALE = 64  # characters; longer queries read as 1.0
TOKEN_COUNT_SCALE = 8  # tokens
SLOT_COUNT_SCALE = 2  # slots of one kind; 0, 0.5 or 1

CONTEXT_NAMES: tuple[str, ...] = (
    "bias",
    "query_chars",
    "token_count",
    "has_digits",
    *(f"slots_{kind}" for kind in SLOT_KINDS),
    "slot_confidence_max",
    "slot_confidence_mean",
    "slot_coverage",
    "typo_score",
    "known_word_fraction",
    "recency_cue",
    *(f"intent_{name}" for name in INTENTS),
    "intent_confidence",
    "hour_sin",
    "hour_cos",
    "weekend",
)
"""The ``ctx-v2`` fields in order; user features (if declared) follow as ``user.<name>``."""

# Words that ask for what is new: the cue the recency strategies serve.
RECENCY_WORDS = frozenset({"new", "newest", "latest", "recent", "recently", "fresh", "upcoming",
                           "release", "releases", "released", "debut"})

USER_PREFIX = "user."


@dataclass(frozen=True)
class ContextSpec:
    """The layout of a context vector: the fixed fields plus declared user features.

    ``user_features`` names the user/segment features appended after
    :data:`CONTEXT_NAMES`, in this order (e.g. ``("premium", "age_18_24")``). Declaring
    them changes the width, so it changes the version: ``ctx-v2+u:<hash of the names>``.
    """

    user_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = tuple(self.user_features)
        for name in names:
            if not isinstance(name, str) or not name or name != name.strip():
                raise ValueError(f"user feature name {name!r} must be a non-empty string")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"user feature(s) declared twice: {', '.join(duplicates)}")
        object.__setattr__(self, "user_features", names)

    @property
    def names(self) -> tuple[str, ...]:
        return CONTEXT_NAMES + tuple(USER_PREFIX + n for n in self.user_features)

    @property
    def width(self) -> int:
        return len(CONTEXT_NAMES) + len(self.user_features)

    @property
    def version(self) -> str:
        if not self.user_features:
            return CONTEXT_VERSION
        joined = "\n".join(self.user_features).encode("utf-8")
        digest = hashlib.sha1(joined, usedforsecurity=False).hexdigest()[:8]
        return f"{CONTEXT_VERSION}+u:{digest}"

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


def build_context(
    normalized: str,
    tokens: Sequence[str],
    matches: Sequence[SpanMatch],
    intent: str | None,
    intent_confidence: float,
    now: datetime,
    user_features: Mapping[str, float] | None = None,
    spec: ContextSpec = DEFAULT_SPEC,
    known_word_fraction: float = 0.0,
) -> ContextVector:
    """The context vector for one understood query at time ``now`` (its own time zone)."""
    confidences = [m.slot.confidence for m in matches]
    fuzzy = [c for c in confidences if c < 1.0]
    covered = sum(m.end - m.start for m in matches)
    kind_counts = {kind: 0 for kind in SLOT_KINDS}
    for match in matches:
        if match.slot.kind in kind_counts:
            kind_counts[match.slot.kind] += 1
    intent_name = "none" if intent is None else (intent if intent in INTENTS else "other")
    hour = (now.hour + now.minute / 60.0) / 24.0 * 2.0 * math.pi

    values = (
        1.0,
        min(len(normalized), QUERY_CHARS_SCALE) / QUERY_CHARS_SCALE,
        min(len(tokens), TOKEN_COUNT_SCALE) / TOKEN_COUNT_SCALE,
        1.0 if any(c.isdigit() for c in normalized) else 0.0,
        *(min(kind_counts[k], SLOT_COUNT_SCALE) / SLOT_COUNT_SCALE for k in SLOT_KINDS),
        max(confidences, default=0.0),
        sum(confidences) / len(confidences) if confidences else 0.0,
        covered / len(tokens) if tokens else 0.0,
        1.0 - sum(fuzzy) / len(fuzzy) if fuzzy else 0.0,
        known_word_fraction,
        1.0 if any(t in RECENCY_WORDS for t in tokens) else 0.0,
        *(1.0 if name == intent_name else 0.0 for name in INTENTS),
        intent_confidence,
        math.sin(hour),
        math.cos(hour),
        1.0 if now.weekday() >= 5 else 0.0,
        *spec.user_values(user_features),
    )
    return ContextVector(spec.version, spec.names, values)
