"""Time per bandit decision (select: score, propensities, budget) for several policies.

Run: /tmp/venv/bin/python benchmarks/bench_select.py [--requests 500] [--features 16]
Prints median and p99 microseconds per select, and the ratio to the EpsilonGreedy baseline
measured in the same run. No OpenSearch involved: this is the in-memory serving path.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ltrr_opensearch.select import Bandit, Budget, Observation, PolicySpec
from ltrr_opensearch.types import ContextVector

ARMS = ["bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--observations", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    names = tuple(f"f{i}" for i in range(args.features))
    data = [Observation(str(i), ARMS[i % len(ARMS)], float(rng.random() < 0.3), "v1",
                        tuple(rng.random(args.features))) for i in range(args.observations)]
    contexts = [ContextVector("v1", names, tuple(rng.random(args.features)))
                for _ in range(args.requests)]
    policies = [PolicySpec("EpsilonGreedy", {"epsilon": 0.05}), PolicySpec("LinUCB"),
                PolicySpec("LinTS"), PolicySpec("ThompsonSampling")]
    baseline = None
    print(f"{args.requests} selects, {len(ARMS)} arms, M=3, {args.features} features, "
          f"{args.observations} observations, MC samples {args.samples}")
    for spec in policies:
        bandit = Bandit(ARMS, spec, Budget(3, 100, 10), epsilon=0.05,
                        propensity_samples=args.samples).fit(data)
        fit_start = time.perf_counter()
        Bandit(ARMS, spec, Budget(3, 100, 10)).fit(data)
        fit_ms = (time.perf_counter() - fit_start) * 1000
        times = []
        for i, context in enumerate(contexts):
            start = time.perf_counter()
            bandit.select(context, seed=i)
            times.append((time.perf_counter() - start) * 1e6)
        median, p99 = np.median(times), np.percentile(times, 99)
        baseline = baseline or median
        print(f"  {spec.name:<18} median {median:8.0f} us  p99 {p99:8.0f} us  "
              f"x{median / baseline:5.2f} vs EpsilonGreedy   refit {fit_ms:6.1f} ms")


if __name__ == "__main__":
    main()
