"""Catalog vocabularies and the matcher that finds them in a normalised query.

The vocabularies come from the catalog description (``docs/catalog-description.md``):
creators (slot kind ``artist``, whatever the catalog calls them: artist, director,
brand) from the creator fields, one vocabulary per facet kind from its keyword field
(``genre``, ``mood``, ``decade``, ``language`` have aliases of their own; any other kind
is matched on its values), entity types from the type field's values, and periods
(decades and years) from the date field when no decade facet is described. Nothing here
is specific to music except the synonyms of the music entity types ("songs" -> track),
used only for the types a catalog has.

Everyday words reach those values two ways, matched like any other phrase: the
description's ``[synonyms]`` ("universities" -> degree=bachelor), aliases of the values
they name, and phrases learned from engagement (``feedback/vocab.py``), an overlay that
:meth:`Gazetteer.with_learned` replaces without rebuilding the rest. Each slot says where
it came from (``Slot.source``: catalog, synonym, learned).

Before matching, :meth:`Gazetteer.rewrite` restores the catalog's spelling of words
whose punctuation the user left out or typed differently ("titan ae" / "titan a e" ->
"titan a.e", "acdc" -> "ac dc", "r and b" / "rnb" -> "r b"), learnt from the catalog's
own titles and values (see :func:`compound_forms`).

Matching walks the query tokens left to right. At each position it tries the longest
span first (up to :data:`MAX_SPAN_TOKENS` tokens); for each span length it tries an
exact match, then a typo-tolerant one, and takes the first that succeeds. Hence the
ambiguity rule:

1. the longer span wins ("hip hop" over "hip"; "taylor swiftt" over "taylor");
2. at equal length, exact beats fuzzy;
3. a phrase that is several kinds at once resolves by :data:`KIND_PRIORITY`: small
   curated vocabularies first, the open set of artist names last (a band called
   "Blues" loses to the genre); then the value the catalog uses most; then the
   alphabetically first value, so the result is deterministic.

Typo tolerance: a single token that is a real word (a stopword, a number, a word of a
catalog title or of any vocabulary value: "road", "love") is taken as meant, never as a
typo of something else; nor is a span ending in a stopword. Other spans are compared
with the values that share a one-character deletion with them (a SymSpell-style
deletion index, so no query scans the vocabulary). This finds every value one
insertion, deletion, substitution or adjacent swap away, and some two edits away
(one deletion on each side). A candidate is kept when
its optimal-string-alignment distance is at most 1 (span shorter than 9 characters) or
2, and its similarity ``1 - distance / longer length`` (the slot confidence) is at
least :data:`MIN_FUZZY_SIMILARITY`. Spans of 3 characters are matched only against the
curated vocabularies ("rok" -> rock), never against artist names, where almost every
short word would hit something; artist typos need 4 characters ("tayler" -> Taylor).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapidfuzz.distance import OSA

from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.types import Slot
from ltrr_opensearch.understand.normalize import normalize_query

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from ltrr_opensearch.catalog.description import BoundCatalog, CatalogDescription
    from ltrr_opensearch.config import Settings

logger = logging.getLogger(__name__)

KIND_PRIORITY = ("entity_type", "decade", "year", "genre", "mood", "language", "artist")
"""Which kind a phrase is when it is several at once, most preferred first; any other
(generic) facet kind ranks after language and before artist, alphabetically."""

CATALOG_KINDS = ("artist", "genre", "mood", "decade", "language")
"""The kinds the music catalog describes (every kind's values come from the catalog)."""

CREATOR_KIND = "artist"  # the slot kind of creators in every catalog (ctx-v2 counts it)
PERIOD_KINDS = ("decade", "year")  # from the date field when no decade facet is described
_KIND_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

MAX_SPAN_TOKENS = 5
MIN_FUZZY_SIMILARITY = 0.7
MIN_FUZZY_CHARS = 4  # typo tolerance for any kind from this span length on
MIN_FUZZY_CHARS_CURATED = 3  # ... and for every kind but artist from this length on
LONG_SPAN_CHARS = 9  # spans this long may be 2 edits away, shorter ones 1

# Words that mean "I want this type of entity", for the music types; singular and plural.
# A catalog type not listed here is recognised by its own name and plural ("movies").
ENTITY_TYPE_WORDS: Mapping[str, tuple[str, ...]] = {
    "track": ("track", "tracks", "song", "songs", "tune", "tunes"),
    "album": ("album", "albums", "lp", "lps", "record", "records", "ep", "eps"),
    "playlist": ("playlist", "playlists", "mix", "mixes", "mixtape", "mixtapes"),
    "podcast": ("podcast", "podcasts", "episode", "episodes"),
    "artist": ("artist", "artists", "band", "bands", "singer", "singers", "musician",
               "musicians", "rapper", "rappers"),
    "station": ("station", "stations", "radio"),
    "genre": ("genre", "genres"),
}

# Language names people type, for the ISO 639-1 codes a catalog stores. The bare codes
# are not matched: "it", "no", "de", "la" are ordinary words in queries.
LANGUAGE_NAMES: Mapping[str, tuple[str, ...]] = {
    "en": ("english",), "es": ("spanish", "espanol"), "fr": ("french", "francais"),
    "de": ("german", "deutsch"), "it": ("italian", "italiano"),
    "pt": ("portuguese", "portugues"), "nl": ("dutch",), "sv": ("swedish", "svenska"),
    "no": ("norwegian", "norsk"), "da": ("danish", "dansk"), "fi": ("finnish", "suomi"),
    "pl": ("polish", "polski"), "ru": ("russian",), "uk": ("ukrainian",),
    "tr": ("turkish",), "el": ("greek",), "ar": ("arabic",), "he": ("hebrew",),
    "hi": ("hindi",), "bn": ("bengali",), "ta": ("tamil",), "ja": ("japanese",),
    "ko": ("korean",), "zh": ("chinese", "mandarin"), "id": ("indonesian",),
    "th": ("thai",), "vi": ("vietnamese",), "sw": ("swahili",), "yo": ("yoruba",),
    "ga": ("irish", "gaelic"), "cy": ("welsh",), "is": ("icelandic",),
}

# Spoken names of decades by their tens digit; "twenties" etc. go to the most recent
# catalog decade that fits (see _decade_aliases).
DECADE_WORDS: Mapping[str, tuple[str, ...]] = {
    "0": ("noughties", "aughts"), "2": ("twenties",), "3": ("thirties",),
    "4": ("forties",), "5": ("fifties",), "6": ("sixties",), "7": ("seventies",),
    "8": ("eighties",), "9": ("nineties",),
}

# Never typo-matched on their own (exact matches still count: a band "The The").
STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "by", "with",
    "from", "my", "me", "i", "you", "your", "our", "we", "is", "are", "was", "be", "it",
    "its", "this", "that", "these", "those", "some", "any", "all", "no", "not", "like",
    "best", "top", "new", "good", "more", "feat", "ft", "vs",
})

