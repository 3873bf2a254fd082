"""``ltrr events ...`` and ``ltrr memory ...``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    events = commands.add_parser("events", help="ingest UBI events, export training rows")
    sub = events.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    ingest = sub.add_parser("ingest", parents=[parent],
                            help="validate, de-duplicate and store UBI events from JSONL")
    ingest.add_argument("file", help="JSONL file of events, or - for stdin")
    ingest.set_defaults(func=_ingest)
    export = sub.add_parser("training-set", parents=[parent],
                            help="export LTR training rows as JSONL")
    export.add_argument("out", help="output file, or - for stdout")
    export.set_defaults(func=_training_set)

    memory = commands.add_parser("memory", help="the Q2E query-to-entity memory")
    sub = memory.add_subparsers(dest="memory_command", metavar="ACTION", required=True)
    update = sub.add_parser("update", parents=[parent],
                            help="run the feedback consumers (rewards, memory, training rows) "
                                 "once, up to now")
    update.add_argument("--settle", type=float, default=None,
                        help="only read docs that arrived this many seconds ago "
                             "(default [feedback] settle_seconds)")
    update.set_defaults(func=_update)
    seed = sub.add_parser("seed", parents=[parent],
                          help="store predicted Q2E scores for every catalog entity")
    seed.set_defaults(func=_seed)
    show = sub.add_parser("show", parents=[parent], help="explain the Q2E scores of an "
                                                         "entity id or a query")
    show.add_argument("target", help="an entity id, or a query text")
    show.set_defaults(func=_show)


def _client(args: argparse.Namespace) -> tuple[Any, Any]:
    from ltrr_opensearch.cli import connect

    return connect(args)


def _ingest(args: argparse.Namespace) -> int:
    from ltrr_opensearch.errors import ValidationError
    from ltrr_opensearch.feedback.ingest import ingest_events, read_lines

    client, settings = _client(args)
    if args.file == "-":
        report = ingest_events(client, settings, read_lines(sys.stdin), source="stdin")
    else:
        try:
            handle = open(args.file, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise ValidationError(f"cannot read {args.file}: {exc.strerror}") from None
        with handle:
            report = ingest_events(client, settings, read_lines(handle), source=args.file)
    print(f"received {report.received}, stored {report.accepted}, duplicates "
          f"{report.duplicates}, dead-lettered {report.dead_lettered}, not joined to a logged "
          f"query {report.unjoined}")
    for item in report.examples[:5]:
        print(f"  line {item.line}: {item.reason}", file=sys.stderr)
    if report.dead_lettered:
        print(f"  dead letters are in {settings.deadletter_index}", file=sys.stderr)
    return 0


def _training_set(args: argparse.Namespace) -> int:
    from ltrr_opensearch.feedback.indices import ensure_feedback_indices
    from ltrr_opensearch.feedback.training import export_training_rows

    client, settings = _client(args)
    ensure_feedback_indices(client, settings)
    if args.out == "-":
        count = export_training_rows(client, settings, sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            count = export_training_rows(client, settings, out)
    print(f"wrote {count} training rows", file=sys.stderr)
    return 0


def _update(args: argparse.Namespace) -> int:
    from ltrr_opensearch.feedback.consumers import run_consumers

    client, settings = _client(args)
    for run in run_consumers(client, settings, settle_seconds=args.settle):
        if not args.quiet:
            print(f"{run.consumer:<9} {run.log:<8} read {run.docs}, recomputed {run.keys}, "
                  f"wrote {run.outputs}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from ltrr_opensearch.feedback.seed import seed_memory

    client, settings = _client(args)
    count = seed_memory(client, settings, quiet=args.quiet)
    print(f"seeded predicted Q2E scores for {count} entities")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ltrr_opensearch.feedback.explain import explain

    client, settings = _client(args)
    print("\n".join(explain(client, settings, args.target)))
    return 0
