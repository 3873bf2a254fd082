"""Set up a simulated world on the real node once per policy and replay a query stream.

Each policy gets its own index prefix (catalog, logs, memory, bandit state), so what one
policy learns never leaks into another's run. Document vectors are computed once and
loaded as precomputed vectors of the same model for every policy.
"""

from __future__ import annotations

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
               progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Replay ``queries`` under ``policy`` on fresh indices; deletes them afterwards."""
    from ltrr_opensearch.retrieve import resources

    prefix = f"{settings.index_prefix}-{policy.name.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    scoped = settings.with_overrides(index_prefix=prefix)
    try:
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
