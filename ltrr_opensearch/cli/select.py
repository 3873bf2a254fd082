"""``ltrr bandit show | evaluate | arm``."""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ltrr_opensearch.errors import ConfigError

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def register(commands, parent: argparse.ArgumentParser) -> None:
    bandit = commands.add_parser("bandit", help="the strategy-selecting bandit")
    sub = bandit.add_subparsers(dest="bandit_command", metavar="ACTION")
    sub.required = True

    show = sub.add_parser("show", parents=[parent], help="state version, arms, counts, kill switches")
    show.add_argument("--policy", help="policy TOML (default: [bandit] of the config)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)

    evaluate = sub.add_parser("evaluate", parents=[parent],
                              help="off-policy estimate (IPS, SNIPS, DR) of a policy on the logs")
    evaluate.add_argument("--policy", required=True, help="policy TOML to evaluate")
    evaluate.add_argument("--since", help="ISO time or 7d/24h: evaluate searches since then, "
                                          "training the policy on feedback before then")
    evaluate.add_argument("--variant", metavar="EXPERIMENT/VARIANT",
                          help="only the searches one experiment variant served (e.g. "
                               "mix-test/control: the control's traffic), and train only on "
                               "its feedback")
    evaluate.add_argument("--bootstrap", type=int, default=500)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=_evaluate)

    arm = sub.add_parser("arm", parents=[parent], help="kill or revive an arm (all workers)")
    arm.add_argument("--policy", help="policy TOML (default: [bandit] of the config)")
    group = arm.add_mutually_exclusive_group(required=True)
    group.add_argument("--kill", metavar="NAME")
    group.add_argument("--revive", metavar="NAME")
    arm.set_defaults(func=_arm)


def parse_since(text: str, now: datetime | None = None) -> int:
    """``7d``/``24h``/``30m``/``10s`` before now, or an ISO-8601 time, as epoch ms."""
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text.strip())
    if match:
        moment = now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"--since {text!r} is not a time",
                              hint="use an ISO time such as 2025-01-31T00:00:00Z or 7d / 24h") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _config(args):
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.select.config import config_from_settings, load_config

    settings = settings_from_args(args)
    policy = getattr(args, "policy", None)
    return settings, (load_config(policy) if policy else config_from_settings(settings))


def _learner(args):
    from ltrr_opensearch.engine.client import cluster_info, make_client
    from ltrr_opensearch.select.learner import Learner

    settings, config = _config(args)
    client = make_client(settings)
    cluster_info(client, settings)
    return settings, config, client, Learner.load(client, settings, config)


def _show(args) -> int:
    _, config, _, learner = _learner(args)
    state = {
        "policy": config.name, "learning": config.policy.name, "version": learner.version,
        "observations": learner.bandit.observations, "context_version": learner.bandit.context_version,
        "arms": [{"arm": a, "observations": n, "killed": a in learner.bandit.killed}
                 for a, n in learner.bandit.counts.items()],
        "budget": {"max_arms": config.budget.max_arms,
                   "total_candidates": config.budget.total_candidates,
                   "floor": config.budget.floor},
    }
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    print(f"policy {config.name} ({config.policy.name}), state version {learner.version}, "
          f"{state['observations']} observations, context {state['context_version'] or '-'}")
    print(f"budget: M={config.budget.max_arms} K={config.budget.total_candidates} "
          f"floor={config.budget.floor}")
    for arm in state["arms"]:
        flag = "  KILLED" if arm["killed"] else ""
        print(f"  {arm['arm']:<24} {arm['observations']:>8}{flag}")
    return 0


def _arm(args) -> int:
    _, _, _, learner = _learner(args)
    killed = learner.kill(args.kill) if args.kill else learner.revive(args.revive)
    print(f"killed arms: {', '.join(sorted(killed)) or '(none)'}")
    return 0


def _evaluate(args) -> int:
    from ltrr_opensearch.engine.client import cluster_info, make_client
    from ltrr_opensearch.select.ope import evaluate, read_logged_decisions
    from ltrr_opensearch.select.store import BanditStore

    settings, config = _config(args)
    since = parse_since(args.since) if args.since else None
    client = make_client(settings)
    cluster_info(client, settings)
    target = config.bandit()
    if since is not None:  # train on what was known before the evaluation window
        training = BanditStore(client, settings).fetch(until_ms=since - 1)
        if args.variant:  # the variant's searches' feedback, whatever bandit learned from it
            ids = {d.request_id for d in read_logged_decisions(
                client, settings, variant=args.variant, until_ms=since)}
            training = [o for o in training if o.request_id in ids]
        target.fit(training, strict=False)
    decisions = read_logged_decisions(client, settings, since, variant=args.variant)
    if not decisions and args.variant:
        raise ConfigError(f"no logged search of variant {args.variant!r}"
                          + (" since then" if since is not None else ""),
                          hint="name it as logged: experiment/variant (ltrr experiment report "
                               "lists the variants)")
    decisions, other = _same_layout(decisions, target.context_version)
    estimates = evaluate(decisions, lambda c: target.propensities(c, seed=0),
                         bootstrap=args.bootstrap)
    if args.json:
        print(json.dumps({k: v.to_dict() for k, v in estimates.items()}, indent=2))
        return 0
    print(f"policy {config.name} ({config.policy.name}) trained on {target.observations} "
          f"observations, evaluated on {len(decisions)} logged searches")
    if since is None:
        print("  note: no --since, so the policy is untrained (its prior)")
    if other:
        print(f"  note: {other} logged searches of another context layout left out "
              f"(the policy reads {target.context_version})")
    for name, est in estimates.items():
        label = "logged (baseline)" if name == "logged" else name.upper()
        print(f"  {label:<18} {est.value:8.4f}   95% CI [{est.low:.4f}, {est.high:.4f}]")
    return 0


def _same_layout(decisions: list[Any], version: str | None) -> tuple[list[Any], int]:
    """The logged searches whose context the policy can read, and how many others there
    were (searches logged before an upgrade changed the context's layout)."""
    if version is None:
        return decisions, 0
    kept = [d for d in decisions if d.context.version == version]
    if decisions and not kept:
        logged = sorted({d.context.version for d in decisions})
        raise ConfigError(f"no logged search has the context the policy reads ({version}); "
                          f"they were logged with {', '.join(logged)}",
                          hint="evaluate once this version of ltrr has served and logged "
                               "searches (docs/context-vector.md)")
    return kept, len(decisions) - len(kept)
