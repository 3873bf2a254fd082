"""The incremental consumers against the real node: whatever the batches, restarts, crashes,
evictions or other workers, they end where recomputing every output from the logs ends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ltrr_opensearch.bulk import scan
from ltrr_opensearch.feedback import ingest_events, log_search, run_consumers, seed_memory
from ltrr_opensearch.feedback.cache import KeyCache
from ltrr_opensearch.feedback.config import FeedbackConfig, MemoryConfig
from ltrr_opensearch.feedback.events import parse_timestamp
from ltrr_opensearch.feedback.indices import memory_index, training_rows_index
from ltrr_opensearch.feedback.lag import consumer_lag
from ltrr_opensearch.feedback.memory import _DECAYED_SUM, MemoryConsumer, entity_memory
from ltrr_opensearch.feedback.rewards import RewardConsumer, reward_docs
from ltrr_opensearch.feedback.scoring import PairEvent, merge_q2e, score_pair
from ltrr_opensearch.feedback.training import TrainingSetConsumer, training_rows
from tests.test_memory import CATALOG, event, make_catalog, search

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc).replace(microsecond=0)
HOUR = timedelta(hours=1)


def consumers(client, settings, cache_keys=200_000):
    feedback = FeedbackConfig(consumer_cache_keys=cache_keys)
    return [RewardConsumer(client, settings, feedback),
            MemoryConsumer(client, settings, feedback=feedback),
            TrainingSetConsumer(client, settings, feedback)]


def every(client, index, query=None):
    client.indices.refresh(index=index)
    return [h for h in scan(client, index, query or {"match_all": {}})]


def outputs(client, settings):
    """What the consumers wrote, without the time it was written at."""
    rewards = {h["_id"]: h["_source"] for h in every(client, settings.state_index,
                                                      {"term": {"kind": "reward"}})}
    rows = {h["_id"]: h["_source"] for h in every(client, training_rows_index(settings))}
    memory = {h["_id"]: {k: v for k, v in h["_source"].items() if k != "computed_at"}
              for h in every(client, memory_index(settings))}
    q2e = {h["_id"]: h["_source"].get("q2e") for h in every(client, settings.catalog_alias)}
    return rewards, rows, memory, q2e


def recomputed(client, settings, now):
    """Every output from scratch, one key at a time, straight from the logs (the rule the
    consumers implement): reward docs and training rows per logged request from all its
    events; per (key, entity) pair with weighted events, its newest events up to ``now``
    and its impressions summed by the engine, scored; each entity's map from its pairs."""
    feedback, config = FeedbackConfig(), MemoryConfig()
    queries = {h["_id"]: h["_source"] for h in every(client, settings.ubi_queries_index)}
    events = [h["_source"] for h in every(client, settings.ubi_events_index)]
    by_query: dict[str, list] = {}
    for e in events:
        by_query.setdefault(e["query_id"], []).append(e)
    rewards, rows = {}, {}
    for query_id, query in queries.items():
        for doc_id, doc in reward_docs(query, by_query.get(query_id, []), feedback, now):
            rewards[doc_id] = doc
        if by_query.get(query_id):
            for row in training_rows(query, by_query[query_id], feedback):
                rows[f"{query_id}:{row['doc_id']}"] = row
    pairs: dict[tuple[str, str], list] = {}
    for e in events:
        if e.get("joined") and e.get("q2e_key") and feedback.weight(e["action_name"]) > 0:
            pairs.setdefault((e["q2e_key"], e["event_attributes"]["object"]["object_id"]),
                             []).append(e)
    now_ms = int(now.timestamp() * 1000)
    memory = {}
    for (key, entity), pair_events in sorted(pairs.items()):
        counted = sorted((e for e in pair_events if parse_timestamp(e["timestamp"]) <= now),
                         key=lambda e: e["timestamp"], reverse=True)
        shown = client.search(index=settings.ubi_queries_index, body={
            "size": 1, "track_total_hits": True, "query": {"bool": {"filter": [
                {"term": {"q2e_key": key}}, {"term": {"query_response_hit_ids": entity}},
                {"range": {"timestamp": {"lte": now_ms, "format": "epoch_millis"}}}]}},
            "aggs": {"decayed": {"sum": {"script": {"source": _DECAYED_SUM, "params": {
                "now": now_ms, "half_life_ms": config.half_life_days * 86400_000.0}}}}}})
        hits = shown["hits"]["hits"]
        query = (hits[0]["_source"]["normalized"] if hits
                 else counted[0]["normalized"] if counted else "")
        evidence = score_pair(
            key, query, entity,
            [PairEvent(e["client_id"], e["action_name"], parse_timestamp(e["timestamp"]))
             for e in counted[:config.max_events_per_pair]],
            impressions=float(shown["aggregations"]["decayed"]["value"] or 0.0),
            impressions_raw=shown["hits"]["total"]["value"], weights=feedback.weights,
            config=config, now=now).doc()
        evidence.pop("computed_at")
        memory[f"observed:{key}:{entity}"] = evidence
    q2e = {}
    for row in CATALOG:
        merged = merge_q2e([d for d in memory.values() if d["entity_id"] == row["id"]],
                           config.max_pairs_per_entity)
        q2e[row["id"]] = merged or None
    return rewards, rows, memory, q2e


