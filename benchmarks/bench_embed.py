"""Embedding throughput: MiniLM (batched documents, single uncached queries) and TF-IDF+SVD.

    python benchmarks/bench_embed.py [--n 2000] [--repeats 3] [--threads N]

Synthetic catalog-like strings (seeded). Prints medians over ``--repeats`` runs; the
baseline for batched MiniLM documents is the same model embedding one string per call,
measured in the same run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from ltrr_opensearch.catalog.embed import MiniLMEmbedder, TfidfSvdEmbedder, document_text

WORDS = [
    "love", "night", "fire", "heart", "dance", "blue", "summer", "rain", "city", "road",
    "dream", "gold", "river", "moon", "wild", "home", "light", "shadow", "ocean", "sky",
    "broken", "midnight", "sweet", "electric", "forever",
]
GENRES = ["rock", "jazz", "hip hop", "ambient", "metal", "house", "folk", "soul", "pop"]
MOODS = ["calm", "energetic", "melancholic", "happy", "dark", "romantic"]


SYLLABLES = ["ka", "lo", "mi", "ra", "ven", "tor", "el", "sa", "dri", "nu", "bel", "zo", "an",
             "ko", "ri", "ta", "mar", "lu", "fen", "gi", "os", "pe", "quin", "da", "ju"]


def made_up_name(rng: random.Random) -> str:
    """Names from syllables, so the vocabulary grows with the catalog as real names do."""
    return " ".join("".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))).title()
                    for _ in range(rng.randint(1, 2)))


def synthetic_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        rows.append({
            "title": " ".join(rng.choices(WORDS, k=rng.randint(1, 4))).title(),
            "artist": made_up_name(rng),
            "album": f"{rng.choice(WORDS).title()} {made_up_name(rng)}",
            "genres": rng.sample(GENRES, k=rng.randint(1, 2)),
            "moods": rng.sample(MOODS, k=rng.randint(0, 2)),
            "decade": f"{rng.randint(196, 202)}0s",
            "description": " ".join(rng.choices(WORDS, k=rng.randint(0, 25))),
        })
    return [document_text(r) for r in rows]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_rate(n: int, fn, repeats: int) -> float:
    return statistics.median(n / timed(fn) for _ in range(repeats))


def query_latencies_ms(embed_query, queries: list[str]) -> tuple[float, float, float]:
    times = [timed(lambda q=q: embed_query(q)) for q in queries]
    ms = np.array(times) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 99)), len(queries) / sum(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="documents per run")
    parser.add_argument("--queries", type=int, default=300, help="single queries")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    args = parser.parse_args()

    texts = synthetic_texts(args.n)
    queries = [t[:40] for t in synthetic_texts(args.queries, seed=11)]
    print(f"{args.n} documents (median {statistics.median(len(t) for t in texts):.0f} chars), "
          f"{len(queries)} queries, {args.repeats} repeats")

    minilm = MiniLMEmbedder(threads=args.threads, cache_size=0)  # cache off: real work
    minilm.embed_documents(texts[:64])  # warm-up
    batched = median_rate(args.n, lambda: minilm.embed_documents(texts), args.repeats)
    subset = texts[: max(1, args.n // 10)]
    one_by_one = median_rate(len(subset), lambda: [minilm.embed_documents([t]) for t in subset],
                             args.repeats)
    print(f"minilm documents  batch {minilm.batch_size:>3}: {batched:8.0f} strings/s  "
          f"(one per call: {one_by_one:.0f} strings/s, ratio {batched / one_by_one:.2f}x, "
          f"threads {minilm.threads})")
    med, p99, rate = query_latencies_ms(minilm.embed_query, queries)
    print(f"minilm queries   uncached : {rate:8.0f} strings/s  median {med:.2f} ms  "
          f"p99 {p99:.2f} ms")

    tfidf = TfidfSvdEmbedder(cache_size=0)
    fit_s = statistics.median(timed(lambda: tfidf.fit(texts)) for _ in range(args.repeats))
    print(f"tfidf fit on {args.n}: {fit_s * 1000:8.0f} ms median  "
          f"(dimension {tfidf.dimension}, vocabulary {len(tfidf.to_state()['vocabulary'])})")
    docs = median_rate(args.n, lambda: tfidf.embed_documents(texts), args.repeats)
    print(f"tfidf documents          : {docs:8.0f} strings/s")
    med, p99, rate = query_latencies_ms(tfidf.embed_query, queries)
    print(f"tfidf queries    uncached : {rate:8.0f} strings/s  median {med:.2f} ms  "
          f"p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
