"""Bulk load rate of ``load_catalog`` into the real node, by embedder.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9200 python benchmarks/bench_load.py --n 5000

Generates a seeded synthetic music catalog (JSONL) and loads it into a fresh, throw-away
index per run: with TF-IDF vectors (fit included), without vectors (into an existing index:
the pure validate + bulk cost), and with MiniLM vectors on the first ``--minilm-n`` rows
(MiniLM runs on the CPU the node also uses, so it is measured on a subset). Prints docs/s,
median over ``--repeats``. Every index it creates is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from ltrr_opensearch.catalog.embed import make_embedder
from ltrr_opensearch.catalog.index import ensure_catalog
from ltrr_opensearch.catalog.loader import load_catalog
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import cluster_info, make_client

WORDS = ["love", "night", "heart", "fire", "rain", "summer", "dream", "city", "blue", "gold",
         "road", "river", "light", "dance", "ghost", "star", "wild", "home", "shadow", "ocean",
         "echo", "silver", "storm", "paper", "glass"]
GENRES = ["rock", "pop", "jazz", "hip hop", "electronic", "folk", "metal", "soul", "indie"]
MOODS = ["happy", "sad", "calm", "energetic", "dark", "romantic"]
TYPES = ["track"] * 8 + ["artist", "album", "playlist"]


def synthetic_catalog(path: Path, n: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    artists = [" ".join(rng.sample(WORDS, 2)).title() for _ in range(max(n // 20, 5))]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            year = rng.randint(1960, 2024)
            row = {
                "id": f"e{i}", "entity_type": rng.choice(TYPES),
                "title": " ".join(rng.sample(WORDS, rng.randint(1, 4))).title(),
                "artist": rng.choice(artists), "album": " ".join(rng.sample(WORDS, 2)).title(),
                "genres": rng.sample(GENRES, rng.randint(1, 2)),
                "moods": rng.sample(MOODS, rng.randint(0, 2)),
                "decade": f"{year // 10 * 10}s", "language": rng.choice(["en", "es", "fr"]),
                "popularity": round(rng.paretovariate(1.2), 3),
                "release_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }
            handle.write(json.dumps(row) + "\n")
    return path


def head(path: Path, n: int, out: Path) -> Path:
    with path.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= n:
                break
            dst.write(line)
    return out


def timed_load(client, base: Settings, path: Path, mode: str) -> tuple[float, int]:
    settings = base.with_overrides(index_prefix=f"bench-load-{uuid.uuid4().hex[:8]}")
    try:
        if mode == "none":
            # An index must exist to load without vectors: make one from a tiny fit.
            ensure_catalog(client, settings, make_embedder("tfidf").fit(WORDS))
            embedder = None
        else:
            embedder = make_embedder(mode)
        started = time.perf_counter()
        report = load_catalog(client, settings, path, embedder=embedder, on_error="skip",
                              quiet=True)
        seconds = time.perf_counter() - started
        if report.indexed != report.read:
            raise SystemExit(f"{mode}: only {report.indexed}/{report.read} rows indexed")
        return report.indexed / seconds, report.indexed
    finally:
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="catalog rows (default 100k)")
    parser.add_argument("--minilm-n", type=int, default=2_000,
                        help="rows loaded with MiniLM (a prefix of the catalog)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--modes", default="none,tfidf,minilm")
    args = parser.parse_args()

    settings = Settings.load()
    client = make_client(settings)
    version = cluster_info(client, settings)["version"]["number"]
    with tempfile.TemporaryDirectory() as tmp:
        full = synthetic_catalog(Path(tmp) / "catalog.jsonl", args.n)
        small = head(full, min(args.minilm_n, args.n), Path(tmp) / "minilm.jsonl")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"OpenSearch {version} at {settings.display_urls}; {args.repeats} repeat(s); "
              f"{os.cpu_count()} cores, load average {load} (a shared machine skews rates)")
        baseline = None
        for mode in args.modes.split(","):
            path = small if mode == "minilm" else full
            runs = [timed_load(client, settings, path, mode) for _ in range(args.repeats)]
            rate = statistics.median(r for r, _ in runs)
            baseline = baseline or rate
            print(f"{mode:>7}: {runs[0][1]:>7} docs  median {rate:8.0f} docs/s  "
                  f"({rate / baseline:.2f}x the first mode)")


if __name__ == "__main__":
    main()
