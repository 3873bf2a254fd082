"""What reranking inside the engine costs: the same BM25 search with and without an ``sltr``
rescore, against fetching the features with separate searches and scoring in Python.

    source .venv/bin/activate
    python benchmarks/bench_rescore.py --url http://127.0.0.1:9280 --keep --reuse

Needs a node with ltrr's LTR plugin (``ltrr-ltr``). Steps:

1. the simulated 100k world (``configs/worlds/100k.toml``) loaded through ``load_catalog``
   without vectors into ``bench-rescore-catalog`` (``--reuse`` keeps an index that already
   holds ``--n`` docs; ``--keep`` leaves it for the next run), force-merged to one segment
   so runs are comparable;
2. a per-run LTR store ``bench-rescore-<run>`` with one feature set of 10 ``ltrr_core``
   features (every one matches every doc), a ``model/linear`` and a 100-tree depth-6
   ``model/xgboost+json`` model, both trained on features fetched from the engine for
   ``--train-queries`` queries with synthetic labels (the queried entity 2, same creator 1);
3. ``--queries`` realistic queries (full titles, one or two title words, titles with one
   typo, "creator title"), each run through every variant in rotating order after a warm-up:
   a) BM25 ``multi_match``, size 10;
   b) a) + ``sltr`` rescore with the linear model, window ``--window``, ``query_weight: 0``;
   c) a) + ``sltr`` rescore with the tree model, same window;
   d) the top ``--window`` of a), then ONE ``_msearch`` of the 10 feature queries restricted
      to those ids, the tree model applied in Python (xgboost) - a separate reranking service;
   e) as d) but the 10 feature searches one after another;
4. a table (client-side p50/p99, the engine's ``took``, p50 added vs a), ratio to a), the
   goal "rescore adds <= 10 ms at p50", how often c) and d) agree on the top 10, and
   ``out/bench_rescore.json``. The store is deleted at the end, the index unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ltrr_opensearch.catalog.embed import make_embedder
from ltrr_opensearch.catalog.index import alias_targets, ensure_catalog
from ltrr_opensearch.catalog.loader import load_catalog
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import cluster_info, make_client
from ltrr_opensearch.rank.features import FeatureTemplate, load_feature_set
from ltrr_opensearch.rank.train import TrainingResult, train_lambdamart, train_linear
from ltrr_opensearch.simulate.typos import add_typo
from ltrr_opensearch.simulate.world import World

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "bench-rescore"
FEATURES = ("text_bm25", "title_bm25", "title_exact", "title_phrase", "title_fuzzy",
            "title_prefix", "creator_bm25", "description_bm25", "popularity", "recency")
BM25_FIELDS = ["title^3", "title.words^3", "artist^2", "artist.words^2", "album^1.5",
               "contributors", "description^0.5"]
SOURCE = ["title", "artist", "entity_type"]
Top = tuple[list[str], list[float]]
VARIANTS = {
    "a": "BM25 only",
    "b": "+ sltr linear rescore",
    "c": "+ sltr 100x depth-6 trees",
    "d": "separate: _msearch + Python",
    "e": "separate: 10 sequential + Python",
}


# -- the catalog --------------------------------------------------------------------------

def prepare_index(client, settings: Settings, world_config: Path, n: int, reuse: bool) -> str:
    """The catalog index with ``n`` docs: reused when ``reuse`` and it has them, else rebuilt."""
    alias = settings.catalog_alias
    targets = alias_targets(client, settings)
    if reuse and len(targets) == 1:
        count = client.count(index=alias)["count"]
        if count == n:
            print(f"reusing {targets[0]} ({count} docs)")
            return alias
        print(f"{targets[0]} holds {count} docs, not {n}: rebuilding")
    drop_index(client)
    world = World.generate(world_config)
    rows = list(world.rows())[:n]
    if len(rows) < n:
        raise SystemExit(f"{world_config} makes {len(rows)} entities, fewer than --n {n}")
    # An index must exist to load without vectors: create it from a tiny TF-IDF fit; the knn
    # field stays empty (no vectors are sent), so it costs nothing at search time.
    ensure_catalog(client, settings, make_embedder("tfidf").fit(
        [r["title"] for r in rows[:2000]]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "world.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                row = {k: v for k, v in row.items() if v is not None and k != "embedding"}
                handle.write(json.dumps(row) + "\n")
        started = time.perf_counter()
        report = load_catalog(client, settings, path, embedder=None, on_error="abort",
                              quiet=True, chunk_size=1000)
        print(f"loaded {report.indexed} docs in {time.perf_counter() - started:.0f} s")
    client.indices.refresh(index=alias)
    started = time.perf_counter()
    client.indices.forcemerge(index=alias, max_num_segments=1, request_timeout=600)
    print(f"force-merged to one segment in {time.perf_counter() - started:.0f} s")
    return alias


def drop_index(client) -> None:
    """The catalog and the state index ``ensure_catalog`` made beside it."""
    client.indices.delete(index=f"{PREFIX}-*", ignore_unavailable=True, expand_wildcards="all")


# -- queries ------------------------------------------------------------------------------

def make_queries(rows: Sequence[Mapping[str, Any]], count: int,
                 seed: int) -> list[tuple[str, str, str]]:
    """``(text, kind, target id)``: entities drawn by popularity, asked for in four ways."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    weights = [max(float(r.get("popularity") or 0.0), 0.01) for r in rows]
    out = []
    while len(out) < count:
        row = rng.choices(rows, weights=weights)[0]
        title = row["title"]
        words = title.split()
        kind = ("title", "words", "typo", "creator_title")[len(out) % 4]
        if kind == "words" and len(words) >= 2:
            k = min(len(words), rng.randint(1, 2))
            start = rng.randrange(len(words) - k + 1)
            text = " ".join(words[start:start + k])
        elif kind == "typo":
            text, typo_kind, _ = add_typo(title, nrng)
            if typo_kind is None:
                kind, text = "title", title
        elif kind == "creator_title" and row.get("artist"):
            text = f"{row['artist']} {title}"
        else:
            kind, text = "title", title
        out.append((text, kind, row["id"]))
    return out


