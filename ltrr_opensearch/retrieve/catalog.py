"""The ``catalog`` variable of strategy templates: the catalog description in force, bound to
the live mapping of the index searches read, plus the catalog's own date distribution.

Templates read field names from it (``catalog.search_fields``, ``catalog.facets[kind]``,
``catalog.date_field``...; documented in docs/catalog-description.md), never music names, so
one set of templates serves any described catalog. A pipeline obtains it once
(:meth:`ltrr_opensearch.pipeline.Pipeline.from_cluster`); binding is cached per process.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opensearchpy import exceptions as os_exc

from ltrr_opensearch.catalog.description import (
    BoundCatalog,
    CatalogDescription,
    bind,
    bound_catalog,
    description_for,
    load_description,
)
from ltrr_opensearch.config import PACKAGE_ROOT
from ltrr_opensearch.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from ltrr_opensearch.config import Settings

MANAGED_MAPPING = "catalog.v1.json"
_DAY_MS = 86_400_000


def managed_properties(mappings_dir: Path | None = None) -> dict[str, Any]:
    """The ``properties`` of the mapping ltrr gives the catalogs it manages."""
    path = (mappings_dir or PACKAGE_ROOT / "mappings") / MANAGED_MAPPING
    return dict(json.loads(path.read_text(encoding="utf-8"))["mappings"]["properties"])


def template_context(bound: BoundCatalog) -> dict[str, Any]:
    """The bound description's template context plus ``keyword_fields``: the exact-match
    field of every searched field that has one (``{"album": "album.keyword"}``), for slots
    that name a field (an album slot), ``source_fields`` (what each hit returns),
    ``creator_field`` (the first creator field), ``display_fields`` and
    ``dates`` (None until read from the cluster)."""
    context = bound.template_context()
    keywords = {f.name: bound.keyword_of(f.name) for f in bound.description.searched_fields}
    context["keyword_fields"] = {name: kw for name, kw in keywords.items() if kw}
    context["source_fields"] = bound.description.source_fields()
    creators = bound.description.creator
    context["creator_field"] = creators[0].name if creators else None
    context["display_fields"] = list(bound.description.display)
    context["dates"] = None
    context["dated"] = None
    return context


_offline_lock = threading.Lock()
_offline_cache: dict[tuple[str, Path | None], dict[str, Any]] = {}


def _offline(description: CatalogDescription, mappings_dir: Path | None) -> dict[str, Any]:
    key = (repr(description), mappings_dir)  # a description's facets dict is unhashable
    with _offline_lock:
        if key not in _offline_cache:
            _offline_cache[key] = template_context(bind(description, _managed(description,
                                                                               mappings_dir)))
        return _offline_cache[key]


def _managed(description: CatalogDescription, mappings_dir: Path | None) -> dict[str, Any]:
    """The mapping a managed catalog of this description gets: generated from the
    description by the catalog package when it can, else the managed mapping file."""
    try:
        from ltrr_opensearch.catalog.index import managed_properties as generated
    except ImportError:
        return managed_properties(mappings_dir)
    return dict(generated(description, 384))  # the width does not change any role


def offline_catalog(settings: Settings | None = None) -> dict[str, Any]:
    """The ``catalog`` variable without a cluster: the description in force (the built-in
    ``music`` one without settings) bound to the managed mapping file. A description of the
    user's own index cannot be bound offline: its mapping lives in the cluster."""
    description = description_for(settings) if settings is not None else load_description("music")
    if not description.managed:
        raise ValidationError(
            f"the catalog description {description.source} describes the index "
            f"{description.index!r}: its mapping is read from the cluster",
            hint="render against the cluster (drop --offline)")
    return dict(_offline(description, settings.mappings_dir if settings is not None else None))


def catalog_context(client: OpenSearch, settings: Settings) -> dict[str, Any]:
    """The ``catalog`` variable: the description in force bound to the live mapping, with
    the date distribution (``dates``: latest, median, pivot; None without a date field).

    A managed catalog not loaded yet renders against the managed mapping file, so searches
    fail in the engine (index not found) like before any catalog existed; a user's index
    that is missing or does not fit the description is a ValidationError naming why."""
    from ltrr_opensearch.engine.client import unreachable

    description = description_for(settings)
    try:
        bound = bound_catalog(client, settings, description)
    except os_exc.ConnectionError:
        raise unreachable(settings, "reading the catalog mapping") from None
    except ValidationError:
        if not description.managed or _exists(client, description.target(settings)):
            raise
        return offline_catalog(settings)
    context = template_context(bound)
    target = description.target(settings)
    context["dates"] = (date_stats(client, settings, target, context["date_field"])
                        if context["date_field"] else None)
    # Whether any document has a date (None: not known, offline): without one, recency
    # strategies cannot return anything.
    context["dated"] = context["dates"] is not None if context["date_field"] else False
    return context


def _exists(client: OpenSearch, target: str) -> bool:
    return bool(client.indices.exists(index=target))


_stats_lock = threading.Lock()
_stats: dict[tuple[Any, ...], dict[str, Any] | None] = {}


