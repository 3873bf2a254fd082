"""Strategies that cannot answer a request are found cheaply on the real node."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import pytest

from ltrr_opensearch.feedback.indices import ensure_feedback_indices, memory_index
from ltrr_opensearch.retrieve.msearch import default_q2e_key
from ltrr_opensearch.retrieve.templates import TemplateRegistry
from ltrr_opensearch.select.availability import Availability, MemoryKeys

pytestmark = pytest.mark.integration


def test_memory_without_the_key_and_a_missing_embedder_make_arms_unavailable(client, settings):
    registry = TemplateRegistry.from_settings(settings)
    query = SimpleNamespace(normalized="workout bangers")
    key = default_q2e_key(query.normalized)
    avail = Availability(client, settings, registry, has_vector=False,
                         vector_problem="embedder not loaded")
    before = avail.unavailable(query)
    assert before["q2e_memory"] == f"the memory has nothing for key {key!r}"
    assert before["knn_vector"] == "no query vector (embedder not loaded)"
    assert "bm25_popularity" not in before

    ensure_feedback_indices(client, settings)
    client.index(index=memory_index(settings), id="m1", refresh=True,
                 body={"key": key, "entity_id": "t1", "eligible": True, "value": 1.0})
    avail.memory_keys.refresh()
    assert "q2e_memory" not in avail.unavailable(query)
    assert "q2e_memory" in avail.unavailable(SimpleNamespace(normalized="something else"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class GatedClient:
    """The real client, whose searches wait until the test opens the gate."""

    def __init__(self, client) -> None:
        self.client, self.gate, self.waiting = client, threading.Event(), threading.Event()
        self.gate.set()

    def search(self, **kwargs):
        self.waiting.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return self.client.search(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def remember(client, settings, key: str, eligible: bool = True, computed_at: str | None = None):
    doc = {"key": key, "entity_id": "e1", "source": "observed", "eligible": eligible,
           "value": 1.0}
    if computed_at:
        doc["computed_at"] = computed_at
    client.index(index=memory_index(settings), id=f"observed:{key}", body=doc, refresh=True)


@pytest.fixture()
def memory(client, settings):
    ensure_feedback_indices(client, settings)
    return memory_index(settings)


def test_a_stale_set_is_served_at_once_and_the_new_key_after_the_background_read(
        client, settings, memory):
    remember(client, settings, "old")
    clock, gated = Clock(), GatedClient(client)
    keys = MemoryKeys(gated, memory, refresh_seconds=30, clock=clock)
    assert "old" in keys and "new" not in keys
    remember(client, settings, "new")
    clock.now += 31
    gated.gate.clear()
    gated.waiting.clear()
    assert "new" not in keys  # stale: answered from the old set, the read runs behind
    assert gated.waiting.wait(5), "no background read started"
    assert "old" in keys and "new" not in keys  # the read is still held at the gate
    gated.gate.set()
    keys.join(10)
    assert "new" in keys and "old" in keys


def test_a_delta_read_adds_a_new_key_without_a_full_read(client, settings, memory):
    for key in ("a", "b", "c", "d", "e"):
        remember(client, settings, key)
    keys = MemoryKeys(client, memory, page_size=3, seq_no_margin=0)
    keys.refresh()
    assert keys.reads == {"full": 1, "delta": 0, "pages": 2, "errors": 0}
    # computed_at older than every other doc's (a replay stamps simulated time, the seed
    # wall-clock time): the write order, not the writer's clock, makes it new.
    remember(client, settings, "f", computed_at="2001-01-01T00:00:00.000Z")
    assert keys.refresh() == {"a", "b", "c", "d", "e", "f"}
    assert keys.reads == {"full": 1, "delta": 1, "pages": 3, "errors": 0}


def test_a_key_made_ineligible_disappears_at_the_next_full_read(client, settings, memory):
    remember(client, settings, "gone")
    remember(client, settings, "kept")
    clock = Clock()
    keys = MemoryKeys(client, memory, clock=clock, full_every_seconds=600)
    keys.refresh()
    remember(client, settings, "gone", eligible=False)
    assert "gone" in keys.refresh()  # a delta read only adds keys
    clock.now += 600
    assert keys.refresh() == {"kept"}
    assert (keys.reads["full"], keys.reads["delta"]) == (2, 1)


def test_an_engine_error_in_a_background_read_keeps_the_set_and_is_logged_once(
        client, settings, memory, caplog):
    remember(client, settings, "kept")
    clock = Clock()
    keys = MemoryKeys(client, memory, refresh_seconds=30, clock=clock)
    keys.refresh()
    client.indices.close(index=memory)
    try:
        with caplog.at_level(logging.WARNING, logger="ltrr_opensearch.select.availability"):
            for _ in range(2):
                clock.now += 31
                assert "kept" in keys  # stale, and the background read fails: no raise
                keys.join(10)
        assert keys.reads["errors"] == 2
        assert keys.keys() == {"kept"}
        ours = [r for r in caplog.records if r.name == "ltrr_opensearch.select.availability"]
        assert len(ours) == 1 and memory in ours[0].getMessage()
    finally:
        client.indices.open(index=memory, wait_for_active_shards=1)
    remember(client, settings, "later")
    clock.now += 31
    assert "later" not in keys
    keys.join(10)
    assert "later" in keys


def test_a_recreated_memory_index_is_read_in_full(client, settings, memory):
    remember(client, settings, "before")
    keys = MemoryKeys(client, memory)
    keys.refresh()
    client.indices.delete(index=memory)
    ensure_feedback_indices(client, settings)
    remember(client, settings, "after")
    assert keys.refresh() == {"after"}
    assert keys.reads["full"] == 2
