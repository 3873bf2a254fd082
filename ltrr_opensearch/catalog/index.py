"""The catalog index behind its alias.

Searches always go through ``settings.catalog_alias``; the concrete index behind it is named
``<alias>-v<mapping version>-<UTC timestamp>`` so a rebuilt index can be filled beside the live
one and swapped in with one atomic ``_aliases`` request. The index ``_meta`` records the mapping
version and the embedder (name, dimension, and where a fitted TF-IDF state is stored), so query
time can refuse an embedder that does not match the stored vectors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.catalog.description import CatalogDescription
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import unreachable
from ltrr_opensearch.errors import ClusterUnreachable, LtrrError
from ltrr_opensearch.mappings import load_mapping
from ltrr_opensearch.state import ensure_state_index

MAPPING_VERSION = 1
DELETE_GRACE_SECONDS = 2.0
DOCTOR_HINT = "run `ltrr doctor` to see which plugins/modules the node lacks"
_NO_HANDLER = re.compile(r"No handler for type \[([^\]]+)\]", re.IGNORECASE)
# Mapping types that only exist when a plugin/module is installed.
_PLUGIN_TYPES = {
    "rank_feature": "the mapper-extras module", "rank_features": "the mapper-extras module",
    "knn_vector": "the k-NN plugin",
}


@contextmanager
def opensearch_errors(settings: Settings, doing: str) -> Iterator[None]:
    """Turn opensearch-py exceptions raised while ``doing`` into one-line LtrrErrors."""
    try:
        yield
    except os_exc.ConnectionError as exc:
        reason = "connection timed out" if isinstance(exc, os_exc.ConnectionTimeout) else (
            "connection refused" if "refused" in str(exc).lower() else "connection failed")
        raise unreachable(settings, doing, reason) from None
    except (os_exc.AuthenticationException, os_exc.AuthorizationException) as exc:
        raise ClusterUnreachable(
            f"OpenSearch at {settings.display_urls} refused {doing} (HTTP {exc.status_code})",
            hint="check LTRR_OPENSEARCH_USER / LTRR_OPENSEARCH_PASSWORD and the user's roles",
        ) from None
    except os_exc.TransportError as exc:
        reason = error_reason(exc)
        missing = _NO_HANDLER.search(reason)
        if missing:
            plugin = _PLUGIN_TYPES.get(missing.group(1), "a plugin or module")
            raise LtrrError(
                f"the node cannot store the catalog while {doing}: {reason} "
                f"({plugin} is missing on the node)",
                hint=DOCTOR_HINT,
            ) from None
        raise LtrrError(f"OpenSearch failed while {doing}: {reason}") from None


def error_reason(exc: os_exc.TransportError) -> str:
    """The most specific ``reason`` OpenSearch gave, without the request body."""
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if isinstance(error, dict):
        root = (error.get("root_cause") or [error])[0]
        return str(root.get("reason") or error.get("reason") or error.get("type"))
    if isinstance(error, str):
        return error
    return f"HTTP {exc.status_code}"


def catalog_body(settings: Settings, dimension: int, meta: dict[str, Any],
                 client: OpenSearch | None = None,
                 description: CatalogDescription | None = None) -> dict[str, Any]:
    """The body of a managed catalog index: the analysis settings of
    ``mappings/catalog.v1.json`` and the properties generated from the catalog description
    in force (:func:`managed_properties`; for music they equal the file's), with the vector
    width and ``_meta`` set (replicas for ``client``'s cluster, see
    :func:`ltrr_opensearch.mappings.load_mapping`)."""
    from ltrr_opensearch.catalog.description import description_for

    description = description or description_for(settings)
    body = load_mapping(settings, "catalog", MAPPING_VERSION, client=client)
    mappings = body["mappings"]
    mappings["properties"] = managed_properties(description, dimension)
    mappings["_meta"] = {**mappings.get("_meta", {}), **meta, "mapping_version": MAPPING_VERSION,
                         "description": description.name}
    return body


# --- the managed mapping, generated from the description --------------------------------
# Searched names (the first title and creator field, and text fields boosted >= 1, such as an
# album) get the stemmed analyzer and exact, unstemmed-words and as-you-type sub-fields as
# the search path expects; further title/creator fields are lists of names (word match and
# exact); weaker text fields (< 1: a description) are prose, stemmed only.
_NAME_KEYWORD = {"type": "keyword", "normalizer": "folded", "ignore_above": 512}
_WORDS = {"type": "text", "analyzer": "folded_words"}
_PREFIX = {"type": "text", "analyzer": "partial_words", "search_analyzer": "folded_words"}
_EXTRA_MAPPINGS: dict[str, dict[str, Any]] = {
    "keyword": {"type": "keyword"}, "text": {"type": "text", "analyzer": "english_folded"},
    "integer": {"type": "integer"}, "long": {"type": "long"}, "float": {"type": "float"},
    "double": {"type": "double"},
    "date": {"type": "date", "format": "strict_date||strict_date_time||epoch_millis"},
    "boolean": {"type": "boolean"},
}
DATE_FORMAT = "strict_date||strict_date_time||epoch_millis"


def field_shapes(description: CatalogDescription) -> dict[str, str]:
    """Searched field -> ``name`` (one name: full sub-fields), ``names`` (a list of names)
    or ``prose``: how the managed mapping and the row schema treat it."""
    shapes: dict[str, str] = {}
    for role in (description.title, description.creator):
        for i, f in enumerate(role):
            shapes[f.name] = "name" if i == 0 else "names"
    for f in description.text:
        shapes[f.name] = "name" if f.boost >= 1.0 else "prose"
    return shapes


def managed_properties(description: CatalogDescription, dimension: int) -> dict[str, Any]:
    """The ``properties`` of a managed catalog index for ``description`` (field order: id,
    type, title, creator, text, facets, popularity, date, extra, vector, memory)."""
    from ltrr_opensearch.catalog.description import ID_FROM_DOCUMENT

    d = description
    props: dict[str, Any] = {}
    # A managed catalog keeps the entity id in a field too (rows bring it as "id" when the
    # description says "_id"): the loader writes it and uses it as the document _id.
    props["id" if d.id == ID_FROM_DOCUMENT else d.id] = {"type": "keyword"}
    if d.type:
        props[d.type] = {"type": "keyword"}
    shapes = field_shapes(d)
    for f in d.searched_fields:
        shape = shapes[f.name]
        if shape == "prose":
            props[f.name] = {"type": "text", "analyzer": "english_folded"}
        elif shape == "names":
            props[f.name] = {"type": "text", "analyzer": "folded_words",
                             "fields": {"keyword": dict(_NAME_KEYWORD)}}
        else:
            subs: dict[str, Any] = {"keyword": dict(_NAME_KEYWORD)}
            if f in d.title or f in d.creator:
                subs["words"] = dict(_WORDS)
            subs["prefix"] = dict(_PREFIX)
            props[f.name] = {"type": "text", "analyzer": "english_folded", "fields": subs}
    for name in d.facets.values():
        props[name] = {"type": "keyword", "normalizer": "folded"}
    if d.popularity:
        props[d.popularity] = {"type": "float"}
        props[f"{d.popularity}_feature"] = {"type": "rank_feature"}
    if d.date:
        props[d.date] = {"type": "date", "format": DATE_FORMAT}
    for name, kind in d.extra.items():
        props[name] = dict(_EXTRA_MAPPINGS[kind])
    if d.vector:
        props[d.vector] = {
            "type": "knn_vector", "dimension": int(dimension),
            "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
                       "parameters": {"m": 16, "ef_construction": 128}}}
    props[d.memory_field] = {"type": "rank_features"}
    return props


def new_index_name(settings: Settings) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S%fz")
    return f"{settings.catalog_alias}-v{MAPPING_VERSION}-{stamp}"


def create_catalog_index(client: OpenSearch, settings: Settings, embedder: Any) -> str:
    """Create a new, empty concrete catalog index for ``embedder``; return its name.

    ``_meta`` gets ``embedder`` (name), ``dimension``, ``embedder_kind``, ``mapping_version``
    and ``created_at``. A fitted TF-IDF embedder's state is stored as a document in
    ``settings.state_index`` (it is megabytes: too large for index metadata) and
    ``_meta.embedder_state`` points at it. The alias is not touched: use
    :func:`ensure_catalog` or :func:`swap_alias`.
    """
    from ltrr_opensearch.catalog import embed

    name = new_index_name(settings)
    emb_meta = embed.embedder_meta(embedder)  # {"embedder": name, "dimension": d}
    meta: dict[str, Any] = {
        **emb_meta,
        "embedder_kind": embedder_kind(embedder),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    fitted = getattr(embedder, "query_embedder", embedder)  # precomputed: the query model's
    if hasattr(fitted, "to_state"):
        meta["embedder_state"] = store_embedder_state(client, settings, name, fitted)
    body = catalog_body(settings, int(emb_meta["dimension"]), meta, client=client)
    try:
        with opensearch_errors(settings, f"creating index {name}"):
            client.indices.create(index=name, body=body)
    except LtrrError:
        if "embedder_state" in meta:  # no orphan state for an index that never existed
            with suppress(os_exc.TransportError):
                client.delete(index=settings.state_index, id=state_doc_id(name))
        raise
    return name


def embedder_kind(embedder: Any) -> str:
    """The ``--embedder`` choice that rebuilds ``embedder``: minilm, tfidf or precomputed."""
    from ltrr_opensearch.catalog import embed

    kinds = {embed.PrecomputedEmbedder: "precomputed", embed.TfidfSvdEmbedder: "tfidf",
             embed.MiniLMEmbedder: "minilm"}
    for cls, kind in kinds.items():
        if isinstance(embedder, cls):
            return kind
    return type(embedder).__name__


# Fields our document adds to the state index, which other subsystems share: the index is
# created only when missing and these are added with an additive put_mapping.


def store_embedder_state(
    client: OpenSearch, settings: Settings, index_name: str, embedder: Any
) -> dict[str, str]:
    """Save ``embedder.to_state()`` in the state index; return ``{"index", "id"}``."""
    doc_id = state_doc_id(index_name)
    body = {"kind": "catalog_embedder_state", "catalog_index": index_name,
            "embedder_state": embedder.to_state()}
    with opensearch_errors(settings, "storing the embedder state"):
        ensure_state_index(client, settings)
        client.index(index=settings.state_index, id=doc_id, body=body)  # GET is realtime
    return {"index": settings.state_index, "id": doc_id}


def state_doc_id(index_name: str) -> str:
    return f"catalog-embedder:{index_name}"


def load_embedder_state(client: OpenSearch, settings: Settings, meta: dict[str, Any]) -> Any:
    """The state saved by :func:`store_embedder_state` for the catalog described by ``meta``."""
    pointer = meta.get("embedder_state")
    if not pointer:
        raise LtrrError("the catalog index records no embedder state",
                        hint="rebuild the catalog with `ltrr catalog rebuild FILE`")
    with opensearch_errors(settings, "reading the embedder state"):
        try:
            doc = client.get(index=pointer["index"], id=pointer["id"])
        except os_exc.NotFoundError:
            raise LtrrError(
                f"the embedder state {pointer['id']!r} is missing from {pointer['index']!r}",
                hint="rebuild the catalog with `ltrr catalog rebuild FILE`",
            ) from None
    return doc["_source"]["embedder_state"]


def alias_targets(client: OpenSearch, settings: Settings) -> list[str]:
    """The concrete indices behind the catalog alias (empty when there is no alias)."""
    alias = settings.catalog_alias
    with opensearch_errors(settings, f"reading alias {alias}"):
        if client.indices.exists(index=alias) and not client.indices.exists_alias(name=alias):
            raise LtrrError(
                f"{alias!r} is a concrete index, not an alias",
                hint="re-create it with `ltrr catalog rebuild FILE` after deleting or "
                     "renaming that index",
            )
        try:
            return sorted(client.indices.get_alias(name=alias))
        except os_exc.NotFoundError:
            return []


def ensure_catalog(client: OpenSearch, settings: Settings, embedder: Any) -> str:
    """The index behind the catalog alias; create it and point the alias if absent."""
    targets = alias_targets(client, settings)
    if len(targets) == 1:
        return targets[0]
    if len(targets) > 1:
        raise LtrrError(
            f"alias {settings.catalog_alias!r} points at {len(targets)} indices: "
            f"{', '.join(targets)}",
            hint="fix it with `ltrr catalog rebuild FILE`",
        )
    name = create_catalog_index(client, settings, embedder)
    swap_alias(client, settings, name)
    return name


def swap_alias(
    client: OpenSearch, settings: Settings, new_index: str, *, delete_old: bool = False,
    grace_seconds: float = DELETE_GRACE_SECONDS,
) -> list[str]:
    """Point the alias at ``new_index`` only, in ONE atomic ``_aliases`` request.

    Old indices are detached; with ``delete_old`` they are deleted ``grace_seconds`` later.
    Not in the same request (``remove_index``): searches already routed to the old index
    would fail with "all shards failed" (seen on the real node during rebuild tests).
    Returns the old index names.
    """
    alias = settings.catalog_alias
    old = [name for name in alias_targets(client, settings) if name != new_index]
    actions: list[dict[str, Any]] = [{"add": {"index": new_index, "alias": alias}}]
    actions += [{"remove": {"index": name, "alias": alias}} for name in old]
    with opensearch_errors(settings, f"pointing alias {alias} at {new_index}"):
        client.indices.update_aliases(body={"actions": actions})
    if delete_old and old:
        time.sleep(grace_seconds)  # let in-flight searches on the old index finish
        with opensearch_errors(settings, f"deleting {', '.join(old)}"):
            client.indices.delete(index=",".join(old), ignore_unavailable=True)
    return old


def catalog_meta(client: OpenSearch, settings: Settings) -> dict[str, Any]:
    """The ``_meta`` of the index behind the alias, plus ``"index"``: that index's name.

    Pass it to ``embed.check_compatible(meta, embedder)`` before sending a query vector.
    """
    alias = settings.catalog_alias
    with opensearch_errors(settings, f"reading the catalog metadata of {alias}"):
        try:
            mappings = client.indices.get_mapping(index=alias)
        except os_exc.NotFoundError:
            raise LtrrError(
                f"there is no catalog at {alias!r}",
                hint="load one with `ltrr catalog load FILE`",
            ) from None
    if len(mappings) != 1:
        raise LtrrError(f"alias {alias!r} points at {len(mappings)} indices",
                        hint="fix it with `ltrr catalog rebuild FILE`")
    (index, body), = mappings.items()
    meta = dict(body.get("mappings", {}).get("_meta", {}))
    meta["index"] = index
    return meta


def catalog_info(client: OpenSearch, settings: Settings) -> dict[str, Any]:
    """Alias, index, document count per entity type and ``_meta`` (for ``ltrr catalog info``)."""
    meta = catalog_meta(client, settings)
    index = meta.pop("index")
    with opensearch_errors(settings, f"counting documents in {index}"):
        response = client.search(index=index, body={
            "size": 0, "track_total_hits": True,
            "aggs": {"types": {"terms": {"field": "entity_type", "size": 50}}},
        })
    buckets = response["aggregations"]["types"]["buckets"]
    return {
        "alias": settings.catalog_alias,
        "index": index,
        "count": response["hits"]["total"]["value"],
        "by_entity_type": {b["key"]: b["doc_count"] for b in buckets},
        "meta": meta,
    }


def catalog_embedder(client: OpenSearch, settings: Settings, meta: dict[str, Any] | None = None
                     ) -> Any:
    """The embedder the catalog was built with, restored from its ``_meta`` (and, for TF-IDF,
    the stored fitted state): use it to embed queries for k-NN against this catalog."""
    from ltrr_opensearch.catalog.embed import make_embedder

    meta = meta if meta is not None else catalog_meta(client, settings)
    kind = meta.get("embedder_kind")
    if kind == "minilm":
        return make_embedder("minilm")
    if kind in ("tfidf", "precomputed"):
        query_embedder: Any = "minilm"
        if meta.get("embedder_state"):
            query_embedder = make_embedder(
                "tfidf", state=load_embedder_state(client, settings, meta))
        if kind == "tfidf":
            return query_embedder
        return make_embedder("precomputed", query_embedder=query_embedder)
    raise LtrrError(
        f"the catalog index {meta.get('index')!r} does not record how it was embedded",
        hint="rebuild it with `ltrr catalog rebuild FILE`",
    )
