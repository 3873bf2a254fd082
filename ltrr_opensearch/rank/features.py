"""Feature sets as templates: one folder per set, one JSON file per feature.

``<templates_dir>/features/<set>/NN_<feature>.json`` holds ``{"name", "description",
"params", "template_language": "mustache", "template"}`` where ``template`` is the query as
an object (``"{{keywords}}"`` inside strings) or as a string (for list params spliced with
``{{#toJson}}name{{/toJson}}``). The LTR plugin renders the template with the ``sltr``
params at search time, JSON-escaping every value, so user text never reaches the DSL raw.

Every feature must match every document (a ``bool`` whose ``filter`` is ``match_all``) so a
candidate that a clause misses gets 0, not "missing": training and serving then see the same
numbers with either LTR plugin (the official one sends missing values to tree models as NaN).

Besides the files, every set bound to a catalog gets the features its description implies
(:func:`catalog_features`): how many of the query's slots (facet values, creator, type,
period) an item matches and whether it matches all of them, how many the query has, and one
``facet_<kind>`` per facet kind of the catalog. The first three have the same names on every
catalog, so the shipped default model reads them anywhere; trained models may use the
per-kind ones. Without a ``rank_feature`` twin, ``popularity`` reads the popularity field
itself (a saturating script over ``log1p``), so nothing needs to be written to the index.

Templates name catalog fields by **role**, never by name: a string ``"@catalog.<ref>"`` is
replaced, when the set is loaded for a catalog, by what the bound catalog description gives
(see :func:`bind_template` and docs/ranking.md). A feature whose role the catalog lacks
becomes the constant 0 feature of the same name, so a model's feature list holds on any
catalog.

The set's store name carries a digest of its content as bound (``ltrr_core_3f9a1c2e``): a
changed set, or the same set bound to another catalog, is a new set, and models created from
an older one keep their own frozen copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError, ValidationError
from ltrr_opensearch.types import Understanding

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from ltrr_opensearch.catalog.description import BoundCatalog

DEFAULT_SET = "ltrr_core"
# The params the search path can pass; a feature may declare any of them.
SLTR_PARAMS = frozenset({"query", "keywords", "now", "q2e_key", "intent", "genres", "moods",
                         "decades", "languages", "creators", "query_vector", "facet_count",
                         "query_terms", "types", "period_gte", "period_lte", "slot_count",
                         "slots_required", "unknown_words", "unknown_count",
                         "memory_clauses"})
FACET_PARAM_PREFIX = "facet_"  # + a facet kind: the values the query names for that kind
NO_PERIOD = ("9999-01-01", "0001-01-01")  # a range no date falls in
FACET_PARAMS = ("genres", "moods", "decades", "languages")
NO_MEMORY_KEY = "_none_"  # a q2e key no entity has: the memory feature is then 0
_FIELDS = {"name", "description", "params", "template_language", "template"}
_PLACEHOLDER = re.compile(r"\{\{\{?\s*[#^/]?\s*([A-Za-z_][\w.]*)\s*\}?\}\}")
_SLOT_PARAMS = {"genre": "genres", "mood": "moods", "decade": "decades", "language": "languages",
                "artist": "creators"}


@dataclass(frozen=True)
class FeatureTemplate:
    name: str
    description: str
    params: tuple[str, ...]
    template: str | dict[str, Any]
    path: Path | None = field(default=None, compare=False)  # the file it was read from

    def to_store(self) -> dict[str, Any]:
        """The feature as the LTR API takes it."""
        return {"name": self.name, "params": list(self.params), "template_language": "mustache",
                "template": self.template}


@dataclass(frozen=True)
class FeatureSet:
    base_name: str
    features: tuple[FeatureTemplate, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def params(self) -> set[str]:
        return {p for f in self.features for p in f.params}

    @property
    def version(self) -> str:
        canonical = json.dumps([f.to_store() for f in self.features], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]

    @property
    def store_name(self) -> str:
        return f"{self.base_name}_{self.version}"

    def to_store(self) -> dict[str, Any]:
        return {"name": self.store_name, "features": [f.to_store() for f in self.features]}


def features_dir(settings: Settings) -> Path:
    return Path(settings.templates_dir) / "features"


def available_sets(settings: Settings) -> list[str]:
    root = features_dir(settings)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def load_feature_set(settings: Settings, name: str = DEFAULT_SET,
                     catalog: BoundCatalog | None = None,
                     popularity_pivot: float | None = None) -> FeatureSet:
    """Read and check one feature set folder, bound to ``catalog`` (default: the description
    in force, bound offline to the mapping ltrr creates for the catalogs it manages; a user's
    own index needs the live mapping: :func:`feature_set_for`), plus the features the
    description implies. ``popularity_pivot`` (the catalog's typical ``log1p(popularity)``)
    makes a catalog without a popularity twin read the field. Every problem names its file."""
    folder = features_dir(settings) / name
    if not folder.is_dir():
        raise ConfigError(f"feature set {name!r} not found in {features_dir(settings)}",
                          hint=f"available: {', '.join(available_sets(settings)) or 'none'}")
    features: list[FeatureTemplate] = []
    for path in sorted(folder.glob("*.json")):
        feature = _read_feature(path)
        if feature.name in {f.name for f in features}:
            raise ConfigError(f"{path}: feature name {feature.name!r} is used twice in set {name}")
        features.append(feature)
    if not features:
        raise ConfigError(f"feature set {name!r} ({folder}) has no *.json feature files")
    bound = catalog if catalog is not None else offline_catalog(settings)
    features = [bind_feature(f, bound) for f in features]
    if popularity_pivot is not None:
        features = [_popularity_from_field(f, bound, popularity_pivot)
                    if f.name == "popularity" else f for f in features]
    features = [_memory_outside(f, bound) if f.name == "memory" else f for f in features]
    generated = [f for f in catalog_features(bound) if f.name not in {g.name for g in features}]
    return FeatureSet(name, tuple(features + generated))


def feature_set_for(client: OpenSearch, settings: Settings,
                    name: str = DEFAULT_SET) -> FeatureSet:
    """The set bound to the live mapping of the catalog in force; a catalog ltrr manages that
    is not loaded yet binds to the mapping ltrr will create for it."""
    from ltrr_opensearch.catalog.description import bound_catalog, description_for

    description = description_for(settings)
    try:
        bound = bound_catalog(client, settings, description)
    except ValidationError:
        if not description.managed or _index_exists(client, description.target(settings)):
            raise
        bound = offline_catalog(settings)
    pivot = None
    if bound.popularity_feature is None and description.popularity:
        pivot = popularity_pivot(client, description.target(settings), description.popularity)
    return load_feature_set(settings, name, bound, popularity_pivot=pivot)


def popularity_pivot(client: OpenSearch, index: str, field_name: str) -> float:
    """The catalog's typical ``log1p(popularity)``: the pivot of the saturating popularity
    feature, as a ``rank_feature`` twin's is (its values' geometric mean). The median, to
    two significant digits so that the set's name does not move with every load; 1.0 when
    the index holds no popularity yet."""
    import math

    answer = client.search(index=index, body={
        "size": 0, "track_total_hits": False,
        "aggs": {"p": {"percentiles": {"field": field_name, "percents": [50]}}}})
    median = next(iter((answer.get("aggregations", {}).get("p", {}).get("values") or {})
                       .values()), None)
    if median is None or not math.isfinite(median):
        return 1.0
    pivot = math.log1p(max(float(median), 0.0)) + 0.001
    return float(f"{pivot:.2g}")


def feature_set_in_force(settings: Settings, name: str,
                         connect: Callable[[], OpenSearch]) -> FeatureSet:
    """For commands that may run offline: a catalog ltrr manages binds to the mapping ltrr
    generates for it; the user's own index to its live mapping (only then is ``connect``
    called)."""
    from ltrr_opensearch.catalog.description import description_for

    if description_for(settings).managed:
        return load_feature_set(settings, name)
    return feature_set_for(connect(), settings, name)


def _index_exists(client: OpenSearch, target: str) -> bool:
    return bool(client.indices.exists(index=target))


def offline_catalog(settings: Settings) -> BoundCatalog:
    """The description in force bound to the mapping ltrr generates for it when it manages
    the catalog (``catalog/index.py: managed_properties``), without a cluster."""
    from ltrr_opensearch.catalog.description import bind, description_for
    from ltrr_opensearch.catalog.index import managed_properties

    description = description_for(settings)
    if not description.managed:
        raise ConfigError(f"the feature set binds to the fields of {description.index!r}, the "
                          "user's own index: its live mapping is needed",
                          hint="connect to the cluster (feature_set_for) or pass the bound "
                               "catalog")
    # The vector's width does not change what the features bind to.
    return bind(description, managed_properties(description, dimension=384))


# --- binding templates to a catalog --------------------------------------------------------
#
# "@catalog.<ref>[^boost][.{{mustache}}]" as a whole JSON string, where <ref> is a key of
# BoundCatalog.template_context() (``search_fields``, ``title_keyword``, ``facets.genre``...)
# or a role position: ``title[0]``, ``creator[1:]``, ``text[-1]``, optionally followed by
# ``.words`` (the unstemmed sub-field, else the field itself), ``.keyword`` (its exact form)
# or ``.prefix`` (its as-you-type sub-field). Mustache never starts a string with "@".

_REF = re.compile(r"@catalog\.(?P<ref>[a-z_]+(?:\[-?\d*(?::-?\d*)?\])?(?:\.[a-z_]+)?)"
                  r"(?:\^(?P<boost>\d+(?:\.\d+)?))?(?P<rest>\.\{\{.*)?")
_ROLE_REF = re.compile(r"(?P<role>title|creator|text)\[(?P<start>-?\d*)(?P<colon>:)?"
                       r"(?P<stop>-?\d*)\](?:\.(?P<sub>words|keyword|prefix))?")
_MUSTACHE = re.compile(r"\{\{#\s*(\w+)\s*\}\}.*?\{\{/\s*\1\s*\}\}|\{\{\{[^{}]*\}\}\}|\{\{[^{}]*\}\}",
                       re.DOTALL)
_SENTINEL = "@@mustache{}@@"
_MISSING = object()  # a role the catalog lacks
ZERO_TEMPLATE: dict[str, Any] = {"bool": {"filter": [{"match_all": {}}]}}


def _uses_catalog(template: str | dict[str, Any]) -> bool:
    return "@catalog." in (template if isinstance(template, str) else json.dumps(template))


def bind_feature(feature: FeatureTemplate, catalog: BoundCatalog) -> FeatureTemplate:
    """The feature with its ``@catalog`` references replaced; the constant 0 feature (no
    params) when a role it cannot do without is missing from ``catalog``."""
    if not _uses_catalog(feature.template):
        return feature
    where = str(feature.path or feature.name)
    template = bind_template(feature.template, catalog, where)
    if template is None:
        lacking = f"constant 0: catalog {catalog.description.name!r} lacks its field"
        text = f"{feature.description} ({lacking})" if feature.description else lacking
        return FeatureTemplate(feature.name, text, (), json.loads(json.dumps(ZERO_TEMPLATE)),
                               feature.path)
    return FeatureTemplate(feature.name, feature.description, feature.params, template,
                           feature.path)


def bind_template(template: str | dict[str, Any], catalog: BoundCatalog,
                  where: str = "template") -> str | dict[str, Any] | None:
    """Replace every ``@catalog`` reference of a template (an object, or a string holding JSON
    with mustache tags such as ``{{#toJson}}x{{/toJson}}`` outside its strings).

    A reference the catalog cannot fill is *missing*: dropped from a list of fields, and a
    clause of a ``should`` list that needs it is dropped; a ``should`` list left empty makes
    its own clause missing. None when the whole template is missing (the caller makes it the
    constant 0 feature)."""
    context = catalog.template_context()
    if isinstance(template, str):
        saved: list[str] = []
        try:
            doc = json.loads(_protect(template, saved))
        except ValueError as exc:
            raise ConfigError(f"{where}: the template is not JSON once its mustache tags are "
                              f"set aside ({exc})") from None
        bound = _walk(doc, catalog, context, where, in_should=False)
        if bound is _MISSING:
            return None
        text = json.dumps(bound)
        for i, tag in enumerate(saved):
            text = text.replace(json.dumps(_SENTINEL.format(i)), tag)
        return text
    bound = _walk(template, catalog, context, where, in_should=False)
    return None if bound is _MISSING else bound


def _protect(text: str, saved: list[str]) -> str:
    """``text`` with each mustache tag outside a JSON string replaced by a sentinel string."""
    out: list[str] = []
    i, in_string = 0, False
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                out.append(text[i:i + 2])
                i += 2
                continue
            in_string = c != '"'
        elif c == '"':
            in_string = True
        elif text.startswith("{{", i) and (m := _MUSTACHE.match(text, i)):
            out.append(json.dumps(_SENTINEL.format(len(saved))))
            saved.append(m.group(0))
            i = m.end()
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _walk(node: Any, catalog: BoundCatalog, context: Mapping[str, Any], where: str, *,
          in_should: bool) -> Any:
    if isinstance(node, str):
        if "@catalog." not in node:
            return node
        value = _resolve(node, catalog, context, where)
        return _MISSING if value is None or value == [] else value
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if "@catalog." in key:
                bound_key = _resolve(key, catalog, context, where)
                if isinstance(bound_key, list):
                    if len(bound_key) > 1:
                        raise ConfigError(f"{where}: {key!r} names {len(bound_key)} fields "
                                          "where a key takes one")
                    bound_key = bound_key[0] if bound_key else None
                if bound_key is None:
                    return _MISSING
                key = bound_key
            bound_value = _walk(value, catalog, context, where, in_should=key == "should")
            if bound_value is _MISSING:
                return _MISSING
            out[key] = bound_value
        return out
    if isinstance(node, list):
        items: list[Any] = []
        spliced = False
        for item in node:
            bound_item = _walk(item, catalog, context, where, in_should=False)
            reference = isinstance(item, str) and "@catalog." in item
            if bound_item is _MISSING:
                if reference or in_should:
                    continue
                return _MISSING
            if reference and isinstance(bound_item, list):
                items.extend(bound_item)
                spliced = True
            else:
                items.append(bound_item)
                spliced = spliced or reference
        if spliced:  # a list of fields: each field once, the first mention's boost kept
            seen: set[str] = set()
            unique = []
            for item in items:
                field_name = item.split("^")[0] if isinstance(item, str) else None
                if field_name is None or field_name not in seen:
                    unique.append(item)
                    if field_name is not None:
                        seen.add(field_name)
            items = unique
        if node and not items:
            return _MISSING
        return items
    return node


def _resolve(text: str, catalog: BoundCatalog, context: Mapping[str, Any],
             where: str) -> str | list[str] | None:
    match = _REF.fullmatch(text)
    if match is None:
        raise ConfigError(f"{where}: {text!r} is not a catalog reference: write "
                          "\"@catalog.<ref>\" as a whole string (optionally ^boost, or a "
                          "trailing .{{param}})", hint="see docs/ranking.md")
    ref, boost, rest = match.group("ref"), match.group("boost"), match.group("rest") or ""
    value = _lookup(ref, catalog, context, where)
    if value is None or value == []:
        return None
    if boost is not None:
        factor = float(boost)
        suffix = "" if factor == 1.0 else f"^{factor:g}"
        value = ([v.split("^")[0] + suffix for v in value] if isinstance(value, list)
                 else value.split("^")[0] + suffix)
    if rest:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {text!r}: only a single field takes a suffix")
        value += rest
    return value


def _lookup(ref: str, catalog: BoundCatalog, context: Mapping[str, Any],
            where: str) -> str | list[str] | None:
    role = _ROLE_REF.fullmatch(ref)
    if role is not None:
        names = [f.name for f in getattr(catalog.description, role.group("role"))]
        start = int(role.group("start")) if role.group("start") else None
        if role.group("colon"):
            stop = int(role.group("stop")) if role.group("stop") else None
            return [n for n in (_subfield(catalog, x, role.group("sub"))
                                for x in names[start:stop]) if n]
        if start is None or role.group("stop"):
            raise ConfigError(f"{where}: @catalog.{ref}: write an index ([0], [-1]) or a "
                              "slice ([1:])")
        if not -len(names) <= start < len(names):
            return None
        return _subfield(catalog, names[start], role.group("sub"))
    head, _, tail = ref.partition(".")
    if head == "facets" and tail:
        value = context["facets"].get(tail)
    elif head in context and not tail and head != "facets":
        value = context[head]
    else:
        known = sorted(k for k in context if k != "facets")
        raise ConfigError(f"{where}: unknown catalog reference @catalog.{ref}",
                          hint=f"use one of {', '.join(known)}, facets.<kind>, or a role "
                               "position such as title[0].words (docs/ranking.md)")
    if value is not None and not isinstance(value, (str, list)):
        raise ConfigError(f"{where}: @catalog.{ref} is not a field or a list of fields")
    return value


def _subfield(catalog: BoundCatalog, name: str, sub: str | None) -> str | None:
    """``name`` itself, or its words (falling back to the field), keyword or prefix form."""
    if sub is None:
        return name
    if sub == "keyword":
        return catalog.keyword_of(name)
    mapped = catalog.fields.get(name)
    kinds = {"words": ("text",), "prefix": ("text", "search_as_you_type")}[sub]
    if mapped is not None and mapped.subfields.get(sub) in kinds:
        return f"{name}.{sub}"
    return name if sub == "words" else None


# --- features the description implies ------------------------------------------------------

_POPULARITY_SCRIPT = ("double v = doc[params.field].size() == 0 ? 0.0 : doc[params.field].value;"
                      " double t = Math.log1p(Math.max(v, 0.0)) + 0.001;"
                      " return t / (t + params.pivot);")


def _popularity_from_field(feature: FeatureTemplate, catalog: BoundCatalog,
                           pivot: float) -> FeatureTemplate:
    """``popularity`` from the field itself when the catalog has no ``rank_feature`` twin:
    the same saturation ``t / (t + pivot)`` of ``t = log1p(popularity)``, by a script."""
    field_name = catalog.description.popularity
    if catalog.popularity_feature is not None or not field_name:
        return feature
    template = {"bool": {"filter": [{"match_all": {}}], "should": [{"script_score": {
        "query": {"exists": {"field": field_name}},
        "script": {"source": _POPULARITY_SCRIPT, "lang": "painless",
                   "params": {"field": field_name, "pivot": float(pivot)}}}}]}}
    return FeatureTemplate(feature.name, f"saturating popularity in (0, 1) from {field_name} "
                           f"(pivot {pivot:g})", (), template, feature.path)


# The memory kept outside the catalog: its weights for this query's key come as a param,
# one clause per remembered candidate (rank.rerank.memory_clauses), so the feature reads
# what the rank_features field would hold.
MEMORY_CLAUSES_PARAM = "memory_clauses"
_MEMORY_OUTSIDE_TEMPLATE = ('{"bool": {"filter": [{"match_all": {}}], "should": '
                            '{{#toJson}}' + MEMORY_CLAUSES_PARAM + '{{/toJson}}}}')


def _memory_outside(feature: FeatureTemplate, catalog: BoundCatalog) -> FeatureTemplate:
    """``memory`` from the weights of the memory index when the catalog keeps none."""
    from ltrr_opensearch.catalog.description import MEMORY_OUTSIDE

    if catalog.memory_field is not None or catalog.description.memory_store != MEMORY_OUTSIDE:
        return feature
    return FeatureTemplate(feature.name, "the learned query-to-entity memory weight for this "
                           "query, read from the memory index (kept outside the catalog)",
                           (MEMORY_CLAUSES_PARAM,), _MEMORY_OUTSIDE_TEMPLATE, feature.path)


def _slot_clauses(context: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """The catalog's slot clauses as JSON texts (mustache ``toJson`` tags inside) and the
    params they read: one per facet kind, the creator, the entity type and the period."""
    clauses: list[str] = []
    params: set[str] = set()
    for kind, field_name in sorted(context["facets"].items()):
        param = FACET_PARAM_PREFIX + kind
        clauses.append(f'{{"terms": {{{json.dumps(field_name)}: '
                       f'{{{{#toJson}}}}{param}{{{{/toJson}}}}}}}}')
        params.add(param)
    creator_fields = [f for f in (context.get("creator_keyword"), context.get("title_keyword"))
                      if f] if context.get("creator_keyword") else []
    if creator_fields:
        either = ", ".join(f'{{"terms": {{{json.dumps(f)}: {{{{#toJson}}}}creators'
                           f'{{{{/toJson}}}}}}}}' for f in creator_fields)
        clauses.append(f'{{"bool": {{"should": [{either}]}}}}')
        params.add("creators")
    if context.get("type_field"):
        clauses.append(f'{{"terms": {{{json.dumps(context["type_field"])}: '
                       '{{#toJson}}types{{/toJson}}}}')
        params.add("types")
    if context.get("date_field"):
        clauses.append(f'{{"range": {{{json.dumps(context["date_field"])}: '
                       '{"gte": "{{period_gte}}", "lte": "{{period_lte}}"}}}')
        params.update({"period_gte", "period_lte"})
    return clauses, params


def _constant(filter_text: str) -> str:
    return f'{{"constant_score": {{"filter": {filter_text}}}}}'


def catalog_features(catalog: BoundCatalog) -> list[FeatureTemplate]:
    """The features a bound description implies (see the module docstring)."""
    context = catalog.template_context()
    clauses, params = _slot_clauses(context)
    every = '{"filter": [{"match_all": {}}], "should": [' + ", ".join(
        _constant(c) for c in clauses) + "]}"
    features = [
        FeatureTemplate("slot_matches", "how many of the query's slots (facet values, creator, "
                        "entity type, period) the item matches", tuple(sorted(params)),
                        '{"bool": ' + every + "}"),
        FeatureTemplate("all_slots_match", "1 when the query names slots and the item matches "
                        "every one", tuple(sorted(params | {"slots_required"})),
                        '{"bool": {"filter": [{"match_all": {}}], "should": [' + _constant(
                            '{"bool": {"minimum_should_match": "{{slots_required}}", '
                            '"should": [' + ", ".join(clauses) + "]}}") + "]}}"),
        FeatureTemplate("slot_count", "how many slots the query names (a property of the "
                        "query: lets trees weigh slot matches)", ("slot_count",),
                        '{"function_score": {"query": {"match_all": {}}, "boost_mode": '
                        '"replace", "functions": [{"weight": {{slot_count}}}]}}'),
    ]
    for kind, field_name in sorted(context["facets"].items()):
        param = FACET_PARAM_PREFIX + kind
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,57}", kind):
            continue  # a kind that cannot name a feature; slot_matches still counts it
        clause = (f'{{"terms": {{{json.dumps(field_name)}: '
                  f'{{{{#toJson}}}}{param}{{{{/toJson}}}}}}}}')
        features.append(FeatureTemplate(
            f"facet_{kind}", f"1 when the item has a {kind} value the query names", (param,),
            '{"bool": {"filter": [{"match_all": {}}], "should": [' + _constant(clause) + "]}}"))
    return features


def _read_feature(path: Path) -> FeatureTemplate:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: must hold a JSON object")
    unknown = set(doc) - _FIELDS
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    name, params, template = doc.get("name"), doc.get("params", []), doc.get("template")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ConfigError(f"{path}: name must be lowercase letters, digits and _, got {name!r}")
    if doc.get("template_language", "mustache") != "mustache":
        raise ConfigError(f"{path}: template_language must be mustache")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise ConfigError(f"{path}: params must be a list of names")
    undeclared = set(params) - SLTR_PARAMS
    if undeclared:
        raise ConfigError(f"{path}: params {sorted(undeclared)} are not passed by the search path",
                          hint=f"choose from {', '.join(sorted(SLTR_PARAMS))}")
    if isinstance(template, dict):
        text = json.dumps(template)
    elif isinstance(template, str):
        text = template
    else:
        raise ConfigError(f"{path}: template must be a query object or a string")
    used = set(_PLACEHOLDER.findall(text)) - {"toJson"}
    if used - set(params):
        raise ConfigError(f"{path}: the template uses {sorted(used - set(params))} "
                          "without declaring them in params")
    return FeatureTemplate(name, str(doc.get("description", "")), tuple(params), template, path)


def sltr_params(understanding: Understanding, *, q2e_key: str | None,
                vector: Sequence[float] | None, now: datetime | date | None = None,
                needed: set[str] | None = None,
                catalog: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The params every feature of a set may use, from what query understanding found.
    ``catalog`` (the templates' ``catalog`` variable) says which slot kinds are facets and
    whether a period slot reads the date field; a ``facet_<kind>`` param asked for but not
    found is an empty list."""
    slots: dict[str, list[str]] = {param: [] for param in _SLOT_PARAMS.values()}
    facets: dict[str, list[str]] = {}
    facet_kinds = set((catalog or {}).get("facets") or ())
    types: list[str] = []
    periods: list[str] = []
    for slot in understanding.slots:
        param = _SLOT_PARAMS.get(slot.kind)
        if param and slot.value not in slots[param]:
            slots[param].append(slot.value)
        if slot.kind in facet_kinds:
            values = facets.setdefault(FACET_PARAM_PREFIX + slot.kind, [])
            if slot.value not in values:
                values.append(slot.value)
        elif slot.kind == "entity_type" and slot.value not in types:
            types.append(slot.value)
        elif slot.kind in ("decade", "year") and slot.value[:4].isdigit():
            periods.append(slot.value)
    period = _period(periods[0]) if periods and (catalog or {}).get("date_field") else None
    slot_count = (len(facets) + bool(slots["creators"] and (catalog or {}).get("creator_keyword"))
                  + bool(types and (catalog or {}).get("type_field")) + (period is not None))
    when = now or datetime.now(timezone.utc)
    params: dict[str, Any] = {
        "query": understanding.raw,
        "keywords": understanding.match_text or understanding.raw,
        "unknown_words": " ".join(understanding.unknown),
        "unknown_count": len(understanding.unknown),
        "now": (when.date() if isinstance(when, datetime) else when).isoformat(),
        "q2e_key": q2e_key or NO_MEMORY_KEY,
        "intent": understanding.intent or "",
        **slots,
        "query_vector": [float(x) for x in vector] if vector is not None else None,
        "facet_count": sum(1 for p in FACET_PARAMS if slots[p]),
        "query_terms": len(understanding.tokens),
        "types": types,
        "period_gte": (period or NO_PERIOD)[0],
        "period_lte": (period or NO_PERIOD)[1],
        "slot_count": slot_count,
        "slots_required": max(1, slot_count),
        MEMORY_CLAUSES_PARAM: [],  # the search path fills it (rank.rerank.memory_clauses)
        **facets,
    }
    if needed is not None:
        params = {k: params.get(k, []) for k in needed
                  if k in params or k.startswith(FACET_PARAM_PREFIX)}
    return params


def _period(value: str) -> tuple[str, str]:
    """A decade ("1990s") or a year ("1994") as the date range it covers."""
    year = int(value[:4])
    last = year + 9 if value.endswith("s") else year
    return f"{year:04d}-01-01", f"{last:04d}-12-31"


def values_by_name(logged: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[float]:
    """One ``_ltrlog`` entry's values in feature-set order (a missing value counts 0)."""
    found = {entry["name"]: float(entry.get("value", 0.0)) for entry in logged}
    return [found.get(name, 0.0) for name in names]
