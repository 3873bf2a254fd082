"""The catalog record schema: what one row of a catalog file must look like.

The schema of a managed catalog follows its description (:mod:`catalog.description`):
:func:`row_schema` derives the fields a row may carry, their types and the entity types
allowed; ``validate_row`` turns a raw row (a dict from JSONL, or from CSV after list/number
decoding) into a clean document for the catalog index, or reports **every** problem of the
row at once. ``parse_field_map`` / ``apply_field_map`` take fields from other columns, with
conversions (``release_date=year:year_to_date``, ``entity_type=const:movie``,
``genres=genre_list:split(|)``...). The rules are written down for users in
``docs/catalog-schema.md``; keep the two in step. Without a description the built-in
``music`` one applies (the fields below).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from ltrr_opensearch.catalog.description import (
    ID_FROM_DOCUMENT,
    CatalogDescription,
    load_description,
)
from ltrr_opensearch.errors import ConfigError

# The music catalog's fields (the built-in description), in document order.
TEXT_FIELDS = ("title", "artist", "album", "description")
LIST_FIELDS = ("contributors", "genres", "moods", "related_ids")
FIELDS = (
    "id", "entity_type", "title", "artist", "album", "contributors", "description",
    "genres", "moods", "decade", "language", "popularity", "release_date", "related_ids",
    "embedding",
)
REQUIRED = ("id", "entity_type", "title")
# Written by other parts of the product, never taken from a file.
RESERVED = ("popularity_feature", "q2e")

# Caps keep one bad row from bloating the index (an _id may not exceed 512 bytes).
MAX_ID_BYTES = 512
MAX_NAME_CHARS = 1000
MAX_PROSE_CHARS = 20000
MAX_TEXT_CHARS = {"title": 1000, "artist": 1000, "album": 1000, "description": 20000}
MAX_LIST_ITEMS = 500
MAX_ITEM_CHARS = 512
MAX_EMBEDDING_DIM = 4096
MAX_FLOAT32 = 3.4e38  # the index stores floats: larger numbers would become infinity
_INT_RANGE = {"integer": 2**31, "long": 2**63}

# Entity types are free-form (a film catalog has "movie", a shop "product"): one short
# lowercase token, so it can be a keyword filter value and a label in reports.
_ENTITY_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_DECADE = re.compile(r"^\d{3}0s$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LIST_PARTS = ("contributors", "genres", "moods")


@dataclass(frozen=True)
class RowError:
    """Why the row starting at ``line`` of the file was not loaded (every problem found,
    joined with "; ")."""

    line: int
    reason: str
    id: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (id {self.id!r})" if self.id else "")
        return f"{where}: {self.reason}"


class _Invalid(Exception):
    """Internal: one field broke a rule."""


@dataclass(frozen=True)
class BadValue:
    """A value a ``--map`` conversion could not convert; validation reports ``reason``."""

    reason: str


def popularity_feature(popularity: float) -> float:
    """A strictly positive transform for the ``rank_feature`` field (which rejects 0).

    ``log1p`` tames the long tail of popularity counts; the small offset keeps 0 legal.
    """
    return math.log1p(popularity) + 1e-3


# --- the schema of a description -------------------------------------------------------


@dataclass(frozen=True)
class RowSchema:
    """The fields a row of a managed catalog may carry, derived from its description."""

    id_field: str
    type_field: str | None
    entity_types: tuple[str, ...] | None
    title: str  # the required name field
    names: Mapping[str, int]  # one string each -> max characters (names and prose)
    name_lists: tuple[str, ...]  # lists of names (further title/creator fields)
    list_facets: tuple[str, ...]  # facets holding lists of values (genres, moods, ...)
    decade: str | None  # facets with a format of their own
    language: str | None
    popularity: str | None
    date: str | None
    vector: str | None
    extra: Mapping[str, str]  # field -> type
    reserved: tuple[str, ...]  # written by the product, never from a file
    # The parts of the embedded text (catalog.embed.document_text's keys) -> the fields
    # that fill each, so any described catalog is embedded from its own fields.
    text_parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def text_row(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """``doc`` with the keys :func:`catalog.embed.document_text` reads (and the vector
        as ``embedding``, for precomputed vectors); for music, the document's own fields."""
        row: dict[str, Any] = {"id": doc.get(self.id_field)}
        for part, names in self.text_parts.items():
            values = [doc.get(n) for n in names if doc.get(n) not in (None, "", [])]
            if part in _LIST_PARTS:
                row[part] = [v for value in values
                             for v in (value if isinstance(value, list) else [value])]
            else:
                row[part] = " ".join(str(v) for v in values) if values else None
        if self.vector is not None and doc.get(self.vector) is not None:
            row["embedding"] = doc[self.vector]
        return row

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field a row may carry, in document order."""
        names = [self.id_field, *([self.type_field] if self.type_field else []),
                 *self.names, *self.name_lists, *self.list_facets,
                 *(f for f in (self.decade, self.language, self.popularity, self.date) if f),
                 *self.extra, *([self.vector] if self.vector else [])]
        return tuple(dict.fromkeys(names))

    @property
    def required(self) -> tuple[str, ...]:
        return (self.id_field, *([self.type_field] if self.type_field else []), self.title)

    @property
    def list_fields(self) -> tuple[str, ...]:
        """Fields whose CSV cells are ``|``-separated lists."""
        return (*self.name_lists, *self.list_facets,
                *(n for n, kind in self.extra.items() if kind == "keyword"))

    def number_kind(self, name: str) -> str | None:
        """``float``/``integer``... for fields whose CSV cells are numbers, else None."""
        if name == self.popularity:
            return "float"
        kind = self.extra.get(name)
        return kind if kind in ("integer", "long", "float", "double") else None


_schemas: dict[str, RowSchema] = {}


def row_schema(description: CatalogDescription | None = None) -> RowSchema:
    """The row schema of ``description`` (default: the built-in ``music``), cached."""
    key = repr(description)  # a description holds dicts: not hashable
    if key not in _schemas:
        _schemas[key] = _row_schema(description or load_description("music"))
    return _schemas[key]


def _row_schema(d: CatalogDescription) -> RowSchema:
    from ltrr_opensearch.catalog.index import field_shapes

    shapes = field_shapes(d)
    names = {f: MAX_PROSE_CHARS if shape == "prose" else MAX_NAME_CHARS
             for f, shape in shapes.items() if shape != "names"}
    special: dict[str, str | None] = {"decade": None, "language": None}
    lists = []
    for kind, name in d.facets.items():
        if kind in special and special[kind] is None:
            special[kind] = name
        else:
            lists.append(name)
    reserved = [d.memory_field] + ([f"{d.popularity}_feature"] if d.popularity else [])
    texts = [f.name for f in d.text]
    others = tuple(n for kind, n in d.facets.items() if kind not in ("genre", "mood", "decade",
                                                                         "language"))
    parts = {
        "title": (d.title[0].name,),
        "artist": (d.creator[0].name,) if d.creator else (),
        "contributors": tuple(f.name for f in (*d.title[1:], *d.creator[1:])),
        "album": tuple(n for n in texts if shapes[n] == "name"),
        "genres": tuple(n for n in (d.facets.get("genre"),) if n) + others,
        "moods": tuple(n for n in (d.facets.get("mood"),) if n),
        "decade": tuple(n for n in (d.facets.get("decade"),) if n),
        "description": tuple(n for n in texts if shapes[n] == "prose"),
    }
    return RowSchema(
        id_field="id" if d.id == ID_FROM_DOCUMENT else d.id, type_field=d.type,
        entity_types=d.entity_types, title=d.title[0].name, names=names,
        name_lists=tuple(f for f, shape in shapes.items() if shape == "names"),
        list_facets=tuple(lists), decade=special["decade"], language=special["language"],
        popularity=d.popularity, date=d.date, vector=d.vector, extra=dict(d.extra),
        reserved=tuple(reserved),
        text_parts=MappingProxyType({k: v for k, v in parts.items() if v}))


# --- validation ------------------------------------------------------------------------


def validate_row(
    raw: Mapping[str, Any], line: int, *, dimension: int | None = None,
    schema: RowSchema | None = None,
) -> tuple[dict[str, Any] | None, RowError | None]:
    """``(document, None)`` for a good row, ``(None, RowError)`` naming every problem.

    ``dimension``, when given, is the width a precomputed vector must have. ``schema``:
    the catalog's (:func:`row_schema`; default music). Keys outside the schema are ignored
    here (the loader reports them once per file).
    """
    schema = schema or row_schema()
    raw_id = raw.get(schema.id_field)
    shown_id = str(raw_id).strip() if isinstance(raw_id, (str, int)) and not isinstance(
        raw_id, bool) and str(raw_id).strip() else None
    problems: list[str] = []
    doc = _clean(raw, schema, dimension, problems)
    if problems:
        return None, RowError(line, "; ".join(problems), shown_id)
    return doc, None


def _clean(raw: Mapping[str, Any], s: RowSchema, dimension: int | None,
           problems: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = {}

    def check(name: str, rule: Any, *args: Any) -> None:
        value = raw.get(name)
        if isinstance(value, BadValue):
            problems.append(f"{name}: {value.reason}")
            return
        if name in s.required and _blank(value):
            problems.append(f"missing required field {name!r}")
            return
        try:
            doc[name] = rule(name, value, *args)
        except _Invalid as exc:
            problems.append(str(exc))

    check(s.id_field, _id)
    if s.type_field:
        check(s.type_field, _entity_type, s.entity_types)
    for name, limit in s.names.items():
        check(name, _text, limit)
    for name in (*s.name_lists, *s.list_facets):
        check(name, _str_list)
    if s.decade:
        check(s.decade, _pattern, _DECADE, 'like "1990s"')
    if s.language:
        check(s.language, _language)
    if s.popularity:
        check(s.popularity, _popularity)
        if s.popularity in doc:
            doc[f"{s.popularity}_feature"] = popularity_feature(doc[s.popularity])
    if s.date:
        check(s.date, _date)
    for name, kind in s.extra.items():
        check(name, _extra, kind)
    if s.vector:
        check(s.vector, _embedding, dimension)
        if doc.get(s.vector) is None:
            doc.pop(s.vector, None)
    return doc


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _id(name: str, value: Any) -> str:
    # Integers are accepted because many source catalogs number their rows.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Invalid(f"{name} must be a string, got {type(value).__name__}")
    text = str(value).strip()
    if len(text.encode("utf-8")) > MAX_ID_BYTES:
        raise _Invalid(f"{name} is longer than {MAX_ID_BYTES} bytes")
    return text


def _entity_type(name: str, value: Any, allowed: tuple[str, ...] | None) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string, got {type(value).__name__}")
    token = value.strip().lower()
    if not _ENTITY_TYPE.match(token):
        raise _Invalid(
            f"{name} must be one short lowercase token (a letter, then up to 39 letters, "
            f"digits, '_' or '-'), e.g. \"track\" or \"movie\"; got {value!r}"
        )
    if allowed is not None and token not in allowed:
        raise _Invalid(f"{name} {token!r} is not one of the catalog's types "
                       f"({', '.join(allowed)}: [types] values of its description)")
    return token


def _text(name: str, value: Any, limit: int) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string, got {type(value).__name__}")
    text = value.strip()
    if len(text) > limit:
        raise _Invalid(f"{name} is longer than {limit} characters")
    return text


def _str_list(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"{name} must be a list of strings, got {type(value).__name__}")
    if len(value) > MAX_LIST_ITEMS:
        raise _Invalid(f"{name} has more than {MAX_LIST_ITEMS} items")
    items: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise _Invalid(f"{name} must hold strings only, found {type(item).__name__}")
        text = item.strip()
        if len(text) > MAX_ITEM_CHARS:
            raise _Invalid(f"an item of {name} is longer than {MAX_ITEM_CHARS} characters")
        if text:
            items.append(text)
    return items


def _pattern(name: str, value: Any, pattern: re.Pattern[str], example: str) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str) or not pattern.match(value.strip()):
        raise _Invalid(f"{name} must be {example}, got {value!r}")
    return value.strip()


def _language(name: str, value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip().lower()
    return _pattern(name, value, _LANGUAGE, 'an ISO 639-1 code like "en"')


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _popularity(name: str, value: Any) -> float:
    if value is None:
        return 0.0
    if not _number(value):
        raise _Invalid(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > MAX_FLOAT32:
        raise _Invalid(f"{name} must be finite and >= 0, got {value!r}")
    return number


def _date(name: str, value: Any) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise _Invalid(f"{name} must be YYYY-MM-DD, got {value!r}")
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid(f"{name} {value!r} is not a calendar date") from None
    return value.strip()


def _extra(name: str, value: Any, kind: str) -> Any:
    """An ``[extra]`` field of its declared type (blank: null)."""
    if _blank(value) or value == []:
        return None
    if kind == "keyword":
        if isinstance(value, list):
            return _str_list(name, value)
        return _text(name, value, MAX_ITEM_CHARS)
    if kind == "text":
        return _text(name, value, MAX_PROSE_CHARS)
    if kind in _INT_RANGE:
        if not _number(value) or not float(value).is_integer():
            raise _Invalid(f"{name} must be a whole number ({kind}), got {value!r}")
        if not -_INT_RANGE[kind] <= int(value) < _INT_RANGE[kind]:
            raise _Invalid(f"{name} is out of the {kind} range, got {value!r}")
        return int(value)
    if kind in ("float", "double"):
        limit = MAX_FLOAT32 if kind == "float" else 1.7e308
        if not _number(value) or not math.isfinite(float(value)) or abs(value) > limit:
            raise _Invalid(f"{name} must be a finite number ({kind}), got {value!r}")
        return float(value)
    if kind == "date":
        return _date(name, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _Invalid(f"{name} must be true or false, got {value!r}")
        return value
    raise _Invalid(f"{name} has an unknown type {kind!r}")  # pragma: no cover


def _embedding(name: str, value: Any, dimension: int | None) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _Invalid(f"{name} must be a non-empty list of numbers")
    if len(value) > MAX_EMBEDDING_DIM:
        raise _Invalid(f"{name} has more than {MAX_EMBEDDING_DIM} values")
    if dimension is not None and len(value) != dimension:
        raise _Invalid(f"{name} has {len(value)} values, the index expects {dimension}")
    if not all(_number(x) for x in value):
        raise _Invalid(f"{name} must hold numbers only")
    vector = [float(x) for x in value]
    if not all(math.isfinite(x) and abs(x) <= MAX_FLOAT32 for x in vector):
        raise _Invalid(f"{name} holds NaN or infinity")
    if not any(vector):
        raise _Invalid(f"{name} is all zeros (cosine similarity is undefined)")
    return vector


# --- field maps: other column names, with conversions ------------------------------------

_CONVERSION = re.compile(r"^(year_to_date|number|integer|split\((.+)\))$")
CONVERSIONS = ("year_to_date", "number", "integer", "split(SEP)")
_YEAR = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class FieldSource:
    """Where one catalog field comes from: a column (renamed, maybe converted) or a
    constant."""

    column: str | None
    conversion: str | None = None  # year_to_date, number, integer, split
    argument: str | None = None  # split's separator, or the constant's value

    def value(self, row: Mapping[str, Any]) -> Any:
        if self.column is None:
            return self.argument
        value = row.get(self.column)
        return value if self.conversion is None else _convert(self, value)


def parse_source(target: str, text: Any) -> FieldSource:
    """``column``, ``column:conversion`` or ``const:value``; a ConfigError says why not."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"field mapping for {target!r} needs a source column name")
    text = text.strip()
    if text.startswith("const:"):
        return FieldSource(None, "const", text[len("const:"):])
    column, sep, conversion = text.rpartition(":")
    if not sep:
        return FieldSource(text)
    match = _CONVERSION.match(conversion.strip())
    if not column.strip() or not match:
        raise ConfigError(
            f"field mapping {target}={text}: unknown conversion {conversion.strip()!r}",
            hint=f"write column:CONVERSION with one of {', '.join(CONVERSIONS)}, "
                 "or const:VALUE (e.g. release_date=year:year_to_date, "
                 "entity_type=const:movie, genres=genre_list:split(|))")
    name = match.group(1)
    if name.startswith("split"):
        return FieldSource(column.strip(), "split", match.group(2))
    return FieldSource(column.strip(), name)


