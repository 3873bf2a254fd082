"""Labelled query sets from ANY catalog: known-item, typo, partial and attribute searches.

Given catalog rows (our schema; only ``id``, ``entity_type``, ``title``, ``genres``,
``decade`` and ``popularity`` are read), :func:`generate_queries` draws a seeded,
deterministic set of searches of four kinds, each with the ids that answer it and a grade
(3 best .. 1). The same rows and seed always give the same queries, whatever order the rows
came in; another seed gives queries nobody tuned for.

* ``known_item`` — an item's exact title. Eligible titles are distinctive: at least one
  word of 3+ letters, shared (after normalisation) by at most :data:`MAX_SHARED` items.
  Relevant: the drawn item (3) and every other item with the identical normalised title
  (2), because no ranking could tell them apart from the text alone.
* ``typo`` — that title with 1 or 2 realistic edits (adjacent swap, dropped letter,
  doubled letter, QWERTY-neighbour replacement) on words of 4+ letters, never on a word's
  first letter (people rarely mistype it, and it keeps the query readable). A typo that
  happens to spell another catalog title is discarded. Relevant: as for known_item.
* ``partial`` — either the title cut as-you-type (a prefix of 4+ characters, mid-word or
  at a word boundary, at least 2 characters short of the whole title) or the title's 1-2
  rarest words (by how many titles contain them), in title order. It must still identify
  the item: at most :data:`MAX_SHARED` items have a title starting with that prefix (or
  containing all those words). Relevant: the drawn item (3), the others that fit (1).
* ``attribute`` — a facet plus a period: "comedy 1990s", "90s comedy", "comedy from the
  90s", "1990s comedy movies". Relevant: every item with that genre and decade, graded by
  popularity terciles within the set (3 = most popular third). Catalogs without decades
  (Chinook) use genre + entity type instead ("blues albums"), and genre alone when there
  is a single entity type. Given a :class:`FacetPhrasing` (how people say the values of
  two facets of ANY catalog, e.g. industry and country), attribute queries use those
  everyday words instead: "banks in japan", "british insurers", "chipmakers",
  "companies in korea"; relevant: every item with those facet values, graded alike.

Rows of a user's own index (its own field names) become generator rows through their
catalog description (:func:`rows_from_description`). A judged file (one
``{"query", "kind"?, "relevant": {id: grade}}`` per line, what :func:`write_queries`
writes) is read back, checked line by line, with :func:`read_queries`.

Items are drawn uniformly (not by popularity), so the long tail is tested as much as the
hits. Titles are compared after :func:`~ltrr_opensearch.understand.normalize_query`.
"""

from __future__ import annotations

import bisect
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ltrr_opensearch.errors import ConfigError, ValidationError
from ltrr_opensearch.understand.gazetteer import source_field
from ltrr_opensearch.understand.normalize import normalize_query

KINDS = ("known_item", "typo", "partial", "attribute")
MAX_SHARED = 3  # a title (prefix, word set) shared by more items does not identify one
MIN_ATTRIBUTE_ITEMS = 3  # a facet + period pair needs this many items to be asked for
MIN_PREFIX_CHARS = 4
# The generator's own small list, deliberately not the one query understanding uses.
STOPWORDS = frozenset((
    "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "by", "with", "from",
    "is", "my", "your", "la", "le", "les", "l", "de", "del", "des", "du", "el", "il", "lo",
    "los", "las", "die", "der", "das", "den", "un", "une", "una"))
_QWERTY = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
EDITS = ("swap", "drop", "double", "neighbour")


def _neighbours() -> dict[str, str]:
    where = {ch: (r, c) for r, row in enumerate(_QWERTY) for c, ch in enumerate(row)}
    out: dict[str, str] = {}
    for ch, (r, c) in where.items():
        near = [row[cc] for rr, row in enumerate(_QWERTY) if abs(rr - r) <= 1
                for cc in (c - 1, c, c + 1) if 0 <= cc < len(row) and (rr, cc) != (r, c)]
        out[ch] = "".join(near)
    return out


NEIGHBOURS = _neighbours()


