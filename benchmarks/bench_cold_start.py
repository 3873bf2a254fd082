"""Cold start: the first searches of a new deployment, same stream for every policy.

Through the real node and the real feedback loop (evaluate/harness.py): every single
strategy (the best one is the baseline to beat), the uniform mix (every strategy, K
split evenly), the serving LinUCB policy with its [cold_start] prior, and the same policy
without the prior (min_obs 0: the unfitted model scores every arm alike and runs a
random pair, what the bandit did before the prior existed).

    python benchmarks/bench_cold_start.py --world configs/worlds/10k.toml --searches 200
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from statistics import mean

from ltrr_opensearch.config import PACKAGE_ROOT, Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.evaluate.compare import compare

POLICY = PACKAGE_ROOT / "policies" / "linucb.toml"


def without_prior(folder: Path) -> Path:
    """linucb.toml renamed ``linucb_noprior`` with the cold-start plan switched off."""
    text = POLICY.read_text(encoding="utf-8")
    text = text.replace('name = "linucb"', 'name = "linucb_noprior"', 1)
    text = text.replace("[cold_start]\nmin_obs = 20", "[cold_start]\nmin_obs = 0", 1)
    if 'name = "linucb_noprior"' not in text or "min_obs = 0" not in text:
        raise SystemExit("linucb.toml changed shape: update bench_cold_start.without_prior")
    path = folder / "linucb_noprior.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="configs/worlds/10k.toml")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--embedder", default="tfidf", choices=["minilm", "tfidf"])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--out", default="out/cold_start")
    parser.add_argument("--policies", default="bm25_popularity,structured_qu,knn_vector,"
                        "q2e_memory,fresh_releases,uniform_mix,linucb,linucb_noprior")
    args = parser.parse_args()
    settings = Settings.load()
    client = make_client(settings)
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(POLICY), str(without_prior(Path(tmp)))]
        outcomes = compare(client, settings, args.world, searches=args.searches,
                           embedder=args.embedder, bandit_files=files, batch=args.batch,
                           out=args.out, policies=tuple(args.policies.split(",")))
    original = [o for o in outcomes if o.intent != "reformulation"]
    cuts = [c for c in (50, 100, 200, args.searches) if c <= args.searches]
    cuts = sorted(set(cuts))
    print("\nrecall of the engaged entity, first N searches")
    print("| policy | " + " | ".join(f"first {c}" for c in cuts) + " | sub-searches | candidates |")
    print("|---|" + "---|" * (len(cuts) + 2))
    for policy in dict.fromkeys(o.policy for o in original):
        mine = [o for o in original if o.policy == policy]
        cells = [f"{mean(o.recall for o in mine if o.step < c):.3f}" for c in cuts]
        print(f"| {policy} | " + " | ".join(cells)
              + f" | {mean(o.subsearches for o in mine):.2f}"
              + f" | {mean(o.candidates_requested for o in mine):.0f} |")


if __name__ == "__main__":
    main()
