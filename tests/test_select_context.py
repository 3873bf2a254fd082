"""The bandit's context on the real node: it reads the memory's keys and the serving
policy's layout, the clock only when configured; a new deployment runs every strategy;
bandit state of an older context layout keeps serving."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder
from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.feedback.indices import ensure_feedback_indices, memory_index
from ltrr_opensearch.loop import serving_config
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.select import Learner, Observation
from ltrr_opensearch.select.config import with_clock
from ltrr_opensearch.service.state import PublishedSelector
from ltrr_opensearch.understand import q2e_key

pytestmark = pytest.mark.integration

ROWS = [
    {"id": "heavy-metal-classic", "entity_type": "playlist", "title": "Heavy Metal Classic",
     "genres": ["metal"], "popularity": 40, "release_date": "2010-01-01"},
    {"id": "enter-sandman", "entity_type": "track", "title": "Enter Sandman",
     "artist": "Metallica", "genres": ["metal"], "popularity": 90,
     "release_date": "1991-07-29"},
    {"id": "metallica", "entity_type": "artist", "title": "Metallica", "popularity": 95},
    {"id": "blue-in-green", "entity_type": "track", "title": "Blue in Green",
     "artist": "Miles Davis", "genres": ["jazz"], "popularity": 60,
     "release_date": "1959-08-17"},
]


@pytest.fixture()
def catalog(client, settings, tmp_path):
    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    load_catalog(client, settings, path, embedder=make_fresh_embedder("tfidf"), quiet=True)
    ensure_feedback_indices(client, settings)
    resources.clear()
    yield settings
    resources.clear()


def remember(client, settings, query: str, entity_id: str) -> None:
    """What the memory updater writes: evidence in the memory index, the score on the doc."""
    key = q2e_key(query)
    client.index(index=memory_index(settings), id=f"observed:{key}", refresh=True, body={
        "key": key, "entity_id": entity_id, "source": "observed", "eligible": True,
        "value": 1.0})
    client.update(index=settings.catalog_alias, id=entity_id, refresh=True,
                  body={"doc": {"q2e": {key: 5.0}}})


def serving_pipeline(client, settings, config=None) -> Pipeline:
    config = config or serving_config(settings)
    selector = PublishedSelector(Learner.load(client, settings, config))
    return Pipeline.from_cluster(client, settings, selector=selector)


def test_the_context_says_whether_the_memory_knows_the_query(client, catalog):
    pipeline = serving_pipeline(client, catalog)
    before = pipeline.understand("headbanging").context
    assert dict(zip(before.names, before.values, strict=True))["memory_available"] == 0.0
    remember(client, catalog, "headbanging", "heavy-metal-classic")
    pipeline.availability.memory_keys.refresh()
    after = pipeline.understand("Headbanging").context
    assert dict(zip(after.names, after.values, strict=True))["memory_available"] == 1.0


def test_the_clock_reaches_the_context_only_when_the_policy_turns_it_on(client, catalog):
    plain = serving_pipeline(client, catalog)
    hours = {plain.understand("metallica", now=datetime(2024, 1, h % 7 + 1, h,
                                                        tzinfo=timezone.utc)).context
             for h in range(0, 24, 5)}
    assert len(hours) == 1 and next(iter(hours)).version == "ctx-v3"
    timed = serving_pipeline(client, catalog, with_clock(serving_config(catalog), True))
    context = timed.understand("metallica").context
    assert context.version == "ctx-v3+clock" and "hour_sin" in context.names
    assert timed.search("metallica", log=False).shown  # the bandit reads that layout


def test_a_new_deployment_runs_every_strategy_that_can_answer(client, catalog):
    response = serving_pipeline(client, catalog).search("metallica", log=False)
    assert {c.arm for c in response.choices} == {
        "bm25_popularity", "structured_qu", "knn_vector", "fresh_releases"}  # no memory key
    assert all(c.k == 100 and c.propensity == 1.0 for c in response.choices)
    assert response.explanation.plan == "all"
    assert response.shown[0].id == "metallica"


def test_a_query_the_memory_knows_is_served_on_day_one_at_every_hour(client, catalog):
    remember(client, catalog, "headbanging", "heavy-metal-classic")
    pipeline = serving_pipeline(client, catalog)
    for hour in (0, 7, 13, 21):
        now = datetime(2024, 3, 2, hour, 30, tzinfo=timezone.utc)
        response = pipeline.search("headbanging", now=now, log=False)
        assert "q2e_memory" in {c.arm for c in response.choices}, hour
        assert response.shown[0].id == "heavy-metal-classic", hour




def old_observations(n: int) -> list[Observation]:
    return [Observation(f"old{i}", arm, 1.0, "ctx-v2", (1.0,) + (0.0,) * 26,
                        logged_at=1_700_000_000_000 + i)
            for i in range(n) for arm in ("bm25_popularity", "structured_qu")]


def test_state_learned_on_an_older_context_keeps_serving(client, catalog, caplog):
    config = serving_config(catalog)
    # What an older ltrr left: its observations and a snapshot of arrays over ctx-v2.
    older = Learner(client, catalog, replace(config, context_version=None, settle_seconds=0))
    older.record(old_observations(30), refresh="wait_for")
    assert older.sync().committed and older.bandit.context_version == "ctx-v2"

    with caplog.at_level(logging.WARNING, logger="ltrr_opensearch.select.learner"):
        learner = Learner.load(client, catalog, replace(config, settle_seconds=0))
    assert "60 observations of ctx-v2 kept in the log but not learned from" in caplog.text
    assert learner.bandit.observations == 0 and learner.bandit.context_version == "ctx-v3"
    pipeline = Pipeline.from_cluster(client, catalog, selector=learner)
    response = pipeline.search("metallica", log=False)
    assert response.explanation.plan == "all" and response.shown

    with pytest.raises(ValidationError, match="ctx-v2"):  # refused, never mis-read
        learner.record(old_observations(1))
    context = response.understanding.context
    learner.record([Observation("new1", "bm25_popularity", 1.0, context.version,
                                context.values, logged_at=int(time.time() * 1000) - 1000)],
                   refresh="wait_for")
    learner.sync()
    assert learner.bandit.counts["bm25_popularity"] == 1


def test_an_experiment_variant_s_policy_reads_the_serving_layout(client, catalog, tmp_path):
    from ltrr_opensearch.experiment.flags import FlagSource, Variant

    flags = tmp_path / "flags.json"
    flags.write_text('{"flags": {}}')
    source = FlagSource.from_file(str(flags))
    timed = serving_pipeline(client, catalog, with_clock(serving_config(catalog), True))
    variant = source.selector(Variant(policy="lints"), timed.selector, client, catalog)
    assert variant.config.name == "lints" and variant.context_spec.clock
    context = timed.understand("metallica").context
    assert variant.select(context, seed=0).choices  # no layout mismatch
