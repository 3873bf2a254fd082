"""The catalog description: which index to search and the role each of its fields plays.

Every part of the product that touches catalog fields (strategy templates, LTR features,
query understanding, display, the loader of managed catalogs) reads field names from
here, never from music constants, so a catalog of films, products or the user's own index
works through configuration alone. The format is documented in
``docs/catalog-description.md``; the worked examples ship in ``ltrr_opensearch/catalogs/``.

Two steps:

* :func:`parse_description` checks a description on its own (known keys, field names,
  boosts, facet kinds) and reports every problem at once;
* :func:`bind` checks it against the live mapping of the index it names and resolves what
  the mapping offers beyond the declared fields (a ``.keyword``, ``.words`` or ``.prefix``
  sub-field, a ``rank_feature`` twin of the popularity field). Templates see the result as
  the ``catalog`` variable (:meth:`BoundCatalog.template_context`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from ltrr_opensearch.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from ltrr_opensearch.config import Settings

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "catalogs"
DEFAULT_DESCRIPTION = "music"
ID_FROM_DOCUMENT = "_id"
MEMORY_IN_INDEX = "index"  # the memory's rank_features field lives in the catalog documents
MEMORY_OUTSIDE = "outside"  # only in ltrr's memory index: the user's index is never written

# Facet kinds with a meaning of their own to query understanding and the context vector;
# any other lowercase name is allowed and recognised as a generic facet.
KNOWN_FACETS = ("genre", "mood", "decade", "language")
EXTRA_TYPES = ("keyword", "text", "integer", "long", "float", "double", "date", "boolean")

_TEXT_TYPES = frozenset({"text", "match_only_text", "search_as_you_type", "keyword",
                         "wildcard", "constant_keyword"})
_KEYWORD_TYPES = frozenset({"keyword", "constant_keyword"})
_NUMBER_TYPES = frozenset({"long", "integer", "short", "byte", "double", "float", "half_float",
                           "scaled_float", "unsigned_long"})
_DATE_TYPES = frozenset({"date", "date_nanos"})
_FIELD_NAME = re.compile(r"^[A-Za-z_@][\w@-]*(\.[\w@-]+)*$")
_FACET_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ENTITY_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.*,+-]{0,254}$")
_MAX_BOOST = 100.0
TYPE_KIND = "entity_type"  # [synonyms.entity_type]: phrases for the catalog's entity types
MAX_SYNONYM_TOKENS = 5  # the longest span query understanding tries (gazetteer.MAX_SPAN_TOKENS)

_TOP_KEYS = {"name", "index", "embedder", "fields", "facets", "memory", "types", "extra",
             "synonyms"}
INLINE_SOURCE = "[catalog] in the config"  # a description written inline in the config
_TABLE = re.compile(r"\[(fields|facets|memory|types|extra|synonyms)\]")
_FIELD_KEYS = {"id", "type", "title", "creator", "text", "popularity", "date", "vector",
               "display"}
_MEMORY_KEYS = {"store", "field"}
_TYPES_KEYS = {"values"}


@dataclass(frozen=True)
class WeightedField:
    """A field and how much a match in it counts (``"title^3"``)."""

    name: str
    boost: float = 1.0

    def spec(self, name: str | None = None) -> str:
        """``name^boost`` as OpenSearch's ``fields`` lists take it (``^1`` left out)."""
        shown = name or self.name
        return shown if self.boost == 1.0 else f"{shown}^{self.boost:g}"


