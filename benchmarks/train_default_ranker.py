"""Train the default ranker that ships with the package (``ltrr_opensearch/rank/default_ranker.json``).

    python benchmarks/train_default_ranker.py --url http://127.0.0.1:9200 \\
        --world configs/worlds/small.toml --world-queries 1500 --chinook-queries 1200 --write

It needs a node with an LTR API (``ltrr engine up`` installs ltrr's plugin). Training data is
music only, on purpose: a simulated world graded by the simulator's truth (five intents) and
the real Chinook catalog with generated known-item, typo, partial and attribute queries. Every
candidate the real pipeline retrieves (all strategies, 50 each) gets the feature values the
engine logs for it; LambdaMART (rank:ndcg) is trained on them, split by query. The held-out
check that matters is on a catalog it never saw (films): ``benchmarks/bench_catalogs.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_catalogs import catalog_path, compact  # noqa: E402

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.evaluate.querysets import generate_queries, read_catalog  # noqa: E402
from ltrr_opensearch.pipeline import Pipeline  # noqa: E402
from ltrr_opensearch.rank.bootstrap import Labelled, collect_rows, logging_pipeline  # noqa: E402
from ltrr_opensearch.rank.features import (  # noqa: E402
    FACET_PARAM_PREFIX,
    feature_set_for,
    load_feature_set,
)
from ltrr_opensearch.rank.registry import ModelEntry  # noqa: E402
from ltrr_opensearch.rank.setup import DEFAULT_MODEL_FILE, ensure_feature_set, ensure_store  # noqa: E402
from ltrr_opensearch.rank.train import train_lambdamart, train_linear  # noqa: E402

CHINOOK = ROOT / "data" / "chinook" / "catalog.jsonl"
FILMS = ROOT / "data" / "generated" / "films.jsonl"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def world_rows(client, settings, world_file: str, n: int, feature_set):
    from ltrr_opensearch.evaluate.experiment import embed_world, prepare_policy_indices, scratch_folder
    from ltrr_opensearch.simulate import QueryStream, World, load_sim_config

    sim = load_sim_config(world_file)
    world = World.generate(sim)
    data = embed_world(list(world.rows()), "tfidf", scratch_folder())
    prepare_policy_indices(client, settings, data)
    pipeline = logging_pipeline(Pipeline.from_cluster(client, settings), feature_set)
    queries = [Labelled(q.query_id, q.text, q.relevant, q.intent, q.timestamp)
               for q in QueryStream(world, sim).take(n)]
    return collect_rows(pipeline, queries, source="world",
                        progress=lambda i: say(f"  world: {i}/{n} queries"))


def catalog_rows(client, settings, path: Path, n: int, seed: int, feature_set):
    """Rows of a catalog file loaded into ``settings``' prefix through the description in
    force there; the feature set is bound to that catalog (its own fields and facet kinds:
    the core features, which the shipped model reads, have the same names everywhere)."""
    rows = read_catalog(path)
    load_catalog(client, settings, compact(path, Path("out/train_default_ranker")),
                 embedder=make_fresh_embedder("tfidf"), quiet=True)
    if feature_set.base_name:
        feature_set = feature_set_for(client, settings, feature_set.base_name)
        ensure_feature_set(client, feature_set)
    pipeline = logging_pipeline(Pipeline.from_cluster(client, settings), feature_set)
    queries = [Labelled(q.qid, q.query, q.relevant, q.kind)
               for q in generate_queries(rows, n, seed)]
    return collect_rows(pipeline, queries, source=path.stem,
                        progress=lambda i: say(f"  {path.stem}: {i}/{n} queries"))


def read_rows(path: Path) -> tuple[list[dict], dict[str, list[str]]]:
    rows: list[dict] = []
    baseline: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if "baseline" in doc:
                baseline[doc["baseline"]] = doc["order"]
            else:
                rows.append(doc)
    return rows, baseline


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--world", default="configs/worlds/small.toml")
    parser.add_argument("--world-queries", type=int, default=1500)
    parser.add_argument("--chinook-queries", type=int, default=1200)
    parser.add_argument("--films-queries", type=int, default=0,
                        help="also learn from films (data/generated/films.jsonl, through the "
                             "films description): a second domain in the training data")
    parser.add_argument("--seed", type=int, default=7, help="query seed (benchmarks use others)")
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"write {DEFAULT_MODEL_FILE.name}")
    parser.add_argument("--rows-out", help="also write the training rows as JSONL here")
    parser.add_argument("--rows-in", help="train on rows written by --rows-out (no node work)")
    parser.add_argument("--feature-set", default="ltrr_core",
                        help="feature set folder (templates/features/NAME)")
    parser.add_argument("--drop", default="",
                        help="comma-separated core features the model may not read (ablation)")
    args = parser.parse_args()

    base = Settings.load(url=args.url)
    client = make_client(base.with_overrides(timeout=300.0))
    cluster_info(client, base)
    feature_set = load_feature_set(base, args.feature_set)
    ensure_store(client)
    ensure_feature_set(client, feature_set)
    started = time.perf_counter()
    rows: list[dict] = []
    baseline: dict[str, list[str]] = {}
    prefixes = []
    if args.rows_in:
        rows, baseline = read_rows(Path(args.rows_in))
        args.world_queries = args.chinook_queries = args.films_queries = 0
    try:
        for name in ("world", "chinook", "films"):
            prefix = f"train-{name}-{uuid.uuid4().hex[:6]}"
            prefixes.append(prefix)
            settings = base.with_overrides(index_prefix=prefix)
            if name == "world" and args.world_queries:
                r, b = world_rows(client, settings, args.world, args.world_queries, feature_set)
            elif name == "chinook" and args.chinook_queries:
                r, b = catalog_rows(client, settings, CHINOOK, args.chinook_queries, args.seed,
                                    feature_set)
            elif name == "films" and args.films_queries:
                films = dataclasses.replace(settings, sections={
                    **settings.sections, "catalog": {"description": "films"}})
                r, b = catalog_rows(client, films, catalog_path("films", 12_000),
                                    args.films_queries, args.seed, feature_set)
            else:
                continue
            rows += r
            baseline.update(b)
            say(f"{name}: {len(b)} queries, {len(r)} candidate rows "
                f"({time.perf_counter() - started:.0f}s)")
    finally:
        for prefix in prefixes:
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")
    if args.rows_out:
        with open(args.rows_out, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
            fh.writelines(json.dumps({"baseline": q, "order": ids}) + "\n"
                          for q, ids in baseline.items())

    # The shipped model reads the catalog-independent core: the features every catalog's
    # set has under the same name (the per-facet-kind ones differ by catalog).
    core = [n for n in feature_set.names if not n.startswith(FACET_PARAM_PREFIX)]
    dropped = {n.strip() for n in args.drop.split(",") if n.strip()}
    names = [n for n in core if n not in dropped] if dropped else core
    for row in rows:
        row["features"] = {n: row["features"].get(n, 0.0) for n in names}
    lm = train_lambdamart(rows, names, rounds=args.rounds, max_depth=args.max_depth,
                          baseline=baseline, seed=args.seed, nthread=2)
    lin = train_linear(rows, names, baseline=baseline, seed=args.seed)
    for label, result in (("lambdamart", lm), ("linear", lin)):
        for metric, c in result.metrics.items():
            say(f"{label:10} {metric}: model {c.model.mean:.3f} vs fusion {c.baseline.mean:.3f} "
                f"({c.difference.mean:+.3f}, 95% CI {c.difference.low:+.3f}..{c.difference.high:+.3f}) "
                f"on {c.queries} held-out queries")
    if args.write:
        digest = uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(lm.definition)).hex[:8]
        entry = ModelEntry(
            name=f"ltrr_default_{feature_set.version}_{digest}", type=lm.model_type,
            definition=lm.definition, feature_set=feature_set.store_name,
            feature_names=tuple(core), params=tuple(sorted(feature_set.params)),
            source="shipped default", hyperparameters=dict(lm.hyperparameters),
            training_window={"queries": dict(sorted(Counter(
                q.split(":")[0] for q in baseline).items())), "world": args.world,
                "query_seed": args.seed, "rows": len(rows)},
            metrics={k: {"model": vars(v.model), "baseline": vars(v.baseline),
                         "difference": vars(v.difference), "queries": v.queries}
                     for k, v in lm.metrics.items()})
        DEFAULT_MODEL_FILE.write_text(json.dumps(entry.to_doc(), indent=1) + "\n")
        say(f"wrote {DEFAULT_MODEL_FILE} ({entry.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
