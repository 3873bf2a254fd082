"""``ltrr demo``: the whole loop on the real Chinook catalog, end to end.

1. load the catalog (MiniLM vectors) behind the alias and seed the cold-start memory;
2. replay simulated users through the real pipeline: a LinUCB bandit picks strategies and
   budgets, one ``_msearch`` per search, clicks come back as UBI events, the feedback loop
   updates rewards and the Q2E memory every batch;
3. print what was learned and a few searches with their explanations.
It leaves the catalog in place so ``ltrr search "..." --explain`` works afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from statistics import mean

from ltrr_opensearch.config import PACKAGE_ROOT, PROJECT_ROOT

CHINOOK = PROJECT_ROOT / "data" / "chinook" / "catalog.jsonl"
POLICY = PACKAGE_ROOT / "policies" / "linucb.toml"
EXAMPLES = ("whole lota rosie", "headbanging", "blues", "songs about love", "metallica")


def register(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    demo = commands.add_parser("demo", parents=[parent],
                               help="the whole loop on the Chinook catalog, end to end")
    demo.add_argument("--searches", type=int, default=1000,
                      help="simulated searches to replay (default %(default)s)")
    demo.add_argument("--embedder", default="minilm", choices=["minilm", "tfidf"])
    demo.add_argument("--fresh", action="store_true",
                      help="rebuild the catalog and forget what earlier demos learned")
    demo.add_argument("--seed", type=int, default=None,
                      help="simulated traffic seed (default: changes every hour, so a rerun "
                           "replays new searches)")
    demo.set_defaults(func=run)


def _say(text: str = "") -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    from ltrr_opensearch.cli import settings_from_args
    from ltrr_opensearch.engine.client import cluster_info, make_client

    settings = settings_from_args(args)
    client = make_client(settings)
    info = cluster_info(client, settings)
    _say(f"== OpenSearch {info['version']['number']} at {settings.display_urls}")
    rows = [json.loads(line) for line in CHINOOK.read_text(encoding="utf-8").splitlines()]
    _prepare(client, settings, rows, args)
    _ranking(client, settings)
    outcomes, replay = _traffic(client, settings, rows, args)
    _learned(client, settings, replay, outcomes)
    _retrain(client, settings)
    _examples(replay)
    _say("\ntry it yourself:  ltrr search \"led zepelin\" --explain   |   ltrr bandit show   |   "
         "ltrr memory show \"headbanging\"")
    return 0


def _prepare(client, settings, rows, args) -> None:
    from ltrr_opensearch.catalog.embed import make_embedder
    from ltrr_opensearch.catalog.index import alias_targets
    from ltrr_opensearch.catalog.rebuild import rebuild_catalog
    from ltrr_opensearch.feedback.seed import seed_memory

    loaded = alias_targets(client, settings)
    count = client.count(index=settings.catalog_alias)["count"] if loaded else 0
    if args.fresh or count != len(rows):
        if args.fresh:
            client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="open,closed")
        _say(f"== loading {len(rows)} Chinook entities (tracks, albums, artists, genres, "
             f"playlists) with {args.embedder} vectors")
        started = time.perf_counter()
        result = rebuild_catalog(client, settings, CHINOOK, embedder=make_embedder(args.embedder),
                                 quiet=args.quiet)
        _say(f"   {result.report.indexed} indexed in {time.perf_counter() - started:.0f}s "
             f"behind alias {settings.catalog_alias}")
        seeded = seed_memory(client, settings, quiet=args.quiet)
        _say(f"   cold-start memory: predicted queries stored for {seeded} entities")
    else:
        _say(f"== catalog already loaded ({count} entities behind {settings.catalog_alias}); "
             "--fresh reloads it")


def _ranking(client, settings) -> None:
    from ltrr_opensearch.errors import LtrrError
    from ltrr_opensearch.rank.setup import ltr_init

    try:
        report = ltr_init(client, settings)
    except LtrrError as exc:
        _say(f"\n== in-engine ranking unavailable ({exc.message}): candidates ordered by fusion")
        return
    _say(f"\n== in-engine ranking: feature set {report.feature_set}; deployed model "
         f"{report.deployed or 'none (fusion)'}")
    for note in report.notes:
        _say(f"   note: {note}")


def _retrain(client, settings) -> None:
    from ltrr_opensearch.rank.learn import scheduled_retrain

    _say("\n== a ranker trained from the demo's clicks (PBM judgments -> LambdaMART), "
         "deployed only if it beats the serving one on held-out judgments")
    # The demo's few hundred searches repeat a query less often than real traffic does.
    result = scheduled_retrain(client, settings, min_evidence=3)
    _say(f"   trained {result['trained'] or 'nothing'}; deployed: {result['deployed']} "
         f"({result['reason']})")


def _traffic(client, settings, rows, args):
    from ltrr_opensearch.evaluate.harness import Policy, Replay
    from ltrr_opensearch.pipeline import Pipeline
    from ltrr_opensearch.retrieve import resources
    from ltrr_opensearch.select.config import load_config
    from ltrr_opensearch.simulate import ClickModel
    from ltrr_opensearch.simulate.chinook_traffic import ChinookReformulator, ChinookTraffic

    resources.clear()
    seed = getattr(args, "seed", None)
    traffic = ChinookTraffic(rows, seed=int(time.time()) // 3600 if seed is None else seed,
                             start=_timeline_start(client, settings))
    queries = traffic.take(args.searches)
    _say(f"\n== replaying {len(queries)} simulated searches: the bandit picks strategies and "
         "budgets, users click, feedback is applied every 50 searches")
    pipeline = Pipeline.from_cluster(client, settings)
    replay = Replay(pipeline, Policy("linucb", bandit=load_config(POLICY)), ClickModel(seed=1),
                    batch=50, follow_up=ChinookReformulator(traffic, seed=2))
    started = time.perf_counter()
    outcomes = replay.run(queries, progress=_progress(len(queries), args.quiet))
    _say(f"   done in {time.perf_counter() - started:.0f}s "
         f"({len(outcomes)} searches incl. follow-ups)")
    return outcomes, replay


def _timeline_start(client, settings) -> datetime:
    """Simulated searches start a day ago, or just after the last search an earlier demo
    logged on this catalog: the feedback loop ignores feedback older than what it already
    closed (the bandit's attribution marker), so a rerun whose clock went back would teach
    the bandit almost nothing (measured: 66 observations from 1000 searches)."""
    start = datetime.now(timezone.utc) - timedelta(days=1)
    index = settings.ubi_queries_index
    if not client.indices.exists(index=index):
        return start
    body = {"size": 0, "aggs": {"last": {"max": {"field": "timestamp"}}}}
    last = client.search(index=index, body=body)["aggregations"]["last"]["value"]
    if last is None:
        return start
    return max(start, datetime.fromtimestamp(last / 1000, tz=timezone.utc) + timedelta(minutes=1))


def _progress(total: int, quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None

    def show(step: int) -> None:
        sys.stderr.write(f"\r   {step + 1}/{total}")
        if step + 1 == total:
            sys.stderr.write("\n")

    return show


def _learned(client, settings, replay, outcomes) -> None:
    from ltrr_opensearch.feedback.explain import explain

    original = [o for o in outcomes if o.intent != "reformulation"]
    half = len(original) // 2
    for label, part in (("first half ", original[:half]), ("second half", original[half:])):
        if part:
            _say(f"   {label}: recall {mean(o.recall for o in part):.2f}  "
                 f"MRR {mean(o.rr for o in part):.2f}  NDCG@10 {mean(o.ndcg10 for o in part):.2f}"
                 f"  strategies/search {mean(o.subsearches for o in part):.1f}")
    learner = replay.learner
    _say("\n== what the bandit learned (observations per strategy)")
    counts = learner.bandit.counts
    _say("   " + "  ".join(f"{arm}={counts.get(arm, 0)}" for arm in learner.bandit.arms))
    _say("\n== what the memory learned for a nickname no catalog text contains (strongest first)")
    for line in explain(client, settings, "headbanging")[:4]:
        _say("   " + line)
    remembered = replay.pipeline.search("headbanging", k=3, strategies=[("q2e_memory", 3)])
    titles = ", ".join(str(c.source.get("title")) for c in remembered.shown) or "nothing yet"
    _say(f"   the q2e_memory strategy now answers 'headbanging' with: {titles}")


def _examples(replay) -> None:
    from ltrr_opensearch.retrieve.catalog import display

    _say("\n== example searches (chosen strategies, budgets and propensities; provenance)")
    for query in EXAMPLES:
        response = replay.pipeline.search(query, k=3)
        plan = ", ".join(f"{c.arm} k={c.k} p={c.propensity:.2f}" for c in response.choices)
        _say(f"\n   \"{query}\"  intent={response.understanding.intent}  [{plan}]  "
             f"{response.took_ms:.0f} ms")
        for rank, c in enumerate(response.shown, start=1):
            shown = display(c.source, response.catalog)  # the description's roles
            by = f" - {shown['creator']}" if shown["creator"] else ""
            via = ", ".join(f"{s}#{r}" for s, (r, _) in c.provenance.items())
            _say(f"     {rank}. [{shown['entity_type']}] {shown['title']}{by}   via {via}")
        if not response.shown:
            _say("     (nothing)")
    replay.log.flush()  # the examples were served too: log them like any search
