"""The catalog record schema: what one row of a catalog file must look like.

``validate_row`` turns a raw row (a dict from JSONL, or from CSV after list/number decoding)
into a clean document for the catalog index, or says precisely why it cannot. The rules are
written down for users in ``docs/catalog-schema.md``; keep the two in step.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ltrr_opensearch.errors import ConfigError

# Catalog fields a file may carry, in document order.
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
MAX_TEXT_CHARS = {"title": 1000, "artist": 1000, "album": 1000, "description": 20000}
MAX_LIST_ITEMS = 500
MAX_ITEM_CHARS = 512
MAX_EMBEDDING_DIM = 4096
MAX_FLOAT32 = 3.4e38  # the index stores floats: larger numbers would become infinity

# Entity types are free-form (a film catalog has "movie", a shop "product"): one short
# lowercase token, so it can be a keyword filter value and a label in reports.
_ENTITY_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_DECADE = re.compile(r"^\d{3}0s$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class RowError:
    """Why the row starting at ``line`` of the file was not loaded."""

    line: int
    reason: str
    id: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (id {self.id!r})" if self.id else "")
        return f"{where}: {self.reason}"


class _Invalid(Exception):
    """Internal: one field broke a rule."""


def popularity_feature(popularity: float) -> float:
    """A strictly positive transform for the ``rank_feature`` field (which rejects 0).

    ``log1p`` tames the long tail of popularity counts; the small offset keeps 0 legal.
    """
    return math.log1p(popularity) + 1e-3


def validate_row(
    raw: Mapping[str, Any], line: int, *, dimension: int | None = None
) -> tuple[dict[str, Any] | None, RowError | None]:
    """``(document, None)`` for a good row, ``(None, RowError)`` for a bad one.

    ``dimension``, when given, is the width a precomputed ``embedding`` must have.
    Keys outside the schema are ignored here (the loader reports them once per file).
    """
    raw_id = raw.get("id")
    shown_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else None
    try:
        doc = _clean(raw, dimension)
    except _Invalid as exc:
        return None, RowError(line, str(exc), shown_id)
    return doc, None


def _clean(raw: Mapping[str, Any], dimension: int | None) -> dict[str, Any]:
    for name in REQUIRED:
        if _blank(raw.get(name)):
            raise _Invalid(f"missing required field {name!r}")
    doc: dict[str, Any] = {"id": _id(raw["id"])}
    doc["entity_type"] = _entity_type(raw["entity_type"])
    for name in TEXT_FIELDS:
        doc[name] = _text(name, raw.get(name))
    for name in LIST_FIELDS:
        doc[name] = _str_list(name, raw.get(name))
    doc["decade"] = _pattern("decade", raw.get("decade"), _DECADE, 'like "1990s"')
    language = raw.get("language")
    if isinstance(language, str):
        language = language.strip().lower()
    doc["language"] = _pattern("language", language, _LANGUAGE, 'an ISO 639-1 code like "en"')
    doc["popularity"] = _popularity(raw.get("popularity"))
    doc["popularity_feature"] = popularity_feature(doc["popularity"])
    doc["release_date"] = _release_date(raw.get("release_date"))
    embedding = _embedding(raw.get("embedding"), dimension)
    if embedding is not None:
        doc["embedding"] = embedding
    return doc


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _id(value: Any) -> str:
    # Integers are accepted because many source catalogs number their rows.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _Invalid(f"id must be a string, got {type(value).__name__}")
    text = str(value).strip()
    if len(text.encode("utf-8")) > MAX_ID_BYTES:
        raise _Invalid(f"id is longer than {MAX_ID_BYTES} bytes")
    return text


def _entity_type(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"entity_type must be a string, got {type(value).__name__}")
    token = value.strip().lower()
    if not _ENTITY_TYPE.match(token):
        raise _Invalid(
            "entity_type must be one short lowercase token (a letter, then up to 39 letters, "
            f"digits, '_' or '-'), e.g. \"track\" or \"movie\"; got {value!r}"
        )
    return token


def _text(name: str, value: Any) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string, got {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_TEXT_CHARS[name]:
        raise _Invalid(f"{name} is longer than {MAX_TEXT_CHARS[name]} characters")
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


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _popularity(value: Any) -> float:
    if value is None:
        return 0.0
    if not _number(value):
        raise _Invalid(f"popularity must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > MAX_FLOAT32:
        raise _Invalid(f"popularity must be finite and >= 0, got {value!r}")
    return number


def _release_date(value: Any) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise _Invalid(f"release_date must be YYYY-MM-DD, got {value!r}")
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid(f"release_date {value!r} is not a calendar date") from None
    return value.strip()


def _embedding(value: Any, dimension: int | None) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _Invalid("embedding must be a non-empty list of numbers")
    if len(value) > MAX_EMBEDDING_DIM:
        raise _Invalid(f"embedding has more than {MAX_EMBEDDING_DIM} values")
    if dimension is not None and len(value) != dimension:
        raise _Invalid(f"embedding has {len(value)} values, the index expects {dimension}")
    if not all(_number(x) for x in value):
        raise _Invalid("embedding must hold numbers only")
    vector = [float(x) for x in value]
    if not all(math.isfinite(x) and abs(x) <= MAX_FLOAT32 for x in vector):
        raise _Invalid("embedding holds NaN or infinity")
    if not any(vector):
        raise _Invalid("embedding is all zeros (cosine similarity is undefined)")
    return vector


def parse_field_map(spec: str | Mapping[str, Any] | None) -> dict[str, str]:
    """``"title=name,artist=creator"`` or ``{"title": "name"}`` -> catalog field: source key.

    Raises :class:`ConfigError` for an unknown catalog field or a malformed pair.
    """
    if not spec:
        return {}
    pairs: list[tuple[str, Any]]
    if isinstance(spec, str):
        pairs = []
        for part in spec.split(","):
            if not part.strip():
                continue
            target, sep, source = part.partition("=")
            if not sep:
                raise ConfigError(
                    f"field mapping {part.strip()!r} is not of the form catalog_field=column",
                    hint="e.g. --map title=name,artist=creator",
                )
            pairs.append((target.strip(), source.strip()))
    else:
        pairs = list(spec.items())
    mapping: dict[str, str] = {}
    for target, source in pairs:
        if target not in FIELDS:
            raise ConfigError(
                f"field mapping names unknown catalog field {target!r}",
                hint=f"catalog fields: {', '.join(FIELDS)}",
            )
        if not isinstance(source, str) or not source:
            raise ConfigError(f"field mapping for {target!r} needs a source column name")
        mapping[target] = source
    return mapping


def apply_field_map(raw: Mapping[str, Any], field_map: Mapping[str, str]) -> dict[str, Any]:
    """Rename source keys to catalog fields; unmapped keys keep their names."""
    if not field_map:
        return dict(raw)
    sources = set(field_map.values())
    row = {k: v for k, v in raw.items() if k not in sources}
    for target, source in field_map.items():
        if source in raw:
            row[target] = raw[source]
    return row
