"""Phrases learned from clicks, on the films catalog: do everyday words for a genre
("cartoons", "funny", "love stories") reach the genre facet, on queries never seen in
training, and what does the vocabulary consumer cost next to the others?

    nice -n 10 python benchmarks/bench_vocab.py --sessions 600 --seed 1

The films catalog (data/generated/films.jsonl, converted first if missing) is loaded into
a fresh index prefix with the ``films`` description. Six genres get two everyday phrases
each (``SLANG``), never a genre name. Simulated users search the **training** phrasings
("cartoons", "cartoons movies", "cartoons from the 1990s") through the real pipeline
(every default strategy, logged), scan the top 10 with a position-biased cascade
(examined with probability 0.85^rank; a film of the asked genre, and decade when asked, is
clicked with probability 0.8, any other with ``--noise``; a relevant click is followed by a
play with probability 0.7) and, when nothing pleased them, retype the genre's name in the
same session ("animation movies"), which credits the failed query
(docs/feedback.md, reformulation credit). Every ``--cycle`` sessions the searches are
flushed, the events ingested and each default consumer run alone over the same logs
(timed), then the pipeline follows the learned vocabulary, as ``ltrr serve`` does.

Measured on **held-out** phrasings that no user typed ("90s cartoons", "good cartoons
films", "cartoons 1990s"): precision@10 (films of the genre, and decade when asked, in the
top 10) and MRR@10, for ``structured_qu`` alone and the default search, on day one, and
after the sessions without and with the learned phrases (same index, memory and logs: the
only difference is understanding). The learned phrases are listed with whether they name
the intended genre. Consumer cost: each consumer's total time over every cycle, and its
ratio to the memory consumer's, measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.evaluate.metrics import reciprocal_rank  # noqa: E402
from ltrr_opensearch.evaluate.querysets import read_catalog  # noqa: E402
from ltrr_opensearch.feedback.consumers import default_consumers, run_consumers  # noqa: E402
from ltrr_opensearch.feedback.ingest import ingest_events  # noqa: E402
from ltrr_opensearch.feedback.learned import follow_learned, read_learned  # noqa: E402
from ltrr_opensearch.pipeline import BufferedSearchLog, Pipeline  # noqa: E402

SLANG = {"comedy": ("funny", "laughs"), "animation": ("cartoons", "anime"),
         "documentary": ("docs", "true stories"), "romance": ("love stories", "romantic"),
         "action": ("shoot em up", "explosions"), "drama": ("tearjerkers", "serious")}
TRAIN = ("{p}", "{p} movies", "{p} from the {decade}")
HELD_OUT = ("{short} {p}", "good {p} films", "{p} {decade}")
MIN_FILMS = 10  # a (genre, decade) pair is asked for only when this many films have it
TOP = 10


@dataclasses.dataclass(frozen=True)
class Ask:
    query: str
    genre: str
    decade: str | None


def asks(templates: tuple[str, ...], decades: dict[str, list[str]]) -> list[Ask]:
    out = []
    for genre, phrases in SLANG.items():
        for phrase in phrases:
            for template in templates:
                if "decade" in template or "short" in template:
                    for decade in decades[genre]:
                        out.append(Ask(template.format(p=phrase, decade=decade,
                                                       short=decade[2:]), genre, decade))
                else:
                    out.append(Ask(template.format(p=phrase), genre, None))
    return out


def relevant(ask: Ask, films: dict[str, dict[str, Any]], film_id: str) -> bool:
    film = films.get(film_id)
    return bool(film) and ask.genre in film["genres"] and (
        ask.decade is None or film.get("decade") == ask.decade)


def browse(ids: list[str], ask: Ask, films: dict[str, dict[str, Any]], rng: random.Random,
           noise: float) -> tuple[str, list[str]] | None:
    """The clicked film and its actions, or None (cascade: the first click ends the scan)."""
    for rank, film_id in enumerate(ids[:TOP]):
        if rng.random() > 0.85 ** rank:
            continue
        good = relevant(ask, films, film_id)
        if rng.random() < (0.8 if good else noise):
            return film_id, ["click", "play"] if good and rng.random() < 0.7 else ["click"]
    return None


def evaluate(pipeline: Pipeline, held_out: list[Ask], films: dict[str, dict[str, Any]],
             strategies: list[tuple[str, int]] | None) -> dict[str, float]:
    precision, rr = [], []
    for ask in held_out:
        ids = [c.id for c in pipeline.search(ask.query, k=TOP, strategies=strategies,
                                             log=False).shown]
        hits = {i for i in ids if relevant(ask, films, i)}
        precision.append(len(hits) / TOP)
        rr.append(reciprocal_rank(ids, dict.fromkeys(hits, 1), TOP))
    return {"p@10": statistics.fmean(precision), "mrr@10": statistics.fmean(rr)}


def drop(client: Any, prefix: str) -> None:
    """Delete the run's indices, retrying while a busy shared node refuses (429)."""
    from opensearchpy import exceptions as os_exc

    for attempt in range(5):
        try:
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")
            return
        except os_exc.TransportError:
            if attempt == 4:
                raise
            time.sleep(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--cycle", type=int, default=100, help="sessions per feedback cycle")
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--noise", type=float, default=0.05,
                        help="probability of clicking an examined film of another genre")
    parser.add_argument("--min-margin", type=float, default=None,
                        help="[vocab] min_margin (-1 turns off the comparison with what was "
                             "shown and with the catalog)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="OpenSearch URL (default: settings)")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench_vocab"))
    parser.add_argument("--keep", action="store_true", help="keep the index prefix")
    args = parser.parse_args()

    path = ROOT / "data" / "generated" / "films.jsonl"
    if not path.is_file():
        from ltrr_opensearch.simulate.films import convert_films, read_movies

        path.parent.mkdir(parents=True, exist_ok=True)
        rows = convert_films(read_movies(), limit=12_000)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rows = read_catalog(path)
    films = {r["id"]: r for r in rows}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        for genre in row.get("genres") or ():
            counts[(genre, row.get("decade") or "")] += 1
    decades = {g: sorted(d for (g2, d), n in counts.items() if g2 == g and d and n >= MIN_FILMS)
               [-3:] for g in SLANG}  # the three latest decades with enough films
    train, held_out = asks(TRAIN, decades), asks(HELD_OUT, decades)

    prefix = f"bench-vocab-{uuid.uuid4().hex[:8]}"
    settings = Settings.load(url=args.url).with_overrides(index_prefix=prefix)
    vocab = {**settings.section("vocab")}
    if args.min_margin is not None:
        vocab["min_margin"] = args.min_margin
    settings = dataclasses.replace(settings, sections={
        **settings.sections, "vocab": vocab,
        "catalog": {**settings.section("catalog"), "description": "films"}})
    client = make_client(settings.with_overrides(timeout=300.0))
    cluster_info(client, settings)
    rng = random.Random(args.seed)
    try:
        compact = Path(args.out) / "films.compact.jsonl"
        compact.parent.mkdir(parents=True, exist_ok=True)
        with path.open(encoding="utf-8") as source, compact.open("w", encoding="utf-8") as sink:
            for line in source:
                row = {k: v for k, v in json.loads(line).items() if v not in (None, [], "")}
                sink.write(json.dumps(row) + "\n")
        report = load_catalog(client, settings, compact, embedder=make_fresh_embedder("tfidf"),
                              quiet=True)
        print(f"films: {report.indexed} rows in {report.seconds:.0f}s; {len(train)} training "
              f"and {len(held_out)} held-out phrasings", file=sys.stderr)
        log = BufferedSearchLog(client, settings)
        pipeline = Pipeline.from_cluster(client, settings, search_log=log)
        systems = {"structured_qu": [("structured_qu", 50)], "default": None}
        day_one = {name: evaluate(pipeline, held_out, films, plan)
                   for name, plan in systems.items()}

        consumer_ms: dict[str, float] = defaultdict(float)
        pending: list[dict[str, Any]] = []
        reformulated = engaged = 0
        for session in range(1, args.sessions + 1):
            ask, user = rng.choice(train), f"user-{rng.randrange(args.users)}"
            sid = f"s{session}"
            for attempt, text in enumerate((ask.query, f"{ask.genre} movies" + (
                    f" from the {ask.decade}" if ask.decade else ""))):
                response = pipeline.search(text, k=TOP, client_id=user, session_id=sid)
                picked = browse([c.id for c in response.shown], ask, films, rng, args.noise)
                if picked is None:
                    reformulated += attempt == 0
                    continue
                engaged += 1
                for n, action in enumerate(picked[1]):
                    pending.append({
                        "action_name": action, "query_id": response.request_id,
                        "client_id": user, "session_id": sid,
                        "timestamp": datetime.now(timezone.utc).isoformat(),
                        "event_id": f"{response.request_id}-{n}",
                        "event_attributes": {"object": {"object_id": picked[0]},
                                             "position": {"ordinal": 0}}})
                break
            if session % args.cycle == 0 or session == args.sessions:
                log.flush(refresh="wait_for")
                ingest_events(client, settings, pending)
                pending = []
                for consumer in default_consumers(client, settings):
                    started = time.perf_counter()
                    run_consumers(client, settings, [consumer], settle_seconds=0)
                    consumer_ms[consumer.name] += (time.perf_counter() - started) * 1000
                pipeline.gazetteer = follow_learned(client, settings, pipeline.gazetteer)
                print(f"  {session}/{args.sessions} sessions, "
                      f"{len(pipeline.gazetteer.learned)} phrases learned", file=sys.stderr)

        without = dataclasses.replace(pipeline, gazetteer=pipeline.gazetteer.with_learned(()))
        after = {name: (evaluate(without, held_out, films, plan),
                        evaluate(pipeline, held_out, films, plan))
                 for name, plan in systems.items()}
        _, learned = read_learned(client, settings)
    finally:
        if not args.keep:
            drop(client, prefix)

    intended = {p: g for g, phrases in SLANG.items() for p in phrases}
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nfilms, {args.sessions} sessions ({args.users} users, noise {args.noise}, seed "
          f"{args.seed}, min_margin {vocab.get('min_margin', 'default')}; {engaged} engaged, "
          f"{reformulated} retyped the genre), "
          f"{len(held_out)} held-out phrasings, {when}\n")
    print("| system | day one P@10 | after, no vocabulary P@10 | after, learned P@10 | "
          "day one MRR@10 | after, no vocabulary MRR@10 | after, learned MRR@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in systems:
        a, b, c = day_one[name], *after[name]
        print(f"| {name} | {a['p@10']:.3f} | {b['p@10']:.3f} | {c['p@10']:.3f} | "
              f"{a['mrr@10']:.3f} | {b['mrr@10']:.3f} | {c['mrr@10']:.3f} |")
    print("\n| learned phrase | value | share | engagement | clients | intended |")
    print("|---|---|---:|---:|---:|---|")
    for phrase in learned:
        right = intended.get(phrase.phrase)
        verdict = ("yes" if right == phrase.value else f"no ({right})" if right
                   else "not a slang phrase")
        print(f"| {phrase.phrase} | {phrase.kind}={phrase.value} | {phrase.share:.2f} | "
              f"{phrase.engagement:.2f} | {phrase.clients} | {verdict} |")
    base = consumer_ms.get("memory") or 1.0
    print("\n| consumer | total ms over all cycles | ratio to memory |")
    print("|---|---:|---:|")
    for name, ms in consumer_ms.items():
        print(f"| {name} | {ms:.0f} | {ms / base:.2f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"films-seed{args.seed}-{args.sessions}-margin{vocab.get('min_margin', 'd')}.json"
    target.write_text(json.dumps({
        "sessions": args.sessions, "users": args.users, "noise": args.noise,
        "min_margin": vocab.get("min_margin"),
        "seed": args.seed, "date": when, "day_one": day_one,
        "after": {n: {"without": b, "learned": c} for n, (b, c) in after.items()},
        "learned": [dataclasses.asdict(p) for p in learned],
        "consumer_ms": consumer_ms}, indent=1))
    print(f"\nwrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
