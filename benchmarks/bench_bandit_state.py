"""Bandit load and sync time against the observation log's length, before/after array state.

Writes N synthetic observations (LinUCB policy, 5 arms, a ``--width``-wide context) into
a fresh state index on the node, then measures for each N:

* ``refit``: the log-refit path (what every load and changed sync did before snapshots
  carried arrays): read the whole log, fit MABWiser;
* ``arrays``: ``Learner.load`` from a snapshot with the fitted arrays;
* ``sync +1k``: an already loaded worker syncing 1,000 new observations, both paths;

with and without the default ``[state] window`` (300).

    python benchmarks/bench_bandit_state.py --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from opensearchpy import helpers

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.select import BanditConfig, Budget, Learner, Observation, PolicySpec
from ltrr_opensearch.select.store import BanditStore, observation_doc

ARMS = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases")
T0 = 1_700_000_000_000


def synthetic(start: int, stop: int, width: int, seed: int) -> list[Observation]:
    rng = np.random.default_rng(seed + start)
    ctx = (rng.random((stop - start, width)) < 0.3).astype(float)
    arms = rng.integers(0, len(ARMS), size=(stop - start))
    rewards = (rng.random(stop - start) < 0.2 + 0.1 * arms).astype(float)
    return [Observation(f"r{start + i}", ARMS[int(arms[i])], float(rewards[i]), "bench",
                        tuple(float(v) for v in ctx[i]), logged_at=T0 + start + i)
            for i in range(stop - start)]


def write(client, index: str, observations: list[Observation]) -> None:
    actions = ({"_op_type": "create", "_index": index, "_id": f"obs:{o.key}",
                "_source": observation_doc(o)} for o in observations)
    helpers.bulk(client, actions, chunk_size=5000, request_timeout=120)


def grow(client, settings, index: str, have: int, want: int, width: int) -> None:
    for start in range(have, want, 50_000):
        write(client, index, synthetic(start, min(want, start + 50_000), width, 0))
    client.indices.refresh(index=index)


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(client, settings, config: BanditConfig, n: int, width: int) -> dict[str, float]:
    index = settings.state_index
    store = BanditStore(client, settings)
    client.delete(index=index, id=f"snapshot:{config.name}", ignore=[404], refresh=True)

    def log_learner() -> Learner:
        learner = Learner(client, settings, config)
        learner._key = None  # the pre-snapshot path: refit from the whole log
        learner.sync()
        return learner

    t_refit, old = timed(log_learner)
    Learner.load(client, settings, config)  # writes the snapshot with arrays (a rebuild)
    t_arrays, new = timed(lambda: Learner.load(client, settings, config))
    extra = synthetic(n, n + 1000, width, 1)
    write(client, index, extra)
    client.indices.refresh(index=index)
    t_sync_new, _ = timed(new.sync)  # commits the next version
    t_sync_old, _ = timed(old.sync)  # catches up with it: reads the 1k, refits everything
    # the +1k observations stay out of the next size's log
    client.delete_by_query(index=index, refresh=True, body={"query": {"bool": {"filter": [
        {"term": {"kind": "observation"}}, {"range": {"logged_at": {"gte": T0 + n}}}]}}})
    assert store.count((T0 + n, "~")) == n
    return {"refit": t_refit, "arrays": t_arrays, "sync_old": t_sync_old, "sync_new": t_sync_new}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--windows", default="0,300")
    parser.add_argument("--prefix", default="b14state")
    args = parser.parse_args()
    settings = Settings.load().with_overrides(index_prefix=args.prefix)
    client = make_client(settings)
    client.indices.delete(index=f"{args.prefix}-*", ignore_unavailable=True)
    BanditStore(client, settings).ensure_index()
    base = BanditConfig(name="bench", arms=ARMS, policy=PolicySpec("LinUCB", {"alpha": 1.0}),
                        budget=Budget(2, 100, 10), settle_seconds=0.0)
    print("| observations | window | load: refit from log (s) | load: arrays (s) "
          "| sync +1k: refit (s) | sync +1k: arrays (s) |")
    print("|---|---|---|---|---|---|")
    have = 0
    for n in (int(s) for s in args.sizes.split(",")):
        grow(client, settings, settings.state_index, have, n, args.width)
        have = n
        for window in (int(w) for w in args.windows.split(",")):
            r = measure(client, settings, replace(base, window=window), n, args.width)
            print(f"| {n:,} | {window or 'none'} | {r['refit']:.2f} | {r['arrays']:.3f} "
                  f"| {r['sync_old']:.2f} | {r['sync_new']:.3f} |", flush=True)
    client.indices.delete(index=f"{args.prefix}-*", ignore_unavailable=True)


if __name__ == "__main__":
    main()
