"""How ``ltrr serve`` degrades when the engine misbehaves, against the real node: an index
blocked read-only as the disk watermark blocks it, a node that stops answering (the circuit
breaker) and a slow node (the client timeout). Network faults come from a TCP forwarder in
front of the real node (tests/faults.py); the engine itself is never mocked."""

from __future__ import annotations

import sys
import time
from urllib.parse import urlsplit

import pytest

from tests.faults import FaultProxy
from tests.test_service import catalog, count, play, policy, serving  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

QUIET = ("--resync", "600", "--flush", "600")  # no background engine calls mid-test


def _search(api, query: str = "love"):
    return api.post("/search", json={"query": query, "k": 3})


@pytest.fixture()
def proxy(settings):
    fault = FaultProxy(urlsplit(settings.urls[0]).port or 9200)
    yield fault
    fault.close()


def test_events_for_an_index_blocked_read_only_get_503_saying_why_and_none_is_acked(
        catalog, client, policy):  # noqa: F811
    with serving(catalog, "--policy", policy) as api:
        rid = _search(api).json()["request_id"]
        first = api.post("/events", json=play(rid, "t1", "u1", 0))
        assert first.status_code == 200, first.text
        index = catalog.ubi_events_index
        client.indices.put_settings(index=index, body={
            "index.blocks.read_only_allow_delete": True})
        try:
            blocked = api.post("/events", json=[play(rid, "t1", "u1", n) for n in (1, 2, 3)])
            assert blocked.status_code == 503, blocked.text
            assert "read-only-allow-delete" in blocked.json()["error"]
            assert "accepted" not in blocked.json()  # nothing acknowledged
            assert int(blocked.headers["retry-after"]) >= 1
            assert count(client, index) == 1
            assert count(client, catalog.deadletter_index) == 0  # not the events' fault
        finally:
            client.indices.put_settings(index=index, body={
                "index.blocks.read_only_allow_delete": None})
        again = api.post("/events", json=[play(rid, "t1", "u1", n) for n in (1, 2, 3)])
        assert again.status_code == 200 and again.json()["accepted"] == 3, again.text
        assert count(client, index) == 4


def test_the_breaker_opens_after_consecutive_engine_failures_and_a_probe_closes_it(
        catalog, policy, proxy):  # noqa: F811
    with serving(catalog, "--policy", policy, "--breaker-failures", "3",
                 "--breaker-cooldown", "2", *QUIET, url=proxy.url) as api:
        assert _search(api).status_code == 200
        proxy.cut()
        for _ in range(3):
            failed = _search(api)
            assert failed.status_code == 503, failed.text
            assert "unavailable" in failed.json()["error"]
        tried = proxy.refused
        started = time.monotonic()
        fast = _search(api)
        events = api.post("/events", json=play("r0", "t1", "u1", 0))
        assert time.monotonic() - started < 0.5  # answered without calling the engine
        assert proxy.refused == tried
        for answer in (fast, events):
            assert answer.status_code == 503 and answer.json()["circuit"] == "open", answer.text
            assert "3 engine failures in a row" in answer.json()["error"]
            assert 1 <= int(answer.headers["retry-after"]) <= 2
        assert api.get("/ready").json()["checks"]["circuit"] == "open"

        proxy.heal()
        time.sleep(int(fast.headers["retry-after"]) + 0.1)
        probe = _search(api)  # half open: this request goes through and closes it
        assert probe.status_code == 200, probe.text
        assert api.get("/ready").json()["checks"]["circuit"] == "closed"
        metrics = api.get("/metrics").text
        assert 'ltrr_errors_total{endpoint="/search",kind="circuit_open"} 1.0' in metrics


def test_a_probe_that_fails_opens_the_breaker_again(catalog, policy, proxy):  # noqa: F811
    with serving(catalog, "--policy", policy, "--breaker-failures", "1",
                 "--breaker-cooldown", "1", *QUIET, url=proxy.url) as api:
        assert _search(api).status_code == 200
        proxy.cut()
        assert "unavailable" in _search(api).json()["error"]
        assert _search(api).json()["circuit"] == "open"
        time.sleep(1.1)
        tried = proxy.refused
        probe = _search(api)
        assert probe.status_code == 503 and "circuit" not in probe.json(), probe.text
        assert proxy.refused > tried  # the probe did reach for the engine
        assert _search(api).json()["circuit"] == "open"


def test_a_slow_node_gets_504_within_the_client_timeout_and_searches_recover(
        catalog, policy, proxy):  # noqa: F811
    # LTRR_OPENSEARCH_TIMEOUT=1: opensearch-py gives up after 1 s per try (2 retries).
    command = ("env", "LTRR_OPENSEARCH_TIMEOUT=1", sys.executable, "-m", "ltrr_opensearch.cli")
    with serving(catalog, "--policy", policy, *QUIET, url=proxy.url, command=command) as api:
        assert _search(api).status_code == 200
        proxy.delay = 5.0
        started = time.monotonic()
        slow = _search(api, "heart")
        took = time.monotonic() - started
        assert slow.status_code == 504, slow.text
        assert "did not answer in time" in slow.json()["error"]
        assert "timed out after 1.0s" in slow.json()["error"]
        assert took < 4 * 1.0 + 1.5  # 3 tries of 1 s, not the node's 5 s per answer
        proxy.delay = 0.0
        assert _search(api, "heart").status_code == 200