# -- request bodies -----------------------------------------------------------------------

def render(template: Any, params: Mapping[str, Any]) -> Any:
    """A feature template with ``"{{name}}"`` strings replaced by the param value; the value
    stays a JSON value (serialized by the client), so query text is never spliced into DSL."""
    if isinstance(template, dict):
        return {k: render(v, params) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, params) for v in template]
    if isinstance(template, str) and "{{" in template:
        name = template.strip()[2:-2].strip()
        if template.strip() != "{{" + name + "}}" or name not in params:
            raise SystemExit(f"feature template string {template!r} is not a plain placeholder")
        return params[name]
    return template


def bm25_body(text: str, size: int, source: bool = True) -> dict[str, Any]:
    return {"size": size, "_source": SOURCE if source else False,
            "query": {"multi_match": {"query": text, "type": "best_fields", "tie_breaker": 0.3,
                                      "fields": BM25_FIELDS}}}


def rescore_body(text: str, params: Mapping[str, Any], model: str, store: str,
                 window: int) -> dict[str, Any]:
    body = bm25_body(text, 10)
    body["rescore"] = {"window_size": window, "query": {
        "rescore_query": {"sltr": {"params": dict(params), "model": model, "store": store}},
        "query_weight": 0.0, "rescore_query_weight": 1.0}}
    return body


def feature_bodies(features: Sequence[FeatureTemplate], params: Mapping[str, Any],
                   ids: Sequence[str]) -> list[dict[str, Any]]:
    return [{"size": len(ids), "_source": False,
             "query": {"bool": {"must": [render(f.template, params)],
                                "filter": [{"ids": {"values": list(ids)}}]}}}
            for f in features]


def feature_matrix(responses: Sequence[Mapping[str, Any]], ids: Sequence[str]) -> np.ndarray:
    """Row per id, column per feature: the hit's score (every feature matches every doc)."""
    where = {d: i for i, d in enumerate(ids)}
    X = np.full((len(ids), len(responses)), np.nan)
    for j, resp in enumerate(responses):
        if "error" in resp:
            raise SystemExit(f"feature search {j} failed: {resp['error']}")
        for hit in resp["hits"]["hits"]:
            X[where[hit["_id"]], j] = hit["_score"]
    return X


# -- the variants -------------------------------------------------------------------------

