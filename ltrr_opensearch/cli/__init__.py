"""The ``ltrr`` command.

Each subsystem's verbs live in one module of this package (listed in ``COMMAND_MODULES``):
thin argument parsing over the domain packages, which never import the CLI. This file wires
them up, gives them one way to reach the cluster (:func:`connect`), and turns expected failures
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
from typing import Any

from ltrr_opensearch import __version__
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError

logger = logging.getLogger(__name__)

COMMAND_MODULES = (
    "ltrr_opensearch.cli.engine",
    "ltrr_opensearch.cli.feedback",
    "ltrr_opensearch.cli.retrieve",
    "ltrr_opensearch.cli.catalog",
    "ltrr_opensearch.cli.simulate",
    "ltrr_opensearch.cli.understand",
    "ltrr_opensearch.cli.select",
    "ltrr_opensearch.demo",
    "ltrr_opensearch.cli.rank",
    "ltrr_opensearch.cli.service",
    "ltrr_opensearch.cli.experiment",
)


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--url", help="OpenSearch URL(s), comma-separated (overrides LTRR_OPENSEARCH_URL)")
    parent.add_argument("--config", help="TOML config file (overrides LTRR_CONFIG)")
    parent.add_argument("--quiet", "-q", action="store_true", help="no progress bars or chatter")
    # SUPPRESS: `ltrr --debug CMD` (top parser) must not be reset by the sub-command's default.
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=DEBUG_HELP)
    return parent


DEBUG_HELP = "debug logs of ltrr_opensearch on stderr (secrets are never logged)"


def configure_logging(debug: bool = False) -> None:
    """Warnings on stderr; with ``debug``, everything ltrr_opensearch logs. The HTTP client
    libraries stay at WARNING even then: their debug output is every request and body."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if debug:
        logging.getLogger("ltrr_opensearch").setLevel(logging.DEBUG)
        for name in ("urllib3", "opensearch"):
            logging.getLogger(name).setLevel(logging.WARNING)
    else:
        # opensearch-py logs every failed attempt with a traceback; our errors say it once.
        logging.getLogger("opensearch").setLevel(logging.CRITICAL)


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.load(config_file=getattr(args, "config", None), url=getattr(args, "url", None))


def connect(args: argparse.Namespace) -> tuple[Any, Settings]:
    """The client and settings a verb works with; a clear "cannot reach ..." before any work."""
    from ltrr_opensearch.engine.client import cluster_info, make_client

    settings = settings_from_args(args)
    client = make_client(settings)
    cluster_info(client, settings)
    return client, settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ltrr", description="Learning to rank and retrieve on OpenSearch."
    )
    parser.add_argument("--version", action="version", version=f"ltrr {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    parent = common_options()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(bool(getattr(args, "debug", False)))
    logger.debug("ltrr %s %s", __version__, args.command)
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

