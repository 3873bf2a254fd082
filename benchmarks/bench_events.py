"""Event ingestion throughput and Q2E memory update lag against a real node.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9200 python benchmarks/bench_events.py --events 20000

Prints, each measured in this run on fresh indices (deleted afterwards):
* events/s of ``ingest_events`` end to end (validate, join, create, each item's success
  confirmed: stored in the translog, not yet refreshed), median over ``--repeats`` runs, and
  the same events sent with a plain ``bulk`` (no validation/join) as the baseline ratio;
* memory update lag: from ``ingest_events`` returning for a new (query, entity) engagement
  to the ``q2e`` value being returned by a ``rank_feature`` search, with ``run_consumers``
  (settle 0; it refreshes the logs before reading) called in a loop; median and max over
  ``--lag-samples``.
"""

from __future__ import annotations

import argparse
import random
import statistics
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
from ltrr_opensearch.feedback.indices import ensure_feedback_indices
from ltrr_opensearch.feedback.keys import query_key


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lag-samples", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--entities", type=int, default=100)
    args = parser.parse_args()

    base = Settings.load()
    client = make_client(base)
    cluster_info(client, base)
    settings = base.with_overrides(index_prefix=f"bench-ev-{uuid.uuid4().hex[:8]}")
    rng = random.Random(7)
    try:
        # Probe entities of their own: on a busy entity a new pair can be pruned by
        # max_pairs_per_entity, which would measure the guard, not the lag.
        make_catalog(client, settings, args.entities + args.lag_samples)
        ensure_feedback_indices(client, settings)
        log_search(client, settings, [
            SearchRecord(f"q{i}", f"query {i}", tuple(f"e{(i + j) % args.entities}"
                                                      for j in range(10)),
                         (ArmLog("bm25", 10, 1.0, ()),), client_id="u0")
            for i in range(args.queries)], refresh="wait_for")

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
        print(f"ingest_events: {statistics.median(ours):,.0f} events/s median over "
              f"{args.repeats} x {args.events} (validated, joined, create, acked once stored)")
        print(f"plain bulk:    {statistics.median(plain):,.0f} events/s median (baseline); "
              f"ratio ours/plain {statistics.median(ours) / statistics.median(plain):.2f}")

        start = time.perf_counter()
        runs = run_consumers(client, settings, settle_seconds=0)
        catch_up = time.perf_counter() - start
        read = sum(r.docs for r in runs if r.log == "events")
        print(f"first consumer catch-up: {catch_up:.1f} s for {read} event reads "
              f"across {len({r.consumer for r in runs})} consumers")

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
                run_consumers(client, settings, settle_seconds=0)
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


if __name__ == "__main__":
    main()
