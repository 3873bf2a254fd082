"""How fast is query understanding on a 100k-entity catalog, and how often does it find
the artist a query names?

    /tmp/venv/bin/python benchmarks/bench_understand.py [--entities 100000] [--queries 4000]

Builds a seeded synthetic catalog in memory (pseudo-word artist names, 40 genres,
30 moods, decades 1950s-2020s), a gazetteer from it, and a query mix (clean artist
names, artist names with one typo, attribute queries, random words). Prints the build
time, per-query median / p99 / mean of ``understand()`` (without and with the memory's key
set, what the context's ``memory_available`` reads) and of ``normalize_query`` alone, and
how often the intended artist was found. No node needed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime

from rapidfuzz import process
from rapidfuzz.distance import OSA

from ltrr_opensearch.understand import Gazetteer, normalize_query, q2e_key, understand

GENRES = [
    "rock", "pop", "jazz", "blues", "hip hop", "rap", "country", "folk", "soul", "funk",
    "disco", "house", "techno", "trance", "dubstep", "drum and bass", "ambient", "metal",
    "heavy metal", "punk", "indie", "indie rock", "alternative", "grunge", "reggae", "ska",
    "latin", "salsa", "bossa nova", "classical", "opera", "gospel", "r&b", "electronic",
    "edm", "k-pop", "j-pop", "afrobeat", "lo-fi", "synthwave",
]
MOODS = [
    "happy", "sad", "chill", "energetic", "romantic", "angry", "calm", "dark", "uplifting",
    "melancholic", "dreamy", "party", "focus", "sleepy", "epic", "groovy", "mellow",
    "nostalgic", "peaceful", "aggressive", "hopeful", "moody", "sensual", "playful",
    "intense", "relaxed", "bright", "somber", "euphoric", "tender",
]
DECADES = [f"{year}s" for year in range(1950, 2030, 10)]
LANGUAGES = ["en", "es", "fr", "de", "pt", "ja", "ko", "it", "sv"]
SYLLABLES = [
    "ka", "lo", "ri", "ma", "ne", "so", "ta", "vi", "ro", "lu", "mi", "da", "ze", "po",
    "an", "el", "or", "in", "us", "ey", "ba", "ki", "ra", "to", "ni", "fa", "ge", "hu",
]
WORDS = [
    "love", "night", "fire", "heart", "dream", "light", "rain", "summer", "blue", "gold",
    "road", "river", "ghost", "dance", "star", "home", "city", "moon", "wild", "young",
]
ENGLISH = ["hello", "tonight", "forever", "again", "down", "highway", "sunset", "ocean"]


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def synthetic_catalog(entities: int, rng: random.Random) -> list[dict]:
    artist_count = entities // 5
    artists: set[str] = set()
    while len(artists) < artist_count:
        artists.add(" ".join(pseudo_word(rng) for _ in range(rng.choice((1, 1, 2, 2, 3)))))
    names = sorted(artists)
    rows = [{"id": f"ar{i}", "entity_type": "artist", "title": name,
             "genres": rng.sample(GENRES, 2)} for i, name in enumerate(names)]
    while len(rows) < entities:
        kind = rng.choices(["track", "album", "playlist"], weights=[85, 12, 3])[0]
        rows.append({
            "id": f"e{len(rows)}", "entity_type": kind,
            "title": " ".join(rng.sample(WORDS + ENGLISH, 2)), "artist": rng.choice(names),
            "genres": rng.sample(GENRES, rng.randint(1, 3)),
            "moods": rng.sample(MOODS, rng.randint(0, 2)),
            "decade": rng.choice(DECADES), "language": rng.choice(LANGUAGES),
        })
    return rows


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    edit = rng.choice(("swap", "drop", "double", "replace"))
    if edit == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if edit == "drop":
        return word[:i] + word[i + 1 :]
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioustrn") + word[i + 1 :]


def query_mix(names: list[str], count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind of query, query text, the artist it names or "")."""
    queries = []
    for n in range(count):
        artist = rng.choice(names)
        kind = ("clean", "typo", "attribute", "random")[n % 4]
        if kind == "clean":
            text = artist + rng.choice(["", " " + rng.choice(WORDS), " songs"])
        elif kind == "typo":
            text = typo(artist, rng) if len(artist) >= 6 else artist
        elif kind == "attribute":
            text = " ".join(rng.sample([rng.choice(DECADES)[2:], rng.choice(GENRES),
                                        rng.choice(MOODS), "playlist"], rng.randint(1, 3)))
            artist = ""
        else:
            text = " ".join(rng.choices(WORDS + ENGLISH, k=rng.randint(1, 5)))
            artist = ""
        queries.append((kind, text, artist))
    return queries


