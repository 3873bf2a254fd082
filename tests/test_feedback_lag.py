"""How far the consumers are behind, on the real node: read from their checkpoints, printed
by ``ltrr worker --status``, logged by each worker cycle and exposed on ``/metrics``."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.feedback import ingest_events, log_search, run_consumers
from ltrr_opensearch.feedback.lag import consumer_lag
from ltrr_opensearch.loop import run_cycle
from tests.test_memory import event, search
from tests.test_service import catalog, policy, serving  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


def traffic(client, settings, events=3):
    log_search(client, settings, [search(client, settings, "halo", "r1", ["t1", "t2"], "u1"),
                                  search(client, settings, "love", "r2", ["t3"], "u2")],
               refresh="wait_for")
    ingest_events(client, settings, [event("r1", "t1", "play", f"u{n}", n=n)
                                     for n in range(events)])
    client.indices.refresh(index=f"{settings.ubi_queries_index},{settings.ubi_events_index}")


def by_log(lags):
    return {(lag.consumer, lag.log): lag for lag in lags}


def test_lag_counts_what_arrived_after_each_checkpoint_and_how_long_it_waited(client,
                                                                             settings):
    traffic(client, settings)
    before = by_log(consumer_lag(client, settings,
                                 now=datetime.now(timezone.utc) + timedelta(seconds=30)))
    assert {(c, log) for c, log in before} == {(c, log) for c in ("rewards", "memory", "training")
                                                 for log in ("queries", "events")}
    assert before[("memory", "events")].behind == 3 and before[("rewards", "queries")].behind == 2
    assert before[("memory", "events")].seconds_behind >= 30  # the oldest has waited that long
    assert before[("memory", "events")].checkpoint is None
    run_consumers(client, settings, settle_seconds=0)
    ingest_events(client, settings, [event("r2", "t3", "click", "u9")])
    client.indices.refresh(index=settings.ubi_events_index)
    after = by_log(consumer_lag(client, settings))
    assert (after[("memory", "events")].behind, after[("memory", "events")].processed) == (1, 3)
    assert after[("memory", "queries")].behind == 0
    assert after[("memory", "queries")].seconds_behind == 0.0
    assert after[("memory", "events")].checkpoint is not None


def test_worker_status_prints_each_consumers_lag_and_a_cycle_logs_what_is_left(
        client, settings, capsys, monkeypatch):
    traffic(client, settings)
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    assert main(["worker", "--status", "--json", "--url", settings.urls[0]]) == 0
    status = json.loads(capsys.readouterr().out)["consumers"]
    assert {(s["consumer"], s["log"], s["behind"]) for s in status if s["log"] == "events"} == {
        ("rewards", "events", 3), ("memory", "events", 3), ("training", "events", 3)}
    assert run_cycle(client, settings, settle_seconds=0).behind == 0
    assert main(["worker", "--status", "--url", settings.urls[0]]) == 0
    table = capsys.readouterr().out.splitlines()
    assert main(["worker", "--json", "--url", settings.urls[0]]) == 2  # --json alone: refused
    assert "--json goes with --status" in capsys.readouterr().err
    assert table[0].split() == ["consumer", "log", "processed", "behind", "seconds", "checkpoint"]
    assert table[2].split()[:4] == ["rewards", "events", "3", "0"]


def metric(text: str, name: str, consumer: str, log: str) -> float | None:
    found = re.search(rf'^{name}{{consumer="{consumer}",log="{log}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


def test_the_service_exposes_the_consumers_lag_on_metrics(catalog, client, policy):  # noqa: F811
    with serving(catalog, "--policy", policy) as api:
        traffic(client, catalog)

        def wait_for(behind):
            deadline = time.monotonic() + 20  # re-read every resync interval (0.3 s here)
            while time.monotonic() < deadline:
                text = api.get("/metrics").text
                if metric(text, "ltrr_consumer_behind_docs", "memory", "events") == behind:
                    return text
                time.sleep(0.3)
            raise AssertionError(f"behind never read {behind}: {text[-2000:]}")

        text = wait_for(3.0)
        assert metric(text, "ltrr_consumer_lag_seconds", "memory", "events") > 0
        assert "ltrr_consumer_lag_read_timestamp_seconds" in text
        run_consumers(client, catalog, settle_seconds=0)
        text = wait_for(0.0)
        assert metric(text, "ltrr_consumer_processed_docs", "training", "events") == 3.0