def _split_pairs(spec: str) -> list[str]:
    """Split on commas outside parentheses (``genres=g:split(,)`` stays one pair)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in spec:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_field_map(spec: str | Mapping[str, Any] | None,
                    schema: RowSchema | None = None) -> dict[str, str]:
    """``"title=name,release_date=year:year_to_date"`` or ``{"title": "name"}`` ->
    catalog field: source spec (checked: known field, well-formed source and conversion).

    Raises :class:`ConfigError` naming the pair and the reason.
    """
    if not spec:
        return {}
    schema = schema or row_schema()
    pairs: list[tuple[str, Any]]
    if isinstance(spec, str):
        pairs = []
        for part in _split_pairs(spec):
            if not part.strip():
                continue
            target, sep, source = part.partition("=")
            if not sep:
                raise ConfigError(
                    f"field mapping {part.strip()!r} is not of the form catalog_field=column",
                    hint="e.g. --map title=name,artist=creator,release_date=year:year_to_date",
                )
            pairs.append((target.strip(), source.strip()))
    else:
        pairs = list(spec.items())
    mapping: dict[str, str] = {}
    for target, source in pairs:
        if target not in schema.fields:
            raise ConfigError(
                f"field mapping names unknown catalog field {target!r}",
                hint=f"catalog fields: {', '.join(schema.fields)}",
            )
        parse_source(target, source)
        mapping[target] = source.strip()
    return mapping


def _sources(field_map: Mapping[str, str]) -> dict[str, FieldSource]:
    return {target: parse_source(target, text) for target, text in field_map.items()}


def renamed_columns(field_map: Mapping[str, str]) -> dict[str, str]:
    """column -> catalog field, for plain renames only (their CSV cells are decoded as the
    field's type; a converted column's cell reaches its conversion as text)."""
    return {src.column: target for target, src in _sources(field_map).items()
            if src.column is not None and src.conversion is None}


def converted_columns(field_map: Mapping[str, str]) -> set[str]:
    """Columns that reach a conversion (their CSV cells are passed on as text)."""
    return {src.column for src in _sources(field_map).values()
            if src.column is not None and src.conversion is not None}


def apply_field_map(raw: Mapping[str, Any], field_map: Mapping[str, str]) -> dict[str, Any]:
    """Catalog fields from their source columns (converted) or constants; unmapped keys
    keep their names. A value a conversion refuses becomes a :class:`BadValue`, which
    validation reports with the row's other problems."""
    if not field_map:
        return dict(raw)
    sources = _sources(field_map)
    used = {s.column for s in sources.values() if s.column is not None}
    row = {k: v for k, v in raw.items() if k not in used}
    for target, source in sources.items():
        if source.column is None or source.column in raw:
            row[target] = source.value(raw)
    return row


