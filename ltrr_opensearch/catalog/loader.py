"""Stream a catalog file (JSONL or CSV) into the catalog index.

Rows are read lazily, validated (``schema.validate_row``), embedded in batches and sent with
``streaming_bulk`` as partial ``update`` + ``doc_as_upsert`` operations keyed by ``id``:
re-loading the same file is a no-op, and fields the loader never writes (``q2e``, owned by the
feedback memory) survive a reload. No row is dropped silently: every bad row is reported with
its line number and, in ``skip`` mode, written to a rejects file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.helpers import streaming_bulk

from ltrr_opensearch.catalog import index as catalog_index
from ltrr_opensearch.catalog.schema import (
    RowError,
    RowSchema,
    apply_field_map,
    converted_columns,
    renamed_columns,
    row_schema,
    validate_row,
)
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError, LtrrError, ValidationError
from ltrr_opensearch.progress import Progress

ON_ERROR = ("abort", "skip")
DEFAULT_EMBEDDER = "minilm"
CSV_LIST_SEPARATOR = "|"
MAX_ERRORS_SHOWN = 10
EMBED_BATCH = 256
VECTOR_DECIMALS = 6  # plenty for cosine similarity, and halves the bulk payload


class RawRow(NamedTuple):
    """One record as read from the file: its first line number and data, or why unreadable."""

    line: int
    data: dict[str, Any] | None
    error: str | None = None


@dataclass
class LoadReport:
    """What a load did. ``indexed`` = created + updated + unchanged."""

    path: str
    index: str = ""
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_fields: list[str] = field(default_factory=list)
    rejects_path: str | None = None
    seconds: float = 0.0

    @property
    def indexed(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        text = (f"{self.path}: read {self.read}, indexed {self.indexed} (created {self.created}, "
                f"updated {self.updated}, unchanged {self.unchanged}), skipped {self.skipped} "
                f"into {self.index} in {self.seconds:.1f}s")
        if self.rejects_path:
            text += f"; rejected rows written to {self.rejects_path}"
        return text


class CatalogValidationError(ValidationError):
    """Bad rows stopped a load; ``errors`` lists every one found (line numbers included)."""

    def __init__(self, message: str, hint: str | None, errors: list[RowError]) -> None:
        super().__init__(message, hint)
        self.errors = errors


# --------------------------------------------------------------------------- reading


def detect_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if ext == ".csv":
        return "csv"
    raise ValidationError(
        f"cannot tell the format of {str(path)!r} from its extension",
        hint="name it .jsonl or .csv (optionally .gz), or pass --format jsonl|csv",
    )


def _open_text(path: Path) -> IO[str]:
    try:
        if path.suffix.lower() == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
        return path.open("r", encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise ValidationError(f"catalog file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ValidationError(f"cannot open catalog file {str(path)!r}: {exc.strerror}") from None


def iter_rows(
    path: str | Path, field_map: Mapping[str, str] | None = None, *, fmt: str | None = None,
    schema: RowSchema | None = None,
) -> Iterator[RawRow]:
    """Stream the records of a JSONL or CSV catalog file with catalog field names.

    CSV cells are decoded to the JSON types of the schema: list fields are split on ``|``,
    ``popularity`` and ``embedding`` values become numbers where they parse, empty cells
    become null. Unparseable records come back with ``error`` set, never raise.
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    field_map = field_map or {}
    schema = schema or row_schema()
    with _open_text(path) as handle:
        records = (_jsonl_records(handle) if fmt == "jsonl"
                   else _csv_records(handle, field_map, schema))
        try:
            for line, data, error in records:
                if data is not None:
                    data = apply_field_map(data, field_map)
                yield RawRow(line, data, error)
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"{str(path)!r} is not UTF-8 text ({exc.reason})",
                hint="re-encode the file as UTF-8",
            ) from None


