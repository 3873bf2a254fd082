"""``ltrr catalog adopt``: what ltrr adds to an index the user created, and nothing else.

A user's own index (a description with ``index = "..."``) is searched as it is. Two things
ltrr may add, both opt-in and shown before they are made:

* the memory's ``rank_features`` field (``[memory] field``, default ``q2e``) when the
  memory is kept in the index (``[memory] store = "index"``): one additive
  ``PUT <index>/_mapping``; the memory consumer later writes it by partial updates of that
  field only;
* with ``popularity_feature=True``, a ``rank_feature`` twin ``<popularity>_feature`` of the
  popularity field, filled by partial document updates in bulk (``{"doc": {twin: value}}``,
  no script, no reindex) with ``log1p(max(popularity, 0)) + 0.001``.

Nothing else is changed: no setting, no analyzer, no existing field, no other document
field. A plan is computed from the live mapping; :func:`apply_plan` carries it out and is
idempotent (a second run adds nothing and updates no document).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import bulk_write, scan
from ltrr_opensearch.catalog.description import (
    MEMORY_IN_INDEX,
    CatalogDescription,
    forget,
    live_properties,
    mapping_fields,
)
from ltrr_opensearch.catalog.index import opensearch_errors
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ValidationError

FEATURE_SUFFIX = "_feature"
FEATURE_OFFSET = 1e-3  # rank_feature refuses 0: the same offset the managed loader uses
_NUMBER_TYPES = {"long", "integer", "short", "byte", "double", "float", "half_float",
                 "scaled_float", "unsigned_long"}


def feature_value(popularity: Any) -> float | None:
    """The twin's value for a popularity value (None: the document has none usable)."""
    if isinstance(popularity, bool):
        return None
    if isinstance(popularity, str):
        try:
            popularity = float(popularity)
        except ValueError:
            return None
    if not isinstance(popularity, (int, float)) or not math.isfinite(popularity):
        return None
    return math.log1p(max(float(popularity), 0.0)) + FEATURE_OFFSET


@dataclass(frozen=True)
class Addition:
    """One field ltrr adds: its path, mapping and why."""

    path: str
    mapping: Mapping[str, Any]
    why: str


