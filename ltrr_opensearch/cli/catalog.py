"""``ltrr catalog load|rebuild|adopt|info``."""

from __future__ import annotations

import argparse
import json
from typing import Any

EMBEDDERS = ("minilm", "tfidf", "precomputed", "none")


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    catalog = commands.add_parser("catalog", help="create, load and inspect the catalog index")
    actions = catalog.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    rows = argparse.ArgumentParser(add_help=False)
    rows.add_argument("file", help="catalog file: .jsonl or .csv (optionally .gz); "
                                   "see docs/catalog-schema.md")
    rows.add_argument("--format", choices=("jsonl", "csv"), help="override the file extension")
    rows.add_argument("--embedder", choices=EMBEDDERS,
                      help="how vectors are made (default: [catalog] embedder in the config, "
                           "else the live catalog's kind, else minilm); 'none' (load only) "
                           "leaves stored vectors untouched")
    rows.add_argument("--on-error", choices=("abort", "skip"), default="abort",
                      help="abort (default): check the whole file first and load nothing if a "
                           "row is bad; skip: load good rows, write bad ones to the rejects file")
    rows.add_argument("--map", dest="field_map", metavar="FIELD=SOURCE,...",
                      help="take catalog fields from other columns, converted if asked: "
                           "title=name,release_date=year:year_to_date,entity_type=const:movie,"
                           "genres=genre_list:split(|) (conversions: year_to_date, number, "
                           "integer, split(SEP); default: [catalog.map] in the config; "
                           "docs/catalog-schema.md)")
    rows.add_argument("--rejects", help="rejects file (default FILE.rejects.jsonl)")
    rows.add_argument("--no-ranker", dest="ranker", action="store_false",
                      help="do not deploy the shipped default ranker when no model is deployed "
                           "(searches are then ordered by rank fusion)")

    load = actions.add_parser("load", parents=[parent, rows],
                              help="upsert a file into the catalog (creates it if absent)")
    load.set_defaults(func=_load)

    rebuild = actions.add_parser(
        "rebuild", parents=[parent, rows],
        help="load a file into a new index, verify it, and swap the alias atomically")
    rebuild.add_argument("--keep-old", action="store_true",
                         help="keep the previous index (detached from the alias)")
    rebuild.add_argument("--no-q2e", dest="carry_q2e", action="store_false",
                         help="do not carry the Q2E memory values over from the old index")
    rebuild.set_defaults(func=_rebuild)

    adopt = actions.add_parser(
        "adopt", parents=[parent],
        help="show (or with --apply make) what ltrr adds to your own index: the memory's "
             "rank_features field, optionally a rank_feature twin of the popularity")
    adopt.add_argument("--description", metavar="NAME_OR_TOML",
                       help="the catalog description (default: [catalog] description)")
    adopt.add_argument("--popularity-feature", action="store_true",
                       help="also add <popularity>_feature (rank_feature) and fill it by "
                            "partial document updates")
    adopt.add_argument("--apply", action="store_true",
                       help="make the changes (default: a dry run that only shows them)")
    adopt.set_defaults(func=_adopt)

    info = actions.add_parser("info", parents=[parent],
                              help="alias -> index, documents per entity type, embedder")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=_info)


def _common(args: argparse.Namespace) -> tuple[Any, Any, dict[str, str]]:
    from ltrr_opensearch.catalog.loader import managed_schema
    from ltrr_opensearch.catalog.schema import parse_field_map
    from ltrr_opensearch.cli import connect

    client, settings = connect(args)
    section = settings.section("catalog")
    field_map = parse_field_map(args.field_map or section.get("map"), managed_schema(settings))
    return settings, client, field_map


def _embedder_name(args: argparse.Namespace, settings: Any) -> str | None:
    return args.embedder or settings.section("catalog").get("embedder")


