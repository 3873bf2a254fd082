"""The learning curve (``ltrr simulate judged``) on a catalog with generated judged queries.

    python benchmarks/bench_judged.py --catalog films --queries 500 --sessions 5000
    python benchmarks/bench_judged.py --catalog chinook --queries 400 --sessions 2000
    python benchmarks/bench_judged.py --catalog films --write-judged out/films-judged.jsonl
    python benchmarks/bench_judged.py --description my-index.toml --judged my-judged.jsonl

A managed catalog (``chinook``, ``films``, ``world`` or a catalog file, as in
``bench_catalogs.py``) is loaded under a fresh index prefix with TF-IDF vectors, and
``evaluate/querysets.py`` writes a judged file from the same rows (known-item, typo,
partial and attribute queries with graded answers; ``--write-judged`` keeps it, and stops
there when no ``--sessions`` is given). A description naming your own index (``index =
...``) with ``--judged FILE`` runs on that index as it is, loading nothing.

Then ``run_curve`` does what the command does (real pipeline, ingestion, worker cycles,
retrains through the deploy gate, scratch indices) and prints the ``day one:`` and
``after N sessions:`` lines, the difference with its 95% interval and which mechanism moved
the held-out queries. The loaded prefix is deleted afterwards.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_catalogs import CATALOGS, DESCRIPTIONS, catalog_path, compact  # noqa: E402

from ltrr_opensearch.catalog.description import load_description  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.evaluate.curve_report import summary_lines, write_outputs  # noqa: E402
from ltrr_opensearch.evaluate.learning_curve import CurveOptions, run_curve  # noqa: E402
from ltrr_opensearch.evaluate.querysets import (  # noqa: E402
    generate_queries,
    read_catalog,
    write_queries,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default="films", help="chinook | films | world | PATH.jsonl")
    parser.add_argument("--description", default=None,
                        help="catalog description (built-in name or TOML; default: films for "
                             "films, else music). One naming an index runs on it as it is")
    parser.add_argument("--judged", help="an existing judged file (else one is generated)")
    parser.add_argument("--write-judged", help="keep the generated judged file here")
    parser.add_argument("--queries", type=int, default=500, help="judged queries to generate")
    parser.add_argument("--query-seed", type=int, default=1, help="query generator seed")
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--per-day", type=float, default=1000.0)
    parser.add_argument("--worker-minutes", type=float, default=60.0)
    parser.add_argument("--retrain-hours", type=float, default=24.0)
    parser.add_argument("--min-evidence", type=float, default=10.0)
    parser.add_argument("--checkpoints", type=int, default=5)
    parser.add_argument("--films-limit", type=int, default=12_000)
    parser.add_argument("--url", help="OpenSearch URL (default: settings / LTRR_OPENSEARCH_URL)")
    parser.add_argument("--out", default=None, help="default out/bench_judged/<catalog>")
    args = parser.parse_args()

    description = args.description or DESCRIPTIONS.get(args.catalog, "music")
    own = load_description(description).index is not None  # the user's own index
    if own and args.judged is None:
        raise SystemExit("a description of your own index needs --judged FILE")
    label = Path(description).stem if own else (
        args.catalog if args.catalog in CATALOGS else Path(args.catalog).stem)
    prefix = f"bench-judged-{uuid.uuid4().hex[:8]}"
    settings = Settings.load(url=args.url).with_overrides(index_prefix=prefix)
    settings = dataclasses.replace(settings, sections={
        **settings.sections, "catalog": {"description": description}})
    out = Path(args.out or ROOT / "out" / "bench_judged" / label)
    judged = Path(args.judged or args.write_judged or out / "judged.jsonl")
    client = make_client(settings.with_overrides(timeout=300.0))
    cluster_info(client, settings)
    try:
        if not own:
            from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder

            path = catalog_path(args.catalog, args.films_limit)
            if args.judged is None:
                queries = generate_queries(read_catalog(path), args.queries, args.query_seed)
                judged.parent.mkdir(parents=True, exist_ok=True)
                write_queries(judged, queries)
                print(f"wrote {len(queries)} judged queries to {judged}", file=sys.stderr)
                if args.sessions is None:
                    return 0
            started = time.perf_counter()
            report = load_catalog(client, settings, compact(path, out),
                                  embedder=make_fresh_embedder("tfidf"), quiet=True)
            print(f"{label}: {report.indexed} rows loaded under {prefix} in "
                  f"{time.perf_counter() - started:.0f}s", file=sys.stderr)
        if args.sessions is None:
            raise SystemExit("--sessions is needed to run the curve")
        options = CurveOptions(
            sessions=args.sessions, holdout=args.holdout, seed=args.seed, noise=args.noise,
            per_day=args.per_day, worker_minutes=args.worker_minutes,
            retrain_hours=args.retrain_hours, min_evidence=args.min_evidence,
            checkpoints=args.checkpoints)
        started = time.perf_counter()
        result = run_curve(client, settings, judged, options,
                           say=lambda line: print(line, flush=True),
                           progress=lambda d, n: print(f"  {d}/{n} sessions, "
                                                       f"{time.perf_counter() - started:.0f}s",
                                                       file=sys.stderr, flush=True))
        for line in summary_lines(result):
            print(line)
        data, plot = write_outputs(result, out)
        print(f"\n{label}: {args.sessions} sessions in {time.perf_counter() - started:.0f}s; "
              f"wrote {data}" + (f" and {plot}" if plot else ""))
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
