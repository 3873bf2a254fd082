"""Query understanding: normalise, recognise catalog attributes, guess the wanted entity
type and describe the query as a context vector for the bandit.

    gazetteer = Gazetteer.from_index(client, settings)   # once, at start-up
    u = understand("tayler swift 90s", gazetteer)
    u.slots, u.keywords, u.intent, u.context.values
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from datetime import datetime, timezone

from ltrr_opensearch.types import Understanding
from ltrr_opensearch.understand.context import (
    CONTEXT_NAMES,
    CONTEXT_VERSION,
    DEFAULT_SPEC,
    ContextSpec,
    QuerySignals,
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
    memory_keys: Container[str] | None = None,
) -> Understanding:
    """Everything query understanding knows about ``query``.

    ``spec`` is the context's layout (default: ``ctx-v3`` without clock or user
    features); ``now`` sets its clock fields when it has them (pass the user's local time
    if known; default: the current UTC time). ``user_features`` must use names declared
    in ``spec``. ``memory_keys`` are the Q2E memory's keys (select.availability.MemoryKeys:
    held in memory), for the context's ``memory_available``; None: unknown, read as 0.
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
    signals = QuerySignals(
        known_word_fraction=gazetteer.known_word_fraction(tokens),
        exact_title=gazetteer.is_title(tokens),
        memory_available=_remembered(normalized, memory_keys),
        intent_rank=gazetteer.type_rank(intent),
    )
    context = build_context(
        normalized,
        tokens,
        matches,
        intent,
        intent_confidence,
        now if now is not None else datetime.now(timezone.utc),
        user_features,
        spec or DEFAULT_SPEC,
        signals,
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


def _remembered(normalized: str, memory_keys: Container[str] | None) -> bool:
    """The memory holds this query's key (the key ``q2e_memory`` would look up)."""
    if memory_keys is None:
        return False
    try:
        return q2e_key(normalized) in memory_keys
    except ValueError:  # nothing left after normalisation: no key
        return False
