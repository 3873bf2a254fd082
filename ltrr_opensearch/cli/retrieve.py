"""``ltrr search`` (through ``Pipeline.search``, like the service) and
``ltrr templates list|show|render|validate``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    search = commands.add_parser("search", parents=[parent],
                                 help="search the catalog through the pipeline (one _msearch), "
                                      "logged as a UBI query unless --no-log")
    search.add_argument("query", help="what the user typed")
    search.add_argument("--strategies", help="comma-separated names (default: all enabled)")
    search.add_argument("--k", "--show", dest="k", type=int, default=10,
                        help="page size: merged results shown (default 10), as in the API")
    search.add_argument("--per-strategy", type=int, default=50, metavar="N",
                        help="candidates each strategy retrieves when no bandit chooses the "
                             "budgets (default 50)")
    search.add_argument("--explain", action="store_true",
                        help="also show the understanding, timings and per-strategy hits")
    search.add_argument("--json", action="store_true",
                        help="print the API's response (what POST /search returns)")
    search.add_argument("--no-log", action="store_true",
                        help="do not write the UBI query record for this search")
    search.add_argument("--client-id", help="the user's id, logged with the query")
    search.add_argument("--session-id", help="the session's id, logged with the query")
    search.add_argument("--bandit", metavar="POLICY_FILE",
                        help="let this bandit policy (e.g. configs/policies/linucb.toml) choose "
                             "the strategies and budgets from what it learned")
    search.set_defaults(func=_search)

    templates = commands.add_parser("templates", help="author and dry-run strategy templates")
    actions = templates.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    features = argparse.ArgumentParser(add_help=False)
    features.add_argument("--features", action="store_true",
                          help="the LTR feature set's templates instead of the strategies")
    features.add_argument("--feature-set", default="ltrr_core", metavar="SET",
                          help="which feature set with --features (default %(default)s)")
    listing = actions.add_parser("list", parents=[parent, features],
                                 help="the enabled strategies (or --features)")
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", parents=[parent, features],
                              help="a template's header and source")
    show.add_argument("name")
    show.set_defaults(func=_show)
    render = actions.add_parser("render", parents=[parent, features],
                                help="print the search body a template renders for a query")
    render.add_argument("name")
    render.add_argument("--query", required=True)
    render.add_argument("--k", type=int, default=10)
    render.add_argument("--offline", action="store_true",
                        help="no cluster: empty gazetteer and a stand-in vector")
    render.set_defaults(func=_render)
    validate = actions.add_parser("validate", parents=[parent, features],
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
    from ltrr_opensearch.errors import ConfigError, LtrrError
    from ltrr_opensearch.feedback.querylog import log_search
    from ltrr_opensearch.pipeline import Pipeline

    if args.k < 1:
        raise ConfigError(f"--k must be >= 1, got {args.k}")
    if args.per_strategy < 1:
        raise ConfigError(f"--per-strategy must be >= 1, got {args.per_strategy}")
    settings, _ = _registry(args)
    client = _connect(settings)
    pipeline = Pipeline.from_cluster(client, settings)
    pipeline.default_k = args.per_strategy
    plan = None
    if args.strategies:
        plan = [(n.strip(), args.per_strategy) for n in args.strategies.split(",") if n.strip()]
    elif args.bandit:
        from ltrr_opensearch.select.config import load_config
        from ltrr_opensearch.select.learner import Learner

        pipeline.selector = Learner.load(client, settings, load_config(args.bandit))
    log_problem: list[str] = []

    def write_log(record: Any) -> None:  # one search: a direct write, not a buffer
        try:
            log_search(client, settings, record)
        except LtrrError as exc:
            log_problem.append(exc.message)

    pipeline.search_log = write_log
    response = pipeline.search(args.query, k=args.k, strategies=plan, log=not args.no_log,
                               client_id=args.client_id, session_id=args.session_id)
    failed = 1 if response.results and all(r.error for r in response.results) else 0
    if log_problem:
        print(f"warning: the search was not logged: {log_problem[0]}", file=sys.stderr)
    if args.json:
        print(json.dumps(response.to_dict(explain=args.explain), ensure_ascii=False))
        return failed
    _print_response(response, pipeline, args.explain)
    return failed


def _print_response(response: Any, pipeline: Any, explain: bool) -> None:
    if explain:
        _print_understanding(response.understanding)
        ran = [c.arm for c in response.choices]
        if pipeline.embed_problem and "vector" in pipeline.registry.needs(
                [n for n in ran if n in pipeline.registry.names]):
            print(f"  vector: unavailable ({pipeline.embed_problem})")
    if response.explanation is not None:
        _print_selection(response.choices, response.explanation, explain)
    from ltrr_opensearch.retrieve.catalog import display, offline_catalog

    for rank, c in enumerate(response.shown, start=1):
        shown = display(c.source, response.catalog)
        by = f" - {_text(shown['creator'])}" if shown["creator"] else ""
        facets = (response.catalog or offline_catalog())["facets"]
        decade = c.source.get(facets["decade"]) if "decade" in facets else None
        decade = f" ({_text(decade)})" if decade else ""
        prov = " ".join(f"{s}#{r}" for s, (r, _) in c.provenance.items())
        kind = ("model" if response.ranker is not None and response.ranker.model
                and not response.rank_error else "fusion")
        # A catalog without a type field has no type to show ("[?]" on every hit said nothing).
        typed = bool((response.catalog or offline_catalog()).get("type_field"))
        kind_tag = f"[{_text(shown['entity_type'] or '?')}] " if typed else ""
        print(f"{rank:>3}. {kind_tag}{_text(shown['title'] or c.id)}{by}"
              f"{decade}  id={c.id}  {kind}={c.score:.4f}  via {prov}")
    if explain and response.ranker is not None:
        _print_ranking(response.ranker.explain(response.shown))
    if response.rank_error:
        print(f"ranking: {response.rank_error}; fused order shown")
    if not response.shown:
        print("no results")
    print("strategies:")
    budgets = {c.arm: c.k for c in response.choices}
    for r in response.results:
        took = f"{r.took_ms}ms" if r.took_ms is not None else "-"
        status = f"  ERROR {r.error}" if r.error else ""
        print(f"  {r.strategy:<18} k={budgets.get(r.strategy, '-'):<4} {len(r.hits):>4} hits  "
              f"took {took}{status}")
        if explain:
            for rank, h in enumerate(r.hits, start=1):
                score = f"{h.score:.3f}" if h.score is not None else "-"
                title = display(h.source, response.catalog)["title"] or ""
                print(f"      {rank:>3}. {h.id}  {score}  {_text(title)}")
    t = response.timings
    detail = ", ".join(f"{name} {ms:.1f}ms" for name, ms in t.items() if name != "retrieve")
    print(f"one _msearch: retrieve {t.get('retrieve', 0.0):.1f}ms incl. render and embedding "
          f"({detail}); {len(response.candidates)} merged candidates, request {response.request_id}")


def _text(value: Any) -> str:
    """A source value as one line: lists joined with commas."""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _print_ranking(ranking: dict[str, Any], top: int = 5) -> None:
    print(f"ranked in the engine by {ranking['model'] or 'no model (feature logging only)'} "
          f"({ranking['feature_set']}); strongest contributions per hit:")
    for hit in ranking["hits"]:
        parts = sorted((hit.get("contributions") or {}).items(), key=lambda kv: -abs(kv[1]))
        shown = ", ".join(f"{name} {value:+.3f} (={hit['features'][name]:.3g})"
                          for name, value in parts[:top])
        print(f"  {hit['id']}: {shown or 'no feature moved the score'}")


def _print_selection(choices: Any, e: Any, explain: bool) -> None:
    chosen = ", ".join(f"{c.arm} k={c.k} p={c.propensity:.2f}" for c in choices)
    print(f"bandit {e.policy} ({e.observations} observations"
          f"{', explored' if e.explored else ''}): {chosen}")
    if explain:
        print(f"  context {e.context_version}: " + ", ".join(
            f"{name}={value:.2f}" for name, value in e.context.items() if value))
        for arm in e.arms:
            if arm.killed:
                print(f"  {arm.arm:<18} killed")
                continue
            if getattr(arm, "unavailable", None):
                print(f"  {arm.arm:<18} unavailable: {arm.unavailable}")
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


def _feature_set(args: argparse.Namespace) -> Any:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.rank.features import feature_set_in_force

    settings = settings_from_args(args)
    return settings, feature_set_in_force(settings, args.feature_set, lambda: _connect(settings))


def _feature(feature_set: Any, name: str) -> Any:
    from ltrr_opensearch.errors import ValidationError

    for feature in feature_set.features:
        if feature.name == name:
            return feature
    raise ValidationError(f"feature set {feature_set.base_name} has no feature {name!r}",
                          hint=f"`ltrr templates list --features --feature-set {feature_set.base_name}`")


def _list(args: argparse.Namespace) -> int:
    if args.features:
        _, fs = _feature_set(args)
        print(f"feature set {fs.base_name} (store name {fs.store_name}), {len(fs.features)} "
              "features")
        for f in fs.features:
            print(f"  {f.name:<22} params [{', '.join(f.params)}]  {f.description}")
        return 0
    _, registry = _registry(args)
    enabled = set(registry.names)
    for name in registry.available:
        if name in registry.broken:
            print(f"{name:<18} BROKEN  {registry.broken[name].error}")
            continue
        t = registry.get(name)
        needs = f" [needs {', '.join(sorted(t.needs))}]" if t.needs else ""
        off = "" if name in enabled else " [off: not enabled]"
        text = t.description if len(t.description) <= 90 else t.description[:87] + "..."
        print(f"{name:<18} {text}{needs}{off}")
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.features:
        _, fs = _feature_set(args)
        print(json.dumps(_feature(fs, args.name).to_store(), indent=2))
        return 0
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

    if args.features:
        return _render_feature(args)
    from ltrr_opensearch.retrieve.catalog import catalog_context, offline_catalog

    settings, registry = _registry(args)
    template = registry.get(args.name)
    embed_query = None
    if args.offline:
        # No cluster: the managed description in force, bound to the managed mapping file.
        catalog = offline_catalog(settings)
        gazetteer = Gazetteer.from_rows([])
        if "vector" in template.needs:
            print("note: --offline renders a stand-in 384-d vector", file=sys.stderr)
            embed_query = lambda _text: random_unit_vector(384)  # noqa: E731
    else:
        client = _connect(settings)
        catalog = catalog_context(client, settings)
        gazetteer = gazetteer_for(client, settings)
        if "vector" in template.needs:
            embed_query, problem = _embedder_or_reason(client, settings)
            if problem:
                raise ValidationError(f"cannot embed the query: {problem}",
                                      hint="use --offline to render with a stand-in vector")
    u = understand(args.query, gazetteer)
    [prepared] = prepare_searches(registry, u, [(args.name, args.k)], embed_query=embed_query,
                                  timeout=subsearch_timeout(settings), catalog=catalog)
    if prepared.error:
        raise ValidationError(prepared.error)
    print(json.dumps(prepared.body, indent=2, ensure_ascii=True))
    return 0


def _render_feature(args: argparse.Namespace) -> int:
    from ltrr_opensearch.feedback.keys import query_key
    from ltrr_opensearch.rank.features import sltr_params
    from ltrr_opensearch.rank.validate import preview
    from ltrr_opensearch.retrieve.resources import gazetteer_for
    from ltrr_opensearch.retrieve.validate import random_unit_vector
    from ltrr_opensearch.understand import Gazetteer, understand

    settings, fs = _feature_set(args)
    feature = _feature(fs, args.name)
    gazetteer = Gazetteer.from_rows([]) if args.offline else gazetteer_for(_connect(settings),
                                                                           settings)
    u = understand(args.query, gazetteer)
    try:
        key = query_key(args.query)[1]
    except ValueError:
        key = None
    params = sltr_params(u, q2e_key=key, vector=random_unit_vector(4), needed=set(feature.params))
    print("sltr params:", json.dumps(params, ensure_ascii=True))
    print("rendered (a preview; the LTR plugin renders it at search time, JSON-escaping every "
          "value; query_vector shown as a stand-in):")
    print(json.dumps(json.loads(preview(feature.template, params)), indent=2, ensure_ascii=True))
    return 0


def _validate_features(args: argparse.Namespace) -> int:
    from ltrr_opensearch.rank.validate import validate_feature_set
    from ltrr_opensearch.retrieve.resources import gazetteer_for
    from ltrr_opensearch.understand import understand

    settings, fs = _feature_set(args)
    client = _connect(settings)
    gazetteer = gazetteer_for(client, settings)
    embed, _ = _embedder_or_reason(client, settings)
    problems = validate_feature_set(client, settings, fs, lambda q: understand(q, gazetteer), embed)
    for name, found in problems.items():
        if name == "*" and not found:
            continue
        print(f"{name:<22} {'ok' if not found else 'FAILED'}")
        for problem in found[:5]:
            print(f"    {problem}")
    bad = sum(1 for found in problems.values() if found)
    print(f"{fs.store_name}: {len(fs.features) - bad} ok, {bad} failed")
    return 1 if bad else 0


def _vector_dimension(client: Any, settings: Any) -> int | None:
    """The width of the described vector field in the live mapping, when it says."""
    from ltrr_opensearch.catalog.description import description_for, live_properties

    vector = description_for(settings).vector
    if vector is None:
        return None
    spec = live_properties(client, settings.catalog_index).get(vector, {})
    return int(spec.get("dimension") or 0) or None


def _validate(args: argparse.Namespace) -> int:
    if args.features:
        return _validate_features(args)
    from ltrr_opensearch.retrieve.catalog import catalog_context, check_catalog
    from ltrr_opensearch.retrieve.resources import gazetteer_for
    from ltrr_opensearch.retrieve.validate import (
        random_unit_vector,
        unavailable_strategies,
        validate_templates,
    )
    from ltrr_opensearch.understand import understand

    settings, registry = _registry(args)
    client = _connect(settings)
    # The description first: templates cannot render against fields the index lacks.
    findings = check_catalog(client, settings)
    for finding in findings:
        print(f"catalog            {finding.status.upper()}  {finding.detail}")
        if finding.fix and finding.status != "ok":
            print(f"    fix: {finding.fix}")
    if any(f.status == "error" for f in findings):
        print(f"catalog description: {sum(f.status == 'error' for f in findings)} problem(s); "
              "templates not run")
        return 1
    gazetteer = gazetteer_for(client, settings)
    # Only the query's shape matters here, so a stand-in vector of the catalog's width will do.
    dimension = _vector_dimension(client, settings) or 384
    catalog = catalog_context(client, settings)
    problems = validate_templates(client, settings, registry, lambda q: understand(q, gazetteer),
                                  lambda _text: random_unit_vector(dimension), catalog=catalog)
    unavailable = unavailable_strategies(registry, catalog)
    for name in registry.names:
        if name in unavailable:  # not run: it could only fail, and serving never plans it
            print(f"{name:<18} unavailable  {unavailable[name]}")
            continue
        print(f"{name:<18} {'ok' if not problems[name] else 'FAILED'}")
        for problem in problems[name]:
            print(f"    {problem}")
    bad = sum(1 for found in problems.values() if found)
    print(f"{len(problems) - bad} ok, {bad} failed"
          + (f", {len(unavailable)} unavailable on this catalog" if unavailable else ""))
    return 1 if bad else 0
