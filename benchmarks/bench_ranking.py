"""Does a ranker trained on simulated CLICKS beat fusion? Held-out NDCG@10/MRR@10 by intent.

    python benchmarks/bench_ranking.py --url http://127.0.0.1:9280 \\
        [--world configs/worlds/10k.toml] [--train 3000] [--heldout 600] [--seeds 0 1 2] \\
        [--min-evidence 0.5]

Needs a node with an LTR API (``ltrr engine up`` installs ltrr's plugin). Per seed (the world,
query-stream and click seeds all move with it), ``ltrr_opensearch/rank/simstudy.py`` runs the
protocol: training searches through the real pipeline with a logging-only ranker, the
simulator's position-biased cascade clicking on the shown (fused) top 10, PBM judgments
joined with the logged feature vectors, LambdaMART/linear trained on them; then held-out
searches later in the stream, whose SAME candidates every system orders: plain RRF, the
fallback fusion, the click-trained models, the shipped default model and LambdaMART on the
simulator's true grades (upper bound). Scored with the simulator's true grades.

Prints per-intent tables (mean ± sample sd over seeds, ratio to RRF) and the per-seed paired
bootstrap of the click-trained model's gain over RRF; writes everything (per-query values
included) to ``out/bench_ranking_<world>_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.rank.offline import compare  # noqa: E402
from ltrr_opensearch.rank.simstudy import SYSTEMS, StudyConfig, run_study  # noqa: E402

INTENTS = ("all", "known_item", "attribute", "topic", "head", "new_release")
GOAL = 1.25  # click-trained NDCG@10 / RRF NDCG@10 over the same candidates
FLOOR = 0.01  # an RRF mean below this makes a ratio meaningless: shown as "RRF≈0"
CLICK_MODEL = "clicks_lambdamart"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def mean_sd(values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    sd = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return f"{v.mean():.3f} ± {sd:.3f}"


def tables(runs: list[dict], metric: str) -> list[str]:
    """One row per system, one column per intent; a seed whose held-out searches hold no
    query of an intent is left out of that column (n is the mean count where present)."""
    found = {i for r in runs for i in r["summary"]}
    intents = [i for i in INTENTS if i in found] + sorted(found - set(INTENTS))
    systems = [s for s in SYSTEMS if s in runs[0]["summary"]["all"]]
    counts = {i: int(np.mean([r["summary"][i]["_queries"]["n"] for r in runs
                              if i in r["summary"]])) for i in intents}
    lines = [f"{metric} on held-out searches, mean ± sd over {len(runs)} seed(s) "
             "(ratio to plain RRF over the same candidates)", "",
             "| system | " + " | ".join(f"{i} (n≈{counts[i]})" for i in intents) + " |",
             "| --- |" + " --- |" * len(intents)]
    for system in systems:
        cells = []
        for intent in intents:
            having = [r["summary"][intent] for r in runs if intent in r["summary"]]
            values = [h[system][metric] for h in having]
            base = [h["rrf"][metric] for h in having]
            ratio = np.mean([v / b for v, b in zip(values, base, strict=True) if b >= FLOOR]) \
                if any(b >= FLOOR for b in base) else float("nan")
            shown = f"{ratio:.2f}x" if np.isfinite(ratio) else "RRF≈0"
            cells.append(f"{mean_sd(values)} ({shown})")
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return lines


def gains(runs: list[dict], system: str = CLICK_MODEL) -> list[str]:
    lines = [f"{system} vs plain RRF, NDCG@10 over all held-out searches, per seed "
             "(paired bootstrap over searches, 2000 resamples)", "",
             "| seed | searches | RRF | model | ratio | gain (95% CI) | p(not better) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    ratios, diffs = [], []
    for r in runs:
        pq = r["per_query"]
        if system not in pq:
            continue
        c = compare(pq[system]["ndcg@10"], pq["rrf"]["ndcg@10"], seed=r["seed"])
        ratio = c.model.mean / c.baseline.mean if c.baseline.mean > 0 else float("nan")
        ratios.append(ratio)
        diffs.append(c.difference.mean)
        lines.append(f"| {r['seed']} | {c.queries} | {c.baseline.mean:.3f} | {c.model.mean:.3f} | "
                     f"{ratio:.2f}x | {c.difference.mean:+.3f} ({c.difference.low:+.3f}.."
                     f"{c.difference.high:+.3f}) | {c.p_not_better:.3f} |")
    if ratios:
        short = sum(1 for r in ratios if not r >= GOAL)
        verdict = ("met on every seed" if not short
                   else f"NOT met on {short} of {len(ratios)} seed(s)")
        lines += ["", f"ratio over seeds: {mean_sd(ratios)} (min {min(ratios):.2f}x, max "
                      f"{max(ratios):.2f}x); gain: {mean_sd(diffs)}; goal {GOAL:.2f}x: {verdict}"]
    return lines


def labels_table(runs: list[dict]) -> list[str]:
    lines = ["Judgments from the training clicks (min evidence as given)", "",
             "| seed | model | judged pairs / shown pairs | rows | queries | grade = true | "
             "spearman vs true |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        for name, lab in r["labels"].items():
            lines.append(f"| {r['seed']} | {name} | {lab['judged_pairs']} / {lab['shown_pairs']} | "
                         f"{lab['rows']} | {lab['queries']} | {lab['grade_exact']:.3f} | "
                         f"{lab['grade_spearman']:.3f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--world", default="configs/worlds/10k.toml")
    parser.add_argument("--train", type=int, default=3000, help="training searches per seed")
    parser.add_argument("--heldout", type=int, default=600, help="held-out searches per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--min-evidence", type=float, default=0.5,
                        help="PBM/SDBN expected examinations a (query, doc) pair needs")
    parser.add_argument("--candidates", type=int, default=50, help="candidates per strategy")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument("--report", metavar="JSON",
                        help="print the tables of an earlier run's JSON and exit (no node needed)")
    parser.add_argument("--out", help="JSON path (default out/bench_ranking_<world>_<stamp>.json)")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        vars(args).update({k: v for k, v in saved["args"].items() if k not in ("report", "out")})
        print("\n".join(report(args, saved["runs"])))
        return 0
    if args.train < 10 or args.heldout < 1:
        parser.error("--train needs >= 10 searches and --heldout >= 1")

    from ltrr_opensearch.simulate import load_sim_config

    # A TERM (timeout, kill <pid>) unwinds like Ctrl-C, so each seed's indices are deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = Settings.load(url=args.url)
    client = make_client(base.with_overrides(timeout=300.0))
    cluster_info(client, base)
    base = base.with_overrides(index_prefix=f"bench-rank-{uuid.uuid4().hex[:6]}")
    sim = load_sim_config(args.world)
    config = StudyConfig(train=args.train, heldout=args.heldout, min_evidence=args.min_evidence,
                         rounds=args.rounds, max_depth=args.max_depth,
                         candidates=args.candidates)
    world = Path(args.world).stem
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else ROOT / "out" / f"bench_ranking_{world}_{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    for seed in args.seeds:
        started = time.perf_counter()
        runs.append(run_study(client, base, sim, seed, config, say))
        r = runs[-1]
        say(f"seed {seed}: {r['entities']} entities, {r['train_searches']} + "
            f"{r['heldout_searches']} searches, {r['mean_candidates']:.0f} candidates each "
            f"({time.perf_counter() - started:.0f}s: {r['timings_s']})")
        out.write_text(json.dumps({"args": vars(args), "runs": runs}, indent=1) + "\n")

    print("\n".join(report(args, runs)))
    say(f"wrote {out}")
    return 0


def report(args: argparse.Namespace, runs: list[dict]) -> list[str]:
    lines = [f"world {args.world}, {args.train} training + {args.heldout} held-out searches, "
             f"seeds {args.seeds}, {args.candidates} candidates per strategy, min evidence "
             f"{args.min_evidence:g}, LambdaMART "
             f"{args.rounds} rounds depth {args.max_depth}", ""]
    for metric in ("ndcg@10", "mrr@10"):
        lines += tables(runs, metric) + [""]
    lines += gains(runs) + [""] + gains(runs, "clicks_linear") + [""] + labels_table(runs)
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