def _convert(source: FieldSource, value: Any) -> Any:
    conversion = source.conversion
    if value is None or (isinstance(value, str) and not value.strip()):
        return [] if conversion == "split" else None
    shown = f"{source.column}={value!r}"
    if conversion == "split":
        if isinstance(value, list):
            return value
        if not isinstance(value, str):
            return BadValue(f"cannot split {shown}: not text")
        return [p.strip() for p in value.split(source.argument or "|") if p.strip()]
    if conversion == "year_to_date":
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if isinstance(value, bool) or not _YEAR.match(text):
            if isinstance(value, str) and _DATE.match(text):
                return text  # already a date
            return BadValue(f"cannot convert {shown} with year_to_date: not a 4-digit year")
        return f"{text}-01-01"
    if conversion in ("number", "integer"):
        if isinstance(value, bool):
            return BadValue(f"cannot convert {shown} with {conversion}: a boolean")
        try:
            number = float(value.strip()) if isinstance(value, str) \
                else float(value)
        except (TypeError, ValueError):
            return BadValue(f"cannot convert {shown} with {conversion}: not a number")
        if not math.isfinite(number):
            return BadValue(f"cannot convert {shown} with {conversion}: not finite")
        if conversion == "integer":
            if not number.is_integer():
                return BadValue(f"cannot convert {shown} with integer: not a whole number")
            return int(number)
        return number
    return value  # pragma: no cover - parse_source allows no other conversion
