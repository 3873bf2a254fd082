"""``ltrr search`` and ``ltrr templates list|show|render|validate``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    search = commands.add_parser("search", parents=[parent],
                                 help="run retrieval strategies for a query (one _msearch)")
    search.add_argument("query", help="what the user typed")
    search.add_argument("--strategies", help="comma-separated names (default: all enabled)")
    search.add_argument("--k", type=int, default=10, help="candidates per strategy (default 10)")
    search.add_argument("--show", type=int, default=10, help="merged results to print")
    search.add_argument("--explain", action="store_true",
                        help="also show the understanding, rendered sizes and per-strategy hits")
    search.add_argument("--bandit", metavar="POLICY_FILE",
                        help="let this bandit policy (e.g. configs/policies/linucb.toml) choose "
                             "the strategies and budgets from what it learned")
    search.set_defaults(func=_search)

    templates = commands.add_parser("templates", help="author and dry-run strategy templates")
    actions = templates.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", parents=[parent], help="the enabled strategies")
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", parents=[parent], help="a template's header and source")
    show.add_argument("name")
    show.set_defaults(func=_show)
    render = actions.add_parser("render", parents=[parent],
                                help="print the search body a template renders for a query")
    render.add_argument("name")
    render.add_argument("--query", required=True)
    render.add_argument("--k", type=int, default=10)
    render.add_argument("--offline", action="store_true",
                        help="no cluster: empty gazetteer and a stand-in vector")
    render.set_defaults(func=_render)
    validate = actions.add_parser("validate", parents=[parent],
                                  help="render every template for sample queries and run each "
                                       "with size 0 against the cluster")
    validate.set_defaults(func=_validate)


def _registry(args: argparse.Namespace) -> Any:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.retrieve.templates import TemplateRegistry

    settings = settings_from_args(args)
    return settings, TemplateRegistry.from_settings(settings)


def _connect(settings: Any) -> Any:
    from ltrr_opensearch.engine.client import cluster_info, make_client

    client = make_client(settings)
    cluster_info(client, settings)  # a clear "cannot reach" before anything else
    return client


def _embedder_or_reason(client: Any, settings: Any) -> tuple[Any, str | None]:
    from ltrr_opensearch.errors import LtrrError
    from ltrr_opensearch.retrieve.resources import query_embedder_for

    try:
        return query_embedder_for(client, settings).embed_query, None
    except LtrrError as exc:
        return None, exc.message


def _search(args: argparse.Namespace) -> int:
    from ltrr_opensearch.errors import ConfigError
    from ltrr_opensearch.retrieve.merge import merge_results
    from ltrr_opensearch.retrieve.msearch import execute, prepare_searches, subsearch_timeout
    from ltrr_opensearch.retrieve.resources import gazetteer_for
    from ltrr_opensearch.understand import understand

    if args.k < 1:
        raise ConfigError(f"--k must be >= 1, got {args.k}")
    settings, registry = _registry(args)
    names = ([n.strip() for n in args.strategies.split(",") if n.strip()]
             if args.strategies else [n for n in registry.names if n not in registry.broken])
    client = _connect(settings)
    u = understand(args.query, gazetteer_for(client, settings))
    choices: list[Any] = [(n, args.k) for n in names]
    selection = None
    if args.bandit and not args.strategies:
        from ltrr_opensearch.select.config import load_config
        from ltrr_opensearch.select.learner import Learner

        selection = Learner.load(client, settings, load_config(args.bandit)).select(u.context)
        choices = list(selection.choices)
        names = [c.arm for c in choices]
    embed_query, embed_problem = (None, None)
    if "vector" in registry.needs(names):
        embed_query, embed_problem = _embedder_or_reason(client, settings)

    started = time.perf_counter()
    prepared = prepare_searches(registry, u, choices,
                                embed_query=embed_query, timeout=subsearch_timeout(settings))
    rendered = time.perf_counter()
    results = execute(client, settings, prepared)
    finished = time.perf_counter()
    candidates = merge_results(results)

    if args.explain:
        _print_understanding(u)
        if embed_problem:
            print(f"  vector: unavailable ({embed_problem})")
    if selection is not None:
        _print_selection(selection, args.explain)
    for rank, c in enumerate(candidates[: args.show], start=1):
        src = c.source
        by = f" - {src['artist']}" if src.get("artist") else ""
        decade = f" ({src['decade']})" if src.get("decade") else ""
        prov = " ".join(f"{s}#{r}" for s, (r, _) in c.provenance.items())
        print(f"{rank:>3}. [{src.get('entity_type', '?')}] {src.get('title', c.id)}{by}{decade}"
              f"  id={c.id}  rrf={c.score:.4f}  via {prov}")
    if not candidates:
        print("no results")
    print("strategies:")
    for p, r in zip(prepared, results, strict=True):
        took = f"{r.took_ms}ms" if r.took_ms is not None else "-"
        size = f", body {len(json.dumps(p.body))}B, render {p.render_ms:.1f}ms" \
            if args.explain and p.body is not None else ""
        status = f"  ERROR {r.error}" if r.error else ""
        print(f"  {r.strategy:<18} {len(r.hits):>4} hits  took {took}{size}{status}")
        if args.explain:
            for rank, h in enumerate(r.hits, start=1):
                score = f"{h.score:.3f}" if h.score is not None else "-"
                print(f"      {rank:>3}. {h.id}  {score}  {h.source.get('title', '')}")
    print(f"one _msearch: {(finished - rendered) * 1000:.1f}ms "
          f"(render and embed {(rendered - started) * 1000:.1f}ms), {len(candidates)} merged candidates")
    return 1 if results and all(r.error for r in results) else 0


def _print_selection(selection: Any, explain: bool) -> None:
    e = selection.explanation
    chosen = ", ".join(f"{c.arm} k={c.k} p={c.propensity:.2f}" for c in selection.choices)
    print(f"bandit {e.policy} ({e.observations} observations"
          f"{', explored' if e.explored else ''}): {chosen}")
    if explain:
        print(f"  context {e.context_version}: " + ", ".join(
            f"{name}={value:.2f}" for name, value in e.context.items() if value))
        for arm in e.arms:
            if arm.killed:
                print(f"  {arm.arm:<18} killed")
                continue
            expected = f"{arm.expected_reward:.3f}" if arm.expected_reward is not None else "-"
            bound = f"{arm.bound:.3f}" if arm.bound is not None else "-"
            print(f"  {arm.arm:<18} expected {expected}  bound {bound}  "
                  f"propensity {arm.propensity:.3f}  {'chosen k=' + str(arm.k) if arm.chosen else ''}")


def _print_understanding(u: Any) -> None:
    print(f"query: {u.raw!r} -> normalized {u.normalized!r}")
    slots = ", ".join(f"{s.kind}={s.value!r} ({s.confidence:.2f})" for s in u.slots) or "none"
    print(f"  slots: {slots}")
    print(f"  keywords: {list(u.keywords)}  intent: {u.intent} ({u.intent_confidence:.2f})")


def _list(args: argparse.Namespace) -> int:
    _, registry = _registry(args)
    for name in registry.names:
        if name in registry.broken:
            print(f"{name:<18} BROKEN  {registry.broken[name].error}")
            continue
        t = registry.get(name)
        needs = f" [needs {', '.join(sorted(t.needs))}]" if t.needs else ""
        text = t.description if len(t.description) <= 90 else t.description[:87] + "..."
        print(f"{name:<18} {text}{needs}")
    return 0


def _show(args: argparse.Namespace) -> int:
    _, registry = _registry(args)
    t = registry.get(args.name)
    print(f"name: {t.name}\nfile: {t.path}\ndescription: {t.description}")
    print(f"needs: {', '.join(sorted(t.needs)) or 'nothing'}")
    print("params:" if t.params else "params: none")
    for key, value in t.params.items():
        doc = t.param_docs.get(key)
        print(f"  {key} = {json.dumps(value)}" + (f"  # {doc}" if doc else ""))
    print("---")
    print(t.source.rstrip())
    return 0


def _render(args: argparse.Namespace) -> int:
    from ltrr_opensearch.errors import ValidationError
    from ltrr_opensearch.retrieve.msearch import prepare_searches, subsearch_timeout
    from ltrr_opensearch.retrieve.resources import gazetteer_for
    from ltrr_opensearch.retrieve.validate import random_unit_vector
    from ltrr_opensearch.understand import Gazetteer, understand

    settings, registry = _registry(args)
    template = registry.get(args.name)
    embed_query = None
    if args.offline:
        gazetteer = Gazetteer.from_rows([])
        if template.needs:
            print("note: --offline renders a stand-in 384-d vector", file=sys.stderr)
            embed_query = lambda _text: random_unit_vector(384)  # noqa: E731
    else:
        client = _connect(settings)
        gazetteer = gazetteer_for(client, settings)
        if template.needs:
            embed_query, problem = _embedder_or_reason(client, settings)
            if problem:
                raise ValidationError(f"cannot embed the query: {problem}",
                                      hint="use --offline to render with a stand-in vector")
    u = understand(args.query, gazetteer)
    [prepared] = prepare_searches(registry, u, [(args.name, args.k)], embed_query=embed_query,
                                  timeout=subsearch_timeout(settings))
    if prepared.error:
        raise ValidationError(prepared.error)
    print(json.dumps(prepared.body, indent=2, ensure_ascii=True))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ltrr_opensearch.catalog.index import catalog_meta
    from ltrr_opensearch.retrieve.resources import gazetteer_for
    from ltrr_opensearch.retrieve.validate import random_unit_vector, validate_templates
    from ltrr_opensearch.understand import understand

    settings, registry = _registry(args)
    client = _connect(settings)
    gazetteer = gazetteer_for(client, settings)
    # Only the query's shape matters here, so a stand-in vector of the catalog's width will do.
    dimension = int(catalog_meta(client, settings).get("dimension") or 384)
    problems = validate_templates(client, settings, registry, lambda q: understand(q, gazetteer),
                                  lambda _text: random_unit_vector(dimension))
    for name, found in problems.items():
        print(f"{name:<18} {'ok' if not found else 'FAILED'}")
        for problem in found:
            print(f"    {problem}")
    bad = sum(1 for found in problems.values() if found)
    print(f"{len(problems) - bad} ok, {bad} failed")
    return 1 if bad else 0
