"""`ltrr demo` end to end on the real node (small: TF-IDF vectors, 60 searches)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ltrr_opensearch.cli import main
from tests.test_select_context import remember, serving_pipeline

pytestmark = pytest.mark.integration


def test_demo_loads_chinook_learns_from_traffic_and_explains_searches(
        settings, client, monkeypatch, capsys):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    assert main(["demo", "--searches", "60", "--embedder", "tfidf", "--seed", "498878",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "4168 indexed" in out
    assert "what the bandit learned" in out
    assert '"metallica"' in out and "[artist] Metallica" in out
    assert client.count(index=settings.ubi_queries_index)["count"] >= 60 + 5  # + examples

    # The showcase: once the memory knows "headbanging" (a nickname no catalog text
    # contains), the bandit the demo trained serves it from the memory at any hour.
    remember(client, settings, "headbanging", "chinook-playlist-17")  # Heavy Metal Classic
    pipeline = serving_pipeline(client, settings)
    pipeline.availability.memory_keys.refresh()
    for hour in (2, 9, 15, 22):
        now = datetime(2026, 6, 6, hour, 40, tzinfo=timezone.utc)
        response = pipeline.search("headbanging", k=3, now=now, seed=0, log=False)
        assert response.explanation.plan == "learned", hour
        assert "q2e_memory" in {c.arm for c in response.choices}, hour
        assert response.shown[0].source["title"] == "Heavy Metal Classic", hour