@dataclass(frozen=True)
class CatalogDescription:
    """A catalog's index and field roles, as declared (not yet checked against a mapping)."""

    name: str
    index: str | None  # the user's own index or alias; None: ltrr manages <prefix>-catalog
    id: str  # a keyword field holding the entity id, or "_id"
    type: str | None  # keyword field with free-form entity types ("track", "movie")
    title: tuple[WeightedField, ...]
    creator: tuple[WeightedField, ...] = ()  # who made it: artist, director, brand
    text: tuple[WeightedField, ...] = ()  # other searched text: album, description, cast
    facets: Mapping[str, str] = field(default_factory=dict)  # kind -> keyword field
    popularity: str | None = None
    date: str | None = None
    vector: str | None = None
    embedder: str | None = None  # the embedder of a managed catalog's vectors
    display: tuple[str, ...] = ()  # _source fields returned with each result
    memory_store: str = MEMORY_IN_INDEX
    memory_field: str = "q2e"
    entity_types: tuple[str, ...] | None = None  # managed loading: allowed values, None: any
    extra: Mapping[str, str] = field(default_factory=dict)  # managed: more fields -> type
    # kind (a facet kind or "entity_type") -> {phrase as written: the value it means}
    synonyms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: str = "inline"  # where it was read from, for messages

    def table(self, name: str) -> str:
        """How a table of this description is written where the user wrote it:
        ``[memory]`` in a description file, ``[catalog.memory]`` inline in the config."""
        return table_name(name, self.source)

    @property
    def managed(self) -> bool:
        """ltrr created the index and loads its rows (else it is the user's own)."""
        return self.index is None

    def target(self, settings: Settings) -> str:
        """The index or alias searches go to."""
        return self.index or settings.catalog_alias

    @property
    def searched_fields(self) -> tuple[WeightedField, ...]:
        return self.title + self.creator + self.text

    def roles(self) -> list[tuple[str, str]]:
        """Every (role, field) pair the description names, in a stable order."""
        pairs: list[tuple[str, str]] = []
        if self.id != ID_FROM_DOCUMENT:
            pairs.append(("id", self.id))
        if self.type:
            pairs.append(("type", self.type))
        for role in ("title", "creator", "text"):
            pairs.extend((role, f.name) for f in getattr(self, role))
        pairs.extend((f"facet {kind}", name) for kind, name in self.facets.items())
        for role in ("popularity", "date", "vector"):
            if getattr(self, role):
                pairs.append((role, getattr(self, role)))
        return pairs

    def source_fields(self) -> list[str]:
        """What each hit returns: the display list, or every role's field (vectors excluded)."""
        if self.display:
            names = list(self.display)
        else:
            names = [name for role, name in self.roles() if role != "vector"]
        if self.id != ID_FROM_DOCUMENT and self.id not in names:
            names.insert(0, self.id)
        return list(dict.fromkeys(names))

    @property
    def digest(self) -> str:
        """Changes whenever a role's field or boost changes (binds feature sets to it)."""
        canonical = json.dumps({
            "id": self.id, "type": self.type, "facets": dict(sorted(self.facets.items())),
            **{r: [(f.name, f.boost) for f in getattr(self, r)]
               for r in ("title", "creator", "text")},
            "popularity": self.popularity, "date": self.date, "vector": self.vector,
            "memory": [self.memory_store, self.memory_field]}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]


