"""Retrieval benchmark: template render time, and ONE ``_msearch`` for all strategies versus
the same sub-searches sent as sequential ``_search`` requests, measured in the same run.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9200 python benchmarks/bench_retrieval.py --n 10000

The catalog is the simulator's synthetic world (real-looking titles, artists, genres,
decades, popularity, release dates) with random unit vectors as embeddings (the vector
model is not what is measured), indexed with the catalog mapping under a throw-away
prefix and deleted afterwards unless ``--keep``. Query vectors are random too. Queries
are drawn from the catalog: titles, artist names, "<decade> <genre>" and typo'd artists,
and every fifth query has a Q2E memory entry, so every strategy does real work.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from opensearchpy import helpers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ltrr_opensearch.catalog.schema import popularity_feature  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.retrieve.msearch import FILTER_PATH, execute, prepare_searches  # noqa: E402
from ltrr_opensearch.retrieve.templates import TemplateRegistry  # noqa: E402
from ltrr_opensearch.simulate.config import WorldConfig  # noqa: E402
from ltrr_opensearch.simulate.world import World  # noqa: E402
from ltrr_opensearch.understand import Gazetteer, q2e_key, understand  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_queries(rows: list[dict], rng: np.random.Generator, count: int) -> list[str]:
    queries: list[str] = []
    while len(queries) < count:
        row = rows[int(rng.integers(len(rows)))]
        pick = len(queries) % 4
        if pick == 0:
            queries.append(row["title"])
        elif pick == 1 and row.get("artist"):
            queries.append(row["artist"])
        elif pick == 2 and row.get("decade") and row.get("genres"):
            queries.append(f"{row['decade'][2:]} {row['genres'][0]}")
        elif row.get("artist") and len(row["artist"]) > 4:
            name = row["artist"]
            cut = int(rng.integers(1, len(name) - 1))
            queries.append(name[:cut] + name[cut + 1:])  # one deleted letter
    return queries


def build_catalog(client, settings, n: int, dim: int, seed: int) -> tuple[list[dict], float]:
    world = World.generate(WorldConfig(entities=n, seed=seed))
    rows = [{k: v for k, v in row.items() if v not in (None, [], "") and k != "embedding"}
            for row in world.rows()]
    body = json.loads((settings.mappings_dir / "catalog.v1.json").read_text())
    body.pop("_comment", None)
    body["mappings"]["properties"]["embedding"]["dimension"] = dim
    body["aliases"] = {settings.catalog_alias: {}}
    body["settings"]["index"]["refresh_interval"] = "-1"
    index = f"{settings.catalog_alias}-bench"
    client.indices.create(index=index, body=body)
    vectors = unit_vectors(np.random.default_rng(seed), len(rows), dim)

    def actions():
        for row, vector in zip(rows, vectors, strict=True):
            yield {"_index": index, "_id": row["id"], "_source": {
                **row, "popularity_feature": popularity_feature(row.get("popularity", 0.0)),
                "embedding": [round(float(x), 5) for x in vector]}}

    started = time.perf_counter()
    helpers.bulk(client, actions(), chunk_size=500, request_timeout=300)
    client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=index)
    client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=600)
    return rows, time.perf_counter() - started


def add_memory(client, settings, rows: list[dict], queries: list[str], rng) -> None:
    """Every fifth query gets a Q2E entry on three random items."""
    for query in queries[::5]:
        try:
            key = q2e_key(query)
        except ValueError:
            continue
        for i in rng.integers(len(rows), size=3):
            client.update(index=settings.catalog_alias, id=rows[int(i)]["id"],
                          body={"doc": {"q2e": {key: float(rng.uniform(1, 10))}}})
    client.indices.refresh(index=settings.catalog_alias)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="catalog entities")
    parser.add_argument("--dim", type=int, default=384, help="embedding width")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--k", type=int, default=100, help="candidates per strategy")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--prefix", help="reuse a catalog kept by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="do not delete the catalog")
    args = parser.parse_args()

    prefix = args.prefix or f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings.load().with_overrides(index_prefix=prefix)
    client = make_client(settings.with_overrides(timeout=300.0))
    cluster_info(client, settings)
    rng = np.random.default_rng(args.seed)
    try:
        if args.prefix:
            world = World.generate(WorldConfig(entities=args.n, seed=args.seed))
            rows = [{k: v for k, v in r.items() if v not in (None, [], "")} for r in world.rows()]
            print(f"catalog: reusing {settings.catalog_alias}")
        else:
            rows, seconds = build_catalog(client, settings, args.n, args.dim, args.seed)
            print(f"catalog: {len(rows)} entities, {args.dim}-d vectors, indexed in {seconds:.1f}s")
        queries = make_queries(rows, rng, args.queries + args.warmup)
        if not args.prefix:
            add_memory(client, settings, rows, queries, rng)
        gazetteer = Gazetteer.from_rows(rows)
        registry = TemplateRegistry.from_settings(settings)
        names = [n for n in registry.names if n not in registry.broken]
        query_vectors = unit_vectors(rng, len(queries), args.dim)
        vector_of = {q: query_vectors[i].tolist() for i, q in enumerate(queries)}
        understood = [understand(q, gazetteer) for q in queries]

        render_ms, multi_ms, seq_ms, errors = [], [], [], 0
        hits_multi = hits_seq = 0
        for i, u in enumerate(understood):
            started = time.perf_counter()
            prepared = prepare_searches(registry, u, [(n, args.k) for n in names],
                                        embed_query=lambda _t, q=u.raw: vector_of[q])
            rendered = time.perf_counter()

            def run_multi(prepared=prepared):
                t0 = time.perf_counter()
                results = execute(client, settings, prepared)
                return (time.perf_counter() - t0) * 1000, results

            def run_sequential(prepared=prepared):
                t0 = time.perf_counter()
                total = 0
                for p in prepared:
                    answer = client.search(index=settings.catalog_alias, body=p.body,
                                           params={"filter_path": FILTER_PATH.replace(
                                               "responses.", "")})
                    total += len(answer.get("hits", {}).get("hits", []))
                return (time.perf_counter() - t0) * 1000, total

            # Alternate which goes first so caches favour neither.
            if i % 2:
                (m_ms, results), (s_ms, s_hits) = run_multi(), run_sequential()
            else:
                (s_ms, s_hits), (m_ms, results) = run_sequential(), run_multi()
            if i < args.warmup:
                continue
            render_ms.append((rendered - started) * 1000 / len(names))
            multi_ms.append(m_ms)
            seq_ms.append(s_ms)
            errors += sum(1 for r in results if r.error)
            hits_multi += sum(len(r.hits) for r in results)
            hits_seq += s_hits

        n = len(multi_ms)
        print(f"strategies: {', '.join(names)}; k={args.k}; {n} queries "
              f"(+{args.warmup} warm-up)")
        print(f"render per template: median {statistics.median(render_ms):.3f} ms, "
              f"p99 {percentile(render_ms, 99):.3f} ms")
        print(f"one _msearch ({len(names)} sub-searches): median "
              f"{statistics.median(multi_ms):.1f} ms, p99 {percentile(multi_ms, 99):.1f} ms")
        print(f"sequential _search x{len(names)}:        median "
              f"{statistics.median(seq_ms):.1f} ms, p99 {percentile(seq_ms, 99):.1f} ms")
        print(f"ratio sequential / msearch: median "
              f"{statistics.median(seq_ms) / statistics.median(multi_ms):.2f}x, p99 "
              f"{percentile(seq_ms, 99) / percentile(multi_ms, 99):.2f}x")
        print(f"hits per query: msearch {hits_multi / n:.0f}, sequential {hits_seq / n:.0f}; "
              f"sub-search errors: {errors}")
    finally:
        if not args.keep:
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        else:
            print(f"kept: --prefix {prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