def timings(fn: Callable[[str], object], queries: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for query in queries:
            start = time.perf_counter_ns()
            fn(query)
            out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def summary(label: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{label:<26} median {statistics.median(ms):.4f} ms  p99 {p99:.4f} ms  "
            f"mean {statistics.fmean(ms):.4f} ms  (n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    rows = synthetic_catalog(args.entities, rng)
    start = time.perf_counter()
    gazetteer = Gazetteer.from_rows(rows)
    build_s = time.perf_counter() - start
    artists = gazetteer.values("artist")
    print(f"catalog: {len(rows)} entities, {len(artists)} artists, {len(GENRES)} genres, "
          f"{len(MOODS)} moods, {len(DECADES)} decades")
    print(f"gazetteer build: {build_s:.2f} s, {len(gazetteer)} phrases")

    mix = query_mix(list(artists), args.queries, rng)
    texts = [text for _, text, _ in mix]
    now = datetime(2024, 1, 6, 12, 0)
    print(summary("understand()", timings(lambda q: understand(q, gazetteer, now=now),
                                          texts, args.repeat)))
    # The context's memory_available reads the memory's key set (a Python set, as
    # select/availability.py holds it): half the queries' keys plus 300k others.
    keys = {q2e_key(normalize_query(t)) for t in texts[::2] if normalize_query(t)}
    keys |= {f"other_key_{i}" for i in range(300_000)}
    print(summary("understand() + memory keys",
                  timings(lambda q: understand(q, gazetteer, now=now, memory_keys=keys),
                          texts, args.repeat)))
    print(summary("normalize_query()", timings(normalize_query, texts, args.repeat)))
    for kind in ("clean", "typo", "attribute", "random"):
        subset = [t for k, t, _ in mix if k == kind]
        print(summary(f"understand() {kind}",
                      timings(lambda q: understand(q, gazetteer, now=now), subset, 1)))

    for kind in ("clean", "typo"):
        named = [(t, a) for k, t, a in mix if k == kind]
        found = sum(
            any(s.kind == "artist" and s.value == a for s in understand(t, gazetteer, now=now).slots)
            for t, a in named
        )
        print(f"artist found, {kind:<5} queries: {found / len(named):.3f} ({found}/{len(named)})")
    noise = [understand(t, gazetteer, now=now).slots for k, t, _ in mix if k == "random"]
    for label, wanted in (("exact", False), ("fuzzy", True)):
        hit = sum(any(s.kind == "artist" and (s.confidence < 1) == wanted for s in slots)
                  for slots in noise)
        print(f"random-word queries with an artist slot ({label}): {hit / len(noise):.3f}")

    # Baseline: typo lookup by scanning every phrase with rapidfuzz (no deletion index).
    phrases = [normalize_query(v) for v in artists]
    sample = texts[: min(200, len(texts))]
    scan = timings(lambda q: [process.extractOne(t, phrases, scorer=OSA.normalized_similarity,
                                                 score_cutoff=0.7) for t in q.split()],
                   [normalize_query(t) for t in sample], 1)
    ours = timings(lambda q: understand(q, gazetteer, now=now), sample, 1)
    print(summary("baseline full-scan fuzzy", scan))
    print(f"understand() vs full scan, same {len(sample)} queries: median "
          f"{statistics.median(scan) / statistics.median(ours):.0f}x faster")


if __name__ == "__main__":
    main()