# --- parsing -------------------------------------------------------------------------------


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_description(spec: str | Path) -> CatalogDescription:
    """A built-in description by name (``music``, ``films``) or a TOML file by path."""
    text_spec = str(spec)
    path = Path(text_spec)
    if text_spec in builtin_names():
        path = BUILTIN_DIR / f"{text_spec}.toml"
    elif not path.suffix and not path.exists():
        raise ConfigError(f"catalog description {text_spec!r} is neither a built-in nor a file",
                          hint=f"built-in: {', '.join(builtin_names())}; or a path to a .toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"catalog description file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"catalog description {str(path)!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"catalog description {str(path)!r} is not valid TOML: {exc}") from None
    return parse_description(data, source=str(path))


def table_name(name: str, source: str) -> str:
    """``[name]``, or ``[catalog.name]`` for a description written inline in the config."""
    return f"[catalog.{name}]" if source == INLINE_SOURCE else f"[{name}]"


def parse_description(data: Mapping[str, Any], source: str = "inline") -> CatalogDescription:
    """Check a description's shape; every problem is reported at once, naming its key as
    the user wrote it (``[memory] store`` in a file, ``[catalog.memory] store`` inline)."""
    problems: list[str] = []
    _unknown(problems, "", data, _TOP_KEYS)
    fields = _table(problems, data, "fields")
    _unknown(problems, "[fields] ", fields, _FIELD_KEYS)
    memory = _table(problems, data, "memory")
    _unknown(problems, "[memory] ", memory, _MEMORY_KEYS)
    types = _table(problems, data, "types")
    _unknown(problems, "[types] ", types, _TYPES_KEYS)

    name = data.get("name", Path(source).stem if source.endswith(".toml") else "catalog")
    if not isinstance(name, str) or not _FACET_KIND.match(name):
        problems.append(f"name must be a short lowercase identifier, got {name!r}")
        name = "catalog"
    index = data.get("index")
    if index is not None and (not isinstance(index, str) or not _INDEX_NAME.match(index)
                              or index.startswith(("_", "-", "+"))):
        problems.append(f"index must be an index or alias name (lowercase), got {index!r}")
        index = None
    embedder = data.get("embedder")
    if embedder is not None and not isinstance(embedder, str):
        problems.append(f"embedder must be a name such as \"minilm\", got {embedder!r}")
        embedder = None

    title = _weighted(problems, fields, "title")
    if not title:
        problems.append("[fields] title is required: at least one text field with the item's name")
    facets_raw = _table(problems, data, "facets")
    facets: dict[str, str] = {}
    for kind, name_ in facets_raw.items():
        if not _FACET_KIND.match(str(kind)):
            problems.append(f"[facets] kind {kind!r} must be a lowercase identifier")
        elif _single(problems, f"[facets] {kind}", name_) is not None:
            facets[str(kind)] = str(name_)

    store = memory.get("store", MEMORY_IN_INDEX)
    if store not in (MEMORY_IN_INDEX, MEMORY_OUTSIDE):
        problems.append(f"[memory] store must be \"{MEMORY_IN_INDEX}\" or \"{MEMORY_OUTSIDE}\", "
                        f"got {store!r}")
        store = MEMORY_IN_INDEX
    memory_field = _single(problems, "[memory] field", memory.get("field", "q2e")) or "q2e"

    entity_types = types.get("values")
    if entity_types is not None:
        if not isinstance(entity_types, list) or not entity_types or not all(
                isinstance(v, str) and _ENTITY_TYPE.match(v) for v in entity_types):
            problems.append("[types] values must be a non-empty list of short lowercase tokens "
                            f"(\"track\", \"movie\"), got {entity_types!r}")
            entity_types = None
        else:
            entity_types = tuple(dict.fromkeys(entity_types))

    extra_raw = _table(problems, data, "extra")
    extra: dict[str, str] = {}
    for name_, kind in extra_raw.items():
        if not _FIELD_NAME.match(str(name_)) or "." in str(name_):
            problems.append(f"[extra] field name {name_!r} must be a plain field name")
        elif kind not in EXTRA_TYPES:
            problems.append(f"[extra] {name_} has type {kind!r}; choose from "
                            f"{', '.join(EXTRA_TYPES)}")
        else:
            extra[str(name_)] = str(kind)

    display_raw = fields.get("display", [])
    display: list[str] = []
    if not isinstance(display_raw, list):
        problems.append(f"[fields] display must be a list of field names, got {display_raw!r}")
    else:
        display = [d for d in (_single(problems, "[fields] display", x) for x in display_raw) if d]

    type_field = fields.get("type")
    synonyms = _synonyms(problems, data, facets, type_field is not None or bool(entity_types),
                         entity_types)

    description = CatalogDescription(
        name=name, index=index,
        id=_single(problems, "[fields] id", fields.get("id", ID_FROM_DOCUMENT)) or ID_FROM_DOCUMENT,
        type=_single(problems, "[fields] type", fields.get("type")),
        title=title, creator=_weighted(problems, fields, "creator"),
        text=_weighted(problems, fields, "text"), facets=facets,
        popularity=_single(problems, "[fields] popularity", fields.get("popularity")),
        date=_single(problems, "[fields] date", fields.get("date")),
        vector=_single(problems, "[fields] vector", fields.get("vector")),
        embedder=embedder, display=tuple(display), memory_store=store,
        memory_field=memory_field, entity_types=entity_types, extra=extra, synonyms=synonyms,
        source=source)
    _overlaps(problems, description)
    if source == INLINE_SOURCE:
        problems = [_TABLE.sub(lambda m: table_name(m[1], source), p) for p in problems]
    if problems:
        raise ConfigError(f"catalog description {source}: " + "; ".join(problems),
                          hint="see docs/catalog-description.md")
    return description


def _unknown(problems: list[str], where: str, table: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        problems.append(f"{where}unknown key(s) {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(known))})")


def _table(problems: list[str], data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        problems.append(f"[{key}] must be a table, got {value!r}")
        return {}
    return value


def _single(problems: list[str], where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _FIELD_NAME.match(value):
        problems.append(f"{where} must be a field name, got {value!r}")
        return None
    return value


def _weighted(problems: list[str], fields: Mapping[str, Any], role: str) -> tuple[WeightedField,
                                                                                   ...]:
    raw = fields.get(role, [])
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        problems.append(f"[fields] {role} must be a list of \"field\" or \"field^boost\", "
                        f"got {raw!r}")
        return ()
    out: list[WeightedField] = []
    for item in items:
        name, _, boost_text = str(item).partition("^") if isinstance(item, str) else ("", "", "")
        if not isinstance(item, str) or not _FIELD_NAME.match(name):
            problems.append(f"[fields] {role}: {item!r} is not \"field\" or \"field^boost\"")
            continue
        try:
            boost = float(boost_text) if boost_text else 1.0
        except ValueError:
            boost = -1.0
        if not 0 < boost <= _MAX_BOOST:
            problems.append(f"[fields] {role}: boost in {item!r} must be a number in "
                            f"(0, {_MAX_BOOST:g}]")
            continue
        out.append(WeightedField(name, boost))
    return tuple(out)


def _synonyms(problems: list[str], data: Mapping[str, Any], facets: Mapping[str, str],
              typed: bool, entity_types: tuple[str, ...] | None) -> dict[str, dict[str, str]]:
    """``[synonyms.<kind>]`` tables of ``"phrase" = "value"``: one value per phrase, a kind
    the description has (a facet kind, or ``entity_type`` with a type field). Phrases are
    compared as query understanding normalises them, so "Community-College" and
    "community college" are the same phrase. Values are checked against the live index by
    `ltrr doctor` / `ltrr templates validate` (retrieve/catalog.py)."""
    from ltrr_opensearch.understand.normalize import normalize_query

    raw = _table(problems, data, "synonyms")
    out: dict[str, dict[str, str]] = {}
    owner: dict[str, tuple[str, str]] = {}  # normalised phrase -> (kind, phrase as written)
    for kind, table in raw.items():
        where = f"[synonyms.{kind}]"
        if not isinstance(table, Mapping):
            problems.append(f"{where} must be a table of \"phrase\" = \"value\", got {table!r}")
            continue
        if kind == TYPE_KIND:
            if not typed:
                problems.append(f"{where}: the catalog has no entity types (name [fields] type)")
                continue
        elif kind not in facets:
            problems.append(f"{where}: {kind!r} is neither a kind of [facets] "
                            f"({', '.join(sorted(facets)) or 'none'}) nor {TYPE_KIND}")
            continue
        entries: dict[str, str] = {}
        for phrase, value in table.items():
            normal = normalize_query(str(phrase))
            if not normal:
                problems.append(f"{where} phrase {phrase!r} has no words")
                continue
            if normal.count(" ") >= MAX_SYNONYM_TOKENS:
                problems.append(f"{where} phrase {phrase!r} is longer than "
                                f"{MAX_SYNONYM_TOKENS} words")
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where} {phrase!r} must name one value (a string), "
                                f"got {value!r}")
                continue
            if kind == TYPE_KIND and entity_types and value not in entity_types:
                problems.append(f"{where} {phrase!r} names the type {value!r}, which is not in "
                                f"[types] values ({', '.join(entity_types)})")
                continue
            clash = owner.get(normal)
            if clash is not None:
                other = (f"{clash[1]!r} of the same table" if clash[0] == kind
                         else f"[synonyms.{clash[0]}] {clash[1]!r}")
                problems.append(f"{where} {phrase!r} is the same phrase as {other}: one "
                                "phrase may name one value")
                continue
            owner[normal] = (str(kind), str(phrase))
            entries[str(phrase)] = value
        if entries:
            out[str(kind)] = entries
    return out


def _overlaps(problems: list[str], d: CatalogDescription) -> None:
    searched = [f.name for f in d.searched_fields]
    twice = sorted({n for n in searched if searched.count(n) > 1})
    if twice:
        problems.append(f"field(s) {', '.join(twice)} named in more than one of title/creator/"
                        "text (give each one role)")
    reserved = {d.memory_field} if d.memory_store == MEMORY_IN_INDEX else set()
    clash = sorted(reserved & {name for _, name in d.roles()})
    if clash:
        problems.append(f"[memory] field {clash[0]!r} is also given a role")
    if d.index is not None and (d.extra or d.entity_types or d.embedder):
        problems.append("[extra], [types] and embedder describe catalogs ltrr manages; "
                        "a description with an index describes the user's own")


# --- the description in force -----------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[Any, CatalogDescription] = {}


def description_for(settings: Settings) -> CatalogDescription:
    """The description ``[catalog] description`` names (a built-in or a path; default
    ``music``), or the one written inline in ``[catalog]`` (``fields``/``facets``... keys).

    Cached per setting value: files are read once per process.
    """
    section = settings.section("catalog")
    inline = {k: v for k, v in section.items() if k in _TOP_KEYS - {"embedder"}}
    spec = section.get("description")
    if inline and "fields" in inline:
        if spec is not None:
            raise ConfigError("[catalog] has both description = ... and inline [catalog.fields]",
                              hint="keep one: a description file, or the roles inline")
        key: Any = ("inline", json.dumps(inline, sort_keys=True, default=str))
    else:
        if spec is not None and not isinstance(spec, str):
            raise ConfigError(f"[catalog] description must be a name or a path, got {spec!r}")
        key = ("spec", spec or DEFAULT_DESCRIPTION)
    with _cache_lock:
        if key not in _cache:
            if key[0] == "inline":
                data = dict(inline)
                if "embedder" in section:
                    data["embedder"] = section["embedder"]
                _cache[key] = parse_description(data, source=INLINE_SOURCE)
            else:
                _cache[key] = load_description(key[1])
        return _cache[key]


# --- binding to a live mapping -------------------------------------------------------------


@dataclass(frozen=True)
class MappedField:
    """One field as the mapping declares it."""

    path: str
    type: str
    subfields: Mapping[str, str]  # sub-field name -> type


@dataclass(frozen=True)
class BoundCatalog:
    """A description checked against a mapping, with the sub-fields it offers resolved."""

    description: CatalogDescription
    fields: Mapping[str, MappedField]  # every field the description names
    popularity_feature: str | None  # a rank_feature field holding the (log) popularity
    memory_field: str | None  # the rank_features field of the memory, None when outside
    notes: tuple[str, ...] = ()  # what binding chose, for `ltrr doctor`

    def _sub(self, name: str, sub: str, types: frozenset[str]) -> str | None:
        mapped = self.fields.get(name)
        if mapped is not None and mapped.subfields.get(sub) in types:
            return f"{name}.{sub}"
        return None

    def keyword_of(self, name: str) -> str | None:
        """The exact-match field of a text field: itself if keyword, else a keyword
        sub-field (``.keyword``, or any keyword sub-field), else None."""
        mapped = self.fields.get(name)
        if mapped is None:
            return None
        if mapped.type in _KEYWORD_TYPES:
            return name
        if mapped.subfields.get("keyword") in _KEYWORD_TYPES:
            return f"{name}.keyword"
        for sub, kind in sorted(mapped.subfields.items()):
            if kind in _KEYWORD_TYPES:
                return f"{name}.{sub}"
        return None

    def _specs(self, fields: Iterable[WeightedField], *, words: bool) -> list[str]:
        specs: list[str] = []
        for f in fields:
            specs.append(f.spec())
            word_field = self._sub(f.name, "words", frozenset({"text"})) if words else None
            if word_field:
                specs.append(f.spec(word_field))
        return specs

    def template_context(self) -> dict[str, Any]:
        """The ``catalog`` variable of strategy and feature templates (documented in
        docs/catalog-description.md): lists of ``field^boost`` and single field names."""
        d = self.description
        text_like = [f for f in d.searched_fields
                     if self.fields[f.name].type not in _KEYWORD_TYPES]
        fuzzy = [f.spec(self._sub(f.name, "words", frozenset({"text"})) or f.name)
                 for f in d.title + d.creator if f in text_like]
        # As-you-type sub-fields, unweighted: a prefix match is weak evidence in any field.
        prefix = [p for f in d.searched_fields
                  if (p := self._sub(f.name, "prefix", frozenset({"text", "search_as_you_type"})))]
        return {
            "name": d.name,
            "id_field": None if d.id == ID_FROM_DOCUMENT else d.id,
            "type_field": d.type,
            "title_fields": self._specs(d.title, words=True),
            "creator_fields": self._specs(d.creator, words=True),
            "text_fields": self._specs(d.text, words=False),
            "search_fields": self._specs(d.searched_fields, words=True),
            "plain_fields": [f.name for f in d.searched_fields],
            "fuzzy_fields": fuzzy,
            "prefix_fields": prefix,
            "title_field": d.title[0].name,
            "title_keyword": self.keyword_of(d.title[0].name),
            "creator_keyword": self.keyword_of(d.creator[0].name) if d.creator else None,
            "facets": dict(d.facets),
            "popularity_field": d.popularity,
            "popularity_feature": self.popularity_feature,
            "date_field": d.date,
            "vector_field": d.vector,
            "memory_field": self.memory_field,
        }


def mapping_fields(properties: Mapping[str, Any], prefix: str = "") -> dict[str, MappedField]:
    """Every field of a mapping's ``properties`` by dotted path (objects walked through)."""
    out: dict[str, MappedField] = {}
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            continue
        path = f"{prefix}{name}"
        if "properties" in spec and "type" not in spec:
            out.update(mapping_fields(spec["properties"], f"{path}."))
            continue
        subs = {sub: str(s.get("type", "object")) for sub, s in (spec.get("fields") or {}).items()
                if isinstance(s, Mapping)}
        out[path] = MappedField(path, str(spec.get("type", "object")), subs)
        for sub, kind in subs.items():
            out[f"{path}.{sub}"] = MappedField(f"{path}.{sub}", kind, {})
    return out


def bind(description: CatalogDescription, properties: Mapping[str, Any]) -> BoundCatalog:
    """Check every role against the mapping's ``properties``; all problems in one error."""
    bound, problems = check(description, properties)
    if bound is None:
        raise ValidationError(f"catalog description {description.source} does not fit the "
                              f"mapping of {description.index or 'the managed catalog'}: "
                              + "; ".join(problems),
                              hint="fix the description or the mapping; docs/catalog-description.md")
    return bound


def check(description: CatalogDescription,
          properties: Mapping[str, Any]) -> tuple[BoundCatalog | None, list[str]]:
    """``(bound, [])`` when the description fits the mapping, else ``(None, problems)``;
    `ltrr doctor` and `ltrr templates validate` print the problems one per line."""
    mapped = mapping_fields(properties)
    problems: list[str] = []
    notes: list[str] = []
    used: dict[str, MappedField] = {}

    def need(role: str, name: str | None, allowed: frozenset[str], what: str) -> None:
        if name is None:
            return
        found = mapped.get(name)
        if found is None:
            problems.append(f"{role} field {name!r} is not in the mapping")
        elif found.type not in allowed:
            problems.append(f"{role} field {name!r} is of type {found.type}, {what}")
        else:
            used[name] = found

    d = description
    if d.id != ID_FROM_DOCUMENT:
        need("id", d.id, _KEYWORD_TYPES, "an id must be a keyword field (or \"_id\")")
    need("type", d.type, _KEYWORD_TYPES, "entity types must be a keyword field")
    for role in ("title", "creator", "text"):
        for f in getattr(d, role):
            need(role, f.name, _TEXT_TYPES, "searched fields must be text or keyword")
    for kind, name in d.facets.items():
        need(f"facet {kind}", name, _KEYWORD_TYPES,
             "facets must be keyword fields (name its .keyword sub-field if it has one)")
    need("popularity", d.popularity, _NUMBER_TYPES | {"rank_feature"},
         "popularity must be numeric (or rank_feature)")
    need("date", d.date, _DATE_TYPES, "the date role needs a date field")
    need("vector", d.vector, frozenset({"knn_vector"}), "vectors need the k-NN plugin's knn_vector")
    for name in d.display:
        if name not in mapped:
            problems.append(f"display field {name!r} is not in the mapping")

    popularity_feature = None
    if d.popularity and d.popularity in used:
        twin = mapped.get(f"{d.popularity}_feature")
        if used[d.popularity].type == "rank_feature":
            popularity_feature = d.popularity
        elif twin is not None and twin.type == "rank_feature":
            popularity_feature = twin.path
        else:
            notes.append(f"popularity {d.popularity!r} has no rank_feature twin "
                         f"({d.popularity}_feature): it is applied as a log-scaled field value")

    memory_field = None
    if d.memory_store == MEMORY_IN_INDEX:
        found = mapped.get(d.memory_field)
        if found is None:
            problems.append(f"memory field {d.memory_field!r} (rank_features) is not in the "
                            "mapping: add it with `ltrr catalog adopt` (an additive mapping "
                            f"update), or set {d.table('memory')} store = \"outside\"")
        elif found.type != "rank_features":
            problems.append(f"memory field {d.memory_field!r} is of type {found.type}, "
                            "it must be rank_features")
        else:
            memory_field = d.memory_field
    if problems:
        return None, problems
    return BoundCatalog(d, used, popularity_feature, memory_field, tuple(notes)), []


def live_properties(client: OpenSearch, index: str) -> dict[str, Any]:
    """The ``properties`` of an index or alias; behind an alias of several indices, the
    fields every one of them has (a search must work on all)."""
    from opensearchpy import exceptions as os_exc

    try:
        found = client.indices.get_mapping(index=index)
    except os_exc.NotFoundError:
        raise ValidationError(f"catalog index {index!r} does not exist",
                              hint="load a catalog (ltrr catalog load) or fix [catalog] index")\
            from None
    mappings = [m.get("mappings", {}).get("properties", {}) for m in found.values()]
    if not mappings:
        return {}
    common = set(mappings[0]).intersection(*mappings[1:])
    return {name: mappings[-1][name] for name in mappings[-1] if name in common}


_bound_lock = threading.Lock()
_bound: dict[tuple[Any, ...], BoundCatalog] = {}


def bound_catalog(client: OpenSearch, settings: Settings,
                  description: CatalogDescription | None = None) -> BoundCatalog:
    """The description in force bound to the live mapping, once per process and target
    (call :func:`forget` after a catalog rebuild or a mapping change)."""
    description = description or description_for(settings)
    target = description.target(settings)
    key = (settings.urls, target, repr(description))  # (its facets dict is unhashable)
    with _bound_lock:
        if key not in _bound:
            _bound[key] = bind(description, live_properties(client, target))
        return _bound[key]


def forget() -> None:
    with _bound_lock:
        _bound.clear()
