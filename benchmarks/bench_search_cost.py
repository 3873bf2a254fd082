"""What the default search costs as users meet it, next to what it could cost without ranking.

    python benchmarks/bench_search_cost.py --catalog films --queries 300
    python benchmarks/bench_search_cost.py --catalog world100k --queries 300 --keep
    python benchmarks/bench_search_cost.py --prefix bench-cost-1a2b3c --catalog world100k

One run, one loaded catalog (a fresh index prefix with the shipped default ranker deployed,
``ltrr ltr init``), and for every query, in a rotating order so load spikes hit them alike:

* ``default + ranker`` — ``Pipeline.search(q)``: every default strategy in one ``_msearch``,
  merged, then the deployed model reranks the union (the product's default search);
* ``default + ranker, logged`` — the same, logged as the service logs it (the UBI query
  record with the feature vectors, appended and written by a flusher thread);
* ``default, no ranker`` — the same search ordered by the fusion fallback;
* ``best single strategy`` — the one strategy alone (unranked) with the best MRR@10 on these
  queries (a quality pass picks it first; ``--best NAME`` names it);
* ``plain multi_match`` — one fuzzy ``multi_match`` over the described searched fields, sent
  with opensearch-py (what a team without ltrr would run);
* ``service`` (unless ``--no-service``) — ``POST /search`` to ``ltrr serve --no-bandit`` on
  the same prefix (the same plan as ``default + ranker``), timed at the client.

It prints p50 and p99 of the whole call, the engine wait (the time spent waiting on the
engine client: both searches of the default one) and the ranker's share, and the ratios the
issue's targets are stated in: ranker cost = engine wait with ranker - without (and its
ratio), default / multi_match, service - pipeline at p50 (against the logged pipeline, which
does what the service does, and the unlogged one).

``--catalog`` is films (data/generated/films.jsonl, converted if missing), chinook,
world10k / world100k (configs/worlds/*.toml, generated if missing; the 100k world takes
minutes to load: ``--keep`` keeps it and ``--prefix`` reuses it) or a catalog file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
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
from ltrr_opensearch.evaluate.metrics import reciprocal_rank  # noqa: E402
from ltrr_opensearch.evaluate.querysets import generate_queries, read_catalog  # noqa: E402
from ltrr_opensearch.pipeline import Pipeline  # noqa: E402
from ltrr_opensearch.service.state import LockedSearchLog  # noqa: E402

WORLDS = {"world10k": ROOT / "configs" / "worlds" / "10k.toml",
          "world100k": ROOT / "configs" / "worlds" / "100k.toml"}
TOP = 10


def world_file(name: str) -> Path:
    """The simulated world's catalog as a file (generated once under data/generated/)."""
    path = ROOT / "data" / "generated" / f"{name}.jsonl"
    if not path.is_file():
        from ltrr_opensearch.simulate.config import load_sim_config
        from ltrr_opensearch.simulate.jsonl import write_jsonl
        from ltrr_opensearch.simulate.world import World

        world = World.generate(load_sim_config(WORLDS[name]))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(path, world.rows(), label="catalog", total=len(world), quiet=True)
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``ltrr serve --no-bandit`` on a free port, for the prefix and description given."""

    def __init__(self, settings: Settings, description: str) -> None:
        import httpx

        self.port = free_port()
        env = {**os.environ, "LTRR_INDEX_PREFIX": settings.index_prefix,
               "LTRR_OPENSEARCH_URL": ",".join(settings.urls)}
        config = Path(f"/tmp/bench-search-cost-{self.port}.toml")
        config.write_text(f'[catalog]\ndescription = "{description}"\n', encoding="utf-8")
        env["LTRR_CONFIG"] = str(config)
        self.config = config
        # Its log goes to a file: a pipe nobody reads fills up and blocks the server.
        self.log = Path(f"/tmp/bench-search-cost-{self.port}.log")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ltrr_opensearch.cli", "serve", "--quiet", "--no-bandit",
             "--port", str(self.port)], env=env, stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"))
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30.0)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"ltrr serve exited: {self.log.read_text()[-2000:]}")
            try:
                if self.http.get("/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit("ltrr serve did not become ready in 120 s")

    def search(self, query: str) -> float:
        started = time.perf_counter()
        answer = self.http.post("/search", json={"query": query, "k": TOP})
        took = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"POST /search answered {answer.status_code}: {answer.text[:300]}")
        return took

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.config.unlink(missing_ok=True)
        self.log.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default="films",
                        help="films | chinook | world10k | world100k | PATH.jsonl")
    parser.add_argument("--description", help="catalog description (default: films for "
                                               "films, else music)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=3, help="query seed")
    parser.add_argument("--embedder", default="tfidf", choices=["tfidf", "minilm"])
    parser.add_argument("--best", help="the single strategy to time (default: best MRR@10)")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the queries")
    parser.add_argument("--no-service", action="store_true", help="skip `ltrr serve`")
    parser.add_argument("--prefix", help="reuse a prefix loaded by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep the loaded prefix")
    parser.add_argument("--url")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench_search_cost"))
    args = parser.parse_args()

    if args.catalog in WORLDS:
        path, description = world_file(args.catalog), args.description or "music"
    else:
        path = catalog_path(args.catalog, 12_000)
        description = args.description or DESCRIPTIONS.get(args.catalog, "music")
    prefix = args.prefix or f"bench-cost-{uuid.uuid4().hex[:6]}"
    settings = Settings.load(url=args.url).with_overrides(index_prefix=prefix)
    settings = with_description(settings, description)
    client = make_client(settings.with_overrides(timeout=600.0))
    cluster_info(client, settings)
    rows = read_catalog(path)
    queries = generate_queries(rows, args.queries, args.seed)
    service = None
    try:
        if not args.prefix:
            started = time.perf_counter()
            load_catalog(client, settings, compact(path, Path(args.out)),
                         embedder=make_fresh_embedder(args.embedder), quiet=True)
            print(f"loaded {len(rows)} rows into {prefix} in "
                  f"{time.perf_counter() - started:.0f}s", file=sys.stderr)
        from ltrr_opensearch.rank.setup import ltr_init

        init = ltr_init(client, settings)
        if init.deployed is None:
            raise SystemExit(f"no model deployed: {'; '.join(init.notes)}")
        pipeline = Pipeline.from_cluster(client, settings)
        fusion = dataclasses.replace(pipeline, ranker=None)
        best = args.best or best_strategy(pipeline, queries)
        catalog = pipeline.catalog or {}
        fields = catalog.get("search_fields", ["*"])

        def multi_match(query: str) -> tuple[float, float]:
            body = {"size": TOP, "_source": False, "query": {"multi_match": {
                "query": query, "fields": fields, "fuzziness": "AUTO"}}}
            started = time.perf_counter()
            client.search(index=settings.catalog_index, body=body)
            took = (time.perf_counter() - started) * 1000
            return took, took

        # As the service logs: records appended, written by a flusher thread every second.
        search_log = LockedSearchLog(client, settings)
        logged = dataclasses.replace(pipeline, search_log=search_log)
        flushing = threading.Event()

        def flusher() -> None:
            while not flushing.wait(1.0):
                search_log.flush()

        threading.Thread(target=flusher, daemon=True).start()

        def run(p: Pipeline, log: bool = False, **kw: Any) -> Callable[[str], tuple[float, float]]:
            def call(query: str) -> tuple[float, float]:
                started = time.perf_counter()
                response = p.search(query, k=TOP, log=log, **kw)
                took = (time.perf_counter() - started) * 1000
                if getattr(response, "rank_error", None):
                    raise SystemExit(f"reranking failed: {response.rank_error}")
                return took, response.timings.get("engine", math.nan)
            return call

        systems: dict[str, Callable[[str], tuple[float, float]]] = {
            "default + ranker": run(pipeline),
            "default + ranker, logged": run(logged, log=True),
            "default, no ranker": run(fusion),
            f"best single strategy ({best})": run(fusion, strategies=[(best, 50)]),
            "plain multi_match": multi_match,
        }
        if not args.no_service:
            service = Service(settings, description)
            systems["service (ltrr serve --no-bandit)"] = lambda q: (service.search(q), math.nan)
        for q in queries[:20]:  # warm every path
            for call in systems.values():
                call(q.query)
        wall: dict[str, list[float]] = {name: [] for name in systems}
        engine: dict[str, list[float]] = {name: [] for name in systems}
        names = list(systems)
        for round_ in range(args.rounds):
            for i, q in enumerate(queries):
                shift = (i + round_) % len(names)
                for name in names[shift:] + names[:shift]:
                    took, waited = systems[name](q.query)
                    wall[name].append(took)
                    engine[name].append(waited)
        flushing.set()
        search_log.flush()
        report(args, path, prefix, len(rows), len(queries), wall, engine)
    finally:
        if service is not None:
            service.close()
        if not args.keep and not args.prefix:
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")
        elif args.keep:
            print(f"kept prefix {prefix} (reuse with --prefix {prefix})", file=sys.stderr)
    return 0


def best_strategy(pipeline: Pipeline, queries: list[Any]) -> str:
    """The strategy whose results alone (unranked) have the best MRR@10 on ``queries``."""
    fusion = dataclasses.replace(pipeline, ranker=None)
    scores = {}
    for name in pipeline.registry.names:
        rr = [reciprocal_rank([c.id for c in fusion.search(q.query, k=TOP, log=False,
                                                            strategies=[(name, 50)]).shown],
                              q.relevant, TOP) for q in queries]
        scores[name] = statistics.fmean(rr)
    print("MRR@10 alone: " + ", ".join(f"{n} {s:.3f}" for n, s in scores.items()),
          file=sys.stderr)
    return max(scores, key=lambda n: scores[n])


def report(args: Any, path: Path, prefix: str, rows: int, queries: int,
           wall: dict[str, list[float]], engine: dict[str, list[float]]) -> None:
    print(f"\n{args.catalog} ({rows} rows, {path.name}), {queries} queries x {args.rounds} "
          f"rounds, seed {args.seed}, prefix {prefix}\n")
    print("| system | p50 ms | p99 ms | engine wait p50 | engine wait p99 |")
    print("|---|---:|---:|---:|---:|")
    for name, ms in wall.items():
        waited = [w for w in engine[name] if not math.isnan(w)]
        cells = (f"{pct(waited, 50):.2f} | {pct(waited, 99):.2f}" if waited else "- | -")
        print(f"| {name} | {pct(ms, 50):.2f} | {pct(ms, 99):.2f} | {cells} |")
    ranked, unranked = engine["default + ranker"], engine["default, no ranker"]
    added = pct(ranked, 50) - pct(unranked, 50)
    target = max(3.0, 0.3 * pct(unranked, 50))
    mm = pct(wall["plain multi_match"], 50)
    print(f"\nranker cost: engine wait p50 {pct(ranked, 50):.2f} vs {pct(unranked, 50):.2f} ms "
          f"unranked: +{added:.2f} ms = {pct(ranked, 50) / pct(unranked, 50):.2f}x "
          f"(target: at most +{target:.2f} ms)")
    print(f"default search p50 / plain multi_match p50: {pct(wall['default + ranker'], 50):.2f}"
          f" / {mm:.2f} = {pct(wall['default + ranker'], 50) / mm:.2f}x (target: at most 2x)")
    service = next((n for n in wall if n.startswith("service")), None)
    if service:
        for base in ("default + ranker, logged", "default + ranker"):
            gap = pct(wall[service], 50) - pct(wall[base], 50)
            print(f"service p50 - pipeline p50 ({base}): {pct(wall[service], 50):.2f} - "
                  f"{pct(wall[base], 50):.2f} = {gap:+.2f} ms (target: at most +2 ms)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target_file = out / f"{args.catalog}-seed{args.seed}.json"
    target_file.write_text(json.dumps({
        "catalog": args.catalog, "rows": rows, "queries": queries, "rounds": args.rounds,
        "p50": {n: pct(v, 50) for n, v in wall.items()},
        "p99": {n: pct(v, 99) for n, v in wall.items()},
        "engine_p50": {n: pct([w for w in v if not math.isnan(w)], 50)
                       for n, v in engine.items() if any(not math.isnan(w) for w in v)},
    }, indent=1))
    print(f"\nwrote {target_file}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
