"""`ltrr demo` end to end on the real node (small: TF-IDF vectors, 60 searches)."""

from __future__ import annotations

import pytest

from ltrr_opensearch.cli import main

pytestmark = pytest.mark.integration


def test_demo_loads_chinook_learns_from_traffic_and_explains_searches(
        settings, client, monkeypatch, capsys):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    assert main(["demo", "--searches", "60", "--embedder", "tfidf", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "4168 indexed" in out
    assert "what the bandit learned" in out
    assert '"metallica"' in out and "[artist] Metallica" in out
    assert client.count(index=settings.ubi_queries_index)["count"] >= 60 + 5  # + examples
