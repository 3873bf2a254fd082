"""Compare policies on one simulated world: what ``ltrr simulate run`` and
``benchmarks/bench_learning.py`` print.

Every policy replays the same searches through the real node and the real feedback loop
(see :mod:`ltrr_opensearch.evaluate.harness`), on indices of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.evaluate.experiment import (
    STRATEGIES,
    embed_world,
    prepare_world,
    run_policy,
    scratch_folder,
    standard_policies,
    world_prefix,
)
from ltrr_opensearch.evaluate.harness import Outcome
from ltrr_opensearch.evaluate.report import (
    format_recall_matrix,
    format_table,
    learning_curves,
    summarise,
)

COLUMNS = ["policy", "searches", "recall", "mrr", "ndcg10", "latency_p50_ms", "latency_p99_ms",
           "engine_ms", "subsearches", "candidates", "errors"]


def compare(client: OpenSearch, settings: Settings, world_config: str, *, searches: int,
            k: int = 100, embedder: str = "minilm", policies: Sequence[str] = (),
            bandit_files: Sequence[str] = ("configs/policies/linucb.toml",), batch: int = 100,
            out: str | Path = "out/simulate", say: Callable[[str], None] = print,
            quiet: bool = True, keep_world: bool = False) -> list[Outcome]:
    """Run the policies, print the tables, write the plot and the raw outcomes.

    The world is indexed once (catalog, vectors, seeded memory) and each policy runs on a
    clone of it; ``keep_world`` leaves that copy for the next run of the same world file
    and embedder (delete ``<prefix>-world-*`` after changing the loader or the seed)."""
    from ltrr_opensearch.select.config import load_config
    from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config
    from ltrr_opensearch.simulate.reformulate import Reformulator

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sim = load_sim_config(world_config)
    started = time.perf_counter()
    world = World.generate(sim)
    rows = list(world.rows())
    data = embed_world(rows, embedder, scratch_folder(), quiet=quiet)
    say(f"world {world_config}: {len(rows)} entities, embedded with {data.embedder.name} in "
        f"{time.perf_counter() - started:.1f}s")
    queries = QueryStream(world, sim).take(searches)
    chosen = [p for p in standard_policies(k, [load_config(f) for f in bandit_files], STRATEGIES)
              if not policies or p.name in policies]

    base = settings.with_overrides(index_prefix=world_prefix(settings, world_config, embedder))
    t0 = time.perf_counter()
    built = prepare_world(client, base, data, quiet=quiet)
    say(f"world indices {base.index_prefix}-*: "
        + (f"built in {time.perf_counter() - t0:.0f}s" if built else "kept from an earlier run"))
    outcomes: list[Outcome] = []
    try:
        for policy in chosen:
            t0 = time.perf_counter()
            outcomes += run_policy(client, settings, data, policy, queries,
                                   ClickModel(sim, seed=1), batch=batch,
                                   follow_up=Reformulator(world, seed=3),
                                   prepared=base.index_prefix)
            say(f"  {policy.name}: {time.perf_counter() - t0:.0f}s")
    finally:
        if not keep_world:
            client.indices.delete(index=f"{base.index_prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")

    original = [o for o in outcomes if o.intent != "reformulation"]
    say("\nrecall of the target in the candidate set, per intent")
    say(format_recall_matrix(original))
    say("\nall searches (follow-up reformulations count as cost, not as quality)")
    say(format_table(summarise(outcomes, by_intent=False), COLUMNS))
    half = searches // 2
    say(f"\nsecond half (searches {half}..{searches}, after learning)")
    second = summarise([o for o in outcomes if o.step >= half], by_intent=False)
    say(format_table(second, COLUMNS))
    say("\nsecond half, recall per intent")
    say(format_recall_matrix([o for o in original if o.step >= half]))
    shares = _shares(second)
    if shares:
        say("\nsecond half against the oracle's recall and all strategies' cost")
        say(format_table(shares, ["policy", "recall_of_oracle", "candidates_of_all",
                                  "engine_ms_of_all"]))
    say("\nrecall on head (slang) queries as traffic accumulates, by fifth of the stream")
    say(format_table(_head_curve(original, searches), ["policy", "1", "2", "3", "4", "5"]))
    png = learning_curves(original, out / "learning_curves.png",
                          window=max(50, searches // 20),
                          title=f"{len(rows)} entities, {searches} searches, K={k}")
    with (out / "outcomes.jsonl").open("w", encoding="utf-8") as fh:
        for outcome in outcomes:
            fh.write(json.dumps(asdict(outcome)) + "\n")
    say(f"\nplot: {png}\nraw outcomes: {out / 'outcomes.jsonl'}")
    return outcomes


def _shares(rows: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """Each policy's recall as a share of the oracle's, and its cost (candidates, engine
    time) as a share of all strategies at full budget: the issue's two targets."""
    by = {str(r["policy"]): r for r in rows}
    oracle, full = by.get("oracle"), by.get("all_full")
    if oracle is None or full is None:
        return []

    def share(row: dict[str, object], of: dict[str, object], key: str) -> float:
        base = float(of[key])  # type: ignore[arg-type]
        return float(row[key]) / base if base else float("nan")  # type: ignore[arg-type]

    return [{"policy": name, "recall_of_oracle": share(row, oracle, "recall"),
             "candidates_of_all": share(row, full, "candidates"),
             "engine_ms_of_all": share(row, full, "engine_ms")} for name, row in by.items()]


def _head_curve(outcomes: Sequence[Outcome], searches: int) -> list[dict[str, object]]:
    rows = []
    for policy in dict.fromkeys(o.policy for o in outcomes):
        row: dict[str, object] = {"policy": policy}
        for fifth in range(5):
            lo, hi = fifth * searches / 5, (fifth + 1) * searches / 5
            part = [o.recall for o in outcomes
                    if o.policy == policy and o.intent == "head" and lo <= o.step < hi]
            row[str(fifth + 1)] = sum(part) / len(part) if part else float("nan")
        rows.append(row)
    return rows
