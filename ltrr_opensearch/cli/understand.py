"""``ltrr understand QUERY...``: show what query understanding makes of queries against
the live catalog's vocabulary (slots and where each came from, keywords, intent, context
vector); ``ltrr vocab show|relearn``: the phrases learned from engagement."""

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

    vocab = commands.add_parser("vocab", help="phrases query understanding learned from "
                                              "engagement")
    sub = vocab.add_subparsers(dest="vocab_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", parents=[parent],
                          help="why phrases were learned or not (default: every learned one)")
    show.add_argument("phrases", nargs="*", metavar="PHRASE")
    show.add_argument("--json", action="store_true", help="one JSON object per phrase")
    show.set_defaults(func=_vocab_show)
    relearn = sub.add_parser("relearn", parents=[parent],
                             help="recompute the learned phrases from the whole event log "
                                  "(after a facet or synonym was added to the description)")
    relearn.set_defaults(func=_vocab_relearn)


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
                           "confidence": round(s.confidence, 4), "source": s.source}
                          for s in u.slots],
                "keywords": list(u.keywords), "intent": u.intent,
                "intent_confidence": round(u.intent_confidence, 4),
                "context": {"version": u.context.version,
                            "values": dict(zip(u.context.names, u.context.values,
                                               strict=True))},
            }, ensure_ascii=False))
            continue
        slots = ", ".join(f"{s.kind}={s.value!r} ({s.confidence:.2f}"
                          f"{'' if s.source == 'catalog' else ', ' + s.source})" for s in u.slots)
        print(f"{u.raw!r} -> {u.normalized!r}")
        if u.match_text != u.normalized:
            print(f"  searched: {u.match_text!r} (the catalog's spelling)")
        print(f"  slots:    {slots or '-'}")
        print(f"  keywords: {' '.join(u.keywords) or '-'}")
        print(f"  intent:   {u.intent or '-'} ({u.intent_confidence:.2f})")
        for slot in u.slots:
            learned = gazetteer.learned_phrase(slot.text) if slot.source == "learned" else None
            if learned is not None:
                print(f"  learned:  {learned.phrase!r} -> {learned.kind}={learned.value!r}: "
                      f"{learned.share:.0%} of its engagement ({learned.engagement:.3g}, "
                      f"{learned.clients} clients; ltrr vocab show {learned.phrase!r})")
    return 0


def _vocab_show(args: argparse.Namespace) -> int:
    from ltrr_opensearch.cli import connect
    from ltrr_opensearch.feedback.learned import phrase_decisions

    client, settings = connect(args)
    decisions = phrase_decisions(client, settings, args.phrases)
    if args.json:
        for doc in decisions:
            print(json.dumps(doc, ensure_ascii=False))
        return 0
    if not decisions:
        print("no phrase learned yet" if not args.phrases else
              "no evidence about " + ", ".join(map(repr, args.phrases)))
        return 0
    for doc in sorted(decisions, key=lambda d: (not d["eligible"], -d["engagement"])):
        verdict = "learned" if doc["eligible"] else f"not learned: {doc['reason']}"
        target = f"{doc['kind']}={doc['value']!r}" if doc.get("kind") else "-"
        print(f"{doc['phrase']!r} -> {target}  {verdict}")
        print(f"    engagement {doc['engagement']:.3g} of {doc['total']:.3g} "
              f"(share {doc['share']:.2f}; shown {doc.get('shown_share', 0.0):.2f}, catalog "
              f"{doc.get('rate', 0.0):.2f}), {doc['clients']} clients, {doc['queries']} "
              f"queries, {doc['event_count']} events ({doc['events_capped']} capped), "
              f"runner-up {doc['runner_up'] or '-'} ({doc['runner_up_engagement']:.3g}), "
              f"half-life {doc['half_life_days']:g} days, computed {doc['computed_at']}")
    return 0


def _vocab_relearn(args: argparse.Namespace) -> int:
    from ltrr_opensearch.cli import connect
    from ltrr_opensearch.feedback.vocab import relearn

    client, settings = connect(args)
    written = relearn(client, settings)
    print(f"recomputed the learned vocabulary from the logs ({written} docs written)")
    return 0
