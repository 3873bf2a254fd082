"""Which type of entity the user most likely wants.

Rules, first that applies wins (``c`` is the mean confidence of the slots it rests on):

=====================================================  ==============  ===============
query                                                  intent          confidence
=====================================================  ==============  ===============
an entity-type word ("songs", "lp", "mix", "band")     that type       0.9 * c
... two different type words ("playlist of songs")     the first one   0.6 * c
only artist slots, nothing else ("tayler swift")       artist          0.8 * c
artist slots and other words ("adele hello")           track           0.5 * c
only attribute slots ("90s rock", "sad")               playlist        0.5 * c
attribute slots and other words ("rock anthems")       track           0.4 * c
no slot at all ("hello")                               None            0.0
=====================================================  ==============  ===============

Attributes are every facet kind (genre, mood, decade, language, year, and any facet a
catalog describes). An artist plus free words most often names one of the artist's songs;
attributes alone describe a mood or era, which a playlist serves best; attributes plus
words are usually a song title or theme. Those three guesses are about music: given the
catalog's ``types``, a guessed type the catalog does not have is no intent (a films
catalog has no playlists), while a type word the user typed always is.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ltrr_opensearch.types import Slot

ATTRIBUTE_KINDS = frozenset({"genre", "mood", "decade", "language"})
"""The attribute kinds of the music catalog; any kind but entity_type and artist is one."""

_NOT_ATTRIBUTES = frozenset({"entity_type", "artist"})


def detect_intent(slots: Sequence[Slot], keywords: Sequence[str],
                  types: Collection[str] | None = None) -> tuple[str | None, float]:
    """``(entity type or None, confidence in [0, 1])`` for a query's slots and leftovers;
    ``types`` (the catalog's entity types; None: any) bounds the guessed types."""
    intent, confidence = _detect(slots, keywords)
    guessed = not any(s.kind == "entity_type" for s in slots)
    if intent is not None and guessed and types is not None and intent not in types:
        return None, 0.0
    return intent, confidence


def _detect(slots: Sequence[Slot], keywords: Sequence[str]) -> tuple[str | None, float]:
    types = [s for s in slots if s.kind == "entity_type"]
    if types:
        distinct = {s.value for s in types}
        factor = 0.9 if len(distinct) == 1 else 0.6
        return types[0].value, factor * _mean_confidence(types)
    artists = [s for s in slots if s.kind == "artist"]
    attributes = [s for s in slots if s.kind not in _NOT_ATTRIBUTES]
    if artists:
        if not attributes and not keywords:
            return "artist", 0.8 * _mean_confidence(artists)
        return "track", 0.5 * _mean_confidence(artists)
    if attributes:
        if not keywords:
            return "playlist", 0.5 * _mean_confidence(attributes)
        return "track", 0.4 * _mean_confidence(attributes)
    return None, 0.0


def _mean_confidence(slots: Sequence[Slot]) -> float:
    return sum(s.confidence for s in slots) / len(slots)
