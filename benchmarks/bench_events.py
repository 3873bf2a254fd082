"""Event ingestion throughput, consumer catch-up and steady-state lag, and Q2E memory update
lag against a real node.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9200 python benchmarks/bench_events.py --events 20000

Prints, each measured in this run on fresh indices (deleted afterwards):
* events/s of ``ingest_events`` end to end (validate, join, create, each item's success
  confirmed: stored in the translog, not yet refreshed), median over ``--repeats`` runs, and
  the same events sent with a plain ``bulk`` (no validation/join) as the baseline ratio;
* consumer catch-up: the three consumers (rewards, memory, training rows) applying the
  backlog those repeats left (``--repeats`` x ``--events`` events on ``--queries`` searches
  and ``--entities`` entities), in events/s and as a ratio to the ingestion rate above:
  from nothing applied (fresh consumers), then a further backlog of ``--events`` by the
  same consumers (warm: they hold what they read) and another by new consumers (a restart:
  they read the history of the keys they touch);
* steady state: for each rate of ``--steady-rates`` (events/s; "ingest" means the ingestion
  rate measured above), one process ingests at that rate for ``--steady-seconds`` while
  ``ltrr worker`` (a separate process, ``--interval``, ``--settle``) runs; every 5 s the
  events ingested and how far the consumers are behind (``ltrr worker --status``: docs
  behind, age of the oldest doc not applied), and whether that stayed bounded;
* memory update lag: from ``ingest_events`` returning for a new (query, entity) engagement
  to the ``q2e`` value being returned by a ``rank_feature`` search, with ``run_consumers``
  (the warm consumers, settle 0; it refreshes the logs before reading) called in a loop; median and max over
  ``--lag-samples``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

from ltrr_opensearch.catalog.index import catalog_body
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import cluster_info, make_client
from ltrr_opensearch.feedback import (
    ArmLog,
    SearchRecord,
    ingest_events,
    log_search,
    run_consumers,
)
from ltrr_opensearch.feedback.consumers import default_consumers
from ltrr_opensearch.feedback.indices import ensure_feedback_indices
from ltrr_opensearch.feedback.keys import query_key
from ltrr_opensearch.feedback.lag import consumer_lag


def make_catalog(client, settings, n):
    body = catalog_body(settings, 8, {})
    index = f"{settings.catalog_alias}-v1"
    client.indices.create(index=index, body=body)
    client.indices.put_alias(index=index, name=settings.catalog_alias)
    ops = []
    for i in range(n):
        ops += [{"index": {"_index": index, "_id": f"e{i}"}},
                {"id": f"e{i}", "entity_type": "track", "title": f"song {i}", "popularity": 1.0}]
    client.bulk(body=ops, refresh=True)


def synthetic(n, queries, entities, rng, tag):
    now = datetime.now(timezone.utc).isoformat()
    for i in range(n):
        q = rng.randrange(queries)
        yield {"event_id": f"{tag}-{i}", "action_name": rng.choice(["click", "play"]),
               "query_id": f"q{q}", "client_id": f"u{rng.randrange(500)}", "timestamp": now,
               "event_attributes": {"object": {"object_id": f"e{rng.randrange(entities)}"},
                                    "position": {"ordinal": rng.randrange(10)}}}


def prepare(client, settings, args, extra_entities=0):
    """A catalog and ``--queries`` logged searches of 10 hits each (what events refer to)."""
    # Probe entities of their own: on a busy entity a new pair can be pruned by
    # max_pairs_per_entity, which would measure the guard, not the lag.
    make_catalog(client, settings, args.entities + extra_entities)
    ensure_feedback_indices(client, settings)
    log_search(client, settings, [
        SearchRecord(f"q{i}", f"query {i}", tuple(f"e{(i + j) % args.entities}"
                                                  for j in range(10)),
                     (ArmLog("bm25", 10, 1.0, ()),), client_id="u0")
        for i in range(args.queries)], refresh="wait_for")


def catch_up(client, settings, consumers):
    """(seconds, events applied, per consumer seconds) for ``consumers`` over the backlog."""
    start = time.perf_counter()
    runs = run_consumers(client, settings, consumers, settle_seconds=0)
    seconds = time.perf_counter() - start
    read = {r.docs for r in runs if r.log == "events"}
    assert len(read) == 1, runs  # every consumer applied the same backlog
    per = {r.consumer: sum(x.seconds for x in runs if x.consumer == r.consumer) for r in runs}
    return seconds, read.pop(), per


def ingest_at(prefix, rate, seconds, queries, entities, seed, done):
    """Ingest ``rate`` events/s for ``seconds`` (a tick every 0.2 s) under index prefix
    ``prefix``; puts (ingested, seconds it took) on ``done``. Runs in its own process."""
    settings = Settings.load().with_overrides(index_prefix=prefix)
    client = make_client(settings)
    rng = random.Random(seed)
    tick, sent, start = 0.2, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(rate * min(elapsed + tick, seconds)) - sent
        if due > 0:
            report = ingest_events(client, settings,
                                   synthetic(due, queries, entities, rng, f"s{seed}-{sent}"))
            sent += report.accepted
        time.sleep(max(0.0, start + (sent / rate) - time.perf_counter()))
    done.put((sent, time.perf_counter() - start))


def steady_state(base, client, args, rate):
    """Lag samples while one process ingests at ``rate`` and ``ltrr worker`` runs."""
    settings = base.with_overrides(index_prefix=f"bench-ev-{uuid.uuid4().hex[:8]}")
    env = {**os.environ, "LTRR_INDEX_PREFIX": settings.index_prefix}
    env.pop("LTRR_CONFIG", None)
    worker = None
    try:
        prepare(client, settings, args)
        worker = subprocess.Popen(
            [sys.executable, "-m", "ltrr_opensearch.cli", "worker", "--interval",
             str(args.interval), "--settle", str(args.settle), "--retrain-every", "0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        done = multiprocessing.get_context("spawn").Queue()
        feeder = multiprocessing.get_context("spawn").Process(
            target=ingest_at, args=(settings.index_prefix, rate, args.steady_seconds, args.queries,
                                    args.entities, 11, done))
        start = time.perf_counter()
        feeder.start()
        samples = []  # (seconds, ingested, events behind, oldest waiting, still ingesting)
        while feeder.is_alive() or not samples or samples[-1][2] > 0:
            time.sleep(5.0 - (time.perf_counter() - start) % 5.0)
            elapsed = time.perf_counter() - start
            ingesting = feeder.is_alive()
            events = [lag for lag in consumer_lag(client, settings) if lag.log == "events"]
            ingested = client.count(index=settings.ubi_events_index)["count"]
            samples.append((elapsed, ingested, max(lag.behind for lag in events),
                            max(lag.seconds_behind for lag in events), ingesting))
            print(f"  {elapsed:5.0f} s  ingested {ingested:>9,}  behind {samples[-1][2]:>8,} "
                  f"events, oldest waiting {samples[-1][3]:6.1f} s"
                  f"{'' if ingesting else '  (ingestion over)'}", flush=True)
            if elapsed > args.steady_seconds + 180:
                break  # the worker cannot catch up: the table says by how much
        feeder.join()
        sent, took = done.get()
        return samples, sent, took
    finally:
        if worker is not None:
            worker.terminate()
            _, err = worker.communicate(timeout=60)
            cycles = [json.loads(line) for line in err.splitlines()
                      if line.startswith("{") and '"cycle"' in line]
            failed = [c for c in cycles if not c.get("ok")]
            if failed:
                print(f"  worker: {len(failed)} of {len(cycles)} cycles failed, first: "
                      f"{failed[0].get('error')}")
            busy = [c for c in cycles if c.get("ok") and c.get("events_read")]
            if busy:
                def median(name):
                    return statistics.median(c["timings_ms"].get(name, 0.0) for c in busy)
                print(f"  worker: {len(busy)} cycles that read events, median "
                      f"{statistics.median(c['events_read'] for c in busy):,.0f} events, "
                      f"{median('total'):,.0f} ms (consumers {median('consumers'):,.0f}, "
                      f"bandit learn {median('learn'):,.0f}, sync {median('sync'):,.0f})")
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lag-samples", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--entities", type=int, default=100)
    parser.add_argument("--steady-rates", default="2000,ingest",
                        help="comma-separated events/s; 'ingest' is the rate measured here; "
                             "empty: no steady-state phase")
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0, help="worker cycle interval")
    parser.add_argument("--settle", type=float, default=1.0, help="worker --settle")
    args = parser.parse_args()

    base = Settings.load()
    client = make_client(base)
    cluster_info(client, base)
    settings = base.with_overrides(index_prefix=f"bench-ev-{uuid.uuid4().hex[:8]}")
    rng = random.Random(7)
    try:
        prepare(client, settings, args, extra_entities=args.lag_samples)

        ours, plain = [], []
        for r in range(args.repeats):
            events = list(synthetic(args.events, args.queries, args.entities, rng, f"r{r}"))
            start = time.perf_counter()
            report = ingest_events(client, settings, events)
            ours.append(report.accepted / (time.perf_counter() - start))
            assert report.accepted == args.events, report
            raw_index = f"{settings.index_prefix}-plain"
            start = time.perf_counter()
            for s in range(0, len(events), 500):
                ops = []
                for e in events[s:s + 500]:
                    ops += [{"index": {"_index": raw_index}}, e]
                client.bulk(body=ops)
            plain.append(len(events) / (time.perf_counter() - start))
        ingest_rate = statistics.median(ours)
        print(f"ingest_events: {ingest_rate:,.0f} events/s median over "
              f"{args.repeats} x {args.events} (validated, joined, create, acked once stored)")
        print(f"plain bulk:    {statistics.median(plain):,.0f} events/s median (baseline); "
              f"ratio ours/plain {ingest_rate / statistics.median(plain):.2f}")

        def report_catch_up(what, consumers):
            seconds, read, per = catch_up(client, settings, consumers)
            print(f"consumer catch-up, {what}: {read:,} events in {seconds:.1f} s = "
                  f"{read / seconds:,.0f} events/s, {read / seconds / ingest_rate:.2f} x "
                  f"ingestion (busy s per consumer: "
                  f"{', '.join(f'{c} {t:.1f}' for c, t in per.items())})")

        warm = default_consumers(client, settings)
        report_catch_up("nothing applied yet", warm)
        more = list(synthetic(args.events, args.queries, args.entities, rng, "warm"))
        ingest_events(client, settings, more)
        report_catch_up("same consumers (warm)", warm)
        more = list(synthetic(args.events, args.queries, args.entities, rng, "restart"))
        ingest_events(client, settings, more)
        report_catch_up("new consumers (restart)", default_consumers(client, settings))

        lags = []
        for s in range(args.lag_samples):
            text, probe = f"lag probe {s}", f"e{args.entities + s}"
            log_search(client, settings, SearchRecord(f"lag{s}", text, (probe,), client_id="u1"),
                       refresh="wait_for")
            event = {"event_id": f"lag-{s}", "action_name": "play", "query_id": f"lag{s}",
                     "client_id": "u1", "timestamp": datetime.now(timezone.utc).isoformat(),
                     "event_attributes": {"object": {"object_id": probe}}}
            ingest_events(client, settings, [event])
            start = time.perf_counter()
            field = f"q2e.{query_key(text)[1]}"
            while time.perf_counter() - start < 60:
                run_consumers(client, settings, warm, settle_seconds=0)
                hits = client.search(index=settings.catalog_alias, body={
                    "query": {"rank_feature": {"field": field}}})["hits"]["hits"]
                if hits:
                    break
            else:
                raise SystemExit(f"q2e for {text!r} not searchable after 60 s")
            lags.append(time.perf_counter() - start)
        print(f"memory update lag (ingest confirmed -> q2e searchable): median "
              f"{statistics.median(lags) * 1000:,.0f} ms, max {max(lags) * 1000:,.0f} ms "
              f"over {args.lag_samples} samples (settle 0 s; default settle_seconds adds 5 s)")
    finally:
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")

    for raw in filter(None, (r.strip() for r in args.steady_rates.split(","))):
        rate = ingest_rate if raw == "ingest" else float(raw)
        print(f"steady state at {rate:,.0f} events/s for {args.steady_seconds:.0f} s "
              f"(ltrr worker --interval {args.interval} --settle {args.settle}):")
        samples, sent, took = steady_state(base, client, args, rate)
        # Ingestion may take longer than asked when the machine cannot keep the rate.
        during = [s for s in samples if s[4] and s[0] >= took / 2]
        growth = ((during[-1][2] - during[0][2]) / (during[-1][0] - during[0][0])
                  if len(during) > 1 else float("nan"))
        print(f"  ingested {sent:,} events in {took:.0f} s = {sent / took:,.0f} events/s; second "
              f"half of ingestion: behind at most {max((s[2] for s in during), default=0):,} "
              f"events / {max((s[3] for s in during), default=0):.1f} s, growing "
              f"{growth:+,.0f} events/s; "
              + (f"caught up {samples[-1][0] - took:.0f} s after ingestion ended"
                 if samples[-1][2] == 0 else
                 f"NOT caught up: {samples[-1][2]:,} events behind "
                 f"{samples[-1][0] - took:.0f} s after ingestion ended"))


if __name__ == "__main__":
    main()