class Bench:
    def __init__(self, client, index: str, store: str, features: Sequence[FeatureTemplate],
                 linear: str, trees: str, booster: Any, window: int, now: str) -> None:
        self.client, self.index, self.store = client, index, store
        self.features, self.linear, self.trees = features, linear, trees
        self.booster, self.window, self.now = booster, window, now
        # d) and e): the share of their time spent building the matrix and applying the model
        self.python_ms: dict[str, list[float]] = {"d": [], "e": []}

    def params(self, text: str) -> dict[str, Any]:
        return {"keywords": text, "now": self.now}

    def search(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.client.search(index=self.index, body=body)

    def candidates(self, text: str) -> tuple[Mapping[str, Any], list[str]]:
        first = self.search(bm25_body(text, self.window))
        return first, [h["_id"] for h in first["hits"]["hits"]]

    def predict(self, X: np.ndarray) -> np.ndarray:
        # In place, one thread: a DMatrix per request spins up OpenMP threads, which on a busy
        # 2-core machine costs tens of ms at p99 - a service would not pay that either.
        return self.booster.inplace_predict(X, predict_type="margin", missing=np.nan)

    def top(self, ids: Sequence[str], scores: np.ndarray) -> Top:
        order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), i))[:10]
        return [ids[i] for i in order], [float(scores[i]) for i in order]

    def run(self, variant: str, text: str) -> tuple[int, Top]:
        """One request of ``variant``: (the engine's summed ``took`` in ms, the top 10 ids
        and their scores)."""
        if variant in ("a", "b", "c"):
            body = bm25_body(text, 10) if variant == "a" else rescore_body(
                text, self.params(text), self.linear if variant == "b" else self.trees,
                self.store, self.window)
            resp = self.search(body)
            hits = resp["hits"]["hits"]
            return resp["took"], ([h["_id"] for h in hits], [h["_score"] for h in hits])
        first, ids = self.candidates(text)
        if not ids:
            return first["took"], ([], [])
        bodies = feature_bodies(self.features, self.params(text), ids)
        if variant == "d":
            lines: list[Any] = []
            for body in bodies:
                lines += [{"index": self.index}, body]
            multi = self.client.msearch(body=lines)
            responses, took = multi["responses"], first["took"] + multi["took"]
        else:
            responses = [self.search(body) for body in bodies]
            took = first["took"] + sum(r["took"] for r in responses)
        t0 = time.perf_counter()
        ranked = self.top(ids, self.predict(feature_matrix(responses, ids)))
        self.python_ms[variant].append((time.perf_counter() - t0) * 1000)
        return took, ranked

    def training_rows(self, queries: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
        """Features as the engine computes them for each query's top ``window``, labelled 2
        for the queried entity, 1 for its creator's other entities, else 0."""
        rows = []
        for n, (text, _, target) in enumerate(queries):
            first = self.search(bm25_body(text, self.window, source=True) | {"_source": ["artist"]})
            hits = first["hits"]["hits"]
            ids = [h["_id"] for h in hits]
            if not ids:
                continue
            artist = next((h["_source"].get("artist") for h in hits if h["_id"] == target), None)
            lines: list[Any] = []
            for body in feature_bodies(self.features, self.params(text), ids):
                lines += [{"index": self.index}, body]
            X = feature_matrix(self.client.msearch(body=lines)["responses"], ids)
            for hit, x in zip(hits, X, strict=True):
                label = 2 if hit["_id"] == target else int(
                    artist is not None and hit["_source"].get("artist") == artist)
                rows.append({"query_id": f"q{n}", "doc_id": hit["_id"], "label": label,
                             "features": {f: float(v) for f, v in zip(FEATURES, x, strict=True)
                                          if not math.isnan(v)}})
        return rows


# -- statistics ---------------------------------------------------------------------------

def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def tree_shape(definition: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    def depth(node: Mapping[str, Any]) -> int:
        kids = node.get("children") or []
        return 1 + max((depth(k) for k in kids), default=-1) if kids else 0

    def nodes(node: Mapping[str, Any]) -> int:
        return 1 + sum(nodes(k) for k in node.get("children") or [])

    return {"trees": len(definition), "max_depth": max(depth(t) for t in definition),
            "nodes": sum(nodes(t) for t in definition)}


# -- main ---------------------------------------------------------------------------------

def create_models(client, store: str, set_name: str, linear: TrainingResult,
                  trees: TrainingResult, run: str) -> tuple[str, str]:
    names = (f"bench_rescore_linear_{run}", f"bench_rescore_trees_{run}")
    for name, result in zip(names, (linear, trees), strict=True):
        client.plugins.ltr.create_model_from_set(name=set_name, store=store,
                                                 body=result.model_body(name))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:9280",
                        help="a node with ltrr's LTR plugin (default %(default)s)")
    parser.add_argument("--world", type=Path, default=ROOT / "configs/worlds/100k.toml")
    parser.add_argument("--n", type=int, default=100_000, help="catalog docs (default 100k)")
    parser.add_argument("--queries", type=int, default=400, help="measured queries")
    parser.add_argument("--warmup", type=int, default=40, help="unmeasured queries first")
    parser.add_argument("--train-queries", type=int, default=200)
    parser.add_argument("--window", type=int, default=100, help="rescore window / candidates")
    parser.add_argument("--variants", default="abcde", help="subset of abcde to run")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse bench-rescore-catalog when it holds --n docs")
    parser.add_argument("--keep", action="store_true", help="leave the index for --reuse")
    parser.add_argument("--out", type=Path, default=ROOT / "out/bench_rescore.json")
    args = parser.parse_args()
    variants = [v for v in VARIANTS if v in args.variants]
    if "a" not in variants:
        raise SystemExit("--variants must include a (the baseline)")

    settings = Settings.load().with_overrides(urls=(args.url,), index_prefix=PREFIX)
    client = make_client(settings, timeout=120)
    version = cluster_info(client, settings)["version"]["number"]
    plugins = {p["component"] for p in client.cat.plugins(format="json")}
    if "ltrr-ltr" not in plugins:
        raise SystemExit(f"{args.url} has no ltrr-ltr plugin (plugins: {sorted(plugins)})")

    run = uuid.uuid4().hex[:8]
    store = f"{PREFIX}-{run}"
    set_name = f"bench_rescore_{run}"
    store_made = False
    try:
        index = prepare_index(client, settings, args.world, args.n, args.reuse)
        world = World.generate(args.world)
        rows = list(world.rows())[:args.n]
        now = world.config.now.isoformat()

        all_features = {f.name: f for f in load_feature_set(settings).features}
        features = [all_features[name] for name in FEATURES]
        client.plugins.ltr.create_store(store=store)
        store_made = True
        client.plugins.ltr.create_featureset(id=set_name, store=store, body={"featureset": {
            "name": set_name, "features": [f.to_store() for f in features]}})

        bench = Bench(client, index, store, features, "", "", None, args.window, now)
        started = time.perf_counter()
        train_rows = bench.training_rows(make_queries(rows, args.train_queries, seed=101))
        linear = train_linear(train_rows, FEATURES)
        trees = train_lambdamart(train_rows, FEATURES, rounds=100, max_depth=6,
                                 min_child_weight=0.0)
        shape = tree_shape(trees.definition)
        print(f"trained on {len(train_rows)} rows in {time.perf_counter() - started:.0f} s: "
              f"linear, and {shape['trees']} trees (max depth {shape['max_depth']}, "
              f"{shape['nodes']} nodes)")
        bench.linear, bench.trees = create_models(client, store, set_name, linear, trees, run)
        bench.booster = trees.model
        bench.booster.set_param({"nthread": 1})

        measured = make_queries(rows, args.queries + args.warmup, seed=202)
        warm, measured = measured[:args.warmup], measured[args.warmup:]
        for i, (text, _, _) in enumerate(warm):
            for v in variants[i % len(variants):] + variants[:i % len(variants)]:
                bench.run(v, text)

        ms: dict[str, list[float]] = {v: [] for v in variants}
        took: dict[str, list[float]] = {v: [] for v in variants}
        tops: dict[str, list[Top]] = {v: [] for v in variants}
        load_before = os.getloadavg()
        bench.python_ms = {"d": [], "e": []}
        cache_before = client.plugins.ltr.cache_stats()["all"]
        started = time.perf_counter()
        for i, (text, _, _) in enumerate(measured):
            shift = i % len(variants)
            for v in variants[shift:] + variants[:shift]:  # round robin: noise hits all alike
                t0 = time.perf_counter()
                engine_ms, top = bench.run(v, text)
                ms[v].append((time.perf_counter() - t0) * 1000)
                took[v].append(engine_ms)
                tops[v].append(top)
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()
        cache_after = client.plugins.ltr.cache_stats()["all"]
    finally:
        try:
            if store_made:
                client.plugins.ltr.delete_store(store=store)
        except Exception as exc:  # noqa: BLE001 - report, then still drop the index
            print(f"could not delete LTR store {store} ({exc}); delete it with "
                  f"`curl -X DELETE {args.url}/_ltr/{store}`")
        if not args.keep:
            drop_index(client)

    report(args, variants, ms, took, tops, measured, shape, version, seconds,
           load_before, load_after, len(train_rows), bench.python_ms,
           cache_delta(cache_before, cache_after))


def cache_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, int]:
    """Plugin cache hits and misses during the measured loop (node-wide: other users' searches
    count too). Misses that grow with the queries would mean a model compiled per request."""
    return {f"{cache}_{k}": after[cache][k] - before[cache][k]
            for cache in ("models", "elements") for k in ("hits", "misses")}


