"""``ltrr understand QUERY...``: show what query understanding makes of queries against
the live catalog's vocabulary (slots, keywords, intent, context vector)."""

from __future__ import annotations

import argparse
import json


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "understand", parents=[parent],
        help="slots, intent and context vector of queries, using the catalog's vocabulary",
    )
    parser.add_argument("queries", nargs="+", metavar="QUERY")
    parser.add_argument("--now", help="ISO time for the clock features, when the serving "
                                      "policy turns them on (default: now)")
    parser.add_argument("--json", action="store_true", help="one JSON object per query")
    parser.set_defaults(func=_understand)


def _understand(args: argparse.Namespace) -> int:
    from datetime import datetime

    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.client import make_client
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.feedback.indices import memory_index
    from ltrr_opensearch.loop import serving_config
    from ltrr_opensearch.select.availability import MemoryKeys
    from ltrr_opensearch.understand import Gazetteer, understand

    now = None
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            raise ConfigError(f"--now {args.now!r} is not an ISO time",
                              hint="e.g. --now 2024-01-06T21:30") from None
    settings = settings_from_args(args)
    client = make_client(settings)
    gazetteer = Gazetteer.from_index(client, settings)
    # The context the serving bandit would see: its layout, the memory's keys.
    spec = serving_config(settings).context_spec
    memory = MemoryKeys(client, memory_index(settings))
    for query in args.queries:
        u = understand(query, gazetteer, now=now, spec=spec, memory_keys=memory)
        if args.json:
            print(json.dumps({
                "query": u.raw, "normalized": u.normalized, "searched": u.match_text,
                "slots": [{"kind": s.kind, "value": s.value, "text": s.text,
                           "confidence": round(s.confidence, 4)} for s in u.slots],
                "keywords": list(u.keywords), "intent": u.intent,
                "intent_confidence": round(u.intent_confidence, 4),
                "context": {"version": u.context.version,
                            "values": dict(zip(u.context.names, u.context.values,
                                               strict=True))},
            }, ensure_ascii=False))
            continue
        slots = ", ".join(f"{s.kind}={s.value!r} ({s.confidence:.2f})" for s in u.slots)
        print(f"{u.raw!r} -> {u.normalized!r}")
        if u.match_text != u.normalized:
            print(f"  searched: {u.match_text!r} (the catalog's spelling)")
        print(f"  slots:    {slots or '-'}")
        print(f"  keywords: {' '.join(u.keywords) or '-'}")
        print(f"  intent:   {u.intent or '-'} ({u.intent_confidence:.2f})")
    return 0
