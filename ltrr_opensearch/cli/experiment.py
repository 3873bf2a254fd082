"""``ltrr experiment report | validate | assign``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path


def register(commands, parent: argparse.ArgumentParser) -> None:
    exp = commands.add_parser("experiment", help="feature-flag experiments: reports, flag files")
    sub = exp.add_subparsers(dest="experiment_command", metavar="ACTION")
    sub.required = True

    report = sub.add_parser("report", parents=[parent],
                            help="per-variant metrics, differences with 95%% CIs, SRM, plots")
    report.add_argument("name", help="the experiment (its flag key)")
    report.add_argument("--since", help="ISO time or 7d/24h: searches since then")
    report.add_argument("--format", choices=("markdown", "html"), default="markdown")
    report.add_argument("--out", help="folder for the report file and its plot "
                                      "(default: print the report, no plot)")
    report.add_argument("--control", help="the control variant (default: 'control', else the "
                                           "first by name)")
    report.add_argument("--flags", help="the flag file: the SRM check uses its split "
                                        "(default: an even split)")
    report.add_argument("--mde", type=float, default=0.02,
                        help="minimum detectable effect in click-through, absolute (0.02)")
    report.add_argument("--bootstrap", type=int, default=2000, help="bootstrap rounds")
    report.set_defaults(func=_report)

    simulate = sub.add_parser("simulate", parents=[parent],
                              help="run an experiment on a simulated world (loads its catalog "
                                   "under the configured index prefix, keeps the logs)")
    simulate.add_argument("--flags", required=True, help="the flag file (flagd JSON)")
    simulate.add_argument("--world", default="configs/worlds/small.toml")
    simulate.add_argument("--queries", type=int, default=400)
    simulate.add_argument("--batch", type=int, default=100,
                          help="searches between feedback cycles")
    simulate.add_argument("--seed", type=int, default=1, help="click model seed")
    simulate.set_defaults(func=_simulate)

    inter = sub.add_parser("interleave-report", parents=[parent],
                           help="win rate of ranker b over a from team-draft interleaved searches")
    inter.add_argument("name")
    inter.add_argument("--bootstrap", type=int, default=2000, help="bootstrap rounds")
    inter.set_defaults(func=_interleave_report)

    validate = sub.add_parser("validate", parents=[parent],
                              help="check a flag file (flagd format); exit 2 with the reason")
    validate.add_argument("file")
    validate.set_defaults(func=_validate)

    assign = sub.add_parser("assign", parents=[parent],
                            help="the variant a flag file gives each user id")
    assign.add_argument("file")
    assign.add_argument("users", nargs="+")
    assign.set_defaults(func=_assign)


def _report(args) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.cli.select import parse_since
    from ltrr_opensearch.engine.client import make_client
    from ltrr_opensearch.experiment.report import (
        build_report,
        load_rows,
        split_weights,
        write_report,
    )

    settings = settings_from_args(args)
    client = make_client(settings)
    since = None
    if args.since:
        since = datetime.fromtimestamp(parse_since(args.since) / 1000, tz=timezone.utc)
    rows = load_rows(client, settings, args.name, since)
    weights = split_weights(args.flags, args.name) if args.flags else None
    report = build_report(args.name, rows, control=args.control, weights=weights, mde=args.mde,
                          rounds=args.bootstrap)
    out = Path(args.out) if args.out else None
    text = write_report(report, out, args.format)
    if out is None:
        sys.stdout.write(text)
    else:
        suffix = "html" if args.format == "html" else "md"
        print(f"wrote {out / f'{args.name}.{suffix}'}")
    return 0


def _simulate(args) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.client import make_client
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.evaluate.experiment import (
        embed_world,
        prepare_policy_indices,
        scratch_folder,
    )
    from ltrr_opensearch.experiment.simulate import run_experiment
    from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config
    from ltrr_opensearch.simulate.reformulate import Reformulator

    if args.queries < 1 or args.batch < 1:
        raise ConfigError("--queries and --batch must be >= 1")
    settings = settings_from_args(args)
    client = make_client(settings)
    sim = load_sim_config(args.world)
    world = World.generate(sim)
    data = embed_world(list(world.rows()), "tfidf", scratch_folder(), quiet=args.quiet)
    prepare_policy_indices(client, settings, data, quiet=args.quiet)
    replay = run_experiment(client, settings, args.flags, QueryStream(world, sim).take(args.queries),
                            ClickModel(sim, seed=args.seed), batch=args.batch,
                            follow_up=Reformulator(world, seed=args.seed + 2))
    flags = replay.pipeline.flags
    print(f"served {len(replay.outcomes)} searches under index prefix {settings.index_prefix!r}; "
          f"flag fallbacks: {sum(flags.problems.values())}")
    return 0


def _interleave_report(args) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.client import make_client
    from ltrr_opensearch.experiment.interleave import interleave_report

    settings = settings_from_args(args)
    report = interleave_report(make_client(settings), settings, args.name, rounds=args.bootstrap)
    sys.stdout.write(report.to_markdown())
    return 0


def _validate(args) -> int:
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.experiment.flagd import parse_flags

    try:
        text = Path(args.file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read flag file {args.file!r}: {exc.strerror}") from None
    flags = parse_flags(text, args.file)
    print(f"ok: {len(flags.flags)} flags ({', '.join(sorted(flags.flags))})")
    return 0


def _assign(args) -> int:
    from ltrr_opensearch.experiment.flags import FlagSource

    source = FlagSource.from_file(args.file)
    for user in args.users:
        variant = source.resolve(user)
        print(json.dumps({"user": user, "variant": variant.label,
                          "mode": variant.mode, "ranker_model": variant.ranker_model}))
    return 0