@dataclass(frozen=True)
class LabelledQuery:
    """One search with its answers: ``relevant`` maps id -> grade (3 best, 1 acceptable)."""

    qid: str
    kind: str
    query: str
    relevant: dict[str, int]
    target: str | None = None  # the item the query was made from (None for attribute)
    form: str = ""  # how it was made, e.g. "prefix-cut", "rare-words", "swap+drop", "short-first"

    def to_dict(self) -> dict[str, Any]:
        return {"qid": self.qid, "kind": self.kind, "query": self.query,
                "relevant": self.relevant, "target": self.target, "form": self.form}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LabelledQuery:
        return cls(str(raw["qid"]), str(raw["kind"]), str(raw["query"]),
                   {str(k): int(v) for k, v in raw["relevant"].items()},
                   raw.get("target"), str(raw.get("form", "")))


@dataclass
class _Item:
    id: str
    title: str
    norm: str
    words: tuple[str, ...]
    entity_type: str
    genres: tuple[str, ...]
    decade: str | None
    popularity: float
    facets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> values


@dataclass
class CatalogIndex:
    """What the generator needs to know about the whole catalog to label queries."""

    items: list[_Item]
    by_title: dict[str, list[str]] = field(default_factory=dict)
    sorted_titles: list[str] = field(default_factory=list)
    title_ids: list[str] = field(default_factory=list)  # parallel to sorted_titles
    word_df: Counter[str] = field(default_factory=Counter)
    by_word: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> CatalogIndex:
        items: list[_Item] = []
        for position, row in enumerate(rows):
            if not isinstance(row, Mapping) or not row.get("id") or not row.get("title"):
                raise ValidationError(f"catalog row {position} has no id or title",
                                      hint="rows must follow docs/catalog-schema.md")
            title = str(row["title"]).strip()
            norm = normalize_query(title)
            items.append(_Item(
                id=str(row["id"]), title=title, norm=norm, words=tuple(norm.split()),
                entity_type=str(row.get("entity_type") or "item").strip().lower(),
                genres=tuple(sorted({normalize_query(g) for g in row.get("genres") or []
                                     if normalize_query(g)})),
                decade=row.get("decade") or None,
                popularity=float(row.get("popularity") or 0.0),
                facets={str(kind): _values(values)
                        for kind, values in (row.get("facets") or {}).items()}))
        items.sort(key=lambda it: it.id)  # independent of file order
        index = cls(items)
        by_word: dict[str, set[str]] = defaultdict(set)
        for item in items:
            index.by_title.setdefault(item.norm, []).append(item.id)
            for word in set(item.words):
                by_word[word].add(item.id)
        index.by_word = dict(by_word)
        index.word_df = Counter({w: len(ids) for w, ids in by_word.items()})
        pairs = sorted((it.norm, it.id) for it in items)
        index.sorted_titles = [p[0] for p in pairs]
        index.title_ids = [p[1] for p in pairs]
        return index

    def ids_with_prefix(self, prefix: str, cap: int) -> list[str] | None:
        """Ids whose normalised title starts with ``prefix``; None if more than ``cap``."""
        lo = bisect.bisect_left(self.sorted_titles, prefix)
        hi = bisect.bisect_left(self.sorted_titles, prefix + "\U0010ffff", lo)
        return None if hi - lo > cap else self.title_ids[lo:hi]

    def ids_with_words(self, words: Sequence[str]) -> set[str]:
        sets = [self.by_word.get(w, set()) for w in words]
        return set.intersection(*sets) if sets else set()


def _values(raw: Any) -> tuple[str, ...]:
    """A facet's values as a sorted tuple of non-empty strings (one value or a list)."""
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    return tuple(sorted({str(v).strip() for v in items if v is not None and str(v).strip()}))


def _content_words(words: Sequence[str], min_len: int) -> list[str]:
    return [w for w in words if len(w) >= min_len and w not in STOPWORDS and w.isalpha()]


# --------------------------------------------------------------------------- title kinds


def _distinctive(index: CatalogIndex, item: _Item) -> bool:
    return (len(item.norm) >= 3 and bool(_content_words(item.words, 3))
            and len(index.by_title[item.norm]) <= MAX_SHARED)


def _same_title(index: CatalogIndex, item: _Item) -> dict[str, int]:
    return {i: (3 if i == item.id else 2) for i in index.by_title[item.norm]}


