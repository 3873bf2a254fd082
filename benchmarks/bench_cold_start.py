"""Cold start: the first searches of a new deployment, same stream for every policy.

Through the real node and the real feedback loop (evaluate/harness.py): every single
strategy (the best one is the baseline to beat), the uniform mix (every strategy, K
split evenly), the serving LinUCB policy with its [cold_start] plan (every available
strategy until each has min_obs observations), the same policy with the earlier plan
(``linucb_prior``: the top M by the prior, exploring) and without any (``linucb_noprior``:
min_obs 0, the unfitted model scores every arm alike and runs a random pair).

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


def variant(folder: Path, name: str, old: str, new: str) -> Path:
    """linucb.toml renamed ``name`` with one line of its [cold_start] changed."""
    text = POLICY.read_text(encoding="utf-8")
    changed = text.replace('name = "linucb"', f'name = "{name}"', 1).replace(old, new, 1)
    if f'name = "{name}"' not in changed or new not in changed or old == new:
        raise SystemExit("linucb.toml changed shape: update bench_cold_start.variant")
    path = folder / f"{name}.toml"
    path.write_text(changed, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="configs/worlds/10k.toml")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--embedder", default="tfidf", choices=["minilm", "tfidf"])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--out", default="out/cold_start")
    parser.add_argument("--policies", default="bm25_popularity,structured_qu,knn_vector,"
                        "q2e_memory,fresh_releases,uniform_mix,linucb,linucb_prior,"
                        "linucb_noprior")
    args = parser.parse_args()
    settings = Settings.load()
    client = make_client(settings)
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(POLICY),
                 str(variant(Path(tmp), "linucb_prior", 'plan = "all"', 'plan = "prior"')),
                 str(variant(Path(tmp), "linucb_noprior", "min_obs = 20\nplan",
                             "min_obs = 0\nplan"))]
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
