"""Interleaving vs A/B: how many searches each needs to tell two rankers apart.

Both rankers are model slots on the same candidates: ``none`` (fusion of the strategies'
ranks) and ``deployed`` (the shipped LambdaMART model, rescoring in the engine). For each
simulated query both rankings come from the real node (one fixed plan: every strategy, 20
candidates each); then the simulator's click model replays many A/B tests and many
team-draft interleaved tests of each size on those rankings (clicks are cheap, searches
are not). Prints the detection rate per size and the searches each method needs for 80%.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9290 python benchmarks/bench_interleaving.py \
        --queries 400 --trials 100
"""

from __future__ import annotations

import argparse
import json
import uuid
from dataclasses import replace

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.evaluate.experiment import embed_world, prepare_policy_indices, scratch_folder
from ltrr_opensearch.experiment.flags import slot_ranker
from ltrr_opensearch.experiment.interleave import sensitivity
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.rank.setup import ltr_init
from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config

STRATEGIES = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="configs/worlds/small.toml")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--sizes", default="25,50,100,200,400,800,1600,3200")
    parser.add_argument("--slots", default="none,deployed", help="slot a,slot b")
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args()
    settings = Settings.load()
    settings = settings.with_overrides(index_prefix=f"{settings.index_prefix}-il{uuid.uuid4().hex[:6]}")
    client = make_client(settings)
    sim = load_sim_config(args.world)
    world = World.generate(sim)
    try:
        prepare_policy_indices(client, settings, embed_world(list(world.rows()), "tfidf",
                                                             scratch_folder()))
        ltr_init(client, settings)
        pipeline = Pipeline.from_cluster(client, settings)
        slots = args.slots.split(",")
        pipes = []
        for slot in slots:
            ranker, problem = slot_ranker(slot, pipeline.ranker, client, settings)
            if problem:
                raise SystemExit(problem)
            pipes.append(replace(pipeline, ranker=ranker))
        plan = [(s, 20) for s in STRATEGIES]
        lists = []
        for q in QueryStream(world, sim).take(args.queries):
            a, b = ([c.id for c in p.search(q.text, k=10, strategies=plan, now=q.timestamp,
                                             log=False).candidates] for p in pipes)
            lists.append((q, a, b))
        result = sensitivity(lists, ClickModel(sim, seed=5),
                             [int(n) for n in args.sizes.split(",")], trials=args.trials)
        result["slots"] = {"a": slots[0], "b": slots[1]}
        result["queries"] = len(lists)
        print(json.dumps(result, indent=1))
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                json.dump(result, out, indent=1)
    finally:
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


if __name__ == "__main__":
    main()