def date_stats(client: OpenSearch, settings: Settings, target: str, field: str,
               today: date | None = None) -> dict[str, Any] | None:
    """The catalog's own date distribution, read once per process and target (one
    aggregation): ``latest`` (the newest date, or today if the catalog has future dates),
    ``median``, and ``pivot`` = the days between them as a time value ("3650d"): an item as
    old as the median item gets half the recency score. None when no document has a date."""
    key = (settings.urls, target, field)
    with _stats_lock:
        if key in _stats:
            return _stats[key]
    body = {"size": 0, "track_total_hits": False, "aggs": {
        "latest": {"max": {"field": field}},
        "median": {"percentiles": {"field": field, "percents": [50]}}}}
    try:
        aggs = client.search(index=target, body=body)["aggregations"]
    except os_exc.NotFoundError:
        return None  # not cached: the catalog may be loaded later
    latest_ms = aggs["latest"].get("value")
    median_ms = (aggs["median"].get("values") or {}).get("50.0")
    stats = None
    if latest_ms is not None and median_ms is not None:
        today_ms = _epoch_ms(today or datetime.now(timezone.utc).date())
        latest_ms = min(float(latest_ms), today_ms)
        days = max(1, round((latest_ms - min(float(median_ms), latest_ms)) / _DAY_MS))
        stats = {"latest": _iso(latest_ms), "median": _iso(min(float(median_ms), latest_ms)),
                 "pivot": f"{days}d"}
    with _stats_lock:
        _stats[key] = stats
    return stats


def forget() -> None:
    """Drop the cached date distributions (after a catalog rebuild)."""
    with _stats_lock:
        _stats.clear()


def _epoch_ms(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date().isoformat()


def display(source: Mapping[str, Any], catalog: Mapping[str, Any] | None) -> dict[str, Any]:
    """A hit's source by role, for callers and printing: ``title``, ``entity_type``,
    ``creator`` (the first creator field) and ``fields`` (the description's display fields
    the hit has)."""
    catalog = catalog if catalog is not None else offline_catalog()

    def get(name: str | None) -> Any:
        return source.get(name) if name else None

    shown = catalog.get("display_fields") or catalog.get("source_fields") or []
    return {"title": get(catalog["title_field"]), "entity_type": get(catalog["type_field"]),
            "creator": get(catalog.get("creator_field")),
            "fields": {name: source[name] for name in shown if name in source}}


# --- checking the description against the live mapping (`ltrr doctor`, `templates validate`)


@dataclass(frozen=True)
class CatalogCheck:
    """One finding about the description in force: ``status`` ok | warn | error."""

    status: str
    detail: str
    fix: str | None = None


_QUOTED_FIELD = re.compile(r"field '([^']+)'")


def check_catalog(client: OpenSearch, settings: Settings) -> list[CatalogCheck]:
    """The description in force against the live mapping of the index it names: one
    ``error`` per problem, each with its fix; ``ok`` (with what binding chose) when it fits;
    ``warn`` when the managed catalog is not loaded yet."""
    from ltrr_opensearch.catalog.description import check, live_properties

    try:
        description = description_for(settings)
    except ConfigError as exc:
        return [CatalogCheck("error", exc.message, exc.hint)]
    target = description.target(settings)
    try:
        properties = live_properties(client, target)
    except ValidationError as exc:
        if description.managed:
            return [CatalogCheck("warn", f"no catalog loaded at {target!r} yet (description "
                                 f"{description.name})", "load one: `ltrr catalog load FILE`")]
        return [CatalogCheck("error", exc.message, exc.hint)]
    bound, problems = check(description, properties)
    if bound is None:
        return [CatalogCheck("error", f"description {description.source}: {problem}",
                             _fix(problem, description, properties)) for problem in problems]
    roles = ", ".join(f"{role}={name}" for role, name in description.roles())
    notes = f"; {'; '.join(bound.notes)}" if bound.notes else ""
    return [CatalogCheck("ok", f"description {description.name} ({description.source}) fits "
                               f"{target!r}: {roles}{notes}"),
            *_synonym_checks(client, description, target)]


def _synonym_checks(client: OpenSearch, description: CatalogDescription,
                    target: str) -> list[CatalogCheck]:
    """The ``[synonyms]`` against the live values: one check per problem, with its fix."""
    from ltrr_opensearch.catalog.synonyms import check_synonyms

    if not description.synonyms:
        return []
    problems = check_synonyms(client, description, target)
    if not problems:
        count = sum(len(table) for table in description.synonyms.values())
        return [CatalogCheck("ok", f"{count} synonym(s) name values {target!r} has")]
    return [CatalogCheck(p.status, p.detail, p.fix) for p in problems]


def _fix(problem: str, description: CatalogDescription, properties: Mapping[str, Any]) -> str:
    """What to change for one problem of :func:`check`: the field to name instead, when the
    mapping has a close one (a misspelling, or a text field's keyword sub-field)."""
    from ltrr_opensearch.catalog.description import mapping_fields

    if "memory field" in problem:
        return ("add it with `ltrr catalog adopt` (an additive mapping update), or set "
                f"{description.table('memory')} store = \"outside\" in the description")
    mapped = mapping_fields(properties)
    found = _QUOTED_FIELD.search(problem)
    where = f"edit {description.source}"
    if found is None:
        return f"{where} (keys: docs/catalog-description.md)"
    name = found.group(1)
    if name in mapped:  # the wrong type: a sub-field of the right kind may exist
        subs = [f"{name}.{sub}" for sub, kind in sorted(mapped[name].subfields.items())
                if kind == "keyword"]
        if subs and "keyword" in problem:
            return f"{where}: name {subs[0]!r} instead of {name!r}"
        return f"{where}: name a field of the type the role needs instead of {name!r}"
    close = difflib.get_close_matches(name, list(mapped), n=1, cutoff=0.6)
    if close:
        return f"{where}: did you mean {close[0]!r}?"
    return (f"{where}: name a field the index has (it has "
            f"{', '.join(sorted(n for n in mapped if '.' not in n)[:12])})")
