"""The service's circuit breaker and token buckets on a fake clock (no node needed)."""

from __future__ import annotations

import pytest

from ltrr_opensearch.service.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from ltrr_opensearch.service.limits import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_only_after_n_consecutive_failures():
    breaker = CircuitBreaker(3, 10.0, clock=Clock())
    breaker.failed("a")
    breaker.failed("b")
    breaker.succeeded()  # a success in between resets the count
    breaker.failed("c")
    breaker.failed("d")
    assert breaker.state == CLOSED and breaker.admit() is None
    breaker.failed("e")
    assert breaker.state == OPEN and breaker.reason == "e"
    assert breaker.admit() == pytest.approx(10.0)


def test_after_the_cooldown_one_probe_passes_and_the_others_wait_for_it():
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.failed("down")
    clock.now += 4.0
    assert breaker.admit() == pytest.approx(1.0)
    clock.now += 1.5
    assert breaker.admit() is None and breaker.state == HALF_OPEN
    assert breaker.admit() == 1.0  # a second request while the probe is out
    breaker.succeeded()
    assert breaker.state == CLOSED and breaker.admit() is None


def test_a_failed_probe_opens_it_for_a_whole_cooldown_again():
    clock = Clock()
    breaker = CircuitBreaker(2, 5.0, clock=clock)
    breaker.failed("x")
    breaker.failed("x")
    clock.now += 6.0
    assert breaker.admit() is None
    breaker.failed("still down")
    assert breaker.state == OPEN and breaker.admit() == pytest.approx(5.0)
    assert breaker.opens == 2


def test_a_probe_ended_by_bad_input_gives_its_slot_back():
    clock = Clock()
    breaker = CircuitBreaker(1, 1.0, clock=clock)
    breaker.failed("x")
    clock.now += 2.0
    assert breaker.admit() is None
    breaker.released()
    assert breaker.admit() is None  # the next request may probe


def test_token_buckets_allow_a_burst_then_the_rate_per_client():
    clock = Clock()
    buckets = TokenBuckets(2.0, clock=clock)  # burst 4
    assert [buckets.take("a") for _ in range(4)] == [0.0] * 4
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
