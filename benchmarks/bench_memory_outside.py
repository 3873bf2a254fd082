"""What keeping the memory outside the user's index costs: p50 of the q2e sub-search and of
the whole search, memory in the index vs outside, measured in the same run on the same index.

    python benchmarks/bench_memory_outside.py --docs 20000 --keys 500 --queries 400

An index of the user's own kind (plain mapping: name/maker/blurb/category/sales/launched,
an id field ``sku`` that is not the document ``_id``) is filled with synthetic products;
``--keys`` memory keys get 5-15 entities each as memory evidence documents (the memory
index, exactly what the consumer writes). Then:

* ``index``: ``ltrr catalog adopt --apply`` adds ``q2e`` and the consumer's writer
  (``rebuild_entities``) fills it; ``q2e_memory`` is one ``rank_feature`` query;
* ``outside``: the same index and memory, ``[memory] store = "outside"``: ``q2e_memory``
  reads the key's entities from the memory index (one extra request; ``cached``: the same
  key again within the cache window) and fetches them by id with their weights as boosts.

The modes alternate query by query (same node load). Times are client side, milliseconds:
``q2e`` = ``run_strategies`` with q2e_memory alone (memory read included), ``whole`` = every
strategy that applies in one ``_msearch`` (as the product sends it). The index prefix is
deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from ltrr_opensearch.bulk import bulk_write
from ltrr_opensearch.catalog.adopt import apply_plan, plan_adoption
from ltrr_opensearch.catalog.description import description_for, forget
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.feedback import memory as memory_module
from ltrr_opensearch.feedback.config import MemoryConfig
from ltrr_opensearch.feedback.indices import ensure_feedback_indices, memory_index
from ltrr_opensearch.feedback.memory import memory_doc_id, rebuild_entities
from ltrr_opensearch.retrieve.catalog import catalog_context
from ltrr_opensearch.retrieve.msearch import run_strategies
from ltrr_opensearch.retrieve.templates import TemplateRegistry
from ltrr_opensearch.understand import understand
from ltrr_opensearch.understand.gazetteer import Gazetteer
from ltrr_opensearch.understand.normalize import normalize_query, q2e_key

WORDS = ["trail", "runner", "summit", "jacket", "camp", "mug", "river", "pack", "alpine",
         "tent", "ridge", "lamp", "storm", "shell", "canyon", "boot", "harbor", "stove",
         "glacier", "rope", "meadow", "bottle", "pine", "glove", "coast", "sleeping", "bag",
         "valley", "chair", "north", "light", "fleece"]
MAKERS = ["Fleetfoot", "Northwall", "Ridgeline", "Cascade", "Harbor & Co", "Pinecrest"]
STRATEGIES = ["bm25_popularity", "structured_qu", "fresh_releases", "long_tail", "q2e_memory"]
DESCRIPTION = """
name = "shop"
index = "{index}"
[fields]
id = "sku"
title = ["name^3"]
creator = ["maker^2"]
text = ["blurb^0.5"]
popularity = "sales"
date = "launched"
[facets]
category = "category"
[memory]
store = "{store}"
"""


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    base = Settings.load(env=dict(os.environ)).with_overrides(index_prefix=prefix)
    client = make_client(base)
    index = f"{prefix}-products"
    tmp = Path(tempfile.mkdtemp())
    try:
        client.indices.create(index=index, body={"settings": {"number_of_shards": 1}, "mappings": {
            "properties": {"sku": {"type": "keyword"}, "name": {"type": "text", "fields": {
                "keyword": {"type": "keyword", "ignore_above": 256}}},
                "maker": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "blurb": {"type": "text"}, "category": {"type": "keyword"},
                "sales": {"type": "long"}, "launched": {"type": "date"}}}})
        docs = []
        for i in range(args.docs):
            name = " ".join(rng.sample(WORDS, rng.randint(2, 4))).title()
            docs.append({"_op_type": "index", "_index": index, "_id": f"doc-{i}",
                         "_source": {"sku": f"SKU-{i}", "name": name,
                                     "maker": rng.choice(MAKERS),
                                     "blurb": " ".join(rng.choices(WORDS, k=12)),
                                     "category": rng.choice(["shoes", "jackets", "camp"]),
                                     "sales": int(rng.paretovariate(1.2) * 10),
                                     "launched": f"{rng.randint(1995, 2024)}-0{rng.randint(1, 9)}-15"}})
        bulk_write(client, docs, "products", refresh=True)

        settings = {}
        for store in ("index", "outside"):
            path = tmp / f"{store}.toml"
            path.write_text(DESCRIPTION.format(index=index, store=store), encoding="utf-8")
            settings[store] = base.with_overrides(
                sections={**base.sections, "catalog": {"description": str(path)}})
        forget()
        apply_plan(client, settings["index"], plan_adoption(
            client, settings["index"], description_for(settings["index"])))

        # Memory evidence: each key's entities, as the consumer stores them.
        ensure_feedback_indices(client, settings["index"])
        queries = []
        evidence = []
        entities: set[str] = set()
        for _ in range(args.keys):
            text = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
            queries.append(text)
            key = q2e_key(normalize_query(text))
            for _ in range(rng.randint(5, 15)):
                entity = f"SKU-{rng.randrange(args.docs)}"
                entities.add(entity)
                evidence.append({"_op_type": "index", "_index": memory_index(settings["index"]),
                                 "_id": memory_doc_id("observed", key, entity),
                                 "_source": {"key": key, "query": text, "entity_id": entity,
                                             "source": "observed", "eligible": True,
                                             "value": round(rng.uniform(0.5, 20.0), 3)}})
        bulk_write(client, evidence, "memory evidence", refresh=True)
        started = time.perf_counter()
        rebuild_entities(client, settings["index"], entities, MemoryConfig.from_settings(base))
        print(f"index: {args.docs} docs; memory: {args.keys} keys, {len(evidence)} pairs, "
              f"{len(entities)} entities written to q2e in {time.perf_counter() - started:.1f}s")

        registry = TemplateRegistry.from_settings(base)
        gazetteer = Gazetteer({})
        contexts = {store: catalog_context(client, s) for store, s in settings.items()}
        times: dict[str, list[float]] = {f"{m}/{w}": [] for m in ("index", "outside", "cached")
                                         for w in ("q2e", "whole")}
        hits = {"index": 0, "outside": 0}

        def timed(store: str, label: str, text: str, names: list[str]) -> list:
            u = understand(text, gazetteer)
            t0 = time.perf_counter()
            results = run_strategies(client, settings[store], registry, u,
                                     [(n, 10) for n in names], catalog=contexts[store])
            times[label].append((time.perf_counter() - t0) * 1000)
            errors = [r.error for r in results if r.error]
            if errors:
                raise SystemExit(f"{store}: {errors}")
            return results

        for _ in range(3):  # warm-up
            for store in ("index", "outside"):
                timed(store, f"{store}/whole", queries[0], STRATEGIES)
        for label in times:
            times[label].clear()
        for n in range(args.queries):
            text = rng.choice(queries)
            for store in (("index", "outside") if n % 2 else ("outside", "index")):
                memory_module.MEMORY_CACHE_SECONDS = 0.0  # every outside search reads
                r = timed(store, f"{store}/q2e", text, ["q2e_memory"])
                hits[store] += len(r[0].hits)
                timed(store, f"{store}/whole", text, STRATEGIES)
            memory_module.MEMORY_CACHE_SECONDS = 60.0  # the same key again: from the cache
            memory_module.memory_for_key(client, settings["outside"],
                                         q2e_key(normalize_query(text)), 10)
            timed("outside", "cached/q2e", text, ["q2e_memory"])
            timed("outside", "cached/whole", text, STRATEGIES)
            memory_module.forget_memory_cache()

        print(f"{args.queries} queries per mode; q2e hits returned: index {hits['index']}, "
              f"outside {hits['outside']} (must match)")
        print(f"{'mode':<22}{'q2e p50 ms':>12}{'whole p50 ms':>14}")
        names = {"index": "memory in the index", "outside": "outside (read)",
                 "cached": "outside (cached key)"}
        for mode, name in names.items():
            print(f"{name:<22}{p50(times[f'{mode}/q2e']):>12.2f}"
                  f"{p50(times[f'{mode}/whole']):>14.2f}")
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


if __name__ == "__main__":
    main()
