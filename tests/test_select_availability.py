"""Strategies that cannot answer a request are found cheaply on the real node."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ltrr_opensearch.feedback.indices import ensure_feedback_indices, memory_index
from ltrr_opensearch.retrieve.msearch import default_q2e_key
from ltrr_opensearch.retrieve.templates import TemplateRegistry
from ltrr_opensearch.select.availability import Availability

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
    avail.memory_keys.invalidate()
    assert "q2e_memory" not in avail.unavailable(query)
    assert "q2e_memory" in avail.unavailable(SimpleNamespace(normalized="something else"))
