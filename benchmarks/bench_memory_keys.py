"""The memory's key set (select/availability.py MemoryKeys): full vs delta reads, and what a
re-read costs the searches served while it runs.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9290 python benchmarks/bench_memory_keys.py \
        --keys 300000 --searches 600 --stale-every 50

1. a small simulated world (catalog + seeded memory, TF-IDF vectors) under ``--prefix``,
   plus ``--keys`` synthetic eligible memory docs (one per key) written with the bulk helper;
2. read times: a full read (composite pages over every eligible key) and a delta read after
   ``--new`` more docs (only the docs written since the previous read), ``--repeat`` times;
3. searches through ``Pipeline.search`` (the packaged LinUCB bandit, which asks for the
   memory's keys on every request), the same queries in three modes, the key set made
   stale before every ``--stale-every``-th search:
   * ``sync full``: the old behaviour, the request that finds the set stale re-reads all of
     it (the searches wait);
   * ``background full``: served from the current set while one thread re-reads all of it;
   * ``background delta``: the same, the thread reading only the docs written since.
Everything under the prefix is deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
from statistics import median

from ltrr_opensearch.bulk import action, bulk_write
from ltrr_opensearch.config import PACKAGE_ROOT, Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.evaluate.experiment import embed_world, prepare_policy_indices, scratch_folder
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.select.availability import MemoryKeys
from ltrr_opensearch.select.config import load_config
from ltrr_opensearch.select.learner import Learner
from ltrr_opensearch.simulate import QueryStream, World, load_sim_config


class SyncKeys(MemoryKeys):
    """The behaviour before: a request that finds the set stale reads all of it, and waits."""

    def _current(self):  # noqa: ANN202 - same shape as the parent's
        with self._state:
            stale = self._base is None or self.clock() - self._read_at >= self.refresh_seconds
        if stale:
            self.refresh(full=True)
        with self._state:
            return self._base, self._added


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def write_keys(client, index: str, start: int, count: int) -> None:
    actions = (action("index", index, f"observed:syn{i}", {
        "key": f"syn_{i}", "entity_id": f"e{i % 1000}", "source": "observed", "value": 1.0,
        "eligible": True, "computed_at": "2025-01-01T00:00:00.000Z"})
        for i in range(start, start + count))
    bulk_write(client, actions, "synthetic memory docs", refresh=True)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="k14")
    parser.add_argument("--world", default="configs/worlds/small.toml")
    parser.add_argument("--keys", type=int, default=300_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--searches", type=int, default=600)
    parser.add_argument("--stale-every", type=int, default=50)
    args = parser.parse_args()

    settings = Settings.load().with_overrides(index_prefix=args.prefix)
    client = make_client(settings)
    try:
        run(client, settings, args)
    finally:
        resources.clear()
        client.indices.delete(index=f"{args.prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


def run(client, settings: Settings, args: argparse.Namespace) -> None:
    sim = load_sim_config(args.world)
    world = World.generate(sim)
    prepare_policy_indices(client, settings, embed_world(list(world.rows()), "tfidf",
                                                         scratch_folder()))
    index = memory_index(settings)
    started = time.perf_counter()
    write_keys(client, index, 0, args.keys)
    print(f"wrote {args.keys} synthetic memory docs in {time.perf_counter() - started:.0f} s")

    keys = MemoryKeys(client, index)
    full_ms, delta_ms, next_id = [], [], args.keys
    for _ in range(args.repeat):
        full_ms.append(timed(lambda: keys.refresh(full=True)))
        pages = keys.reads["pages"]
        write_keys(client, index, next_id, args.new)
        next_id += args.new
        delta_ms.append(timed(keys.refresh))
        delta_pages = keys.reads["pages"] - pages
    print(f"eligible keys {len(keys.keys())}; reads {keys.reads}")
    print(f"full read   median {median(full_ms):8.1f} ms  ({', '.join(f'{v:.0f}' for v in full_ms)})")
    print(f"delta read  median {median(delta_ms):8.1f} ms  ({', '.join(f'{v:.0f}' for v in delta_ms)})"
          f"  after {args.new} new docs, {delta_pages} page(s)")
    print(f"full / delta = {median(full_ms) / median(delta_ms):.0f}x")

    config = load_config(PACKAGE_ROOT / "policies" / "linucb.toml")
    texts = [q.text for q in QueryStream(world, sim).take(args.searches)]
    modes = {"sync full": (SyncKeys, 600.0), "background full": (MemoryKeys, 0.0),
             "background delta": (MemoryKeys, 600.0)}
    results: dict[str, list[float]] = {}
    for name, (kind, full_every) in modes.items():
        pipeline = Pipeline.from_cluster(client, settings,
                                         selector=Learner.load(client, settings, config))
        pipeline._availability().memory_keys.join()  # the warm-up read from_cluster started
        memory_keys = kind(client, index, full_every_seconds=full_every)
        pipeline._availability().memory_keys = memory_keys
        memory_keys.refresh(full=True)
        for text in texts[:20]:  # warm caches (templates, embedder) before timing
            pipeline.search(text, log=False)
        ms = []
        for i, text in enumerate(texts):
            if i % args.stale_every == 0:
                if name == "background delta":
                    write_keys(client, index, next_id, 100)  # something new to find
                    next_id += 100
                memory_keys.invalidate()
            started = time.perf_counter()
            pipeline.search(text, log=False, seed=i)
            ms.append((time.perf_counter() - started) * 1000)
        memory_keys.join()
        results[name] = ms
        print(f"{name:<17} n={len(ms)} p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
              f"max {max(ms):7.1f} ms  reads {memory_keys.reads}")
    base = results["sync full"]
    for name in ("background full", "background delta"):
        print(f"p99 sync full / {name} = {pct(base, 99) / pct(results[name], 99):.1f}x")


if __name__ == "__main__":
    main()