_RANK = {kind: i for i, kind in enumerate(KIND_PRIORITY)}
_GENERIC_RANK = _RANK["language"]  # generic facets sit between language and artist


def kind_rank(kind: str) -> tuple[int, str]:
    """Sort key of a slot kind for :data:`KIND_PRIORITY` (generic kinds included)."""
    if kind in _RANK:
        return (2 * _RANK[kind], "")
    return (2 * _GENERIC_RANK + 1, kind)


def type_words(entity_type: str) -> tuple[str, ...]:
    """What users type to ask for one entity type: the music synonyms for a music type,
    else the type's name and its plural ("movie" -> movie, movies; "tv_series" -> tv
    series; "category" -> category, categories)."""
    if entity_type in ENTITY_TYPE_WORDS:
        return ENTITY_TYPE_WORDS[entity_type]
    name = normalize_query(entity_type.replace("_", " ").replace("-", " "))
    if not name:
        return ()
    head, _, last = name.rpartition(" ")
    plural = f"{head} {_plural(last)}" if head else _plural(last)
    return (name, plural) if plural != name else (name,)


def _plural(word: str) -> str:
    if word.endswith("s"):  # "series", "news", "glass": kept as typed
        return word
    if word.endswith(("x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


@dataclass(frozen=True)
class SpanMatch:
    """A slot and the token span ``tokens[start:end]`` it was recognised in."""

    start: int
    end: int
    slot: Slot

    @property
    def fuzzy(self) -> bool:
        return self.slot.confidence < 1.0


# Where a phrase comes from (Slot.source), and which wins when one phrase is two things of
# the same kind: the value as the catalog spells it, then a description synonym, then an
# alias made here (plurals, "90s", language names, type words).
CATALOG, SYNONYM, LEARNED = "catalog", "synonym", "learned"
_VALUE, _SYNONYM, _ALIAS = 0, 1, 2


@dataclass(frozen=True)
class LearnedPhrase:
    """A phrase learned from engagement (``feedback/vocab.py``): queries with it engaged
    mostly with items whose ``kind`` is ``value``; ``share`` of that engagement went there
    (it becomes the slot's confidence)."""

    phrase: str
    kind: str
    value: str
    share: float
    engagement: float = 0.0
    clients: int = 0


@dataclass(frozen=True)
class _Entry:
    kind: str
    value: str
    weight: float  # how often the catalog uses the value; breaks ties
    rank: int = _VALUE  # _VALUE, _SYNONYM or _ALIAS: breaks ties within one kind
    source: str = CATALOG
    confidence: float = 1.0  # of an exact match; a learned phrase's share

    def sort_key(self) -> tuple[tuple[int, str], int, float, str]:
        return (kind_rank(self.kind), self.rank, -self.weight, self.value)


class Gazetteer:
    """Canonical catalog values by kind, indexed for exact and typo-tolerant lookup.

    ``vocab`` maps a kind (the creator kind ``artist``, a facet kind such as ``genre``
    or ``brand``, or a period kind) to ``{canonical value: weight}``; the weight
    (usually how many entities use the value) breaks ties. ``entity_types`` are the
    catalog's types, recognised by :func:`type_words`. ``known_words`` are texts whose
    words users type on purpose (catalog titles); together with the words of every value
    they are never typo-corrected on their own, and their punctuated words teach
    :meth:`rewrite` the catalog's spelling. ``entity_types`` may map each type to how
    many entities have it (:meth:`type_rank`); :meth:`is_title` knows the ``known_words``
    titles plus ``extra_titles`` (titles that are not known words: creators'). ``synonyms``
    maps a kind to ``{phrase: value}`` (the description's ``[synonyms]``). Build one with
    :meth:`from_rows` or :meth:`from_index`; it is read-only afterwards and safe to share
    between threads (:meth:`with_learned` returns a new one).
    """

    def __init__(
        self,
        vocab: Mapping[str, Mapping[str, float]],
        known_words: Iterable[str] = (),
        *,
        extra_titles: Iterable[str] = (),
        entity_types: Iterable[str] = (),
        synonyms: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        bad = sorted(k for k in vocab if not _KIND_NAME.match(k) or k == "entity_type")
        if bad:
            raise ValueError(f"gazetteer kind(s) {', '.join(map(repr, bad))} must be lowercase "
                             "identifiers other than entity_type")
        self._values: dict[str, tuple[str, ...]] = {}
        self._exact: dict[str, _Entry] = {}
        texts = list(known_words)
        titles = {normalize_query(text) for text in texts}
        title_words = frozenset(word for title in titles for word in title.split())
        self._titles = frozenset(titles | {normalize_query(t) for t in extra_titles})
        # Types by how many entities have them (a mapping's values; plain names count 0),
        # most common first, ties by name: the ranks do not depend on reading order.
        counts = (dict(entity_types) if isinstance(entity_types, Mapping)
                  else dict.fromkeys(entity_types, 0.0))
        by_count = sorted(counts, key=lambda t: (-float(counts[t]), t))
        self._type_ranks = {t: rank for rank, t in enumerate(by_count, start=1)}
        for kind in sorted(vocab, key=kind_rank):
            values = vocab[kind]
            self._values[kind] = tuple(sorted(values))
            for value, weight in values.items():
                for alias in _aliases(kind, value, values):
                    rank = _VALUE if alias == value else _ALIAS
                    self._add(alias, _Entry(kind, value, float(weight), rank))
        for kind in CATALOG_KINDS:
            self._values.setdefault(kind, ())
        types = tuple(sorted(set(entity_types)))
        self._values["entity_type"] = types
        for entity_type in types:
            for word in type_words(entity_type):
                rank = _VALUE if word == entity_type else _ALIAS
                self._add(word, _Entry("entity_type", entity_type, 0.0, rank))
        weights = {kind: dict(values) for kind, values in vocab.items()}
        self.unresolved_synonyms = self._add_synonyms(synonyms or {}, weights)
        known = set(title_words)
        known.update(word for phrase in self._exact for word in phrase.split())
        self._base_known = frozenset(known | STOPWORDS)
        self._known_words = self._base_known
        self._base_tokens = max((p.count(" ") + 1 for p in self._exact), default=1)
        self._base_chars = max((len(p) for p in self._exact), default=0)
        self._max_tokens, self._max_chars = self._base_tokens, self._base_chars
        self._deletions = _deletion_index(self._exact)
        every_value = (v for values in vocab.values() for v in values)
        self._compounds = self._compound_index([*texts, *every_value])
        self._compound_tokens = max((p.count(" ") + 1 for p in self._compounds), default=0)
        # Phrases learned from engagement: an overlay the base vocabulary always wins over,
        # replaced as a whole by :meth:`with_learned` (the base is never rebuilt for it).
        self._learned: dict[str, _Entry] = {}
        self._learned_deletions: dict[str, tuple[str, ...]] = {}
        self._learned_phrases: dict[str, LearnedPhrase] = {}
        self.learned_version: str | None = None

    def _add_synonyms(self, synonyms: Mapping[str, Mapping[str, str]],
                      weights: Mapping[str, Mapping[str, float]]) -> list[tuple[str, str, str]]:
        """The description's synonyms as aliases of the values they name, with the same
        matching rules as every other phrase; a generic facet's or a type's synonym also in
        the other number ("community college" -> "community colleges"). A synonym names
        a value as the catalog stores it, or as it reads once normalised ("Bachelor" for
        "bachelor"); a phrase that is itself a value of its kind stays that value. Returns
        the ``(kind, phrase, value)`` whose value the catalog does not have (ignored;
        `ltrr doctor` reports them)."""
        unresolved: list[tuple[str, str, str]] = []
        for kind in sorted(synonyms, key=kind_rank):
            values = self._values.get(kind, ())
            by_form: dict[str, str] = {}
            for known in values:
                by_form.setdefault(normalize_query(known), known)
            for phrase, declared in sorted(synonyms[kind].items()):
                value = declared if declared in values else by_form.get(normalize_query(declared))
                if value is None:
                    unresolved.append((kind, phrase, declared))
                    continue
                weight = float(weights.get(kind, {}).get(value, 0.0))
                normal = normalize_query(phrase)
                for form in _synonym_forms(kind, normal):
                    if form in by_form and by_form[form] != value:
                        continue  # another value of the kind, as the catalog spells it
                    rank = _SYNONYM if form == normal else _ALIAS
                    self._add(form, _Entry(kind, value, weight, rank, SYNONYM))
        return unresolved

    def known_word_fraction(self, tokens: Sequence[str]) -> float:
        """Share of the non-stopword tokens that are catalog words or numbers. Slang and
        paraphrases score low (only memory or vectors can serve them); titles score high."""
        content = [t for t in tokens if t not in STOPWORDS]
        if not content:
            return 0.0
        return sum(1 for t in content if t in self._known_words or t.isdigit()) / len(content)

    def unknown_words(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """The tokens that are no catalog word, number or stopword: the likely typos (or
        words the catalog does not have). Typo-tolerant ranking features expand only these,
        so a query the catalog spells pays nothing for typo tolerance."""
        return tuple(t for t in tokens if t not in self._known_words and not t.isdigit())

    # -- phrases learned from engagement ---------------------------------------------------

    def with_learned(self, phrases: Iterable[LearnedPhrase],
                     version: str | None = None) -> Gazetteer:
        """A gazetteer with these learned phrases in place of the current ones (the base
        vocabulary is shared, not rebuilt). A learned phrase that is already a phrase of the
        base vocabulary, or whose value the catalog no longer has, is left out. Matching
        treats learned phrases like any other (longest span first, exact before fuzzy);
        their slots have ``source="learned"`` and the phrase's share as confidence."""
        other = copy.copy(self)
        other._learned, other._learned_phrases = {}, {}
        for item in phrases:
            phrase = normalize_query(item.phrase)
            known = self._values.get(item.kind, ())
            if (not phrase or phrase in self._exact or phrase.count(" ") >= MAX_SPAN_TOKENS
                    or item.value not in known or not 0 < item.share <= 1):
                continue
            entry = _Entry(item.kind, item.value, item.engagement, _SYNONYM, LEARNED,
                           min(1.0, item.share))
            current = other._learned.get(phrase)
            if current is None or entry.sort_key() < current.sort_key():
                other._learned[phrase] = entry
                other._learned_phrases[phrase] = item
        other._learned_deletions = _deletion_index(other._learned)
        other._known_words = self._base_known | frozenset(
            word for phrase in other._learned for word in phrase.split())
        other._max_tokens = max([self._base_tokens, *(p.count(" ") + 1 for p in other._learned)])
        other._max_chars = max([self._base_chars, *(len(p) for p in other._learned)])
        other.learned_version = version
        return other

    @property
    def learned(self) -> tuple[LearnedPhrase, ...]:
        """The learned phrases in use, by phrase."""
        return tuple(self._learned_phrases[p] for p in sorted(self._learned_phrases))

    def learned_phrase(self, phrase: str) -> LearnedPhrase | None:
        """The learned phrase ``phrase`` (normalised) is, if it is one in use."""
        return self._learned_phrases.get(normalize_query(phrase))

    def _lookup(self, phrase: str) -> _Entry | None:
        return self._exact.get(phrase) or self._learned.get(phrase)

    def _add(self, alias: str, entry: _Entry) -> None:
        phrase = normalize_query(alias)
        if not phrase or phrase.count(" ") >= MAX_SPAN_TOKENS:
            return  # nothing to match, or longer than any span the matcher tries
        current = self._exact.get(phrase)
        if current is None or entry.sort_key() < current.sort_key():
            self._exact[phrase] = entry

    def _compound_index(self, texts: Iterable[str]) -> dict[str, str]:
        """typed form -> the catalog's form, for the punctuated words of ``texts``.

        A typed form that is itself a word or phrase of the catalog is left out (it is
        meant as typed); one typed form of several catalog forms goes to the most
        frequent, then the alphabetically first."""
        seen: dict[str, Counter[str]] = {}
        spelled: set[str] = set()  # catalog spellings of several tokens ("b a p s")
        for text in texts:
            for typed, canonical in compound_forms(text):
                seen.setdefault(typed, Counter())[canonical] += 1
                if " " in canonical:
                    spelled.add(canonical)
        out: dict[str, str] = {}
        for typed, counts in seen.items():
            if typed in self._exact or (" " not in typed and typed in self._known_words):
                continue
            out[typed] = min(counts, key=lambda c: (-counts[c], c))
        for canonical in spelled:
            out.setdefault(canonical, canonical)
        return out

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_rows(
        cls, rows: Iterable[Mapping[str, Any]], description: CatalogDescription | None = None
    ) -> Gazetteer:
        """Collect the vocabularies from catalog rows, read through ``description``
        (default: the built-in music description).

        Creators are the values of the creator fields plus the titles of the entities
        whose type is named like a creator field (``artist`` rows in music); facets come
        from their fields (a string or a list of strings); entity types from the type
        field (and the description's declared types); decades and years from the date
        field when no decade facet is described. The words of all other titles are known
        words. Missing or null fields are skipped; a field of the wrong type raises
        :class:`ValidationError` naming the row.
        """
        d = description or _default_description()
        vocab: dict[str, Mapping[str, float]] = {}
        counts: dict[str, Counter[str]] = {CREATOR_KIND: Counter()}
        counts.update({kind: Counter() for kind in d.facets})
        types: Counter[str] = Counter()
        years: Counter[int] = Counter()
        titles: set[str] = set()
        creator_titles: set[str] = set()
        creator_types = _creator_types(d)
        periods = _period_field(d)
        for position, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise ValidationError(
                    f"catalog row {position} is a {type(row).__name__}, not an object",
                    hint="each row must be a JSON object in the catalog schema",
                )
            where = f"catalog row {position} (id={source_field(row, d.id)!r})"
            entity_type = _optional_str(row, d.type, where) if d.type else None
            if entity_type:
                types[entity_type] += 1
            for creator in d.creator:
                for value in _str_values(row, creator.name, where):
                    counts[CREATOR_KIND][value] += 1
            for position_in_title, title_field in enumerate(d.title):
                title = _optional_str(row, title_field.name, where)
                if title and position_in_title == 0 and entity_type in creator_types:
                    counts[CREATOR_KIND][title] += 1
                    creator_titles.add(title)
                elif title:
                    titles.add(title)
            for kind, field in d.facets.items():
                for value in _str_values(row, field, where):
                    counts[kind][value] += 1
            if periods:
                year = _year_of(source_field(row, periods))
                if year is not None:
                    years[year] += 1
        vocab.update(counts)
        vocab.update(_period_vocab(years))
        declared = dict.fromkeys(d.entity_types or (), 0.0)
        return cls(vocab, titles, entity_types={**declared, **types},
                   extra_titles=creator_titles, synonyms=d.synonyms)

    @classmethod
    def from_index(
        cls,
        client: OpenSearch,
        settings: Settings,
        page_size: int = 5000,
        title_entities: int = 10_000,
        catalog: BoundCatalog | None = None,
        learned: bool = True,
    ) -> Gazetteer:
        """Collect the vocabularies from the catalog the description names (the user's own
        index, or the managed alias), with paged composite aggregations over the
        described keyword fields and a ``date_histogram`` over the date field.

        Values come back as the index stores keywords (the managed mapping lower-cases
        and folds accents), which is what the keyword fields match. Known words come
        from the titles of the ``title_entities`` most popular entities (one search).
        ``catalog`` defaults to the description in force bound to the live mapping.
        The description's synonyms become aliases; with ``learned``, the phrases learned
        from engagement so far (``feedback/vocab.py``) are added on top.
        """
        if catalog is None:
            from opensearchpy import exceptions as os_exc

            from ltrr_opensearch.catalog.description import bound_catalog

            try:
                catalog = bound_catalog(client, settings)
            except os_exc.ConnectionError:
                from ltrr_opensearch.engine.client import unreachable

                raise unreachable(settings, "reading the catalog description's mapping") \
                    from None
        read = _read_index(client, settings, catalog, page_size, title_entities)
        vocab: dict[str, Mapping[str, float]] = {}
        for name, values in read.counts.items():
            kind = _SOURCE_KIND.get(name.split(":")[0], name.partition(":")[2])
            merged = dict(vocab.get(kind, {}))
            for value, count in values.items():
                merged[value] = merged.get(value, 0.0) + count
            vocab[kind] = merged
        vocab.setdefault(CREATOR_KIND, {})
        declared = dict.fromkeys(catalog.description.entity_types or (), 0.0)
        types = {**declared, **vocab.pop("entity_type", {})}
        vocab.update(_period_vocab(read.years))
        gazetteer = cls(vocab, read.titles, entity_types=types,
                        synonyms=catalog.description.synonyms)
        for kind, phrase, value in gazetteer.unresolved_synonyms:
            logger.warning("synonym %r of %s names %r, a value %s does not have: ignored "
                           "(ltrr doctor)", phrase, kind, value,
                           catalog.description.target(settings))
        if not learned:
            return gazetteer
        from opensearchpy import exceptions as os_exc

        from ltrr_opensearch.feedback.learned import read_learned

        try:
            version, phrases = read_learned(client, settings)
        except (os_exc.TransportError, LtrrError) as exc:  # unreachable too: serve without
            logger.warning("learned phrases not read (%s): understanding uses the catalog's "
                           "vocabulary alone until they can be", exc)
            return gazetteer
        return gazetteer.with_learned(phrases, version)

    # -- lookup ------------------------------------------------------------------------

    def values(self, kind: str) -> tuple[str, ...]:
        """The canonical values of one kind, sorted."""
        if kind not in self._values:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(self._values)}")
        return self._values[kind]

    def __len__(self) -> int:
        """How many distinct phrases (values and aliases) can be recognised."""
        return len(self._exact)

    def type_rank(self, entity_type: str | None) -> int | None:
        """1 for the catalog's most common entity type, 2 for the next...; None for a type
        the catalog does not have."""
        return self._type_ranks.get(entity_type) if entity_type is not None else None

    def is_title(self, tokens: Sequence[str]) -> bool:
        """The tokens (as the catalog spells them, :meth:`rewrite`) are exactly the title
        of a catalog entity: any entity when built from rows, the most popular ones (and
        every punctuated title) when read from an index. A set lookup, no round trip."""
        return bool(tokens) and " ".join(tokens) in self._titles

    def match(self, tokens: tuple[str, ...] | list[str]) -> tuple[SpanMatch, ...]:
        """Recognise slots in normalised tokens, left to right, longest span first."""
        found: list[SpanMatch] = []
        start, count = 0, len(tokens)
        while start < count:
            longest = min(self._max_tokens + 1, MAX_SPAN_TOKENS, count - start)
            for length in range(longest, 0, -1):
                span = tokens[start : start + length]
                phrase = " ".join(span)
                entry = self._lookup(phrase)
                confidence = 1.0
                if entry is None:
                    entry, confidence = self._fuzzy(phrase, span)
                if entry is not None:
                    slot = Slot(entry.kind, entry.value, phrase, confidence * entry.confidence,
                                entry.source)
                    found.append(SpanMatch(start, start + length, slot))
                    start += length
                    break
            else:
                start += 1
        return tuple(found)

    def rewrite(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """The tokens with the catalog's spelling restored where the user left out or
        changed the punctuation of a catalog word: "titan ae" and "titan a e" -> "titan
        a.e", "acdc" -> "ac dc", "rnb" and "r and b" -> "r b" (when the catalog writes
        "Titan A.E.", "AC/DC", "R&B"). A single token that is a catalog word is kept as
        typed; longer spans are tried first, and a span that is already a catalog
        spelling stays whole ("b a p s" of "B*A*P*S" is not read as "b a" + "P.S.")."""
        out: list[str] = []
        start, count = 0, len(tokens)
        while start < count:
            longest = min(self._compound_tokens, count - start)
            for length in range(longest, 0, -1):
                canonical = self._compounds.get(" ".join(tokens[start : start + length]))
                if canonical is not None:
                    out.extend(canonical.split())
                    start += length
                    break
            else:
                out.append(tokens[start])
                start += 1
        return tuple(out)

    def _fuzzy(self, phrase: str, span: tuple[str, ...] | list[str]) -> tuple[_Entry | None, float]:
        size = len(phrase)
        if size < MIN_FUZZY_CHARS_CURATED or size > self._max_chars + 2:
            return None, 0.0
        if span[-1] in STOPWORDS or all(t in STOPWORDS for t in span):
            return None, 0.0
        if len(span) == 1 and (phrase in self._known_words or phrase.isdigit()):
            return None, 0.0
        max_edits = 1 if size < LONG_SPAN_CHARS else 2
        candidates: set[str] = set()
        for key in _deletions_of(phrase):
            candidates.update(self._deletions.get(key, ()))
            candidates.update(self._learned_deletions.get(key, ()))
        best: tuple[tuple[float, tuple[int, str], float, str], _Entry, float] | None = None
        for candidate in candidates:
            entry = self._exact.get(candidate) or self._learned[candidate]
            if size < MIN_FUZZY_CHARS and entry.kind == "artist":
                continue
            distance = OSA.distance(phrase, candidate, score_cutoff=max_edits)
            if distance > max_edits:
                continue
            similarity = 1.0 - distance / max(size, len(candidate))
            if similarity < MIN_FUZZY_SIMILARITY:
                continue
            rank_key = (-similarity, kind_rank(entry.kind), -entry.weight, entry.value)
            if best is None or rank_key < best[0]:
                best = (rank_key, entry, similarity)
        if best is None:
            return None, 0.0
        return best[1], best[2]


# -- the catalog's spelling of punctuated words ----------------------------------------

_INNER_MARKS = re.compile(r"[.:,]")


def compound_forms(text: str) -> list[tuple[str, str]]:
    """``(typed form, catalog form)`` pairs for the words of a catalog text written with
    punctuation inside them, both normalised.

    A word is a whitespace-separated chunk of the raw text. Its catalog form is its
    normalised text ("A.E." -> "a.e", "AC/DC" -> "ac dc", "R&B" -> "r b"); the typed
    forms are the same letters run together ("ae", "acdc", "rb") or spaced ("a e"), and
    for "&" the spoken joiners ("r and b", "r n b", "rnb"). Plain words give nothing.
    """
    pairs: list[tuple[str, str]] = []
    for chunk in text.split():
        canonical = normalize_query(chunk)
        tokens = canonical.split()
        if not tokens or len(tokens) > MAX_SPAN_TOKENS:
            continue
        if len(tokens) == 1 and not _INNER_MARKS.search(canonical):
            continue
        pieces = [p for p in _INNER_MARKS.sub(" ", canonical).split()]
        typed = {"".join(pieces), " ".join(pieces)}
        if "&" in chunk:
            typed.update(normalize_query(chunk.replace("&", joiner))
                         for joiner in (" and ", " n ", "n"))
        pairs.extend((form, canonical) for form in sorted(typed)
                     if form != canonical and len(form) > 1)
    return pairs


# -- aliases and the deletion index ----------------------------------------------------


def _synonym_forms(kind: str, phrase: str) -> list[str]:
    """A synonym phrase and, for the kinds whose values are nouns (a genre, a generic
    facet, an entity type), its last word in the other number."""
    head, _, last = phrase.rpartition(" ")
    if not (kind in _NUMBER_KINDS or kind == "entity_type" or kind not in KIND_PRIORITY) \
            or not last.isalpha() or len(last) < 3:
        return [phrase]
    forms = [phrase]
    for other in (_plural(last), _singular(last)):
        form = f"{head} {other}" if head else other
        if form not in forms:
            forms.append(form)
    return forms


def _aliases(kind: str, value: str, all_values: Mapping[str, float]) -> list[str]:
    if kind == "decade":
        return _decade_aliases(value, all_values)
    if kind == "language":
        # Only names, never the bare code (see LANGUAGE_NAMES); unknown codes of 3+
        # letters (ISO 639-2/3) are too rare in queries to be worth the noise.
        return list(LANGUAGE_NAMES.get(normalize_query(value), ()))
    if kind in _NUMBER_KINDS or kind not in KIND_PRIORITY:
        return _number_aliases(kind, value, all_values)
    return [value]


# Kinds whose values are nouns people also type in the plural ("comedies", "westerns") or,
# for a generic facet, in the singular ("shoe" for "shoes"). Moods are adjectives; a music
# genre is never singularised ("blues" -> "blue" would take the word "blue").
_NUMBER_KINDS = frozenset({"genre"})


def _number_aliases(kind: str, value: str, all_values: Mapping[str, float]) -> list[str]:
    """The value, its plural, and for a generic facet its singular. An alias that is
    itself a value of the kind is left to that value. Like the value itself ("soul" in
    "Soul Kitchen"), a plural is recognised even where it is also a title word."""
    text = normalize_query(value)
    head, _, last = text.rpartition(" ")
    if not last.isalpha() or len(last) < 3:
        return [value]
    forms = {_plural(last)}
    if kind not in KIND_PRIORITY:
        forms.add(_singular(last))
    taken = {normalize_query(other) for other in all_values}
    aliases = [value]
    for form in sorted(forms - {last}):
        alias = f"{head} {form}" if head else form
        if alias not in taken:
            aliases.append(alias)
    return aliases


def _singular(word: str) -> str:
    if word.endswith(("series", "species")):  # the same in both numbers
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _decade_aliases(value: str, all_values: Mapping[str, float]) -> list[str]:
    """ "1990s" -> 1990s, 90s, nineties (the apostrophe of '90s and 90's is dropped by
    normalisation). A short alias shared by two catalog decades (20s: 1920s, 2020s)
    belongs to the most recent one."""
    text = normalize_query(value)
    if not (len(text) == 5 and text[:4].isdigit() and text.endswith("0s")):
        return [value]
    aliases = [text]
    newer_same_tens = any(
        normalize_query(other)[2:] == text[2:] and normalize_query(other) > text
        for other in all_values
    )
    if not newer_same_tens:
        aliases.append(text[2:])
        aliases.extend(DECADE_WORDS.get(text[2], ()))
    return aliases


def _deletions_of(phrase: str) -> set[str]:
    keys = {phrase[:i] + phrase[i + 1 :] for i in range(len(phrase))}
    keys.add(phrase)
    return keys


def _deletion_index(phrases: Iterable[str]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for phrase in phrases:
        if len(phrase) < MIN_FUZZY_CHARS_CURATED:
            continue  # a 2-char value ("lp") is one edit away from too many words
        for key in _deletions_of(phrase):
            index.setdefault(key, []).append(phrase)
    # Tuples of strings drop out of the garbage collector's tracking, lists never do:
    # hundreds of thousands of tracked lists would make every full collection slow.
    return {key: tuple(values) for key, values in index.items()}


# -- reading rows through the description ------------------------------------------------


def _default_description() -> CatalogDescription:
    from ltrr_opensearch.catalog.description import DEFAULT_DESCRIPTION, load_description

    return load_description(DEFAULT_DESCRIPTION)


def _creator_types(d: CatalogDescription) -> frozenset[str]:
    """Entity types whose titles are creators: those named like a creator field (the
    ``artist`` entities of a catalog whose creator field is ``artist``)."""
    return frozenset(f.name.rsplit(".", 1)[-1] for f in d.creator)


def _period_field(d: CatalogDescription) -> str | None:
    """The date field periods are read from: only when no decade facet is described."""
    return d.date if d.date and "decade" not in d.facets else None


def source_field(row: Mapping[str, Any], path: str) -> Any:
    """A (possibly dotted) field of a row: ``"a.b"`` is ``row["a.b"]`` or ``row["a"]["b"]``."""
    if path in row:
        return row[path]
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _optional_str(row: Mapping[str, Any], field: str, where: str) -> str | None:
    value = source_field(row, field)
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(
        f"{where}: {field!r} must be a string or null, got {type(value).__name__}",
        hint="fix the row to follow the catalog schema",
    )


def _str_values(row: Mapping[str, Any], field: str, where: str) -> list[str]:
    """A keyword field's values: a string, a list of strings, or nothing."""
    value = source_field(row, field)
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v for v in value if v]
    raise ValidationError(
        f"{where}: {field!r} must be a string or a list of strings, got {value!r:.60}",
        hint="fix the row to follow the catalog schema",
    )


_YEAR = re.compile(r"^\s*(-?\d{4})")


def _year_of(value: Any) -> int | None:
    """The year of a date value as rows carry it ("1994-05-01", "1994", 1994)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1000 <= value <= 9999 else None
    if isinstance(value, str):
        found = _YEAR.match(value)
        return int(found.group(1)) if found and 1000 <= int(found.group(1)) <= 9999 else None
    return None


def _period_vocab(years: Mapping[int, float]) -> dict[str, dict[str, float]]:
    """Decades ("1990s", with the aliases "90s" and "nineties") and years ("1994") of the
    catalog's dates; nothing when there are none."""
    if not years:
        return {}
    decades: dict[str, float] = {}
    for year, count in years.items():
        decade = f"{year // 10 * 10}s"
        decades[decade] = decades.get(decade, 0.0) + count
    return {"decade": decades, "year": {str(y): float(c) for y, c in years.items()}}


# -- reading the vocabularies from the catalog index -----------------------------------

# Source name prefix -> slot kind ("facet:<kind>" sources are their own kind).
_SOURCE_KIND = {"creator": CREATOR_KIND, "creator_title": CREATOR_KIND, "type": "entity_type"}


@dataclass
class _IndexRead:
    counts: dict[str, dict[str, float]]
    titles: list[str]
    years: dict[int, float]


def _index_sources(catalog: BoundCatalog) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """Source name -> (keyword field, query restricting the documents or None). A
    composite aggregation cannot sit under a filter aggregation (OpenSearch silently drops
    the filter), so a restricted source gets its own search, sent in the same _msearch."""
    d = catalog.description
    sources: dict[str, tuple[str, dict[str, Any] | None]] = {}
    for position, creator in enumerate(d.creator):
        keyword = catalog.keyword_of(creator.name)
        if keyword:
            sources[f"creator:{position}"] = (keyword, None)
    title_keyword = catalog.keyword_of(d.title[0].name)
    if d.type and title_keyword and d.creator:
        sources["creator_title"] = (title_keyword,
                                    {"terms": {d.type: sorted(_creator_types(d))}})
    for kind, field in d.facets.items():
        sources[f"facet:{kind}"] = (field, None)
    if d.type:
        sources["type"] = (d.type, None)
    return sources


def _read_index(
    client: OpenSearch, settings: Settings, catalog: BoundCatalog, page_size: int,
    title_entities: int
) -> _IndexRead:
    """Page every field's composite aggregation, one ``_msearch`` round trip per page,
    dropping each field from the requests once its last page has arrived. The first
    round trip also fetches the titles of the most popular entities, the titles with
    punctuation inside a word (a ``regexp`` on the title's keyword field) and, when periods
    come from the date field, the catalog's years."""
    d = catalog.description
    index = d.target(settings)
    sources = _index_sources(catalog)
    read = _IndexRead({name: {} for name in sources}, [], {})
    after: dict[str, Any] = {}
    pending = list(sources)
    first_page = True
    title_fields = [f.name for f in d.title]
    while first_page or pending:
        groups: dict[str, list[str]] = {}  # the query (as JSON) -> source names
        for name in pending:
            groups.setdefault(json.dumps(sources[name][1]), []).append(name)
        lines: list[dict[str, Any]] = []
        extras: list[str] = []  # the first page's other searches, in order
        if first_page:
            sort: list[Any] = ["_doc"]
            popularity = catalog.fields.get(d.popularity) if d.popularity else None
            if popularity is not None and popularity.type != "rank_feature":
                sort.insert(0, {d.popularity: {"order": "desc", "missing": "_last"}})
            title_search = {"size": title_entities, "_source": title_fields,
                            "track_total_hits": False, "sort": sort}
            lines.extend(({"index": index}, title_search))
            extras.append("titles")
            title_keyword = catalog.keyword_of(d.title[0].name)
            if title_keyword:
                # Titles with punctuation inside a word teach the catalog's spelling even
                # when they are not among the most popular ("A.P.E.X.", "Face/Off").
                lines.extend(({"index": index}, {**title_search, "size": PUNCTUATED_TITLES,
                                                 "query": {"regexp": {
                    title_keyword: {"value": _PUNCTUATED_TITLE, "case_insensitive": True}}}}))
                extras.append("titles")
            period = _period_field(d)
            if period:
                lines.extend(({"index": index}, {
                    "size": 0, "track_total_hits": False, "aggs": {"years": {"date_histogram": {
                        "field": period, "calendar_interval": "year", "min_doc_count": 1,
                        "format": "yyyy"}}}}))
                extras.append("years")
        for query_json, names in groups.items():
            body: dict[str, Any] = {"size": 0, "track_total_hits": False, "aggs": {}}
            if query_json != "null":
                body["query"] = json.loads(query_json)
            for name in names:
                composite: dict[str, Any] = {
                    "size": page_size,
                    "sources": [{"value": {"terms": {"field": sources[name][0]}}}],
                }
                if name in after:
                    composite["after"] = after[name]
                body["aggs"][_agg_name(name)] = {"composite": composite}
            lines.extend(({"index": index}, body))
        responses = _msearch(client, settings, index, lines)
        if first_page:
            first_page = False
            seen_titles: set[str] = set()
            for what, response in zip(extras, responses, strict=False):
                if what == "titles":
                    for hit in response["hits"]["hits"]:
                        for field in title_fields:
                            title = source_field(hit.get("_source") or {}, field)
                            if isinstance(title, str) and title and title not in seen_titles:
                                seen_titles.add(title)
                                read.titles.append(title)
                else:
                    for bucket in response["aggregations"]["years"]["buckets"]:
                        year = _year_of(bucket.get("key_as_string"))
                        if year is not None:
                            read.years[year] = read.years.get(year, 0.0) + bucket["doc_count"]
            responses = responses[len(extras):]
        still_pending = []
        for names, response in zip(groups.values(), responses, strict=True):
            for name in names:
                result = response["aggregations"][_agg_name(name)]
                buckets = result["buckets"]
                for bucket in buckets:
                    value = bucket["key"]["value"]
                    read.counts[name][str(value)] = float(bucket["doc_count"])
                if len(buckets) == page_size and "after_key" in result:
                    after[name] = result["after_key"]
                    still_pending.append(name)
        pending = still_pending
    return read


PUNCTUATED_TITLES = 10_000  # titles with punctuation read at most (the most popular first)

# A letter or digit, a mark the standard tokenizer may keep or split on, a letter or digit
# (Lucene regular expression over the whole keyword value).
_PUNCTUATED_TITLE = ".*[a-z0-9][.&/*:,+][a-z0-9].*"


def _agg_name(source: str) -> str:
    return source.replace(":", "_")  # aggregation names cannot hold ':' in every version


def _msearch(
    client: OpenSearch, settings: Settings, index: str, lines: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    from opensearchpy import exceptions as os_exc

    try:
        responses = client.msearch(body=lines)["responses"]
    except os_exc.ConnectionError:
        from ltrr_opensearch.engine.client import unreachable

        raise unreachable(settings, "reading the catalog vocabulary") from None
    except os_exc.TransportError as exc:
        raise LtrrError(
            f"reading the vocabulary from {index!r} failed: HTTP {exc.status_code} {exc.error}",
        ) from None
    for response in responses:
        error = response.get("error")
        if error is None:
            continue
        reason = error.get("type", "error") if isinstance(error, dict) else str(error)
        if reason == "index_not_found_exception":
            raise LtrrError(
                f"catalog index {index!r} does not exist, so there is no vocabulary to read",
                hint="load a catalog first, or set LTRR_INDEX_PREFIX to the catalog's prefix",
            )
        detail = error.get("reason", "") if isinstance(error, dict) else ""
        raise LtrrError(
            f"reading the vocabulary from {index!r} failed: {reason} {detail}".strip(),
            hint="check the catalog description's fields against the index (ltrr doctor)",
        )
    return responses
