"""Set up a simulated world on the real node once per policy and replay a query stream.

Each policy gets its own index prefix (catalog, logs, memory, bandit state), so what one
policy learns never leaks into another's run. Document vectors are computed once and
loaded as precomputed vectors of the same model for every policy.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.evaluate.harness import (
    Outcome,
    Policy,
    Replay,
    all_strategies,
    oracle,
    single,
    uniform_mix,
)
from ltrr_opensearch.pipeline import Pipeline

STRATEGIES = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases")


@dataclass(frozen=True)
class WorldData:
    path: Path  # catalog JSONL with precomputed embeddings
    embedder: Any  # the query embedder for those vectors
    rows: int


def embed_world(rows: Sequence[dict[str, Any]], embedder_name: str, folder: Path,
                quiet: bool = True) -> WorldData:
    """Write the world's rows with their vectors, computed once for every policy."""
    from ltrr_opensearch.catalog.embed import TfidfSvdEmbedder, embed_rows, make_embedder

    embedder = make_embedder(embedder_name)
    if isinstance(embedder, TfidfSvdEmbedder):  # the only embedder fitted on the catalog
        from ltrr_opensearch.catalog.embed import document_text

        embedder.fit([document_text(r) for r in rows])
    path = folder / "catalog.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for row, vector in embed_rows(rows, embedder, quiet=quiet):
            out.write(json.dumps({**row, "embedding": [round(float(v), 6) for v in vector]}) + "\n")
    return WorldData(path, embedder, len(rows))


def prepare_policy_indices(client: OpenSearch, settings: Settings, world: WorldData,
                           quiet: bool = True) -> None:
    """Catalog (precomputed vectors) behind the alias, and the cold-start Q2E memory."""
    from ltrr_opensearch.catalog.embed import PrecomputedEmbedder
    from ltrr_opensearch.catalog.loader import load_catalog
    from ltrr_opensearch.feedback.seed import seed_memory

    load_catalog(client, settings, world.path, embedder=PrecomputedEmbedder(world.embedder),
                 quiet=quiet)
    client.indices.refresh(index=settings.catalog_alias)
    seed_memory(client, settings, quiet=quiet)


WORLD_MARK = "sim-world-ready"  # doc id in the world's state index once it is complete


def world_prefix(settings: Settings, world_config: str | Path, embedder: str) -> str:
    """Index prefix of one world's prepared indices: same world file, same embedder, same
    prefix, so a kept world is found again (``compare(keep_world=True)``)."""
    digest = hashlib.sha1(Path(world_config).read_bytes() + embedder.encode(),
                          usedforsecurity=False).hexdigest()[:8]
    return f"{settings.index_prefix}-world-{digest}"


def prepare_world(client: OpenSearch, settings: Settings, world: WorldData,
                  quiet: bool = True) -> bool:
    """The world's catalog and seeded memory under ``settings.index_prefix``, built once as
    the source every policy clones (:func:`clone_world` write-blocks it). False if a
    complete copy was already there (a kept world), True if it was built now."""
    prefix = settings.index_prefix
    if client.exists(index=settings.state_index, id=WORLD_MARK):  # False without the index
        return False
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True, expand_wildcards="all")
    prepare_policy_indices(client, settings, world, quiet=quiet)
    client.index(index=settings.state_index, id=WORLD_MARK, refresh=True,
                 body={"kind": "sim_world", "rows": world.rows})
    return True


def clone_world(client: OpenSearch, source: str, target: Settings) -> None:
    """Copy every index of the prepared world ``source`` (an index prefix) under
    ``target.index_prefix`` with the clone API: hard-linked segments, seconds instead of
    re-indexing the world. Names that embed the source prefix (aliases, the catalog's
    pointer to its embedder state) are renamed so the copy refers only to itself."""
    from ltrr_opensearch.bulk import scan

    prefix = target.index_prefix
    indices = client.indices.get(index=f"{source}-*", expand_wildcards="all")
    client.indices.put_settings(index=",".join(indices), body={"index.blocks.write": True})
    copies = []
    for name, info in indices.items():
        copy = _renamed(name, source, prefix)
        aliases = {_renamed(a, source, prefix): body for a, body in info.get("aliases", {}).items()}
        replicas = info["settings"]["index"].get("number_of_replicas", "0")
        client.indices.clone(index=name, target=copy, body={
            "settings": {"index.blocks.write": False, "index.number_of_replicas": replicas},
            "aliases": aliases})
        copies.append(copy)
        meta = info.get("mappings", {}).get("_meta")
        if meta and _renamed(meta, source, prefix) != meta:
            client.indices.put_mapping(index=copy, body={"_meta": _renamed(meta, source, prefix)})
    client.cluster.health(index=",".join(copies), wait_for_status="green")
    state = target.state_index
    if state in copies:  # documents keyed by an index name (the embedder state)
        for hit in list(scan(client, state, {"match_all": {}})):
            doc_id, doc = hit["_id"], hit["_source"]
            if _renamed(doc_id, source, prefix) != doc_id or _renamed(doc, source, prefix) != doc:
                client.index(index=state, id=_renamed(doc_id, source, prefix),
                             body=_renamed(doc, source, prefix))
                client.delete(index=state, id=doc_id)
        client.indices.refresh(index=state)


def _renamed(value: Any, source: str, prefix: str) -> Any:
    """``value`` with every string that names something under ``source`` moved to ``prefix``."""
    if isinstance(value, str):
        return prefix + value[len(source):] if value.startswith(f"{source}-") else (
            value.replace(f":{source}-", f":{prefix}-"))
    if isinstance(value, dict):
        return {k: _renamed(v, source, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, source, prefix) for v in value]
    return value


def standard_policies(k: int, bandit_configs: Sequence[Any] = (),
                      strategies: Sequence[str] = STRATEGIES) -> list[Policy]:
    """Single strategies (full budget), a uniform mix, all at full budget, the oracle, and
    the given bandits."""
    policies = [single(s, k) for s in strategies]
    policies += [uniform_mix(strategies, k), all_strategies(strategies, k), oracle(k)]
    policies += [Policy(c.name, bandit=c) for c in bandit_configs]
    return policies


def run_policy(client: OpenSearch, settings: Settings, world: WorldData, policy: Policy,
               queries: Sequence[Any], clicks: Any, *, batch: int = 100,
               follow_up: Callable[[Any], Any] | None = None, keep: bool = False,
               progress: Callable[[int], None] | None = None,
               prepared: str | None = None) -> list[Outcome]:
    """Replay ``queries`` under ``policy`` on fresh indices: a clone of the ``prepared``
    world (an index prefix, see :func:`prepare_world`) or, without one, the world loaded
    anew. Deletes them afterwards."""
    from ltrr_opensearch.retrieve import resources

    prefix = f"{settings.index_prefix}-{policy.name.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    scoped = settings.with_overrides(index_prefix=prefix)
    try:
        if prepared:
            clone_world(client, prepared, scoped)
        else:
            prepare_policy_indices(client, scoped, world)
        pipeline = Pipeline.from_cluster(client, scoped)
        return Replay(pipeline, policy, clicks, batch=batch, follow_up=follow_up).run(
            queries, progress=progress)
    finally:
        resources.clear()
        if not keep:
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")


def scratch_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="ltrr-sim-"))
