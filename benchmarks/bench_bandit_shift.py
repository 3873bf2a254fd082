"""Searches-to-recover after an arm's quality changes mid-stream, per [state] window.

A synthetic semi-bandit world (no engine: it isolates the learning rule). Two intents
(context x = 0 or 1), five arms with Bernoulli rewards; M=2 arms run per search and the
bandit learns in batches of ``--batch`` searches (as the worker syncs). At the shift the
memory arm improves for intent 1 (0.2 -> 0.9, as the memory learns a nickname) and
bm25 breaks (0.7 -> 0.1). Recovered = the first search after which the memory arm runs
for intent-1 searches in >= 90% of a rolling 50.

    python benchmarks/bench_bandit_shift.py --searches 6000 --windows 0,100,300,1000
"""

from __future__ import annotations

import argparse
import time
from collections import deque

import numpy as np

from ltrr_opensearch.select import Bandit, Budget, Observation, PolicySpec
from ltrr_opensearch.types import ContextVector

ARMS = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases")
BEFORE = {0: (0.6, 0.5, 0.3, 0.1, 0.1), 1: (0.7, 0.3, 0.4, 0.2, 0.1)}
AFTER = {0: (0.6, 0.5, 0.3, 0.1, 0.1), 1: (0.1, 0.3, 0.4, 0.9, 0.1)}


def run(window: int, searches: int, batch: int, seed: int) -> tuple[int | None, float]:
    rng = np.random.default_rng(seed)
    bandit = Bandit(ARMS, PolicySpec("LinUCB", {"alpha": 1.0}), Budget(2, 100, 10),
                    epsilon=0.05, window=window, seed=seed)
    shift, pending, recent = searches // 2, [], deque(maxlen=50)
    recovered, reward_after = None, []
    for i in range(searches):
        x = int(rng.random() < 0.5)
        table = BEFORE if i < shift else AFTER
        ctx = ContextVector("v1", ("intent1",), (float(x),))
        chosen = [c.arm for c in bandit.select(ctx, seed=i).choices]
        got = 0.0
        for arm in chosen:
            r = float(rng.random() < table[x][ARMS.index(arm)])
            got = max(got, r)
            pending.append(Observation(f"r{i}", arm, r, "v1", (float(x),), logged_at=i))
        if i >= shift:
            reward_after.append(got)
            if x == 1:
                recent.append("q2e_memory" in chosen)
                if recovered is None and len(recent) == 50 and sum(recent) >= 45:
                    recovered = i - shift
        if len(pending) and (i + 1) % batch == 0:
            bandit.partial_fit(pending)
            pending = []
    return recovered, float(np.mean(reward_after))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--searches", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--windows", default="0,100,300,1000")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print("| window | searches to recover (per seed) | reward after the shift | s |")
    print("|---|---|---|---|")
    for w in (int(v) for v in args.windows.split(",")):
        started = time.perf_counter()
        runs = [run(w, args.searches, args.batch, s) for s in range(args.seeds)]
        rec = ", ".join("never" if r is None else str(r) for r, _ in runs)
        print(f"| {w or 'none'} | {rec} | {np.mean([v for _, v in runs]):.3f} | "
              f"{time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
