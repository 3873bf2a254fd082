"""Where the ranker's time goes: per feature (the profile API) and per design (a rescore on
every sub-search, as ltrr ranked until 2026-12, against one reranking search of the union).

    python benchmarks/bench_feature_cost.py --catalog films --queries 120

On a fresh prefix with the catalog loaded and the shipped default model deployed
(``ltrr ltr init``), for seeded queries of every kind:

1. **Per feature.** The reranking search of each query's union (an ``ids`` query on the
   fused candidates) is sent with ``"profile": true`` and the model as a top-level ``sltr``
   (the profile API does not break a rescore down, a query it does): each feature query is a
   child of the ``RankerQuery``; its ``create_weight``, ``build_scorer`` and scoring times
   are summed per feature, and the shard's ``rewrite_time`` (Lucene's rewrites: where fuzzy
   and prefix queries expand) is reported per search. The feature set is the one in force,
   so a feature set under test can be measured before it ships (``--feature-set``).
2. **Per design**, timed at the client, in a rotating order:
   * ``unranked`` — the default strategies in one ``_msearch``, no ranker;
   * ``rescore per sub-search`` — the same ``_msearch`` where every sub-search carries the
     ``sltr`` rescore and the feature log (window = its k);
   * ``one rescore of the union`` — the unranked ``_msearch``, then the one reranking search
     (what ``Pipeline.search`` does now).
   And ``one sub-search ranked`` vs ``four``: the rescore's cost with one strategy against
   all of them.
3. **Per part of the reranking search**, the same union's body with one thing changed
   (the page and log depth, the window, no model, no rescore at all), timed at the client
   and by the engine's ``took``, in a rotating order.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_catalogs import (  # noqa: E402
    DESCRIPTIONS,
    catalog_path,
    compact,
    with_description,
)

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.evaluate.querysets import generate_queries, read_catalog  # noqa: E402
from ltrr_opensearch.pipeline import Pipeline  # noqa: E402
from ltrr_opensearch.rank.features import sltr_params  # noqa: E402
from ltrr_opensearch.retrieve.msearch import (  # noqa: E402
    FILTER_PATH,
    default_q2e_key,
    prepare_searches,
)

K = 50


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default="films")
    parser.add_argument("--description")
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--feature-set", default="ltrr_core")
    parser.add_argument("--url")
    args = parser.parse_args()

    path = catalog_path(args.catalog, 12_000)
    description = args.description or DESCRIPTIONS.get(args.catalog, "music")
    prefix = f"bench-fcost-{uuid.uuid4().hex[:6]}"
    settings = Settings.load(url=args.url).with_overrides(index_prefix=prefix)
    settings = with_description(settings, description)
    client = make_client(settings.with_overrides(timeout=300.0))
    cluster_info(client, settings)
    rows = read_catalog(path)
    queries = generate_queries(rows, args.queries, args.seed)
    try:
        load_catalog(client, settings, compact(path, Path("out/bench_feature_cost")),
                     embedder=make_fresh_embedder("tfidf"), quiet=True)
        from ltrr_opensearch.rank.setup import ltr_init

        init = ltr_init(client, settings, feature_set_name=args.feature_set,
                        default_model=args.feature_set == "ltrr_core")
        pipeline = Pipeline.from_cluster(client, settings)
        if args.feature_set != "ltrr_core":  # a set without a model: its features, logged
            from ltrr_opensearch.rank.features import feature_set_for
            from ltrr_opensearch.rank.ranker import Ranker

            fs = feature_set_for(client, settings, args.feature_set)
            pipeline = dataclasses.replace(pipeline, ranker=Ranker.logging_only(
                fs.store_name, tuple(fs.names), frozenset(fs.params)))
        if pipeline.ranker is None:
            raise SystemExit(f"no model deployed: {'; '.join(init.notes)}")
        per_feature(client, settings, pipeline, queries)
        per_design(client, settings, pipeline, queries)
        per_part(client, settings, pipeline, queries)
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")
    return 0


def _params(pipeline: Pipeline, understanding: Any) -> dict[str, Any]:
    ranker = pipeline.ranker
    vector = None
    if "query_vector" in ranker.params and pipeline.embed_query is not None:
        vector = pipeline.embed_query(understanding.normalized)
    return sltr_params(understanding, q2e_key=default_q2e_key(understanding.normalized),
                       vector=vector, needed=set(ranker.params), catalog=pipeline.catalog)


def per_feature(client: Any, settings: Settings, pipeline: Pipeline, queries: list[Any]) -> None:
    ranker = pipeline.ranker
    fusion = dataclasses.replace(pipeline, ranker=None)
    spent: dict[str, list[float]] = defaultdict(list)
    parts: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rewrite, took = [], []
    for q in queries:
        response = fusion.search(q.query, k=10, log=False)
        ids = [c.doc_id for c in response.candidates]
        if not ids:
            continue
        sltr = {"params": _params(pipeline, response.understanding),
                **({"model": ranker.model} if ranker.model else
                   {"featureset": ranker.feature_set})}
        body = {"profile": True, "size": 10, "_source": False,
                "query": {"bool": {"filter": [{"ids": {"values": ids}}],
                                   "must": [{"sltr": sltr}]}}}
        answer = client.search(index=settings.catalog_index, body=body)
        took.append(answer["took"])
        search = answer["profile"]["shards"][0]["searches"][0]
        rewrite.append(search["rewrite_time"] / 1e6)
        found = [c for c in search["query"][0].get("children", [])
                 if c["type"] == "RankerQuery"]
        if not found:
            continue
        for name, child in zip(ranker.feature_names, found[0].get("children", []),
                               strict=False):
            spent[name].append(child["time_in_nanos"] / 1e6)
            split = {"create_weight": 0.0, "build_scorer": 0.0, "scoring": 0.0}
            for key, ns in child["breakdown"].items():
                if not key.endswith("_count"):
                    split[key if key in split else "scoring"] += ns / 1e6
            for key, ms in split.items():
                parts[name][key].append(ms)
    total = sum(statistics.fmean(v) for v in spent.values())
    print(f"\nper feature: the reranking search of {len(took)} unions (profile API, mean ms "
          f"per search; the shard's rewrite {statistics.fmean(rewrite):.2f} ms, took p50 "
          f"{pct(took, 50):.0f} ms)\n")
    print("| feature | ms | share | create_weight | build_scorer | scoring |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in sorted(spent.items(), key=lambda kv: -statistics.fmean(kv[1])):
        mean = statistics.fmean(values)
        detail = {key: statistics.fmean(ms) for key, ms in parts[name].items()}
        print(f"| {name} | {mean:.3f} | {100 * mean / total:.0f}% | "
              f"{detail['create_weight']:.3f} | {detail['build_scorer']:.3f} | "
              f"{detail['scoring']:.3f} |")


def per_design(client: Any, settings: Settings, pipeline: Pipeline, queries: list[Any]) -> None:
    ranker = pipeline.ranker
    fusion = dataclasses.replace(pipeline, ranker=None)
    names = list(pipeline.registry.names)

    def bodies(understanding: Any, plan: list[tuple[str, int]], ranked: bool) -> list[dict]:
        lines: list[dict] = []
        params = _params(pipeline, understanding)
        for p in prepare_searches(pipeline.registry, understanding, plan,
                                  embed_query=pipeline.embed_query, catalog=pipeline.catalog):
            if p.body is None:
                continue
            body = dict(p.body)
            if ranked and not {"rescore", "sort"} & set(body):
                body["rescore"] = ranker.rescore(params, window=p.k)
                body["ext"] = ranker.log_ext()
            lines += [{}, body]
        return lines

    def union(understanding: Any, every: list[tuple[str, int]]) -> float:
        """The unranked _msearch, the fusion, then the one reranking search (as rerank.py
        sends it: every fused candidate rescored, the page returned with its features)."""
        from ltrr_opensearch.retrieve.merge import merge_results
        from ltrr_opensearch.retrieve.msearch import run_strategies

        timings: dict[str, float] = {}
        results = run_strategies(client, settings, pipeline.registry, understanding, every,
                                 embed_query=pipeline.embed_query, catalog=pipeline.catalog,
                                 timings=timings)
        ids = [c.doc_id for c in merge_results(results)]
        body = {"size": 10, "_source": False, "track_total_hits": False,
                "query": {"ids": {"values": ids}},
                "rescore": ranker.rescore(_params(pipeline, understanding), window=len(ids)),
                "ext": ranker.log_ext()}
        started = time.perf_counter()
        client.search(index=settings.catalog_index, body=body)
        return timings["engine"] + (time.perf_counter() - started) * 1000

    def msearch(lines: list[dict]) -> float:
        started = time.perf_counter()
        client.msearch(body=lines, index=settings.catalog_index,
                       params={"filter_path": FILTER_PATH + ",responses.hits.hits.fields"})
        return (time.perf_counter() - started) * 1000

    samples: dict[str, list[float]] = defaultdict(list)
    for i, q in enumerate(queries):
        understanding = fusion.search(q.query, k=10, log=False).understanding
        every = [(n, K) for n in names]
        one = [(names[0], K)]
        systems = {
            "unranked (all strategies)": lambda u=understanding, e=every: msearch(
                bodies(u, e, False)),
            "rescore per sub-search (all strategies)": lambda u=understanding, e=every: msearch(
                bodies(u, e, True)),
            "one rescore of the union (what Pipeline.search sends)":
                lambda u=understanding, e=every: union(u, e),
            f"one sub-search ranked ({names[0]})": lambda u=understanding, o=one: msearch(
                bodies(u, o, True)),
            f"one sub-search unranked ({names[0]})": lambda u=understanding, o=one: msearch(
                bodies(u, o, False)),
        }
        order = list(systems)
        shift = i % len(order)
        for name in order[shift:] + order[:shift]:
            samples[name].append(systems[name]())
    print(f"\nper design: engine wait at the client, {len(queries)} queries, "
          f"{len(names)} default strategies x {K}\n")
    print("| design | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    for name, ms in samples.items():
        print(f"| {name} | {pct(ms, 50):.2f} | {pct(ms, 99):.2f} |")



def per_part(client: Any, settings: Settings, pipeline: Pipeline, queries: list[Any]) -> None:
    """The reranking search as served, and with one part changed at a time."""
    ranker = pipeline.ranker
    fusion = dataclasses.replace(pipeline, ranker=None)
    unions = []
    for q in queries:
        response = fusion.search(q.query, k=10, log=False)
        ids = [c.doc_id for c in response.candidates][:400]
        if ids:
            unions.append((ids, _params(pipeline, response.understanding)))

    def body(ids: list[str], params: dict[str, Any], size: int = 30, window: int | None = None,
             log: bool = True, model: bool = True, rescore: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"size": size, "_source": False, "track_total_hits": False,
                               "query": {"ids": {"values": ids}}}
        if rescore:
            scorer = ranker if model else dataclasses.replace(ranker, model=None)
            out["rescore"] = scorer.rescore(params, window=min(window or len(ids), len(ids)))
            if log:
                out["ext"] = ranker.log_ext()
        return out

    variants: dict[str, dict[str, Any]] = {
        "as served: every candidate rescored, 30 logged": {},
        "10 returned and logged": {"size": 10},
        "30 returned, no feature log": {"log": False},
        "window 50": {"window": 50},
        "the features only (no model), 30 logged": {"model": False},
        "the ids query alone (no rescore)": {"rescore": False},
    }
    wall: dict[str, list[float]] = defaultdict(list)
    took: dict[str, list[float]] = defaultdict(list)
    names = list(variants)
    for i, (ids, params) in enumerate(unions):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            answer = client.search(index=settings.catalog_index,
                                   body=body(ids, params, **variants[name]))
            wall[name].append((time.perf_counter() - started) * 1000)
            took[name].append(float(answer["took"]))
    sizes = sorted(len(ids) for ids, _ in unions)
    print(f"\nper part: the reranking search of {len(unions)} unions (median "
          f"{sizes[len(sizes) // 2]} candidates), one part changed at a time\n")
    print("| reranking search | client p50 ms | engine took p50 ms |")
    print("|---|---:|---:|")
    for name in names:
        print(f"| {name} | {pct(wall[name], 50):.2f} | {pct(took[name], 50):.1f} |")


if __name__ == "__main__":
    raise SystemExit(main())
