"""``ltrr memory show``: where a Q2E score came from, in words."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.bulk import scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.feedback.config import MemoryConfig
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.feedback.keys import query_key


def memory_docs(client: OpenSearch, settings: Settings, target: str
                ) -> tuple[str, list[dict[str, Any]]]:
    """("entity"|"query", memory docs): ``target`` is tried as an entity id, then a query."""
    index = memory_index(settings)
    if not client.indices.exists(index=index):
        return "entity", []
    by_value = ({"value": "desc"},)  # every doc, strongest first (a scroll needs no tie-breaker)
    docs = [h["_source"] for h in scan(client, index, {"term": {"entity_id": target}}, by_value)]
    if docs:
        return "entity", docs
    try:
        _, key = query_key(target)
    except ValueError:
        raise ValidationError(f"{target!r} is neither an entity id nor a query") from None
    return "query", [h["_source"] for h in scan(client, index, {"term": {"key": key}}, by_value)]


def explain(client: OpenSearch, settings: Settings, target: str,
            config: MemoryConfig | None = None) -> list[str]:
    config = config or MemoryConfig.from_settings(settings)
    kind, docs = memory_docs(client, settings, target)
    if not docs:
        return [f"no Q2E memory for {target!r} (not an entity id with pairs, nor a known query)"]
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        by_entity[doc["entity_id"]].append(doc)
    lines = [f"Q2E memory for {kind} {target!r}:"]
    # Strongest first: that is what the memory strategy would return first.
    ranked = sorted(by_entity.items(), key=lambda kv: (-max(d.get("value") or 0.0 for d in kv[1]),
                                                       kv[0]))
    for entity, entity_docs in ranked:
        final = _catalog_q2e(client, settings, entity)
        for doc in sorted(entity_docs, key=lambda d: (d["key"], d["source"])):
            lines.append(f"  entity {entity}  key {doc['key']}  query {doc.get('query')!r}")
            lines.append("    " + _describe(doc, config))
            used = final.get(doc["key"])
            lines.append(f"    in catalog q2e: {used:.4g}" if used is not None
                         else "    in catalog q2e: no")
    return lines


def _catalog_q2e(client: OpenSearch, settings: Settings, entity: str) -> dict[str, float]:
    """The memory map the catalog holds now for ``entity`` (empty when it has none, or when
    the memory is kept outside the catalog): the description's index and memory field."""
    from ltrr_opensearch.catalog.description import MEMORY_IN_INDEX, description_for
    from ltrr_opensearch.feedback.memory import entity_documents

    description = description_for(settings)
    if description.memory_store != MEMORY_IN_INDEX:
        return {}
    field = description.memory_field
    try:
        where = entity_documents(client, settings.catalog_index, description, [entity])
        for index, doc_id in where.get(entity, []):
            doc = client.get(index=index, id=doc_id, _source_includes=[field])
            return doc["_source"].get(field) or {}
    except (os_exc.NotFoundError, os_exc.RequestError):
        return {}
    return {}


def _describe(doc: dict[str, Any], config: MemoryConfig) -> str:
    if doc["source"] == "predicted":
        return (f"predicted: value {doc['value']:.4g} = {config.predicted_scale:g} x "
                f"predicted score {doc['predicted_score']:.3g} (cold start from catalog fields)")
    actions = ", ".join(f"{a}={n}" for a, n in sorted((doc.get("actions") or {}).items()))
    state = "eligible" if doc.get("eligible") else f"not used: {doc.get('reason')}"
    return (f"observed: value {doc['value']:.4g} = {config.scale:g} x posterior "
            f"{doc['posterior']:.3g} ({state}); posterior = ({config.prior_alpha:g} + E "
            f"{doc['engagement']:.3g}) / ({config.prior_alpha + config.prior_beta:g} + "
            f"max(I {doc['impressions']:.3g}, E)); E decayed from {doc['engagement_undecayed']:.3g}"
            f" with half-life {doc['half_life_days']:g} d; {doc['events']} events ({actions}), "
            f"{doc['events_capped']} capped by the per-client limit, {doc['clients']} client(s);"
            f" I from {doc['impressions_raw']} impressions; last event {doc.get('last_event_at')}")
