"""Learning to retrieve, measured: every policy replays the same simulated searches through
the real node and the real feedback loop (see ltrr_opensearch/evaluate/harness.py).

Prints recall of the target in the candidate set per intent and policy, recall / MRR /
NDCG@10 / latency / engine cost over all searches and over the second half, the memory's
recall on head queries as traffic accumulates, and writes learning curves (PNG).
Same as `ltrr simulate run`.

    python benchmarks/bench_learning.py --world configs/worlds/10k.toml --searches 3000
"""

from __future__ import annotations

import sys

from ltrr_opensearch.cli import main

if __name__ == "__main__":
    sys.exit(main(["simulate", "run", *sys.argv[1:]]))
