"""Query understanding: normalise, recognise catalog attributes, guess the wanted entity
type and describe the query as a context vector for the bandit.

    gazetteer = Gazetteer.from_index(client, settings)   # once, at start-up
    u = understand("tayler swift 90s", gazetteer)
    u.slots, u.keywords, u.intent, u.context.values
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from ltrr_opensearch.types import Understanding
from ltrr_opensearch.understand.context import (
    CONTEXT_NAMES,
    CONTEXT_VERSION,
    DEFAULT_SPEC,
    ContextSpec,
    build_context,
)
from ltrr_opensearch.understand.gazetteer import Gazetteer, SpanMatch
from ltrr_opensearch.understand.intent import detect_intent
from ltrr_opensearch.understand.normalize import normalize_query, q2e_key

__all__ = [
    "CONTEXT_NAMES",
    "CONTEXT_VERSION",
    "ContextSpec",
    "Gazetteer",
    "SpanMatch",
    "normalize_query",
    "q2e_key",
    "understand",
]


def understand(
    query: str,
    gazetteer: Gazetteer,
    now: datetime | None = None,
    user_features: Mapping[str, float] | None = None,
    spec: ContextSpec | None = None,
) -> Understanding:
    """Everything query understanding knows about ``query``.

    ``now`` sets the time-of-day features (pass the user's local time if known; default:
    the current UTC time). ``user_features`` must use names declared in ``spec``.
    The result depends only on the arguments.

    ``normalized`` is the catalog-independent form (:func:`normalize_query`: what memory
    keys and logs use); ``tokens`` are its words with the catalog's spelling restored
    (:meth:`Gazetteer.rewrite`: "titan ae" -> titan, a.e), and slots, keywords and
    :attr:`Understanding.match_text` (what strategies search with) come from them.
    """
    normalized = normalize_query(query)
    tokens = gazetteer.rewrite(normalized.split())
    matches = gazetteer.match(tokens)
    covered = {i for m in matches for i in range(m.start, m.end)}
    keywords = tuple(t for i, t in enumerate(tokens) if i not in covered)
    slots = tuple(m.slot for m in matches)
    intent, intent_confidence = detect_intent(slots, keywords,
                                              types=gazetteer.values("entity_type"))
    context = build_context(
        normalized,
        tokens,
        matches,
        intent,
        intent_confidence,
        now if now is not None else datetime.now(timezone.utc),
        user_features,
        spec or DEFAULT_SPEC,
        known_word_fraction=gazetteer.known_word_fraction(tokens),
    )
    return Understanding(
        raw=query,
        normalized=normalized,
        tokens=tokens,
        slots=slots,
        keywords=keywords,
        intent=intent,
        intent_confidence=intent_confidence,
        context=context,
        unknown=gazetteer.unknown_words(tokens),
    )
