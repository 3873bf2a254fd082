"""Learning to retrieve, measured: every policy replays the same simulated searches through
the real node and the real feedback loop (see ltrr_opensearch/evaluate/harness.py).

Prints, per policy: recall of the target in the candidate set per intent (the table the
simulator was built to produce), then recall / MRR / NDCG@10 / latency / engine cost over
all searches and over the second half (after learning), and writes learning curves (PNG).

    python benchmarks/bench_learning.py --world configs/worlds/10k.toml --searches 3000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.evaluate.experiment import (
    STRATEGIES,
    embed_world,
    run_policy,
    scratch_folder,
    standard_policies,
)
from ltrr_opensearch.evaluate.harness import Outcome
from ltrr_opensearch.evaluate.report import (
    format_recall_matrix,
    format_table,
    learning_curves,
    summarise,
)
from ltrr_opensearch.select.config import load_config
from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config
from ltrr_opensearch.simulate.reformulate import Reformulator

COLUMNS = ["policy", "searches", "recall", "mrr", "ndcg10", "latency_p50_ms", "latency_p99_ms",
           "subsearches", "candidates", "errors"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="configs/worlds/10k.toml")
    parser.add_argument("--searches", type=int, default=3000)
    parser.add_argument("--k", type=int, default=100, help="the candidate budget K")
    parser.add_argument("--embedder", default="minilm", choices=["minilm", "tfidf"])
    parser.add_argument("--policies", default="",
                        help="comma-separated subset of policy names (default: all)")
    parser.add_argument("--bandits", default="configs/policies/linucb.toml",
                        help="comma-separated bandit policy files")
    parser.add_argument("--batch", type=int, default=100, help="searches per feedback batch")
    parser.add_argument("--out", default="out/bench-learning")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings.load().with_overrides(index_prefix="bench-learn")
    client = make_client(settings)
    sim = load_sim_config(args.world)
    started = time.perf_counter()
    world = World.generate(sim)
    rows = list(world.rows())
    data = embed_world(rows, args.embedder, scratch_folder(), quiet=not sys.stderr.isatty())
    print(f"world {args.world}: {len(rows)} entities, embedded with {data.embedder.name} in "
          f"{time.perf_counter() - started:.1f}s", flush=True)
    queries = QueryStream(world, sim).take(args.searches)
    bandits = [load_config(p) for p in args.bandits.split(",") if p]
    wanted = {p for p in args.policies.split(",") if p}
    policies = [p for p in standard_policies(args.k, bandits, STRATEGIES)
                if not wanted or p.name in wanted]

    outcomes: list[Outcome] = []
    for policy in policies:
        t0 = time.perf_counter()
        outcomes += run_policy(client, settings, data, policy, queries,
                               ClickModel(sim, seed=1), batch=args.batch,
                               follow_up=Reformulator(world, seed=3))
        print(f"  {policy.name}: {time.perf_counter() - t0:.0f}s", flush=True)

    print("\nrecall of the target in the candidate set, per intent")
    print(format_recall_matrix(o for o in outcomes if o.intent != "reformulation"))
    print("\nall searches (follow-up reformulations excluded from the quality figures)")
    print(format_table(summarise(outcomes, by_intent=False), COLUMNS))
    half = args.searches // 2
    print(f"\nsecond half (searches {half}..{args.searches}, after learning)")
    late = [o for o in outcomes if o.step >= half]
    print(format_table(summarise(late, by_intent=False), COLUMNS))
    png = learning_curves([o for o in outcomes if o.intent != "reformulation"],
                          out / "learning_curves.png",
                          window=max(50, args.searches // 20),
                          title=f"{len(rows)} entities, {args.searches} searches, K={args.k}")
    (out / "outcomes.jsonl").write_text("\n".join(json.dumps(o.__dict__) for o in outcomes))
    print(f"\nplot: {png}\nraw outcomes: {out / 'outcomes.jsonl'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
