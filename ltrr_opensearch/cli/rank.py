"""``ltrr ltr init`` and ``ltrr model list|show|deploy|rollback|diff|delete``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    ltr = commands.add_parser("ltr", help="the Learning to Rank store and feature sets")
    ltr_actions = ltr.add_subparsers(dest="action", metavar="ACTION")
    ltr_actions.required = True
    init = ltr_actions.add_parser(
        "init", parents=[parent],
        help="create the LTR store, upload the feature set, deploy the default ranker if none is")
    init.add_argument("--feature-set", default="ltrr_core", help="feature set folder name")
    init.add_argument("--no-default-model", action="store_true",
                      help="do not register or deploy the shipped default ranker")
    init.set_defaults(func=_init)

    model = commands.add_parser("model", help="the ranker registry: trained and shipped models")
    actions = model.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    train = actions.add_parser(
        "train", parents=[parent],
        help="train a ranker from logged searches and their events, and register it")
    train.add_argument("--trainer", default="lambdamart", choices=["lambdamart", "linear"])
    train.add_argument("--click-model", default="pbm", choices=["pbm", "sdbn"])
    train.add_argument("--since", help="only searches from this ISO time on")
    train.add_argument("--min-evidence", type=float, default=10.0,
                       help="examinations a (query, item) pair needs to be judged")
    train.add_argument("--name", help="model name (default: generated)")
    train.add_argument("--from-scratch", action="store_true",
                       help="learn from the clicks alone instead of refining the deployed "
                            "tree model")
    train.add_argument("--deploy", action="store_true",
                       help="deploy it if it beats the deployed model on held-out judgments")
    train.set_defaults(func=_train)
    listing = actions.add_parser("list", parents=[parent], help="registered models")
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", parents=[parent], help="one model's record")
    show.add_argument("name")
    show.add_argument("--definition", action="store_true", help="include the model definition")
    show.set_defaults(func=_show)
    deploy = actions.add_parser("deploy", parents=[parent],
                                help="serve a model (it must beat the deployed one unless forced)")
    deploy.add_argument("name")
    deploy.add_argument("--force", action="store_true", help="skip the held-out comparison")
    deploy.set_defaults(func=_deploy)
    rollback = actions.add_parser("rollback", parents=[parent],
                                  help="serve the previously deployed model again")
    rollback.set_defaults(func=_rollback)
    diff = actions.add_parser("diff", parents=[parent], help="what differs between two models")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.set_defaults(func=_diff)
    delete = actions.add_parser("delete", parents=[parent],
                                help="remove a model that is not deployed")
    delete.add_argument("name")
    delete.set_defaults(func=_delete)


def _connect(args: argparse.Namespace) -> tuple[Any, Any]:
    from ltrr_opensearch.cli import connect

    return connect(args)


def _init(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank.setup import ltr_init

    client, settings = _connect(args)
    report = ltr_init(client, settings, feature_set_name=args.feature_set,
                      default_model=not args.no_default_model)
    print(f"LTR store: {'created' if report.store_created else 'present'}")
    print(f"feature set: {report.feature_set} "
          f"({'uploaded' if report.feature_set_created else 'present'})")
    print(f"deployed model: {report.deployed or 'none (candidates ordered by fusion)'}")
    for note in report.notes:
        print(f"note: {note}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from datetime import datetime

    from ltrr_opensearch.errors import ValidationError
    from ltrr_opensearch.rank import registry
    from ltrr_opensearch.rank.gate import heldout_gate
    from ltrr_opensearch.rank.learn import train_from_logs

    client, settings = _connect(args)
    try:
        since = datetime.fromisoformat(args.since) if args.since else None
    except ValueError:
        raise ValidationError(f"--since must be an ISO time, got {args.since!r}") from None
    entry = train_from_logs(client, settings, trainer=args.trainer, click_model=args.click_model,
                            since=since, min_evidence=args.min_evidence, name=args.name,
                            refine=not args.from_scratch)
    ndcg = entry.metrics["ndcg@10"]
    refines = entry.hyperparameters.get("refines")
    print(f"registered {entry.name}{f' (refines {refines})' if refines else ''}: "
          f"{entry.training_window['rows']} rows from "
          f"{entry.training_window['searches']} searches; held-out NDCG@10 "
          f"{ndcg['model']['mean']:.3f} vs served order {ndcg['baseline']['mean']:.3f}")
    if args.deploy:
        current, why = registry.deploy(client, settings, entry.name, gate=heldout_gate)
        print(f"deployed {current.model} ({why})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank import registry

    client, settings = _connect(args)
    current = registry.deployment(client, settings)
    entries = registry.list_entries(client, settings)
    if not entries:
        print("no models registered (run `ltrr ltr init`)")
    for e in entries:
        mark = "*" if e.name == current.model else " "
        ndcg = e.metrics.get("ndcg@10", {}).get("model", {}).get("mean") if e.metrics else None
        score = f"ndcg@10 {ndcg:.3f}" if isinstance(ndcg, (int, float)) else "ndcg@10 -"
        print(f"{mark} {e.name:40} {e.type:20} {e.source:8} {score}  {e.created_at[:19]}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank import registry

    client, settings = _connect(args)
    entry = registry.get_entry(client, settings, args.name)
    doc = entry.to_doc()
    doc.pop("heldout", None)
    doc["definition"] = entry.definition if args.definition else f"<{len(doc['definition'])} chars>"
    doc["deployed"] = registry.deployment(client, settings).model == entry.name
    print(json.dumps(doc, indent=2, default=str))
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank import registry
    from ltrr_opensearch.rank.gate import heldout_gate

    client, settings = _connect(args)
    current, why = registry.deploy(client, settings, args.name, force=args.force,
                                   gate=heldout_gate)
    print(f"deployed {current.model} ({why})")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank import registry

    client, settings = _connect(args)
    current = registry.rollback(client, settings)
    print(f"rolled back: {current.model} is deployed")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank import registry

    client, settings = _connect(args)
    a, b = (registry.get_entry(client, settings, n) for n in (args.a, args.b))
    print(json.dumps(registry.diff(a, b), indent=2, default=str))
    return 0


def _delete(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank import registry

    client, settings = _connect(args)
    registry.delete(client, settings, args.name)
    print(f"deleted {args.name}")
    return 0
