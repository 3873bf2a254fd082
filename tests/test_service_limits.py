"""Size and rate limits of ``ltrr serve``, as a real server process against the real node."""

from __future__ import annotations

import json

import pytest

from tests.test_service import catalog, play, policy, serving  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _chunks(total: int, size: int = 64 * 1024):
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        yield b" " * part
        sent += part


def test_a_client_over_its_rate_gets_429_with_retry_after_and_the_probes_are_never_limited(
        catalog, policy):  # noqa: F811
    with serving(catalog, "--policy", policy, "--rate-limit", "1") as api:
        answers = [api.post("/search", json={"query": "love", "k": 2}) for _ in range(6)]
        statuses = [a.status_code for a in answers]
        assert statuses[:2] == [200, 200], statuses  # a burst of 2
        limited = [a for a in answers if a.status_code == 429]
        assert limited, statuses
        assert "at most 1 per second" in limited[0].json()["error"]
        assert int(limited[0].headers["retry-after"]) >= 1
        assert limited[0].headers["x-request-id"] == limited[0].json()["request_id"]
        assert all(api.get("/health").status_code == 200 for _ in range(5))
        assert 'kind="rate_limited"' in api.get("/metrics").text


def test_a_chunked_body_over_the_limit_is_refused_with_413_and_one_under_it_is_served(
        catalog, policy):  # noqa: F811
    with serving(catalog, "--policy", policy) as api:
        huge = api.post("/events", content=_chunks(2 * MiB),
                        headers={"content-type": "application/json"})
        assert huge.status_code == 413, huge.text
        assert "larger than 1048576 bytes" in huge.json()["error"]
        rid = api.post("/search", json={"query": "love"}).json()["request_id"]
        body = json.dumps([play(rid, "t1", "u", n) for n in range(3)]).encode()
        small = api.post("/events", content=iter([body[:40], body[40:]]),
                         headers={"content-type": "application/json"})
        assert small.status_code == 200 and small.json()["accepted"] == 3, small.text