@dataclass
class AdoptPlan:
    index: str
    additions: list[Addition] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already there, nothing to do
    problems: list[str] = field(default_factory=list)  # refuse: the mapping is in the way
    fill: tuple[str, str] | None = None  # (twin, popularity): twin filled by partial updates
    to_fill: int = 0  # documents whose twin is missing or stale (known after counting)
    filled: int = 0  # documents updated by apply_plan

    def mapping_body(self) -> dict[str, Any]:
        """The body of the one ``PUT _mapping``: the added fields only (dotted paths nested)."""
        properties: dict[str, Any] = {}
        for addition in self.additions:
            *parents, leaf = addition.path.split(".")
            node = properties
            for parent in parents:
                node = node.setdefault(parent, {"properties": {}})["properties"]
            node[leaf] = dict(addition.mapping)
        return {"properties": properties}

    def lines(self, applied: bool = False) -> list[str]:
        """What ``ltrr catalog adopt`` prints."""
        verb = "added" if applied else "would add"
        out = [f"index {self.index}:"]
        for name in self.present:
            out.append(f"  already there: {name}")
        for addition in self.additions:
            out.append(f"  {verb} field {addition.path} "
                       f"{_compact(addition.mapping)}: {addition.why}")
        if self.fill is not None:
            twin, pop = self.fill
            done = "updated" if applied else "would update"
            count = self.filled if applied else self.to_fill
            out.append(f"  {done} {count} document(s): partial update of {twin} only "
                       f"(= log1p({pop}) + {FEATURE_OFFSET:g}; no script, no reindex)")
        if not self.additions and not self.problems and not self.to_fill:
            out.append("  nothing to add")
        if self.additions and not applied:
            out.append(f"  request: PUT {self.index}/_mapping {_compact(self.mapping_body())}")
            out.append("  run again with --apply to make these changes; nothing else is touched")
        out += [f"  problem: {p}" for p in self.problems]
        return out


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def plan_adoption(client: OpenSearch, settings: Settings, description: CatalogDescription, *,
                  popularity_feature: bool = False) -> AdoptPlan:
    """What adopting the user's index would change, read from its live mapping."""
    if description.managed:
        raise ValidationError(
            f"catalog description {description.source} has no index: ltrr manages that "
            "catalog already (adopt is for an index of your own)",
            hint="set index = \"...\" in the description")
    index = description.target(settings)
    with opensearch_errors(settings, f"reading the mapping of {index}"):
        properties = live_properties(client, index)
    mapped = mapping_fields(properties)
    plan = AdoptPlan(index)

    if description.memory_store == MEMORY_IN_INDEX:
        name = description.memory_field
        found = mapped.get(name)
        if found is None:
            plan.additions.append(Addition(
                name, {"type": "rank_features"},
                "the query-to-entity memory (one weight per learned query key); written "
                "only by the memory consumer, as partial updates of this field"))
        elif found.type == "rank_features":
            plan.present.append(f"{name} (rank_features, the memory)")
        else:
            plan.problems.append(
                f"memory field {name!r} exists with type {found.type}: choose another "
                f"{description.table('memory')} field, or set {description.table('memory')} "
                "store = \"outside\"")

    if popularity_feature:
        pop = description.popularity
        if pop is None:
            plan.problems.append("--popularity-feature needs a popularity field in the "
                                 f"description ({description.table('fields')} popularity)")
        elif pop not in mapped:
            plan.problems.append(f"popularity field {pop!r} is not in the mapping")
        elif mapped[pop].type == "rank_feature":
            plan.present.append(f"{pop} (already a rank_feature)")
        elif mapped[pop].type not in _NUMBER_TYPES:
            plan.problems.append(f"popularity field {pop!r} is of type {mapped[pop].type}, "
                                 "not a number")
        else:
            twin = f"{pop}{FEATURE_SUFFIX}"
            found = mapped.get(twin)
            if found is not None and found.type != "rank_feature":
                plan.problems.append(f"{twin!r} exists with type {found.type}: the twin of the "
                                     "popularity must be a rank_feature")
            else:
                if found is None:
                    plan.additions.append(Addition(
                        twin, {"type": "rank_feature"},
                        f"log-scaled twin of {pop} for fast popularity scoring"))
                else:  # present already: only missing or stale values are filled again
                    plan.present.append(f"{twin} (rank_feature)")
                plan.fill = (twin, pop)
                plan.to_fill = sum(1 for _ in _stale(client, index, pop, twin))
    return plan


def _get_path(source: Mapping[str, Any], path: str) -> Any:
    value: Any = source
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _nested(path: str, value: Any) -> dict[str, Any]:
    *parents, leaf = path.split(".")
    doc: dict[str, Any] = {leaf: value}
    for parent in reversed(parents):
        doc = {parent: doc}
    return doc


def _stale(client: OpenSearch, index: str, popularity: str, twin: str
           ) -> Iterator[tuple[str, str, float]]:
    """``(concrete index, _id, value)`` of each document whose twin is missing or differs."""
    for hit in scan(client, index, {"match_all": {}}, source=[popularity, twin]):
        source = hit.get("_source", {})
        value = feature_value(_get_path(source, popularity))
        if value is None:
            continue
        current = _get_path(source, twin)
        if isinstance(current, (int, float)) and math.isclose(current, value, rel_tol=1e-6):
            continue
        yield hit["_index"], hit["_id"], value


def apply_plan(client: OpenSearch, settings: Settings, plan: AdoptPlan) -> AdoptPlan:
    """Make the planned changes: one additive ``PUT _mapping``, then the twin's partial
    updates. Refuses a plan with problems (nothing is changed then)."""
    if plan.problems:
        raise ValidationError(f"adopting {plan.index} is refused: " + "; ".join(plan.problems),
                              hint="fix the description or the index, then run adopt again")
    if plan.additions:
        with opensearch_errors(settings, "adding " + ", ".join(a.path for a in plan.additions)
                               + f" to {plan.index}"):
            client.indices.put_mapping(index=plan.index, body=plan.mapping_body())
    if plan.fill is not None:
        twin, pop = plan.fill
        actions = ({"_op_type": "update", "_index": idx, "_id": doc_id,
                    "doc": _nested(twin, value), "retry_on_conflict": 3}
                   for idx, doc_id, value in _stale(client, plan.index, pop, twin))
        with opensearch_errors(settings, f"filling {twin} in {plan.index}"):
            plan.filled = bulk_write(client, actions, f"{twin} partial updates", refresh=True)
    forget()  # the bound catalog must see the new fields
    return plan
