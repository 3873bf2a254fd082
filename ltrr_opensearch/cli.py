"""The ``ltrr`` command.

Each subsystem registers its own sub-commands from a small ``commands`` module (listed in
``COMMAND_MODULES``), so this file only wires them up and turns expected failures
(:class:`LtrrError`) into a one-line message and an exit code instead of a traceback.
Command modules import heavy dependencies inside their handlers to keep start-up fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from ltrr_opensearch import __version__
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError

COMMAND_MODULES = (
    "ltrr_opensearch.engine.commands",
    "ltrr_opensearch.feedback.commands",
    "ltrr_opensearch.retrieve.commands",
    "ltrr_opensearch.catalog.commands",
    "ltrr_opensearch.simulate.commands",
    "ltrr_opensearch.understand.commands",
    "ltrr_opensearch.select.commands",
    "ltrr_opensearch.demo",
    "ltrr_opensearch.rank.commands",
    "ltrr_opensearch.service.commands",
    "ltrr_opensearch.experiment.commands",
)


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", help="OpenSearch URL(s), comma-separated (overrides LTRR_OPENSEARCH_URL)")
    parent.add_argument("--config", help="TOML config file (overrides LTRR_CONFIG)")
    parent.add_argument("--quiet", "-q", action="store_true", help="no progress bars or chatter")
    return parent


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.load(config_file=getattr(args, "config", None), url=getattr(args, "url", None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ltrr", description="Learning to rank and retrieve on OpenSearch."
    )
    parser.add_argument("--version", action="version", version=f"ltrr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    parent = common_options()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # opensearch-py logs every failed attempt with a traceback; our errors say it once.
    logging.getLogger("opensearch").setLevel(logging.CRITICAL)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LtrrError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  fix: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`ltrr ... | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