def agreement(tops: Mapping[str, list[Top]], x: str, y: str) -> dict[str, float] | None:
    """How often two variants agree on a query's top 10: the same ids in the same order, the
    same ids, and the same scores (equal scores are ties that each side may break its own
    way: Lucene by doc id, Python by BM25 rank)."""
    if x not in tops or y not in tops:
        return None
    pairs = list(zip(tops[x], tops[y], strict=True))

    def same_scores(a: Top, b: Top) -> bool:
        return len(a[1]) == len(b[1]) and all(
            abs(p - q) <= 1e-4 * max(1.0, abs(p)) for p, q in zip(a[1], b[1], strict=True))

    return {"same_order": sum(a[0] == b[0] for a, b in pairs) / len(pairs),
            "same_set": sum(set(a[0]) == set(b[0]) for a, b in pairs) / len(pairs),
            "same_scores": sum(same_scores(a, b) for a, b in pairs) / len(pairs)}


def report(args, variants, ms, took, tops, measured, shape, version, seconds, load_before,
           load_after, train_rows, python_ms, cache) -> None:
    base50 = pct(ms["a"], 50)
    table = {}
    for v in variants:
        p50 = pct(ms[v], 50)
        table[v] = {"name": VARIANTS[v], "n": len(ms[v]), "p50_ms": p50, "p99_ms": pct(ms[v], 99),
                    "took_p50_ms": pct(took[v], 50), "took_p99_ms": pct(took[v], 99),
                    "added_p50_ms": p50 - base50, "ratio_p50": p50 / base50}
        if python_ms.get(v):
            table[v]["python_model_p50_ms"] = pct(python_ms[v], 50)
    header = (f"{'variant':<38} {'p50 ms':>8} {'p99 ms':>8} {'took p50':>9} {'took p99':>9} "
              f"{'+p50 vs a':>10} {'x a':>6}")
    print(f"\nOpenSearch {version} at {args.url}; {args.n} docs; {len(measured)} queries x "
          f"{len(variants)} variants in {seconds:.0f} s; window {args.window}; load average "
          f"{load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} cores (shared)")
    print(header)
    for v, row in table.items():
        print(f"{v}) {row['name']:<35} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
              f"{row['took_p50_ms']:9.1f} {row['took_p99_ms']:9.1f} "
              f"{row['added_p50_ms']:+10.2f} {row['ratio_p50']:6.2f}")
    goal = {}
    for v in ("b", "c"):
        if v in table:
            added = table[v]["added_p50_ms"]
            goal[v] = {"added_p50_ms": added, "met": added <= 10.0}
    if goal:
        print("goal: rescore adds <= 10 ms at p50: " + "; ".join(
            f"{v}) {g['added_p50_ms']:+.2f} ms {'MET' if g['met'] else 'NOT MET'}"
            for v, g in goal.items()))
    shares = [f"{v}) {row['python_model_p50_ms']:.2f} ms" for v, row in table.items()
              if "python_model_p50_ms" in row]
    if shares:
        print("of which features -> matrix -> xgboost predict in Python, p50: " + ", ".join(shares))
    parity = {k: agreement(tops, *k.split("_vs_")) for k in ("c_vs_d", "c_vs_e")}
    parity = {k: p for k, p in parity.items() if p is not None}
    for k, p in parity.items():
        print(f"top-10 agreement {k.replace('_vs_', ' vs ')}: same scores (ties aside) "
              f"{p['same_scores']:.1%}, same ids {p['same_set']:.1%}, same order "
              f"{p['same_order']:.1%}")
    print("LTR plugin caches during the loop: " + ", ".join(f"{k} {v}" for k, v in cache.items()))
    kinds: dict[str, int] = {}
    for _, kind, _ in measured:
        kinds[kind] = kinds.get(kind, 0) + 1
    by_kind = {kind: {v: pct([x for x, q in zip(ms[v], measured, strict=True) if q[1] == kind],
                             50) for v in variants} for kind in kinds}
    print("p50 ms by query kind: " + "; ".join(
        f"{kind} (n={kinds[kind]}) " + " ".join(f"{v}={p:.1f}" for v, p in row.items())
        for kind, row in by_kind.items()))
    out = {"date": dt.date.today().isoformat(), "opensearch": version, "url": args.url,
           "docs": args.n, "queries": len(measured), "query_kinds": kinds,
           "p50_ms_by_kind": by_kind,
           "warmup": args.warmup, "window": args.window, "features": list(FEATURES),
           "train_rows": train_rows, "tree_model": shape, "seconds": seconds,
           "cores": os.cpu_count(), "load_average": [load_before[0], load_after[0]],
           "python": platform.python_version(), "variants": table, "goal": goal,
           "top10_agreement": parity, "ltr_cache_delta": cache,
           "samples_ms": {v: [round(x, 3) for x in ms[v]] for v in variants}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