def _jsonl_records(handle: IO[str]) -> Iterator[RawRow]:
    for line_no, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RawRow(line_no, None, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(data, dict):
            yield RawRow(line_no, None, f"expected a JSON object, got {type(data).__name__}")
            continue
        yield RawRow(line_no, data)


_EXTRA = "\0extra"  # DictReader's key for cells beyond the header


def _csv_records(handle: IO[str], field_map: Mapping[str, str],
                 schema: RowSchema) -> Iterator[RawRow]:
    reader = csv.DictReader(handle, restkey=_EXTRA)
    if reader.fieldnames is None:
        return
    # Columns named after a catalog field (directly or through the map) get its decoding.
    decode_as = {name: name for name in reader.fieldnames}
    decode_as.update(renamed_columns(field_map))
    for column in converted_columns(field_map):  # a conversion gets the cell's text
        decode_as[column] = ""
    start = reader.line_num + 1
    try:
        for record in reader:
            if _EXTRA in record:
                yield RawRow(start, None, f"has {len(record[_EXTRA])} more cells than the header")
            elif None in record.values():
                yield RawRow(start, None, "has fewer cells than the header")
            elif any(v.strip() for v in record.values()):
                yield RawRow(start, {k: _csv_cell(decode_as.get(k, k), v, schema)
                                     for k, v in record.items()})
            start = reader.line_num + 1
    except csv.Error as exc:
        yield RawRow(start, None, f"malformed CSV: {exc}")


def _csv_cell(name: str, value: str, schema: RowSchema) -> Any:
    text = value.strip()
    if name in schema.list_fields:
        if name in schema.extra and CSV_LIST_SEPARATOR not in text:
            return text or None  # a keyword [extra] field: one value unless |-separated
        return [part for part in (p.strip() for p in text.split(CSV_LIST_SEPARATOR)) if part]
    if not text:
        return None
    kind = schema.number_kind(name)
    if kind is not None:
        number = _maybe_float(text)
        if kind in ("integer", "long") and isinstance(number, float) and number.is_integer():
            return int(number)
        return number
    if schema.extra.get(name) == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    if name == schema.vector:
        parts = [_maybe_float(p) for p in text.split(CSV_LIST_SEPARATOR)]
        return parts
    return text


def _maybe_float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # validate_row will name the bad value


# --------------------------------------------------------------------------- loading


def load_catalog(
    client: OpenSearch,
    settings: Settings,
    path: str | Path,
    *,
    embedder: Any | None,
    on_error: str = "abort",
    field_map: Mapping[str, str] | None = None,
    quiet: bool = False,
    index: str | None = None,
    fmt: str | None = None,
    rejects_path: str | Path | None = None,
    chunk_size: int = 500,
) -> LoadReport:
    """Validate, embed and upsert the rows of ``path`` into the catalog.

    ``on_error="abort"`` (default) validates the whole file first and writes nothing to the
    index if any row is bad: a :class:`CatalogValidationError` lists them, and they are also
    written to the rejects file. ``on_error="skip"`` loads the good rows and writes each bad
    one, with its line number and reason, to the rejects file (default ``FILE.rejects.jsonl``).
    ``embedder`` makes the vectors; an unfitted TF-IDF embedder is fitted on this file's rows
    first; ``None`` sends no vectors (stored ones stay). ``index`` targets a concrete index;
    by default the alias's index, created (with the alias) if absent.
    """
    def target(fitted: Any) -> str:
        if index:
            return index
        return _catalog_index_for(client, settings, fitted)

    return load_rows(client, settings, path, target, embedder=embedder, on_error=on_error,
                     field_map=field_map, quiet=quiet, fmt=fmt, rejects_path=rejects_path,
                     chunk_size=chunk_size)


def load_rows(
    client: OpenSearch,
    settings: Settings,
    path: str | Path,
    target: Callable[[Any], str],
    *,
    embedder: Any | None,
    on_error: str = "abort",
    field_map: Mapping[str, str] | None = None,
    quiet: bool = False,
    fmt: str | None = None,
    rejects_path: str | Path | None = None,
    chunk_size: int = 500,
) -> LoadReport:
    """:func:`load_catalog` into ``target(embedder)``, called once the rows are checked and
    the embedder fitted (so a new index can be created with the right vector width)."""
    if on_error not in ON_ERROR:
        raise ValidationError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    schema = managed_schema(settings)
    started = time.monotonic()
    path = Path(path)
    fmt = fmt or detect_format(path)
    field_map = dict(field_map or {})
    report = LoadReport(path=str(path))
    rejects = _Rejects(Path(rejects_path) if rejects_path else _default_rejects(path))

    total: int | None = None
    if on_error == "abort" or _needs_fit(embedder):
        total, texts = _first_pass(path, field_map, fmt, embedder, on_error, rejects, quiet,
                                   schema)
        if texts is not None:
            _fit(embedder, texts, path)
            del texts
    rules = _Rules(embedder, schema)
    report.index = target(embedder)

    pending: dict[str, tuple[int, dict[str, Any] | None]] = {}
    ignored: set[str] = set()

    def actions() -> Iterator[dict[str, Any]]:
        seen: dict[str, int] = {}
        batch: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for row in iter_rows(path, field_map, fmt=fmt, schema=schema):
            report.read += 1
            if row.data is not None:
                ignored.update(k for k in row.data if k not in schema.fields)
            result = rules.check(row, seen)
            if isinstance(result, RowError):
                _reject(report, rejects, result, row.data)
                continue
            assert row.data is not None  # check() refuses unreadable rows
            batch.append((row.line, row.data, result))
            if len(batch) >= EMBED_BATCH:
                yield from _batch_actions(batch, report.index, embedder, pending, schema)
                batch = []
        if batch:
            yield from _batch_actions(batch, report.index, embedder, pending, schema)

    try:
        with Progress(f"loading {path.name}", total=total, quiet=quiet) as bar, \
                catalog_index.opensearch_errors(settings, f"bulk indexing into {report.index}"):
            results = streaming_bulk(client, actions(), chunk_size=chunk_size, max_retries=3,
                                     raise_on_error=False, raise_on_exception=True)
            for ok, item in results:
                bar.advance()
                _count(report, rejects, pending, ok, item, on_error)
            client.indices.refresh(index=report.index)
    finally:
        rejects.close()
    report.rejects_path = str(rejects.path) if rejects.count else None
    report.ignored_fields = sorted(ignored)
    report.seconds = time.monotonic() - started
    return report


def _fit(embedder: Any, texts: list[str], path: Path) -> None:
    try:
        embedder.fit(texts)
    except ValueError as exc:  # scikit-learn's refusal of a too-small corpus
        raise ValidationError(
            f"cannot fit the {catalog_index.embedder_kind(embedder)} embedder on the "
            f"{len(texts)} valid row(s) of {path.name}: {exc}",
            hint="a TF-IDF fit needs several rows with at least two distinct words; "
                 "use --embedder minilm for a tiny catalog",
        ) from None


def make_fresh_embedder(name: str | None) -> Any:
    """A new embedder for a new index: ``minilm`` (default), ``tfidf`` (unfitted: the load
    fits it) or ``precomputed``."""
    from ltrr_opensearch.catalog.embed import make_embedder

    if name == "none":
        raise ConfigError("a new catalog index needs an embedder to size its vectors",
                          hint="choose --embedder minilm, tfidf or precomputed")
    return make_embedder(name or DEFAULT_EMBEDDER)


def resolve_embedder(client: OpenSearch, settings: Settings, name: str | None) -> Any | None:
    """The embedder to load with: the catalog's own (restored, TF-IDF fit included) when the
    catalog exists, a new ``name`` one when it does not; ``"none"`` means no vectors.

    Asking for a different kind than the catalog's is refused: two vector spaces in one
    index would be compared as if they were alike.
    """
    if name == "none":
        return None
    if not catalog_index.alias_targets(client, settings):
        return make_fresh_embedder(name)
    meta = catalog_index.catalog_meta(client, settings)
    kind = meta.get("embedder_kind")
    if name and kind and name != kind:
        raise ConfigError(
            f"the catalog {settings.catalog_alias!r} is embedded with {kind}; loading with "
            f"{name} would mix two vector spaces",
            hint=f"switch with `ltrr catalog rebuild FILE --embedder {name}`, or drop --embedder",
        )
    return catalog_index.catalog_embedder(client, settings, meta)


def _catalog_index_for(client: OpenSearch, settings: Settings, embedder: Any) -> str:
    """The alias's index (created if absent), checked to hold ``embedder``'s vectors."""
    if embedder is None:
        # Without an embedder there is no vector width to create an index with.
        targets = catalog_index.alias_targets(client, settings)
        if len(targets) != 1:
            raise LtrrError(
                f"there is no catalog at {settings.catalog_alias!r} to load rows without "
                "embeddings into",
                hint="choose an embedder (--embedder minilm|tfidf|precomputed)",
            )
        return targets[0]
    from ltrr_opensearch.catalog.embed import check_compatible

    name = catalog_index.ensure_catalog(client, settings, embedder)
    check_compatible(catalog_index.catalog_meta(client, settings), embedder)
    return name


def _default_rejects(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.jsonl")


def managed_schema(settings: Settings) -> RowSchema:
    """The row schema of the catalog description in force; refuses a description of the
    user's own index (ltrr loads rows only into catalogs it manages)."""
    from ltrr_opensearch.catalog.description import description_for

    description = description_for(settings)
    if not description.managed:
        raise ValidationError(
            f"the catalog description {description.source} names your own index "
            f"{description.index!r}: ltrr loads rows only into catalogs it manages",
            hint="index your documents with your own tools; `ltrr catalog adopt` shows what "
                 "ltrr adds to your index")
    return row_schema(description)


def _needs_fit(embedder: Any) -> bool:
    return embedder is not None and hasattr(embedder, "fit") and not getattr(
        embedder, "fitted", True)


class _Rules:
    """Row checks that depend on the embedder, plus duplicate ids within the file."""

    def __init__(self, embedder: Any, schema: RowSchema | None = None) -> None:
        self.schema = schema or row_schema()
        self.kind = catalog_index.embedder_kind(embedder) if embedder is not None else None
        self.precomputed = self.kind == "precomputed"
        self.dimension = int(embedder.dimension) if self.precomputed else None

    def check(self, row: RawRow, seen: dict[str, int]) -> dict[str, Any] | RowError:
        """The clean document, or the RowError (unreadable, invalid or duplicate id)."""
        if row.data is None:
            return RowError(row.line, row.error or "unreadable record")
        doc, error = validate_row(row.data, row.line, dimension=self.dimension,
                                  schema=self.schema)
        if error is not None:
            return error
        assert doc is not None
        doc_id = doc[self.schema.id_field]
        has_vector = self.schema.vector is not None and self.schema.vector in doc
        if self.precomputed and not has_vector:
            return RowError(row.line, "no embedding, but the catalog is loaded with "
                                      "precomputed vectors", doc_id)
        if has_vector and not self.precomputed:
            using = f"the {self.kind} embedder" if self.kind else "no embedder"
            return RowError(row.line, f"carries its own embedding, but the load uses {using} "
                                      "(use --embedder precomputed, or drop the column)",
                            doc_id)
        first = seen.setdefault(doc_id, row.line)
        if first != row.line:
            return RowError(row.line, f"duplicate id (first seen on line {first})", doc_id)
        return doc


def _first_pass(
    path: Path, field_map: dict[str, str], fmt: str, embedder: Any, on_error: str,
    rejects: _Rejects, quiet: bool, schema: RowSchema | None = None,
) -> tuple[int, list[str] | None]:
    """Validate every row (abort mode) and collect the texts to fit an embedder on."""
    from ltrr_opensearch.catalog.embed import document_text

    rules = _Rules(embedder, schema)
    texts: list[str] | None = [] if _needs_fit(embedder) else None
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    count = 0
    with Progress(f"checking {path.name}", quiet=quiet) as bar:
        for row in iter_rows(path, field_map, fmt=fmt, schema=rules.schema):
            count += 1
            bar.advance()
            result = rules.check(row, seen)
            if isinstance(result, RowError):
                errors.append(result)
                if on_error == "abort":
                    rejects.write(result, row.data)
            elif texts is not None:
                texts.append(document_text(rules.schema.text_row(result)))
    rejects.close()
    if errors and on_error == "abort":
        shown = "; ".join(str(e) for e in errors[:MAX_ERRORS_SHOWN])
        more = (f" (and {len(errors) - MAX_ERRORS_SHOWN} more)"
                if len(errors) > MAX_ERRORS_SHOWN else "")
        raise CatalogValidationError(
            f"{len(errors)} bad row(s) in {path.name}, nothing was loaded: {shown}{more}",
            hint=f"correct those rows (all are listed in {rejects.path}) or load with "
                 "--on-error skip to load the good ones",
            errors=errors,
        )
    if texts is not None and not texts:
        raise ValidationError(f"{path.name} has no valid rows to fit the embedder on")
    return count, texts


def _batch_actions(
    batch: list[tuple[int, dict[str, Any], dict[str, Any]]], target: str, embedder: Any,
    pending: dict[str, tuple[int, dict[str, Any] | None]], schema: RowSchema | None = None,
) -> Iterator[dict[str, Any]]:
    schema = schema or row_schema()
    docs = [doc for _, _, doc in batch]
    if embedder is not None and schema.vector is not None:
        from ltrr_opensearch.catalog.embed import embed_rows

        rows = [schema.text_row(doc) for doc in docs]  # the described fields, as embedded
        embedded = embed_rows(rows, embedder, batch_size=len(rows), quiet=True)
        for doc, (_, vector) in zip(docs, embedded, strict=True):
            doc[schema.vector] = _vector(vector)
    for line, raw, doc in batch:
        doc_id = doc[schema.id_field]
        pending[doc_id] = (line, raw)
        # A partial update: fields absent from doc (q2e) keep their stored values, and an
        # unchanged doc is a no-op. A concurrent q2e write by the memory updater is a
        # version conflict, retried rather than reported as a bad row.
        yield {"_op_type": "update", "_index": target, "_id": doc_id, "doc": doc,
               "doc_as_upsert": True, "retry_on_conflict": 3}


def _vector(vector: Any) -> list[float]:
    values = np.round(np.asarray(vector, dtype=np.float64), VECTOR_DECIMALS)
    if not np.isfinite(values).all():
        raise LtrrError("the embedder produced NaN or infinite values")
    return values.tolist()


def _count(
    report: LoadReport, rejects: _Rejects, pending: dict[str, tuple[int, dict[str, Any] | None]],
    ok: bool, item: dict[str, Any], on_error: str,
) -> None:
    result = item.get("update") or next(iter(item.values()))
    line, raw = pending.pop(str(result.get("_id")), (0, None))
    if ok:
        outcome = result.get("result")
        if outcome == "created":
            report.created += 1
        elif outcome == "noop":
            report.unchanged += 1
        else:
            report.updated += 1
        return
    error = RowError(line, f"rejected by OpenSearch: {_item_reason(result)}", result.get("_id"))
    _reject(report, rejects, error, raw)
    if on_error == "abort":
        raise CatalogValidationError(
            f"{error}; {report.indexed} row(s) were written before it",
            hint=f"fix the row and load again (re-loading is safe: rows upsert by id), "
                 f"or use --on-error skip; details in {rejects.path}",
            errors=report.errors,
        )


def _item_reason(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        cause = error.get("caused_by") or {}
        reason = error.get("reason") or error.get("type") or "unknown error"
        return f"{reason} ({cause['reason']})" if cause.get("reason") else str(reason)
    return str(error or f"HTTP {result.get('status')}")


def _reject(report: LoadReport, rejects: _Rejects, error: RowError,
            raw: dict[str, Any] | None) -> None:
    report.errors.append(error)
    report.skipped += 1
    rejects.write(error, raw)


class _Rejects:
    """The rejects file, opened (and truncated) only when the first bad row arrives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle: IO[str] | None = None

    def write(self, error: RowError, raw: dict[str, Any] | None) -> None:
        if self._handle is None:
            self._handle = self.path.open("w" if self.count == 0 else "a", encoding="utf-8")
        record = {"line": error.line, "reason": error.reason, "id": error.id, "row": raw}
        self._handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