def traffic(client, settings):
    """Searches and events in three waves; each wave is consumed before the next."""
    earlier = NOW - 30 * HOUR
    yield lambda: (
        log_search(client, settings, [
            search(client, settings, "Beyoncé Halo", "r1", ["t1", "t2", "t3"], "u1", earlier),
            search(client, settings, "halo", "r2", ["t2", "t1"], "u2", earlier),
            search(client, settings, "crazy in love", "r3", ["t3", "t1"], "u3", earlier)],
            refresh="wait_for"),
        ingest_events(client, settings, [
            event("r1", "t1", "play", "u1", earlier), event("r1", "t2", "click", "u1", earlier),
            event("r1", "t3", "impression", "u1", earlier),
            *[event("r2", "t2", "play", "u9", earlier + i * HOUR / 10, n=i) for i in range(5)],
            event("r3", "t3", "add_to_favorites", "u3", earlier),
            event("late", "t3", "play", "u4", earlier)]))  # its search is logged later
    yield lambda: (
        ingest_events(client, settings, [
            event("r1", "t3", "click", "u5", NOW - 2 * HOUR),  # t3's impression now engaged
            event("r2", "t1", "click", "u6", NOW - 2 * HOUR),
            event("r3", "t3", "play", "u7", NOW + HOUR)]),  # stamped after the scoring clock
        log_search(client, settings, search(client, settings, "beyonce halo", "late",
                                            ["t3", "t1"], "u4", earlier), refresh="wait_for"))
    yield lambda: (
        # The same request logged again, later and showing more: replaces the first doc.
        log_search(client, settings, search(client, settings, "Beyoncé Halo", "r1",
                                            ["t1", "t2", "t3", "p1"], "u1", NOW - HOUR),
                   refresh="wait_for"),
        ingest_events(client, settings, [
            event("r1", "p1", "play", "u8", NOW - HOUR),
            *[event("r2", "t2", "play", "u9", NOW - HOUR + i * HOUR / 10, n=10 + i)
              for i in range(4)]]))


def test_incremental_consumers_end_where_a_recompute_of_the_logs_from_scratch_ends(
        client, settings):
    make_catalog(client, settings)
    first, restarted = consumers(client, settings), consumers(client, settings, cache_keys=1)
    waves = traffic(client, settings)
    next(waves)()
    run_consumers(client, settings, first, now=NOW, settle_seconds=0, page_size=4)
    next(waves)()
    # A second worker takes over (first's checkpoints move under it) with room for one key
    # only: it reads what it does not hold from the logs, in one-doc batches, one at a time.
    run_consumers(client, settings, restarted, now=NOW, settle_seconds=0, page_size=1,
                  parallel=False)
    next(waves)()
    run_consumers(client, settings, first, now=NOW, settle_seconds=0, page_size=3)
    got, expected = outputs(client, settings), recomputed(client, settings, NOW)
    for name, mine, theirs in zip(("rewards", "training rows", "memory", "catalog q2e"), got,
                                  expected, strict=True):
        assert mine == theirs, name
    assert got[0]["r1:bm25"]["reward"] == 1.0 and got[3]["p1"]  # the waves reached everything


def test_consumers_holding_an_entitys_memory_see_a_seed_that_ran_since(client, settings):
    make_catalog(client, settings)
    kept = consumers(client, settings)
    log_search(client, settings, search(client, settings, "halo", "r1", ["t1", "t2"], "u1"),
               refresh="wait_for")
    ingest_events(client, settings, [event("r1", "t1", "play", "u1")])
    run_consumers(client, settings, kept, now=NOW, settle_seconds=0)  # t1's docs now held
    seed_memory(client, settings)  # predicted docs for every entity, t1's too
    ingest_events(client, settings, [event("r1", "t1", "play", "u2")])
    run_consumers(client, settings, kept, now=NOW, settle_seconds=0)
    client.indices.refresh(index=memory_index(settings))
    docs, complete = entity_memory(client, settings, ["t1"], MemoryConfig())["t1"]
    assert complete and {d["source"] for d in docs.values()} == {"predicted", "observed"}
    stored = client.get(index=settings.catalog_alias, id="t1")["_source"]["q2e"]
    assert stored == merge_q2e(docs.values(), MemoryConfig().max_pairs_per_entity)


def test_a_cache_is_dropped_when_another_process_moved_the_checkpoints():
    cache: KeyCache[set] = KeyCache(10)
    start = {"queries": (None, 0), "events": (None, 0)}
    assert not cache.follow(start) and cache.complete  # nothing applied yet: all is held
    cache.put("r1", {("t1", "play")})
    cache.saved("events", ([1, "a"], 1))
    assert cache.follow({**start, "events": ([1, "a"], 1)}) and cache.get("r1")
    assert not cache.follow({**start, "events": ([2, "b"], 2)})  # someone else's position
    assert cache.get("r1") is None and not cache.complete
    cache.put("r2", {("t2", "click")})
    assert not cache.follow({**start, "events": ([2, "b"], 2)}, version="seeded again")
    assert cache.get("r2") is None


def test_a_cache_that_lets_a_key_go_no_longer_claims_to_hold_every_key():
    cache: KeyCache[int] = KeyCache(2)
    cache.follow({"events": (None, 0)})
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")  # used last: "b" is the one to go
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert not cache.complete


class Broken(TrainingSetConsumer):
    def apply(self, query_ids, now=None):
        raise RuntimeError("disk full")


def test_a_failing_consumer_stops_alone_and_its_failure_is_raised_after_the_others_ran(
        client, settings):
    make_catalog(client, settings)
    log_search(client, settings, search(client, settings, "halo", "r1", ["t1", "t2"], "u1"),
               refresh="wait_for")
    ingest_events(client, settings, [event("r1", "t1", "play", "u1")])
    with pytest.raises(RuntimeError, match="disk full"):
        run_consumers(client, settings, [Broken(client, settings),
                                         RewardConsumer(client, settings)], settle_seconds=0)
    lags = {(lag.consumer, lag.log): lag.behind for lag in consumer_lag(client, settings)}
    assert lags[("rewards", "events")] == 0 and lags[("training", "queries")] == 1
    assert client.get(index=settings.state_index, id="r1:bm25")["_source"]["reward"] == 1.0
