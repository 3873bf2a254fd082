"""A scratch copy of the product's state, so a simulation never touches production.

Everything a simulation writes (logs, memory, bandit state, training rows, model registry)
lives under a scratch index prefix ``<prefix>-judged-<tag>``. The catalog itself is only
read:

* a catalog ltrr manages is copied under the scratch prefix (read by search: never blocked
  for writes, unlike the clone API), with the settings and mapping of its index, its
  embedder state, and without its learned memory field: the copy starts as a catalog
  nobody has searched yet;
* the user's own index is searched where it is, with ``[memory] store = "outside"``: the
  memory lives in the scratch memory index and the user's index is never written, whatever
  the description says.

:func:`discard` deletes the scratch indices and the models trained there from the LTR store
(the store is cluster-wide); the shipped default model is shared and stays.
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.catalog.description import MEMORY_IN_INDEX, MEMORY_OUTSIDE, description_for
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# Index settings a copy keeps (flat names): how text is analysed and vectors searched.
_KEPT_SETTINGS = ("index.analysis.", "index.number_of_shards", "index.knn", "index.max_ngram_diff",
                  "index.max_shingle_diff", "index.similarity.", "index.max_result_window",
                  "index.mapping.")
COPY_TIMEOUT = 300  # seconds one page of a catalog copy may take


@dataclass(frozen=True)
class Scratch:
    settings: Settings  # what the simulation runs with
    catalog: str  # the index or alias it searches
    note: str  # how the catalog was made available, for the report


def scratch_settings(settings: Settings, tag: str | None = None) -> Settings:
    """``settings`` under a fresh scratch prefix; for the user's own index, the description
    with its memory kept outside."""
    tag = tag or uuid.uuid4().hex[:6]
    scratch = settings.with_overrides(index_prefix=f"{settings.index_prefix}-judged-{tag}")
    description = description_for(settings)
    if description.managed or description.memory_store == MEMORY_OUTSIDE:
        return scratch
    data = dict(_description_data(settings, description.source))
    data["memory"] = {**dict(data.get("memory") or {}), "store": MEMORY_OUTSIDE}
    data.pop("description", None)
    sections = {**scratch.sections, "catalog": MappingProxyType(data)}
    return scratch.with_overrides(sections=MappingProxyType(sections))


def _description_data(settings: Settings, source: str) -> Mapping[str, Any]:
    """The raw roles of the description in force: the config's inline ``[catalog]`` or the
    file it was read from."""
    section = settings.section("catalog")
    if "fields" in section:
        return section
    try:
        with open(source, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:  # read a moment ago: changed since
        raise LtrrError(f"cannot read the catalog description {source}: {exc}") from None


def prepare(client: OpenSearch, settings: Settings, scratch: Settings) -> Scratch:
    """Make the catalog searchable under ``scratch`` (see the module docstring)."""
    description = description_for(settings)
    if not description.managed:
        moved = description.memory_store == MEMORY_IN_INDEX
        return Scratch(scratch, description.target(settings),
                       f"your index {description.index} is only read; the memory is kept "
                       "outside it" + (" (the description keeps it in the index: not here)"
                                       if moved else ""))
    copy = copy_managed_catalog(client, settings, scratch,
                                description.memory_field if description.memory_store ==
                                MEMORY_IN_INDEX else None)
    return Scratch(scratch, scratch.catalog_alias,
                   f"catalog {settings.catalog_alias} copied to {copy} without its learned "
                   "memory")


def copy_managed_catalog(client: OpenSearch, source: Settings, target: Settings,
                         memory_field: str | None) -> str:
    """Copy the index behind ``source``'s catalog alias under ``target``'s alias; returns the
    new index name. The source is read (searched), never written or blocked.

    Documents are read by search, vectors through doc values (a script field), not from
    ``_source``: on OpenSearch 3.x a ``knn_vector`` in ``_source`` is "derived" from the
    vector files, and after a segment merge that read can fail for good (k-NN issue #3458,
    seen on the shared node: every get, update and full-source search of the index failed
    while its searches kept working). The copy stores its vectors in ``_source`` instead
    (``index.knn.derived_source.enabled: false``), so the memory's scripted updates, which
    read whole documents, cannot hit the same failure during the simulation."""
    from opensearchpy import helpers

    from ltrr_opensearch.bulk import action, bulk_write
    from ltrr_opensearch.catalog.description import mapping_fields
    from ltrr_opensearch.catalog.index import catalog_meta, new_index_name, state_doc_id, swap_alias
    from ltrr_opensearch.mappings import index_replicas
    from ltrr_opensearch.state import ensure_state_index

    meta = catalog_meta(client, source)  # "there is no catalog at ..." when none is loaded
    origin = meta["index"]
    info = client.indices.get(index=origin, flat_settings=True)[origin]
    mappings = dict(info["mappings"])
    kept = mappings.get("_source") or {}
    if kept.get("enabled") is False or kept.get("excludes") or kept.get("includes"):
        raise ValidationError(f"the catalog index {origin} does not keep whole documents in "
                              "_source, so it cannot be copied for a simulation")
    index_settings = {k: v for k, v in info["settings"].items() if k.startswith(_KEPT_SETTINGS)}
    index_settings["index.number_of_replicas"] = index_replicas(target, client)
    vectors = [f.path for f in mapping_fields(mappings.get("properties", {})).values()
               if f.type == "knn_vector"]
    if vectors:
        index_settings["index.knn.derived_source.enabled"] = False
    name = new_index_name(target)
    pointer = (mappings.get("_meta") or {}).get("embedder_state")
    if pointer:
        state = client.get(index=pointer["index"], id=pointer["id"])["_source"]
        ensure_state_index(client, target)
        client.index(index=target.state_index, id=state_doc_id(name),
                     body={**state, "catalog_index": name}, refresh=True)
        mappings["_meta"] = {**mappings["_meta"], "embedder_state": {
            "index": target.state_index, "id": state_doc_id(name)}}
    client.indices.create(index=name, body={"settings": index_settings, "mappings": mappings})
    body: dict[str, Any] = {
        "query": {"match_all": {}},
        "_source": {"excludes": vectors + ([memory_field] if memory_field else [])},
        "script_fields": {f: {"script": {"source": _VECTOR_VALUE, "params": {"f": f}}}
                          for f in vectors}}
    try:
        hits = helpers.scan(client, query=body, index=origin, size=500, raise_on_error=True,
                            request_timeout=COPY_TIMEOUT)
        copied = bulk_write(client, (action("index", name, hit["_id"], _with_vectors(hit))
                                     for hit in hits), "catalog documents copied",
                            refresh=True, chunk_size=500)
    except os_exc.TransportError as exc:
        raise LtrrError(f"copying the catalog {origin} for the simulation failed: "
                        f"{exc.error}") from None
    if not copied:
        raise ValidationError(f"the catalog {origin} has no documents to simulate on")
    swap_alias(client, target, name)
    return name


# A document's vector from doc values (null without one).
_VECTOR_VALUE = ("doc.containsKey(params.f) && doc[params.f].size() > 0 "
                 "? doc[params.f].value : null")


def _with_vectors(hit: Mapping[str, Any]) -> dict[str, Any]:
    doc = dict(hit["_source"])
    for name, values in (hit.get("fields") or {}).items():
        if values and values[0] is not None:
            _set_path(doc, name, values[0])
    return doc


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[leaf] = value


def discard(client: OpenSearch, scratch: Settings, attempts: int = 4) -> None:
    """Delete what a simulation made: its models in the LTR store, then its indices. A
    refusal (a busy node, after a run that stopped for that very reason) is retried; after
    the last attempt the error says what is left to delete."""
    for attempt in range(attempts):
        try:
            _discard(client, scratch)
            return
        except os_exc.TransportError as exc:
            if attempt == attempts - 1:
                raise LtrrError(f"could not delete the simulation's scratch state ({exc.error})",
                                hint=f"delete the indices {scratch.index_prefix}-* and the "
                                     "models trained there later") from None
            time.sleep(2.0 * 2 ** attempt)


def _discard(client: OpenSearch, scratch: Settings) -> None:
    from ltrr_opensearch.rank import registry

    with contextlib.suppress(LtrrError, os_exc.NotFoundError):
        for entry in registry.list_entries(client, scratch):
            if entry.source == "trained":
                with contextlib.suppress(os_exc.NotFoundError):
                    client.plugins.ltr.delete_model(id=entry.name)
    client.indices.delete(index=f"{scratch.index_prefix}-*", ignore_unavailable=True,
                          expand_wildcards="all")
