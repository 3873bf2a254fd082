"""Off-policy evaluation next to the A/B test: do they agree on a candidate's direction?

For each seed and candidate, on the small simulated world (its own index prefix):

1. An A/B experiment through the pipeline with a flag file (``experiment.simulate``: the
   real pipeline, feedback loop and UBI logs): ``control`` is the serving bandit (packaged
   ``linucb``), ``treatment`` the candidate; each variant's bandit learns only from its
   own traffic (``bandit-state: variant``). The A/B direction is the treatment minus
   control difference in the experiment report's click-through (95% CI over users) and
   in the bandit's own reward per search (the rewards log, bootstrap over users).
2. Off-policy evaluation on the control's logged traffic only (``--variant
   NAME/control``): the candidate is trained on the control's feedback from the first
   half of the run and evaluated on its second half, exactly as ``ltrr bandit evaluate
   --policy P --since T --variant NAME/control`` does (the command is run for bandit
   candidates; a fixed mix is not a policy file, so its target propensities, 1 for each
   arm of the mix, go to the same estimator in process). The OPE direction is DR's
   estimate minus the control's own logged value on the same searches.

It prints one row per run and whether the directions agree; a direction whose interval
includes 0 is "none" (no call). "agree" compares the A/B reward difference with the OPE
estimate: the signs of the point estimates, and whether both calls are sure. Run (about
3 minutes a run on the shared 2-core machine):

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9290 python benchmarks/bench_ope_vs_ab.py \
        --seeds 1,2 --candidates epsilon_greedy,fixed:fresh_releases+knn_vector
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.evaluate.experiment import embed_world, prepare_policy_indices, scratch_folder
from ltrr_opensearch.experiment.report import build_report, load_rows
from ltrr_opensearch.experiment.simulate import run_experiment
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.select.ope import evaluate, read_logged_decisions
from ltrr_opensearch.select.store import BanditStore
from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config
from ltrr_opensearch.simulate.reformulate import Reformulator

NAME = "ope-ab"
CONTROL = {"bandit-policy": "linucb", "bandit-state": "variant"}


def treatment(candidate: str) -> dict:
    if candidate.startswith("fixed:"):
        arms = candidate.split(":", 1)[1].split("+")
        return {"selection-mode": "fixed", "fixed-mix": {a: 30 for a in arms}}
    return {"bandit-policy": candidate, "bandit-state": "variant"}


def flag_file(folder: Path, candidate: str) -> str:
    path = folder / "flags.json"
    path.write_text(json.dumps({"flags": {
        "experiments": {"state": "ENABLED", "variants": {"on": [NAME]}, "defaultVariant": "on"},
        NAME: {"state": "ENABLED", "defaultVariant": "control",
               "targeting": {"fractional": [["control", 50], ["treatment", 50]]},
               "variants": {"control": CONTROL, "treatment": treatment(candidate)}}}}))
    return str(path)


def reward_diff(client, settings, rows, rounds: int = 2000, seed: int = 0):
    """Treatment minus control in the bandit reward per search (summed over the arms
    that ran), with a bootstrap interval over users."""
    rewards = BanditStore(client, settings).rewards_for([r.query_id for r in rows])
    per_user: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        per_user[r.variant][r.user].append(sum(rewards.get(r.query_id, {}).values()))
    rng = np.random.default_rng(seed)

    def mean_of(users: dict[str, list[float]], idx=None) -> float:
        keys = list(users)
        chosen = [keys[i] for i in idx] if idx is not None else keys
        values = [v for u in chosen for v in users[u]]
        return float(np.mean(values)) if values else 0.0

    c, t = per_user["control"], per_user["treatment"]
    point = mean_of(t) - mean_of(c)
    draws = [mean_of(t, rng.integers(0, len(t), len(t))) - mean_of(c, rng.integers(0, len(c), len(c)))
             for _ in range(rounds)]
    low, high = np.quantile(draws, [0.025, 0.975])
    return point, float(low), float(high)


def epoch_ms(stamp: str) -> int:
    if stamp.isdigit():
        return int(stamp)
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def verdict(r: dict) -> str:
    """Do the A/B reward difference and the OPE estimate point the same way; and when
    both intervals exclude 0, do the calls agree or conflict."""
    same = (r["ab_reward"][0] > 0) == (r["ope_dr_minus_logged"][0] > 0)
    if r["ab_dir"] != "none" and r["ope_dir"] != "none":
        return "yes, both sure" if same else "CONFLICT, both sure"
    return ("yes" if same else "no") + " (point estimates)"


def direction(low: float, high: float) -> str:
    return "+" if low > 0 else "-" if high < 0 else "none"


def ope(client, settings, candidate: str, mid_ms: int, env: dict) -> dict:
    variant = f"{NAME}/control"
    if not candidate.startswith("fixed:"):
        since = datetime.fromtimestamp(mid_ms / 1000, tz=timezone.utc).isoformat()
        out = subprocess.run([sys.executable, "-m", "ltrr_opensearch.cli", "bandit", "evaluate",
                              "--policy", candidate, "--since", since, "--variant", variant,
                              "--json"], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    arms = candidate.split(":", 1)[1].split("+")
    decisions = read_logged_decisions(client, settings, mid_ms, variant=variant)
    return {k: v.to_dict() for k, v in evaluate(
        decisions, lambda c: {a: 1.0 for a in arms}, bootstrap=500).items()}


def run(seed: int, candidate: str, queries: int, data, sim, world, base: Settings) -> dict:
    settings = base.with_overrides(index_prefix=f"{base.index_prefix}-ope{uuid.uuid4().hex[:6]}")
    client = make_client(settings)
    env = {**os.environ, "LTRR_INDEX_PREFIX": settings.index_prefix}
    env.pop("LTRR_CONFIG", None)
    try:
        prepare_policy_indices(client, settings, data, quiet=True)
        with tempfile.TemporaryDirectory() as folder:
            stream = QueryStream(world, sim, seed=seed).take(queries)
            run_experiment(client, settings, flag_file(Path(folder), candidate), stream,
                           ClickModel(sim, seed=seed), batch=100,
                           follow_up=Reformulator(world, seed=seed + 2))
        client.indices.refresh(index=f"{settings.index_prefix}-*")
        rows = load_rows(client, settings, NAME)
        report = build_report(NAME, rows, rounds=1000)
        ctr = next(d for d in report.diffs if d.metric == "ctr")
        reward = reward_diff(client, settings, rows)
        stamps = sorted(r.timestamp for r in rows if r.variant == "control")
        mid_ms = epoch_ms(stamps[len(stamps) // 2])
        est = ope(client, settings, candidate, mid_ms, env)
        # What the command trained the candidate on: the control's feedback before the mid.
        before = {d.request_id for d in read_logged_decisions(
            client, settings, variant=f"{NAME}/control", until_ms=mid_ms)}
        trained = 0 if candidate.startswith("fixed:") else sum(
            o.request_id in before for o in BanditStore(client, settings).fetch(
                until_ms=mid_ms - 1))
        dr, logged = est["dr"], est["logged"]["value"]
        ope_dir = direction(dr["low"] - logged, dr["high"] - logged)
        return {"seed": seed, "candidate": candidate, "searches": len(rows),
                "ab_ctr": [ctr.delta, ctr.low, ctr.high],
                "ab_reward": list(reward), "ope_dr_minus_logged":
                    [dr["value"] - logged, dr["low"] - logged, dr["high"] - logged],
                "ope_snips_minus_logged": est["snips"]["value"] - logged,
                "ope_n": dr["n"], "trained_on": trained, "ab_dir": direction(reward[1], reward[2]),
                "ab_ctr_dir": direction(ctr.low, ctr.high), "ope_dir": ope_dir}
    finally:
        resources.clear()
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="configs/worlds/small.toml")
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--candidates", default="epsilon_greedy,fixed:fresh_releases+knn_vector")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args()
    base = Settings.load()
    sim = load_sim_config(args.world)
    world = World.generate(sim)
    data = embed_world(list(world.rows()), "tfidf", scratch_folder())
    results = []
    print("| seed | candidate | searches | A/B CTR diff [95% CI] | A/B reward/search diff "
          "[95% CI] | OPE DR - logged [95% CI] (n searches; trained on) "
          "| directions (A/B reward, CTR, OPE) | agree |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in (int(s) for s in args.seeds.split(",")):
        for candidate in args.candidates.split(","):
            r = run(seed, candidate, args.queries, data, sim, world, base)
            results.append(r)
            agree = verdict(r)
            f = "{:+.3f} [{:+.3f}, {:+.3f}]".format
            print(f"| {seed} | {candidate} | {r['searches']} | {f(*r['ab_ctr'])} | "
                  f"{f(*r['ab_reward'])} | {f(*r['ope_dr_minus_logged'])} "
                  f"({r['ope_n']}; {r['trained_on']} obs) | "
                  f"{r['ab_dir']}, {r['ab_ctr_dir']}, {r['ope_dir']} | {agree} |", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
