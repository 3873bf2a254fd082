"""Simulator throughput: world generation, row building, query stream and click model.

    python benchmarks/bench_simulate.py [--sizes 10000 100000] [--queries 5000] [--repeats 3]

Prints medians over ``--repeats`` runs. The baseline is ``json.dumps`` of the same rows
(the cost of merely writing the catalog), measured in the same run, so "gen/dump" says how
the column-wise generation compares to serialising its output.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from ltrr_opensearch.simulate.clicks import ClickModel
from ltrr_opensearch.simulate.config import SimConfig, WorldConfig
from ltrr_opensearch.simulate.queries import QueryStream
from ltrr_opensearch.simulate.world import World


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"{'entities':>9} {'generate s':>10} {'rows s':>8} {'dump s':>8} {'gen/dump':>8} "
          f"{'queries/s':>10} {'impressions/s':>13}")
    for size in args.sizes:
        config = SimConfig(world=WorldConfig(entities=size))
        gen_s, world = timed(lambda c=config: World.generate(c), args.repeats)
        rows_s, rows = timed(lambda w=world: list(w.rows()), args.repeats)
        dump_s, _ = timed(lambda r=rows: [json.dumps(x) for x in r], args.repeats)
        stream = QueryStream(world, config)
        q_s, queries = timed(lambda s=stream: s.take(args.queries), args.repeats)
        model = ClickModel(config.clicks, seed=1)

        def impressions(qs=queries, m=model, ids=world.ids):
            for q in qs:  # the ideal ranking, padded to 10 with whatever ranks next
                ranked = list(q.relevant)[:10]
                m.simulate(q, ranked + ids[: 10 - len(ranked)])
        c_s, _ = timed(impressions, args.repeats)
        print(f"{size:>9} {gen_s:>10.2f} {rows_s:>8.2f} {dump_s:>8.2f} {gen_s / dump_s:>8.2f} "
              f"{args.queries / q_s:>10,.0f} {args.queries / c_s:>13,.0f}")


if __name__ == "__main__":
    main()
