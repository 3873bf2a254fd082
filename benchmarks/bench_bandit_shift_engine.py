"""A shifting world through the real pipeline: an arm breaks mid-stream; how many searches
until the bandit stops relying on it, with and without the [state] window.

The serving LinUCB policy (linucb.toml) replays the same simulated searches through the
real node and the real feedback loop (evaluate/harness.py) once per window setting. At
the midpoint the ``--break`` strategy starts returning nothing (its rendered query is
filtered to no document, as a bad template deploy or a broken field would do), so its
reward drops to 0. Recovered = the first search after the shift from which the broken
arm runs in at most ``--floor`` of the last 50 searches (the bandit still explores it).

    python benchmarks/bench_bandit_shift_engine.py --world configs/worlds/10k.toml \
        --searches 1200 --windows 0,300
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import deque
from dataclasses import replace
from statistics import mean
from typing import Any

from ltrr_opensearch.config import PACKAGE_ROOT, Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.evaluate.experiment import embed_world, prepare_policy_indices, scratch_folder
from ltrr_opensearch.evaluate.harness import Policy, Replay
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.select.config import load_config

POLICY = PACKAGE_ROOT / "policies" / "linucb.toml"


class BreakableRegistry:
    """The real template registry; once ``failing`` is set, that strategy's search body is
    filtered to match no document (everything else renders as before)."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry
        self.failing: str | None = None  # (the registry has its own `broken`)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)

    def render(self, name: str, context: Any) -> dict[str, Any]:
        body = self._registry.render(name, context)
        if name == self.failing:
            body["query"] = {"bool": {"must": [body.get("query", {"match_all": {}})],
                                      "filter": [{"ids": {"values": ["__broken__"]}}]}}
        return body


def run(client, settings, data, queries, sim, world, window: int, arm: str, batch: int
        ) -> list[Any]:
    from ltrr_opensearch.simulate import ClickModel
    from ltrr_opensearch.simulate.reformulate import Reformulator

    config = replace(load_config(POLICY), name=f"linucb_w{window}", window=window)
    prefix = f"{settings.index_prefix}-shift-w{window}-{uuid.uuid4().hex[:6]}"
    scoped = settings.with_overrides(index_prefix=prefix)
    try:
        prepare_policy_indices(client, scoped, data)
        pipeline = Pipeline.from_cluster(client, scoped)
        registry = pipeline.registry = BreakableRegistry(pipeline.registry)
        shift = len(queries) // 2

        def progress(step: int) -> None:
            if step + 1 == shift:
                registry.failing = arm

        replay = Replay(pipeline, Policy(config.name, bandit=config), ClickModel(sim, seed=1),
                        batch=batch, follow_up=Reformulator(world, seed=3))
        return replay.run(queries, progress=progress)
    finally:
        resources.clear()
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


def recovery(outcomes: list[Any], arm: str, shift: int, floor: float) -> int | None:
    recent: deque[bool] = deque(maxlen=50)
    for o in outcomes:
        if o.intent == "reformulation":
            continue
        recent.append(arm in o.arms)
        if o.step >= shift and len(recent) == 50 and mean(recent) <= floor:
            return o.step - shift
    return None


def main() -> None:
    from ltrr_opensearch.simulate import QueryStream, World, load_sim_config

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", default="configs/worlds/10k.toml")
    ap.add_argument("--searches", type=int, default=1200)
    ap.add_argument("--windows", default="0,300")
    ap.add_argument("--break", dest="arm", default="bm25_popularity")
    ap.add_argument("--floor", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--embedder", default="tfidf", choices=["minilm", "tfidf"])
    args = ap.parse_args()
    settings = Settings.load()
    client = make_client(settings)
    sim = load_sim_config(args.world)
    world = World.generate(sim)
    data = embed_world(list(world.rows()), args.embedder, scratch_folder())
    queries = QueryStream(world, sim).take(args.searches)
    shift = args.searches // 2
    print(f"{args.world}: {data.rows} entities; {args.searches} searches; "
          f"{args.arm} breaks after search {shift}; feedback every {args.batch}")
    print(f"| window | searches to recover | {args.arm} share, 50 before the shift "
          "| share in the last 100 | recall after the shift | recall last 100 | s |")
    print("|---|---|---|---|---|---|---|")
    for window in (int(w) for w in args.windows.split(",")):
        started = time.perf_counter()
        outcomes = [o for o in run(client, settings, data, queries, sim, world, window,
                                   args.arm, args.batch) if o.intent != "reformulation"]
        before = [o for o in outcomes if shift - 50 <= o.step < shift]
        after = [o for o in outcomes if o.step >= shift]
        last = [o for o in outcomes if o.step >= args.searches - 100]
        rec = recovery(outcomes, args.arm, shift, args.floor)
        print(f"| {window or 'none'} | {'not within the run' if rec is None else rec} "
              f"| {mean(args.arm in o.arms for o in before):.2f} "
              f"| {mean(args.arm in o.arms for o in last):.2f} "
              f"| {mean(o.recall for o in after):.3f} | {mean(o.recall for o in last):.3f} "
              f"| {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