def known_item(index: CatalogIndex, item: _Item, rng: random.Random) -> tuple[str, dict, str] | None:
    if not _distinctive(index, item):
        return None
    return item.title, _same_title(index, item), "exact-title"


def misspell(word: str, rng: random.Random) -> tuple[str, str] | None:
    """One realistic edit of ``word`` (never its first letter): (new word, edit name)."""
    letters = [i for i in range(1, len(word)) if word[i].isalpha()]
    if not letters:
        return None
    for edit in rng.sample(EDITS, len(EDITS)):
        if edit == "swap":
            spots = [i for i in letters if i + 1 < len(word) and word[i + 1].isalpha()
                     and word[i].lower() != word[i + 1].lower()]
            if spots:
                i = rng.choice(spots)
                return word[:i] + word[i + 1] + word[i] + word[i + 2:], edit
        elif edit == "drop":
            i = rng.choice(letters)
            return word[:i] + word[i + 1:], edit
        elif edit == "double":
            i = rng.choice(letters)
            return word[:i + 1] + word[i] + word[i + 1:], edit
        else:
            spots = [i for i in letters if word[i].lower() in NEIGHBOURS]
            if spots:
                i = rng.choice(spots)
                new = rng.choice(NEIGHBOURS[word[i].lower()])
                new = new.upper() if word[i].isupper() else new
                return word[:i] + new + word[i + 1:], edit
    return None


def typo(index: CatalogIndex, item: _Item, rng: random.Random) -> tuple[str, dict, str] | None:
    if not _distinctive(index, item):
        return None
    tokens = item.title.split()
    editable = [i for i, t in enumerate(tokens) if sum(ch.isalpha() for ch in t) >= 4]
    if not editable:
        return None
    edits = 2 if rng.random() < 0.5 else 1
    done: list[str] = []
    for _ in range(edits):
        pos = rng.choice(editable)
        changed = misspell(tokens[pos], rng)
        if changed is None:
            continue
        tokens[pos], name = changed
        done.append(name)
        if len(editable) > 1:
            editable = [i for i in editable if i != pos]  # spread two edits over two words
    text = " ".join(tokens)
    norm = normalize_query(text)
    if not done or norm == item.norm or norm in index.by_title:
        return None  # no change, or it spells a real title: not a typo of this one
    return text, _same_title(index, item), "+".join(done)


def partial(index: CatalogIndex, item: _Item, rng: random.Random) -> tuple[str, dict, str] | None:
    if not _content_words(item.words, 3):
        return None
    forms = ["prefix", "rare-words"]
    rng.shuffle(forms)
    for form in forms:
        made = _prefix(index, item, rng) if form == "prefix" else _rare_words(index, item, rng)
        if made is not None:
            return made
    return None


def _graded(target: str, ids: Iterable[str]) -> dict[str, int]:
    return {i: (3 if i == target else 1) for i in ids}


def _prefix(index: CatalogIndex, item: _Item, rng: random.Random) -> tuple[str, dict, str] | None:
    title = item.title
    cuts = []
    for cut in range(MIN_PREFIX_CHARS, len(title) - 1):
        text = title[:cut].rstrip()
        norm = normalize_query(text)
        if len(text) < cut or len(norm) < MIN_PREFIX_CHARS or norm == item.norm:
            continue  # cuts just after a space repeat the previous one
        ids = index.ids_with_prefix(norm, MAX_SHARED)
        if ids is not None and item.id in ids:
            cuts.append((text, ids, "prefix-words" if title[cut] == " " else "prefix-cut"))
    if not cuts:
        return None
    # People stop typing once the item shows up: prefer cuts up to 60% of the title.
    short = [c for c in cuts if len(c[0]) <= 0.6 * len(title)] or cuts[:1]
    text, ids, form = rng.choice(short)
    return text, _graded(item.id, ids), form