def _current_kind(client: Any, settings: Any) -> str | None:
    """The live catalog's embedder kind, so a plain rebuild keeps the kind (refitting TF-IDF)."""
    from ltrr_opensearch.catalog.index import alias_targets, catalog_meta

    if not alias_targets(client, settings):
        return None
    return catalog_meta(client, settings).get("embedder_kind")


def _print_report(report: Any) -> None:
    import sys

    if report.ignored_fields:  # a warning, not chatter: a typo'd column is easy to miss
        print(f"note: columns outside the catalog schema were ignored: "
              f"{', '.join(report.ignored_fields)}", file=sys.stderr)
    for error in report.errors[:20]:
        print(f"rejected {error}", file=sys.stderr)
    if len(report.errors) > 20:
        print(f"... and {len(report.errors) - 20} more in {report.rejects_path}", file=sys.stderr)
    print(report.summary())


def _load(args: argparse.Namespace) -> int:
    from ltrr_opensearch.catalog.loader import load_catalog, resolve_embedder

    settings, client, field_map = _common(args)
    embedder = resolve_embedder(client, settings, _embedder_name(args, settings))
    report = load_catalog(client, settings, args.file, embedder=embedder,
                          on_error=args.on_error, field_map=field_map, quiet=args.quiet,
                          fmt=args.format, rejects_path=args.rejects)
    _print_report(report)
    _ensure_ranker(args, client, settings)
    return 0


def _ensure_ranker(args: argparse.Namespace, client: Any, settings: Any) -> None:
    """A loaded catalog is ranked from its first query (the default model, when none is)."""
    import sys

    from ltrr_opensearch.rank.setup import ensure_ranker

    if getattr(args, "ranker", True):
        print(ensure_ranker(client, settings), file=sys.stderr)


def _rebuild(args: argparse.Namespace) -> int:
    from ltrr_opensearch.catalog.loader import make_fresh_embedder
    from ltrr_opensearch.catalog.rebuild import rebuild_catalog

    settings, client, field_map = _common(args)
    name = _embedder_name(args, settings) or _current_kind(client, settings)
    embedder = make_fresh_embedder(name)
    result = rebuild_catalog(client, settings, args.file, embedder=embedder,
                             on_error=args.on_error, field_map=field_map, quiet=args.quiet,
                             fmt=args.format, rejects_path=args.rejects,
                             delete_old=not args.keep_old, carry_q2e=args.carry_q2e)
    _print_report(result.report)
    print(result.summary())
    _ensure_ranker(args, client, settings)
    return 0


def _adopt(args: argparse.Namespace) -> int:
    import sys

    from ltrr_opensearch.catalog.adopt import apply_plan, plan_adoption
    from ltrr_opensearch.catalog.description import description_for, load_description
    from ltrr_opensearch.cli import connect

    client, settings = connect(args)
    description = (load_description(args.description) if args.description
                   else description_for(settings))
    plan = plan_adoption(client, settings, description,
                         popularity_feature=args.popularity_feature)
    if args.apply and not plan.problems:
        apply_plan(client, settings, plan)
    print("\n".join(plan.lines(applied=args.apply and not plan.problems)))
    if plan.problems:
        print("adopt refused: nothing was changed", file=sys.stderr)
        return 2
    if args.apply and not args.description:  # the ranker binds to the description in force
        _ensure_ranker(args, client, settings)
    return 0


def _info(args: argparse.Namespace) -> int:
    from ltrr_opensearch.catalog.index import catalog_info
    from ltrr_opensearch.cli import connect

    client, settings = connect(args)
    info = catalog_info(client, settings)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    print(f"{info['alias']} -> {info['index']}  ({info['count']} documents)")
    for entity_type, count in info["by_entity_type"].items():
        print(f"  {entity_type:<10} {count}")
    meta = info["meta"]
    print(f"mapping version {meta.get('mapping_version')}, created {meta.get('created_at')}")
    print(f"embedder {meta.get('embedder')} ({meta.get('embedder_kind')}, "
          f"{meta.get('dimension')} dims)")
    return 0
