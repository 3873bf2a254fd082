"""What grows with catalog size, query rate and event rate, measured on the real node.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9200 python benchmarks/bench_scale.py --sizes 10000,100000

For each catalog size: a seeded synthetic catalog loaded with TF-IDF vectors (``--no-vectors``
for sizes where fitting is too slow: then only the text fields), the catalog's size on disk
per entity (one segment after a force merge, primaries only), ``--searches`` searches
through the pipeline (every enabled strategy, logged), play events for them through the
ingestion, one feedback cycle (consumers, memory, rewards, bandit) and what it cost: seconds,
catalog documents rewritten (the memory's ``q2e`` updates) and the bytes per document of
each log/state index. Separately, the ``q2e`` memory field's size per entity by number of
remembered keys (a rank_features field, 10k docs per point). Prints markdown tables for
docs/scale.md. Everything it creates is deleted afterwards.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import WORDS, synthetic_catalog  # noqa: E402

from ltrr_opensearch.catalog.embed import make_embedder  # noqa: E402
from ltrr_opensearch.catalog.loader import load_catalog  # noqa: E402
from ltrr_opensearch.config import PACKAGE_ROOT, Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402

POLICY = (PACKAGE_ROOT / "policies" / "linucb.toml").read_text().replace(
    "[state]\nsettle_seconds = 5.0", "[state]\nsettle_seconds = 0.0\nattribution_seconds = 0.0")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def size_per_doc(client, index: str, merge: bool = True) -> tuple[int, int]:
    """(docs, primary store bytes) of ``index`` (an alias resolves to its index)."""
    if not client.indices.exists(index=index):
        return 0, 0
    client.indices.refresh(index=index)
    if merge:
        client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=1800)
        client.indices.refresh(index=index)  # lets the merged-away files go
    stats = client.indices.stats(index=index, metric="docs,store")["_all"]["primaries"]
    return stats["docs"]["count"], stats["store"]["size_in_bytes"]


def indexing_total(client, index: str) -> int:
    stats = client.indices.stats(index=index, metric="indexing")["_all"]["primaries"]
    return stats["indexing"]["index_total"]


def one_size(client, base: Settings, n: int, args, policy: Path) -> dict:
    from ltrr_opensearch.feedback.indices import memory_index
    from ltrr_opensearch.feedback.ingest import ingest_events
    from ltrr_opensearch.loop import FeedbackLoop
    from ltrr_opensearch.pipeline import BufferedSearchLog, Pipeline

    settings = base.with_overrides(index_prefix=f"bench-scale-{uuid.uuid4().hex[:8]}")
    row: dict = {"n": n}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = synthetic_catalog(Path(tmp) / "catalog.jsonl", n)
            vectors = n <= args.vectors_up_to
            started = time.perf_counter()
            if vectors:
                load_catalog(client, settings, path, embedder=make_embedder("tfidf"), quiet=True)
            else:
                _load_text_only(client, settings, path)
            row["load_s"] = time.perf_counter() - started
            row["vectors"] = vectors
        docs, size = size_per_doc(client, settings.catalog_alias)
        row["catalog_bytes_per_entity"] = size / max(docs, 1)
        row["catalog_mb"] = size / 1e6

        log = BufferedSearchLog(client, settings, batch=200)
        pipeline = Pipeline.from_cluster(client, settings, search_log=log)
        rng = random.Random(n)
        served, times = [], []
        for i in range(args.searches):
            text = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
            t0 = time.perf_counter()
            response = pipeline.search(text, k=10, client_id=f"c{i % 50}")
            times.append((time.perf_counter() - t0) * 1000)
            if response.shown:
                served.append((response.request_id, [h.id for h in response.shown]))
        log.flush(refresh=True)
        row["search_p50_ms"], row["search_p99_ms"] = pct(times, 50), pct(times, 99)

        now = int(time.time() * 1000)
        events = []
        for j, (rid, shown) in enumerate(served):
            for e in range(1 if rng.random() < 0.7 else 2):
                events.append({"action_name": "play", "query_id": rid, "client_id": "scale",
                               "event_id": f"s{j}-{e}", "timestamp": now,
                               "event_attributes": {"object": {"object_id": rng.choice(shown)},
                                                    "position": {"ordinal": 0}}})
        t0 = time.perf_counter()
        ingest_events(client, settings, events, source="bench")
        row["events"] = len(events)
        row["ingest_events_per_s"] = len(events) / (time.perf_counter() - t0)

        before = indexing_total(client, settings.catalog_alias)
        loop = FeedbackLoop.for_serving(client, settings, str(policy), settle_seconds=0)
        t0 = time.perf_counter()
        summary = loop.cycle()
        row["cycle_s"] = time.perf_counter() - t0
        row["catalog_rewrites"] = indexing_total(client, settings.catalog_alias) - before
        row["memory_pairs"] = summary.to_dict().get("memory")
        for name, index in (("query_log", settings.ubi_queries_index),
                            ("event_log", settings.ubi_events_index),
                            ("state", settings.state_index),
                            ("memory", memory_index(settings))):
            count, size = size_per_doc(client, index)
            row[f"{name}_docs"], row[f"{name}_bytes_per_doc"] = count, size / max(count, 1)
    finally:
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")
    return row


def _load_text_only(client, settings: Settings, path: Path) -> None:
    """A catalog with vectors for the first 2000 rows (the TF-IDF fit), then the rest
    without: the index has its vector field but most docs carry none."""
    head = path.with_suffix(".head.jsonl")
    with path.open(encoding="utf-8") as src, head.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= 2000:
                break
            dst.write(line)
    load_catalog(client, settings, head, embedder=make_embedder("tfidf"), quiet=True)
    load_catalog(client, settings, path, embedder=None, quiet=True)


def q2e_field_size(client, keys_list: list[int], docs: int = 10_000) -> list[tuple[int, float]]:
    """Bytes per entity of a rank_features ``q2e`` map of K keys (plus an id and a title)."""
    from ltrr_opensearch.bulk import action, bulk_write

    out = []
    rng = random.Random(3)
    vocabulary = [f"{a}|{b}" for a in WORDS for b in WORDS]  # query keys, as the memory's
    for keys in keys_list:
        index = f"bench-scale-q2e-{uuid.uuid4().hex[:8]}"
        client.indices.create(index=index, body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {"id": {"type": "keyword"}, "title": {"type": "text"},
                                        "q2e": {"type": "rank_features"}}}})
        try:
            actions = [action("index", index, str(i), {
                "id": str(i), "title": " ".join(rng.sample(WORDS, 3)),
                **({"q2e": {k: round(rng.uniform(0.01, 50), 3)
                            for k in rng.sample(vocabulary, keys)}} if keys else {})})
                for i in range(docs)]
            bulk_write(client, actions, "q2e docs")
            count, size = size_per_doc(client, index)
            out.append((keys, size / count))
        finally:
            client.indices.delete(index=index, ignore_unavailable=True)
    return out


def vector_field_size(client, dims_list: list[int], docs: int = 10_000
                      ) -> list[tuple[int, float]]:
    """Bytes per entity of the catalog's vector field (knn_vector, HNSW, lucene, cosine, as
    catalog.v1.json maps it) at each dimension, random unit vectors, one segment."""
    import numpy as np

    from ltrr_opensearch.bulk import action, bulk_write

    out = []
    rng = np.random.default_rng(5)
    for dims in dims_list:
        index = f"bench-scale-vec-{uuid.uuid4().hex[:8]}"
        client.indices.create(index=index, body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "index.knn": True},
            "mappings": {"properties": {"embedding": {
                "type": "knn_vector", "dimension": dims,
                "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}}}})
        try:
            vectors = rng.normal(size=(docs, dims)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for start in range(0, docs, 2000):
                bulk_write(client, [action("index", index, str(i),
                                           {"embedding": vectors[i].tolist()})
                                    for i in range(start, min(docs, start + 2000))],
                           "vector docs")
            count, size = size_per_doc(client, index)
            out.append((dims, size / count))
        finally:
            client.indices.delete(index=index, ignore_unavailable=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--vectors-up-to", type=int, default=100_000,
                        help="larger catalogs get vectors on their first 2000 rows only")
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--q2e-keys", default="0,10,50,200")
    parser.add_argument("--vector-dims", default="25,128,384")
    parser.add_argument("--fields-only", action="store_true",
                        help="only the per-field sizes (q2e map, vector field)")
    args = parser.parse_args()
    settings = Settings.load()
    client = make_client(settings, timeout=600)
    cluster_info(client, settings)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.toml"
        policy.write_text(POLICY)
        if not args.fields_only:
            rows = [one_size(client, settings, int(n), args, policy)
                    for n in args.sizes.split(",")]
    print("| entities | vectors | load s | catalog MB | bytes/entity | search p50 ms | p99 ms |"
          " events | ingest ev/s | cycle s | catalog rewrites | memory pairs |")
    print("|---:|:--|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {'TF-IDF' if r['vectors'] else 'first 2000'} | "
              f"{r['load_s']:.0f} | {r['catalog_mb']:.1f} | {r['catalog_bytes_per_entity']:,.0f} |"
              f" {r['search_p50_ms']:.1f} | {r['search_p99_ms']:.1f} | {r['events']} | "
              f"{r['ingest_events_per_s']:,.0f} | {r['cycle_s']:.1f} | {r['catalog_rewrites']} |"
              f" {r['memory_pairs']} |")
    print("\n| entities | query log B/doc | event log B/doc | state B/doc (docs) | "
          "memory B/doc (docs) |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['query_log_bytes_per_doc']:,.0f} | "
              f"{r['event_log_bytes_per_doc']:,.0f} | {r['state_bytes_per_doc']:,.0f} "
              f"({r['state_docs']}) | {r['memory_bytes_per_doc']:,.0f} ({r['memory_docs']}) |")
    sizes = q2e_field_size(client, [int(k) for k in args.q2e_keys.split(",")])
    base = sizes[0][1]
    print("\n| q2e keys per entity | bytes/entity | bytes per key over none |")
    print("|---:|---:|---:|")
    for keys, per in sizes:
        print(f"| {keys} | {per:,.0f} | {(per - base) / keys if keys else 0:,.1f} |")
    print("\n| vector dimension | bytes/entity (knn_vector, HNSW) | raw float32 bytes |")
    print("|---:|---:|---:|")
    for dims, per in vector_field_size(client, [int(d) for d in args.vector_dims.split(",")]):
        print(f"| {dims} | {per:,.0f} | {4 * dims:,} |")


if __name__ == "__main__":
    main()
