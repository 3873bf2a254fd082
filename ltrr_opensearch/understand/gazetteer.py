"""Catalog vocabularies (artists, genres, moods, decades, languages, entity types) and
the matcher that finds them in a normalised query.

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

import json
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

    from ltrr_opensearch.config import Settings

KIND_PRIORITY = ("entity_type", "decade", "genre", "mood", "language", "artist")
"""Which kind a phrase is when it is several at once, most preferred first."""

CATALOG_KINDS = ("artist", "genre", "mood", "decade", "language")
"""Kinds whose values come from the catalog (entity types are a fixed vocabulary)."""

MAX_SPAN_TOKENS = 5
MIN_FUZZY_SIMILARITY = 0.7
MIN_FUZZY_CHARS = 4  # typo tolerance for any kind from this span length on
MIN_FUZZY_CHARS_CURATED = 3  # ... and for every kind but artist from this length on
LONG_SPAN_CHARS = 9  # spans this long may be 2 edits away, shorter ones 1

# Words that mean "I want this type of entity"; singular and plural.
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


@dataclass(frozen=True)
class SpanMatch:
    """A slot and the token span ``tokens[start:end]`` it was recognised in."""

    start: int
    end: int
    slot: Slot

    @property
    def fuzzy(self) -> bool:
        return self.slot.confidence < 1.0


@dataclass(frozen=True)
class _Entry:
    kind: str
    value: str
    weight: float  # how often the catalog uses the value; breaks ties

    def sort_key(self) -> tuple[int, float, str]:
        return (_RANK[self.kind], -self.weight, self.value)


class Gazetteer:
    """Canonical catalog values by kind, indexed for exact and typo-tolerant lookup.

    ``vocab`` maps a catalog kind (:data:`CATALOG_KINDS`) to ``{canonical value:
    weight}``; the weight (usually how many entities use the value) breaks ties.
    Entity-type words are always included. ``known_words`` are words users type on
    purpose (catalog title words); together with the words of every value they are never
    typo-corrected on their own. Build one with :meth:`from_rows` or :meth:`from_index`;
    it is read-only afterwards and safe to share between threads.
    """

    def __init__(
        self, vocab: Mapping[str, Mapping[str, float]], known_words: Iterable[str] = ()
    ) -> None:
        unknown = set(vocab) - set(CATALOG_KINDS)
        if unknown:
            raise ValueError(f"unknown gazetteer kind(s): {', '.join(sorted(unknown))}")
        self._values: dict[str, tuple[str, ...]] = {}
        self._exact: dict[str, _Entry] = {}
        for kind in CATALOG_KINDS:
            values = vocab.get(kind, {})
            self._values[kind] = tuple(sorted(values))
            for value, weight in values.items():
                for alias in _aliases(kind, value, values):
                    self._add(alias, _Entry(kind, value, float(weight)))
        self._values["entity_type"] = tuple(sorted(ENTITY_TYPE_WORDS))
        for entity_type, words in ENTITY_TYPE_WORDS.items():
            for word in words:
                self._add(word, _Entry("entity_type", entity_type, 0.0))
        known = {word for text in known_words for word in normalize_query(text).split()}
        known.update(word for phrase in self._exact for word in phrase.split())
        self._known_words = frozenset(known | STOPWORDS)
        self._max_tokens = max((p.count(" ") + 1 for p in self._exact), default=1)
        self._max_chars = max((len(p) for p in self._exact), default=0)
        self._deletions = _deletion_index(self._exact)

    def known_word_fraction(self, tokens: Sequence[str]) -> float:
        """Share of the non-stopword tokens that are catalog words or numbers. Slang and
        paraphrases score low (only memory or vectors can serve them); titles score high."""
        content = [t for t in tokens if t not in STOPWORDS]
        if not content:
            return 0.0
        return sum(1 for t in content if t in self._known_words or t.isdigit()) / len(content)

    def _add(self, alias: str, entry: _Entry) -> None:
        phrase = normalize_query(alias)
        if not phrase or phrase.count(" ") >= MAX_SPAN_TOKENS:
            return  # nothing to match, or longer than any span the matcher tries
        current = self._exact.get(phrase)
        if current is None or entry.sort_key() < current.sort_key():
            self._exact[phrase] = entry

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Gazetteer:
        """Collect the vocabularies from catalog rows (dicts in the catalog schema).

        Artists are ``row["artist"]`` of every entity plus the titles of
        ``entity_type == "artist"`` rows; the words of all titles are known words.
        Missing or null fields are skipped; a field of the wrong type raises
        :class:`ValidationError` naming the row.
        """
        vocab: dict[str, Counter[str]] = {kind: Counter() for kind in CATALOG_KINDS}
        titles: set[str] = set()
        for position, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise ValidationError(
                    f"catalog row {position} is a {type(row).__name__}, not an object",
                    hint="each row must be a JSON object in the catalog schema",
                )
            where = f"catalog row {position} (id={row.get('id')!r})"
            artist = _optional_str(row, "artist", where)
            if artist:
                vocab["artist"][artist] += 1
            title = _optional_str(row, "title", where)
            if title and row.get("entity_type") == "artist":
                vocab["artist"][title] += 1
            elif title:
                titles.add(title)
            for kind, field in (("genre", "genres"), ("mood", "moods")):
                for value in _optional_str_list(row, field, where):
                    vocab[kind][value] += 1
            for kind in ("decade", "language"):
                found = _optional_str(row, kind, where)
                if found:
                    vocab[kind][found] += 1
        return cls(vocab, titles)

    @classmethod
    def from_index(
        cls,
        client: OpenSearch,
        settings: Settings,
        page_size: int = 5000,
        title_entities: int = 10_000,
    ) -> Gazetteer:
        """Collect the vocabularies from the catalog alias with composite aggregations.

        Values come back as the index stores keywords (lower-cased, accents folded by
        the mapping's ``folded`` normalizer), which is what the keyword fields match.
        Aggregations are paged, so catalogs with many artists need no large buckets.
        Known words come from the titles of the ``title_entities`` most popular
        entities (one search), not of every entity as in :meth:`from_rows`.
        """
        counts, titles = _read_index(client, settings, page_size, title_entities)
        artists = Counter(counts.pop("artist"))
        artists.update(counts.pop("artist_title"))
        return cls({"artist": artists, **counts}, titles)

    # -- lookup ------------------------------------------------------------------------

    def values(self, kind: str) -> tuple[str, ...]:
        """The canonical values of one kind, sorted."""
        if kind not in self._values:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(self._values)}")
        return self._values[kind]

    def __len__(self) -> int:
        """How many distinct phrases (values and aliases) can be recognised."""
        return len(self._exact)

    def match(self, tokens: tuple[str, ...] | list[str]) -> tuple[SpanMatch, ...]:
        """Recognise slots in normalised tokens, left to right, longest span first."""
        found: list[SpanMatch] = []
        start, count = 0, len(tokens)
        while start < count:
            longest = min(self._max_tokens + 1, MAX_SPAN_TOKENS, count - start)
            for length in range(longest, 0, -1):
                span = tokens[start : start + length]
                phrase = " ".join(span)
                entry = self._exact.get(phrase)
                confidence = 1.0
                if entry is None:
                    entry, confidence = self._fuzzy(phrase, span)
                if entry is not None:
                    slot = Slot(entry.kind, entry.value, phrase, confidence)
                    found.append(SpanMatch(start, start + length, slot))
                    start += length
                    break
            else:
                start += 1
        return tuple(found)

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
        best: tuple[tuple[float, int, float, str], _Entry, float] | None = None
        for candidate in candidates:
            entry = self._exact[candidate]
            if size < MIN_FUZZY_CHARS and entry.kind == "artist":
                continue
            distance = OSA.distance(phrase, candidate, score_cutoff=max_edits)
            if distance > max_edits:
                continue
            similarity = 1.0 - distance / max(size, len(candidate))
            if similarity < MIN_FUZZY_SIMILARITY:
                continue
            rank_key = (-similarity, _RANK[entry.kind], -entry.weight, entry.value)
            if best is None or rank_key < best[0]:
                best = (rank_key, entry, similarity)
        if best is None:
            return None, 0.0
        return best[1], best[2]


# -- aliases and the deletion index ----------------------------------------------------


def _aliases(kind: str, value: str, all_values: Mapping[str, float]) -> list[str]:
    if kind == "decade":
        return _decade_aliases(value, all_values)
    if kind == "language":
        # Only names, never the bare code (see LANGUAGE_NAMES); unknown codes of 3+
        # letters (ISO 639-2/3) are too rare in queries to be worth the noise.
        return list(LANGUAGE_NAMES.get(normalize_query(value), ()))
    return [value]


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


# -- row validation --------------------------------------------------------------------


def _optional_str(row: Mapping[str, Any], field: str, where: str) -> str | None:
    value = row.get(field)
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(
        f"{where}: {field!r} must be a string or null, got {type(value).__name__}",
        hint="fix the row to follow the catalog schema",
    )


def _optional_str_list(row: Mapping[str, Any], field: str, where: str) -> list[str]:
    value = row.get(field)
    if value is None:
        return []
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v for v in value if v]
    raise ValidationError(
        f"{where}: {field!r} must be a list of strings, got {value!r:.60}",
        hint="fix the row to follow the catalog schema",
    )


# -- reading the vocabularies from the catalog index -----------------------------------

# aggregation name -> (keyword field, query restricting the documents or None). A
# composite aggregation cannot sit under a filter aggregation (OpenSearch silently drops
# the filter), so a restricted source gets its own search, sent in the same _msearch.
_INDEX_SOURCES: Mapping[str, tuple[str, dict[str, Any] | None]] = {
    "artist": ("artist.keyword", None),
    "artist_title": ("title.keyword", {"term": {"entity_type": "artist"}}),
    "genre": ("genres", None),
    "mood": ("moods", None),
    "decade": ("decade", None),
    "language": ("language", None),
}


def _read_index(
    client: OpenSearch, settings: Settings, page_size: int, title_entities: int
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Page every field's composite aggregation, one ``_msearch`` round trip per page,
    dropping each field from the requests once its last page has arrived. The first
    round trip also fetches the titles of the most popular entities."""
    index = settings.catalog_alias
    counts: dict[str, dict[str, float]] = {name: {} for name in _INDEX_SOURCES}
    titles: list[str] = []
    after: dict[str, Any] = {}
    pending = list(_INDEX_SOURCES)
    first_page = True
    while pending:
        groups: dict[str, list[str]] = {}  # the query (as JSON) -> aggregation names
        for name in pending:
            groups.setdefault(json.dumps(_INDEX_SOURCES[name][1]), []).append(name)
        lines: list[dict[str, Any]] = []
        if first_page:
            lines.extend(({"index": index}, {
                "size": title_entities, "_source": ["title"], "track_total_hits": False,
                "sort": [{"popularity": {"order": "desc", "missing": "_last"}}, "_doc"],
            }))
        for query_json, names in groups.items():
            body: dict[str, Any] = {"size": 0, "track_total_hits": False, "aggs": {}}
            if query_json != "null":
                body["query"] = json.loads(query_json)
            for name in names:
                composite: dict[str, Any] = {
                    "size": page_size,
                    "sources": [{"value": {"terms": {"field": _INDEX_SOURCES[name][0]}}}],
                }
                if name in after:
                    composite["after"] = after[name]
                body["aggs"][name] = {"composite": composite}
            lines.extend(({"index": index}, body))
        responses = _msearch(client, settings, index, lines)
        if first_page:
            first_page = False
            hits = responses.pop(0)["hits"]["hits"]
            titles = [h["_source"]["title"] for h in hits if h["_source"].get("title")]
        still_pending = []
        for names, response in zip(groups.values(), responses, strict=True):
            for name in names:
                result = response["aggregations"][name]
                buckets = result["buckets"]
                for bucket in buckets:
                    counts[name][bucket["key"]["value"]] = float(bucket["doc_count"])
                if len(buckets) == page_size and "after_key" in result:
                    after[name] = result["after_key"]
                    still_pending.append(name)
        pending = still_pending
    return counts, titles


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
            hint="check that the index uses mappings/catalog.v1.json",
        )
    return responses