def _rare_words(index: CatalogIndex, item: _Item, rng: random.Random
                ) -> tuple[str, dict, str] | None:
    words = list(dict.fromkeys(_content_words(item.words, 3)))
    if len(words) < 2:
        return None  # one content word: its "rarest words" would be the whole title
    take = 1 if len(words) <= 3 else 2
    rarest = sorted(words, key=lambda w: (index.word_df[w], item.words.index(w)))[:take]
    chosen = [w for w in item.words if w in rarest]
    chosen = list(dict.fromkeys(chosen))
    ids = index.ids_with_words(chosen)
    if item.id not in ids or len(ids) > MAX_SHARED:
        return None
    return " ".join(chosen), _graded(item.id, sorted(ids)), "rare-words"


# --------------------------------------------------------------------------- attribute


def _plural(word: str) -> str:
    return word if word.endswith("s") else word + "s"


def _decade_phrases(genre: str, decade: str, entity_type: str) -> list[tuple[str, str]]:
    short = decade[2:]  # "1990s" -> "90s"
    return [(f"{genre} {decade}", "genre-decade"), (f"{short} {genre}", "short-first"),
            (f"{genre} from the {short}", "from-the"),
            (f"{decade} {genre} {_plural(entity_type)}", "decade-type")]


def attribute_facets(index: CatalogIndex) -> tuple[str, dict[tuple[str, str], list[_Item]]]:
    """The facet pairs the catalog supports: ("decade", {(genre, decade): items}), else
    ("type", {(genre, entity_type): items}), else ("genre", {(genre, ""): items})."""
    by_decade: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    by_type: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    for item in index.items:
        for genre in item.genres:
            if item.decade:
                by_decade[(genre, item.decade)].append(item)
            by_type[(genre, item.entity_type)].append(item)
    types = {item.entity_type for item in index.items}
    if by_decade:
        mode, pairs = "decade", by_decade
    elif len(types) > 1:
        mode, pairs = "type", by_type
    else:
        mode = "genre"
        pairs = defaultdict(list)
        for (genre, _), items in by_type.items():
            pairs[(genre, "")].extend(items)
    return mode, {k: v for k, v in sorted(pairs.items()) if len(v) >= MIN_ATTRIBUTE_ITEMS}


