"""Query understanding on two catalogs, and BM25 on titles whose punctuation carries meaning.

    python benchmarks/bench_understand_catalogs.py qu [--films data/generated/films.jsonl]
    python benchmarks/bench_understand_catalogs.py bm25 [--films PATH] [--url URL]

``qu`` (no node): slot accuracy of ``understand()`` on labelled attribute queries.

* music: the simulated world's attribute queries (``simulate/queries.py``: "90s rock",
  "chill jazz", "spanish pop", "jazz albums"), labelled with the genre, decade, mood,
  language or entity type they were built from;
* films: queries built from the films catalog (``ltrr simulate films``): a genre and
  decade some film has, in seven phrasings ("90s comedy", "comedy from the 90s", "nineties
  comedy", "comedy 1990s", "comedy movies", "90s comedy movies", "comedies from the 90s"),
  labelled with the genre,
  the decade and (for "movies") the entity type movie.

A query is right when the recognised (kind, value) slots of the labelled kinds are exactly
the labels (values compared normalised), and, for queries with an entity-type label, the
intent is that type. ``intent a type of the catalog`` counts the queries whose guessed
intent is a type the catalog has, or none (a films catalog has no playlists). The gazetteer
is built from the catalog rows through the catalog's description (music, films). To
measure the code of another commit, run this file from outside the repository with that
commit's package first on the path, e.g. ``git archive <commit> ltrr_opensearch | tar -x -C /tmp/before`` and
``PYTHONPATH=/tmp/before python benchmarks/...`` (the builder falls back to the older
``Gazetteer.from_rows(rows)``).

``bm25`` (node): loads the films catalog into a fresh index prefix (films description),
takes every title with punctuation inside a word ("L.A. Confidential", "Face/Off",
"Chuck&Buck", "B*A*P*S") and searches it in three forms: exact, letters run together
("la confidential", "faceoff") and punctuation spaced ("l a confidential"). MRR@10 of the
film (any film of that title) for ``bm25_popularity`` alone and for the default search,
``before`` (the previous clean-up: every punctuation mark a space, no catalog spelling)
and ``after`` (this code), in the same process against the same index.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import sys
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILMS = ROOT / "data" / "generated" / "films.jsonl"
# Genres people ask for in the plural ("comedies from the 90s").
PLURALS = {"comedy": "comedies", "documentary": "documentaries", "drama": "dramas",
           "romance": "romances", "short": "shorts"}
TOP = 10


# -- qu -----------------------------------------------------------------------------------


def gazetteer_from(rows: list[dict[str, Any]], description: str) -> Any:
    from ltrr_opensearch.understand import Gazetteer

    try:
        from ltrr_opensearch.catalog.description import load_description

        return Gazetteer.from_rows(rows, load_description(description))
    except TypeError:  # code from before the catalog description reached the gazetteer
        return Gazetteer.from_rows(rows)


def music_cases(queries: int, seed: int, entities: int
                ) -> tuple[list[dict[str, Any]], list[tuple[str, dict]]]:
    from ltrr_opensearch.simulate.config import SimConfig
    from ltrr_opensearch.simulate.queries import QueryStream
    from ltrr_opensearch.simulate.world import World

    config = SimConfig()
    config = dataclasses.replace(config, world=dataclasses.replace(config.world,
                                                                   entities=entities))
    world = World.generate(config)
    rows = list(world.rows())
    cases = []
    for q in QueryStream(world, config, seed=seed).take(queries * 6):
        if q.intent == "attribute":
            labels = {k: v for k, v in q.attributes.items() if k != "form"}
            cases.append((q.text, labels))
        if len(cases) == queries:
            break
    return rows, cases


def films_cases(rows: list[dict[str, Any]], queries: int, seed: int) -> list[tuple[str, dict]]:
    words = {"0": "noughties", "2": "twenties", "3": "thirties", "4": "forties",
             "5": "fifties", "6": "sixties", "7": "seventies", "8": "eighties", "9": "nineties"}
    rng = random.Random(seed)
    pairs = sorted({(g, r["decade"]) for r in rows if r.get("decade") for g in r.get("genres") or ()})
    # "90s" means the most recent decade ending so (1990s, not 1890s): other decades are
    # asked for in full.
    newest = {}
    for decade in sorted({d for _, d in pairs}):
        newest[decade[2:]] = decade
    cases = []
    for _ in range(queries):
        genre, decade = rng.choice(pairs)
        short = decade[2:] if newest[decade[2:]] == decade else decade
        form = rng.randrange(7)
        if form == 0:
            cases.append((f"{short} {genre}", {"genre": genre, "decade": decade}))
        elif form == 1:
            cases.append((f"{genre} from the {short}", {"genre": genre, "decade": decade}))
        elif form == 2 and decade[2] in words and short != decade:
            cases.append((f"{words[decade[2]]} {genre}", {"genre": genre, "decade": decade}))
        elif form == 3:
            cases.append((f"{genre} {decade}", {"genre": genre, "decade": decade}))
        elif form == 4:
            cases.append((f"{genre} movies", {"genre": genre, "entity_type": "movie"}))
        elif form == 5 and genre in PLURALS:
            cases.append((f"{PLURALS[genre]} from the {short}", {"genre": genre,
                                                                 "decade": decade}))
        else:
            cases.append((f"{short} {genre} movies",
                          {"genre": genre, "decade": decade, "entity_type": "movie"}))
    return cases


def accuracy(gazetteer: Any, cases: list[tuple[str, dict]],
             types: set[str]) -> dict[str, Any]:
    from ltrr_opensearch.understand import normalize_query, understand

    right = 0
    possible_intent = 0
    by_label: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for text, labels in cases:
        u = understand(text, gazetteer)
        found = {(s.kind, normalize_query(s.value)) for s in u.slots if s.kind in labels}
        wanted = {(k, normalize_query(str(v))) for k, v in labels.items()}
        ok = found == wanted and ("entity_type" not in labels or u.intent == labels["entity_type"])
        right += ok
        possible_intent += u.intent is None or u.intent in types
        for kind in labels:
            by_label[kind][1] += 1
            by_label[kind][0] += (kind, normalize_query(str(labels[kind]))) in found
        if not ok and len(misses) < 5:
            misses.append((text, sorted(found), u.intent))
    return {"n": len(cases), "accuracy": right / max(1, len(cases)),
            "intent_possible": possible_intent / max(1, len(cases)),
            "per_label": {k: round(a / n, 3) for k, (a, n) in sorted(by_label.items())},
            "misses": misses}


def qu_command(args: argparse.Namespace) -> int:
    rows, cases = music_cases(args.queries, args.seed, args.entities)
    music = accuracy(gazetteer_from(rows, "music"), cases, {r["entity_type"] for r in rows})
    films_rows = [json.loads(line) for line in Path(args.films).read_text().splitlines()]
    films = accuracy(gazetteer_from(films_rows, "films"),
                     films_cases(films_rows, args.queries, args.seed), {"movie"})
    for name, result in (("music world", music), ("films", films)):
        print(f"{name}: {result['n']} queries, accuracy {result['accuracy']:.3f}, intent a "
              f"type of the catalog (or none) {result['intent_possible']:.3f}, per label "
              f"{result['per_label']}")
        for miss in result["misses"]:
            print(f"  miss: {miss}")
    return 0


# -- bm25 ---------------------------------------------------------------------------------

_INNER = re.compile(r"(?<=\w)[.&/*:](?=\w)")


def title_forms(title: str) -> dict[str, str]:
    """exact / joined / spaced forms of a title with punctuation inside a word."""
    joined = " ".join(_INNER.sub("", chunk) for chunk in title.split())
    spaced = " ".join(_INNER.sub(" ", chunk) for chunk in title.split())
    return {"exact": title, "joined": joined, "spaced": spaced}


def old_understanding() -> Any:
    """Switch query understanding to the clean-up before this change; returns the undo."""
    from ltrr_opensearch.understand import gazetteer, normalize

    saved = normalize._inner_punctuation, gazetteer.Gazetteer.rewrite
    normalize._inner_punctuation = lambda s: re.sub(r"[.:,]", " ", s)
    gazetteer.Gazetteer.rewrite = lambda self, tokens: tuple(tokens)

    def undo() -> None:
        normalize._inner_punctuation, gazetteer.Gazetteer.rewrite = saved
    return undo


def bm25_command(args: argparse.Namespace) -> int:
    from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder
    from ltrr_opensearch.config import Settings
    from ltrr_opensearch.engine.client import make_client
    from ltrr_opensearch.pipeline import Pipeline

    rows = [json.loads(line) for line in Path(args.films).read_text().splitlines()]
    by_title: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_title[row["title"]].add(row["id"])
    punctuated = sorted(t for t in by_title if any(_INNER.search(c) for c in t.split()))
    prefix = f"bench-punct-{uuid.uuid4().hex[:8]}"
    settings = Settings.load(url=args.url).with_overrides(index_prefix=prefix)
    settings = dataclasses.replace(settings, sections={
        **settings.sections, "catalog": {**settings.section("catalog"), "description": "films"}})
    client = make_client(settings.with_overrides(timeout=300.0))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    compact = out / "films.compact.jsonl"
    with compact.open("w", encoding="utf-8") as sink:
        for row in rows:
            sink.write(json.dumps({k: v for k, v in row.items() if v not in (None, [], "")},
                                  ensure_ascii=False) + "\n")
    try:
        report = load_catalog(client, settings, compact, embedder=make_fresh_embedder("tfidf"),
                              quiet=True)
        print(f"{report.indexed} films loaded; {len(punctuated)} punctuated titles",
              file=sys.stderr)
        pipeline = Pipeline.from_cluster(client, settings)
        results: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        misses: list[str] = []
        for title in punctuated:
            relevant = by_title[title]
            for form, text in title_forms(title).items():
                if form != "exact" and text == title:
                    continue
                for when in ("before", "after"):
                    undo = old_understanding() if when == "before" else None
                    try:
                        for system, strategies in (("bm25_popularity", [("bm25_popularity", 50)]),
                                                   ("default", None)):
                            shown = pipeline.search(text, k=TOP, strategies=strategies,
                                                    log=False).shown
                            ids = [h.id for h in shown]
                            rank = next((i for i, h in enumerate(ids, 1) if h in relevant), None)
                            results[(system, form, when)].append(1.0 / rank if rank else 0.0)
                            if when == "after" and system == "bm25_popularity" and rank != 1:
                                misses.append(f"{form} {text!r}: rank {rank}, first "
                                              f"{shown[0].source.get('title') if shown else '-'!r}")
                    finally:
                        if undo:
                            undo()
        print("| system | form | n | MRR@10 before | MRR@10 after |")
        print("|---|---|---:|---:|---:|")
        for system in ("bm25_popularity", "default"):
            for form in ("exact", "joined", "spaced"):
                before, after = results[(system, form, "before")], results[(system, form, "after")]
                print(f"| {system} | {form} | {len(after)} | {sum(before) / len(before):.3f} | "
                      f"{sum(after) / len(after):.3f} |")
        if args.misses:
            print("\nbm25_popularity after, not first:\n" + "\n".join(misses))
    finally:
        if not args.keep:
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    qu = sub.add_parser("qu", help="slot accuracy on the music world and on films (no node)")
    qu.add_argument("--queries", type=int, default=1000)
    qu.add_argument("--seed", type=int, default=0, help="query seed")
    qu.add_argument("--entities", type=int, default=10_000, help="music world size (seed 7)")
    qu.set_defaults(func=qu_command)
    bm25 = sub.add_parser("bm25", help="MRR@10 of punctuated film titles, before/after")
    bm25.add_argument("--url", default=None)
    bm25.add_argument("--out", default="/tmp/bench-punct")
    bm25.add_argument("--keep", action="store_true", help="keep the index prefix")
    bm25.add_argument("--misses", action="store_true", help="list the titles not found first")
    bm25.set_defaults(func=bm25_command)
    for p in (qu, bm25):
        p.add_argument("--films", default=str(FILMS), help="films catalog (ltrr simulate films)")
    args = parser.parse_args()
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