def popularity_grades(items: Sequence[_Item]) -> dict[str, int]:
    """3 for the most popular third of ``items``, 2 the middle, 1 the rest (all 1 if equal)."""
    if len({it.popularity for it in items}) <= 1:
        return {it.id: 1 for it in items}
    ranked = sorted(items, key=lambda it: (-it.popularity, it.id))
    third = len(ranked) / 3
    return {it.id: 3 - min(2, int(rank // third)) for rank, it in enumerate(ranked)}


def _attribute_queries(index: CatalogIndex, count: int, rng: random.Random
                       ) -> list[tuple[str, dict, None, str]]:
    mode, pairs = attribute_facets(index)
    keys = list(pairs)
    if not keys or count <= 0:
        return []
    rng.shuffle(keys)
    out: list[tuple[str, dict, None, str]] = []
    seen: set[str] = set()
    for turn in range(count * 4):
        genre, other = keys[turn % len(keys)]
        items = pairs[(genre, other)]
        if mode == "decade":
            phrases = _decade_phrases(genre, other, items[0].entity_type)
        elif mode == "type":
            phrases = [(f"{genre} {_plural(other)}", "genre-type")]
        else:
            phrases = [(genre, "genre")]
        text, form = rng.choice(phrases)
        if text in seen:
            continue
        seen.add(text)
        out.append((text, popularity_grades(items), None, f"{mode}:{form}"))
        if len(out) == count:
            break
    return out


@dataclass(frozen=True)
class FacetPhrasing:
    """How people ask for the values of two facets of a catalog in everyday words.

    ``what`` is the facet people name as the kind of thing ("banks": industry), ``where``
    the one they add as a place or qualifier ("in japan", "japanese": country). ``nouns``
    maps a ``what`` value to plural nouns, ``places`` a ``where`` value to what follows
    "in" (default: the value in lower case), ``adjectives`` a ``where`` value to adjectives
    (none: no adjective form). ``generic`` names any item ("companies in japan").
    A ``what`` value without nouns is never asked for alone."""

    what: str
    where: str
    nouns: Mapping[str, Sequence[str]]
    places: Mapping[str, Sequence[str]] = field(default_factory=dict)
    adjectives: Mapping[str, Sequence[str]] = field(default_factory=dict)
    generic: str = "items"

    def place(self, value: str) -> Sequence[str]:
        return self.places.get(value) or (value.lower(),)


# Forms of a phrased attribute query and how often each is drawn (two facets most often).
PHRASED_FORMS = (("what", 2), ("what-in-where", 4), ("adjective-what", 2),
                 ("generic-in-where", 1), ("adjective-generic", 1))


def _phrased_groups(index: CatalogIndex, phrasing: FacetPhrasing
                    ) -> dict[str, dict[tuple[str, str], list[_Item]]]:
    """Form -> {(what value, where value): items}, only groups people can phrase."""
    by_what: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    by_pair: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    by_where: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    for item in index.items:
        whats = [v for v in item.facets.get(phrasing.what, ()) if phrasing.nouns.get(v)]
        wheres = list(item.facets.get(phrasing.where, ()))
        for what in whats:
            by_what[(what, "")].append(item)
            for where in wheres:
                by_pair[(what, where)].append(item)
        for where in wheres:
            by_where[("", where)].append(item)
    with_adjective = {k: v for k, v in by_pair.items() if phrasing.adjectives.get(k[1])}
    where_adjective = {k: v for k, v in by_where.items() if phrasing.adjectives.get(k[1])}
    groups = {"what": by_what, "what-in-where": by_pair, "adjective-what": with_adjective,
              "generic-in-where": by_where, "adjective-generic": where_adjective}
    return {form: {k: v for k, v in sorted(g.items()) if len(v) >= MIN_ATTRIBUTE_ITEMS}
            for form, g in groups.items()}


def _phrase(form: str, what: str, where: str, phrasing: FacetPhrasing,
            rng: random.Random) -> str:
    noun = rng.choice(list(phrasing.nouns[what])) if what else phrasing.generic
    if form in ("what", "generic"):
        return noun
    if form.startswith("adjective"):
        return f"{rng.choice(list(phrasing.adjectives[where]))} {noun}"
    return f"{noun} in {rng.choice(list(phrasing.place(where)))}"


def _phrased_attribute_queries(index: CatalogIndex, count: int, rng: random.Random,
                               phrasing: FacetPhrasing) -> list[tuple[str, dict, None, str]]:
    groups = {form: list(g.items()) for form, g in _phrased_groups(index, phrasing).items()
              if g}
    forms = [(form, weight) for form, weight in PHRASED_FORMS if form in groups]
    if not forms or count <= 0:
        return []
    out: list[tuple[str, dict, None, str]] = []
    seen: set[str] = set()
    for _ in range(count * 6):
        form = rng.choices([f for f, _ in forms], weights=[w for _, w in forms])[0]
        (what, where), items = rng.choice(groups[form])
        text = _phrase(form, what, where, phrasing, rng)
        if text in seen:
            continue
        seen.add(text)
        out.append((text, popularity_grades(items), None, f"facets:{form}"))
        if len(out) == count:
            break
    return out


# --------------------------------------------------------------------------- the set


TITLE_KINDS = {"known_item": known_item, "typo": typo, "partial": partial}


def _split(n: int, kinds: Sequence[str]) -> dict[str, int]:
    base, extra = divmod(n, len(kinds))
    return {kind: base + (1 if i < extra else 0) for i, kind in enumerate(kinds)}


def generate_queries(rows: Iterable[Mapping[str, Any]] | CatalogIndex, n: int, seed: int,
                     kinds: Sequence[str] = KINDS,
                     phrasing: FacetPhrasing | None = None) -> list[LabelledQuery]:
    """``n`` labelled queries split evenly over ``kinds`` (fewer for a kind the catalog
    cannot support, e.g. attribute queries without genres), deterministic in ``seed``.
    With ``phrasing``, attribute queries name facet values in its everyday words."""
    if n < 1:
        raise ConfigError(f"the number of queries must be >= 1, got {n}")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ConfigError(f"unknown query kind(s) {', '.join(unknown) or '(none given)'}",
                          hint=f"kinds: {', '.join(KINDS)}")
    index = rows if isinstance(rows, CatalogIndex) else CatalogIndex.from_rows(rows)
    if not index.items:
        raise ValidationError("the catalog has no rows to make queries from")
    made: list[tuple[str, str, dict, str | None, str]] = []
    for kind, count in _split(n, kinds).items():
        rng = random.Random(f"{seed}:{kind}")  # one stream per kind: kinds don't disturb each other
        if kind == "attribute":
            attribute = (_attribute_queries(index, count, rng) if phrasing is None
                         else _phrased_attribute_queries(index, count, rng, phrasing))
            made += [(kind, q, rel, t, f) for q, rel, t, f in attribute]
            continue
        make = TITLE_KINDS[kind]
        order = list(range(len(index.items)))
        rng.shuffle(order)
        seen: set[str] = set()
        got = 0
        for position in order:
            if got == count:
                break
            item = index.items[position]
            result = make(index, item, rng)
            if result is None or normalize_query(result[0]) in seen:
                continue
            text, relevant, form = result
            seen.add(normalize_query(text))
            made.append((kind, text, relevant, item.id, form))
            got += 1
    return [LabelledQuery(f"{seed}-{i:05d}", kind, text, relevant, target, form)
            for i, (kind, text, relevant, target, form) in enumerate(made)]


def read_catalog(path: str | Path) -> list[dict[str, Any]]:
    """The valid rows of a catalog file (JSONL or CSV), as the loader would index them."""
    from ltrr_opensearch.catalog.loader import iter_rows
    from ltrr_opensearch.catalog.schema import validate_row

    rows = []
    for raw in iter_rows(path):
        if raw.data is None:
            continue
        doc, error = validate_row(raw.data, raw.line)
        if doc is not None and error is None:
            rows.append(doc)
    if not rows:
        raise ValidationError(f"{path} has no valid catalog rows")
    return rows


def write_queries(path: str | Path, queries: Iterable[LabelledQuery]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for query in queries:
            out.write(json.dumps(query.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def rows_from_description(rows: Iterable[Mapping[str, Any]], description: Any
                          ) -> list[dict[str, Any]]:
    """Generator rows (``id``, ``title``, ``entity_type``, ``popularity``, ``facets``) from
    rows of a user's own index, read through its description's roles: the ``id`` field
    (``"_id"``: the row's ``_id``), the first title field, the type, popularity and every
    facet field. A row without an id or title is an error naming the row."""
    out = []
    title_field = description.title[0].name
    for position, row in enumerate(rows):
        entity_id = source_field(row, description.id)
        title = source_field(row, title_field)
        if entity_id in (None, "") or not isinstance(title, str) or not title.strip():
            raise ValidationError(f"row {position} has no {description.id!r} or no "
                                  f"{title_field!r} (the description's id and title fields)")
        popularity = source_field(row, description.popularity) if description.popularity else None
        out.append({
            "id": str(entity_id), "title": title,
            "entity_type": source_field(row, description.type) if description.type else None,
            "popularity": popularity if isinstance(popularity, (int, float)) else 0.0,
            "facets": {kind: source_field(row, name) for kind, name in description.facets.items()}})
    return out


def read_queries(path: str | Path) -> list[LabelledQuery]:
    """A judged file: one ``{"query", "kind"?, "relevant": {id: grade}}`` per line (``qid``,
    ``target``, ``form`` optional; grades 0-3). Every bad line is reported at once, by line
    number, with the checks of ``evaluate/judged.py``."""
    from ltrr_opensearch.evaluate.judged import line_problem

    queries: list[LabelledQuery] = []
    problems: list[str] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"judged file {str(path)!r} cannot be read: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        problem = line_problem(raw, max_grade=3)  # the grades these metrics read
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        queries.append(LabelledQuery.from_dict({
            "qid": raw.get("qid") or f"line-{number}", "kind": raw.get("kind") or "query",
            "query": raw["query"], "relevant": raw["relevant"], "target": raw.get("target"),
            "form": raw.get("form", "")}))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more"
                                           if len(problems) > 5 else "")
        raise ValidationError(f"judged file {str(path)!r}: {len(problems)} bad line(s): {shown}",
                              hint='each line: {"query": "...", "kind": "...", '
                                   '"relevant": {"id": grade}}')
    if not queries:
        raise ValidationError(f"judged file {str(path)!r} has no queries")
    return queries
