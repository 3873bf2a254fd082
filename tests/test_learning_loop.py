"""The whole loop on the real node: simulated users -> pipeline -> events -> feedback ->
bandit and memory. Small world (1k entities), TF-IDF vectors, a few hundred searches."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

import pytest

from ltrr_opensearch.evaluate.experiment import (
    clone_world,
    embed_world,
    prepare_policy_indices,
    prepare_world,
    run_policy,
    scratch_folder,
)
from ltrr_opensearch.evaluate.harness import Policy, Replay, single
from ltrr_opensearch.feedback.indices import memory_index
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.select.config import load_config
from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config
from ltrr_opensearch.simulate.queries import INTENT_FAVOURS
from ltrr_opensearch.simulate.reformulate import Reformulator

pytestmark = pytest.mark.integration

WORLD = "configs/worlds/small.toml"
STRATEGIES = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases")


@pytest.fixture(scope="module")
def world():
    sim = load_sim_config(WORLD)
    world = World.generate(sim)
    return sim, world, embed_world(list(world.rows()), "tfidf", scratch_folder())


@pytest.fixture(autouse=True)
def _fresh_caches():
    resources.clear()
    yield
    resources.clear()


def test_each_intent_is_best_served_by_the_strategy_it_favours(world, client, settings):
    sim, w, data = world
    queries = QueryStream(w, sim).take(240)
    prepared = settings.with_overrides(index_prefix=f"{settings.index_prefix}-world")
    prepare_world(client, prepared, data)
    recall: dict[tuple[str, str], list[float]] = defaultdict(list)
    for strategy in STRATEGIES:
        outcomes = run_policy(client, settings, data, single(strategy, 100), queries,
                              ClickModel(sim, seed=1), batch=60,
                              follow_up=Reformulator(w, seed=3),
                              prepared=prepared.index_prefix)
        for o in outcomes:
            if o.intent != "reformulation":
                recall[(strategy, o.intent)].append(o.recall)
    for intent, favoured in INTENT_FAVOURS.items():
        if intent == "reformulation":
            continue
        mine = mean(recall[(favoured, intent)])
        others = {s: mean(recall[(s, intent)]) for s in STRATEGIES if s != favoured}
        assert mine > 0, f"{favoured} never found the target of a {intent} query"
        assert mine >= max(others.values()), (intent, mine, others)


def test_a_cloned_world_is_a_private_copy_that_finds_its_own_embedder(world, client, settings):
    sim, w, data = world
    source = settings.with_overrides(index_prefix=f"{settings.index_prefix}-src")
    assert prepare_world(client, source, data) is True
    assert prepare_world(client, source, data) is False  # complete already: kept, not rebuilt
    copy = settings.with_overrides(index_prefix=f"{settings.index_prefix}-copy")
    clone_world(client, source.index_prefix, copy)

    concrete = list(client.indices.get_alias(name=copy.catalog_alias))
    assert concrete and all(name.startswith(f"{copy.index_prefix}-") for name in concrete)
    assert client.count(index=copy.catalog_alias)["count"] == data.rows
    before = client.count(index=memory_index(source))["count"]
    client.index(index=memory_index(copy), body={"key": "only_in_the_copy", "eligible": True},
                 refresh=True)
    assert client.count(index=memory_index(source))["count"] == before

    client.indices.delete(index=f"{source.index_prefix}-*", expand_wildcards="all")
    pipeline = Pipeline.from_cluster(client, copy)  # its own embedder state, nothing of source
    assert pipeline.embed_query is not None
    query = QueryStream(w, sim).take(1)[0]
    response = pipeline.search(query.text, strategies=[("knn_vector", 10)], now=query.timestamp,
                               log=False)
    assert response.candidates and not any(r.error for r in response.results)


def test_feedback_teaches_the_bandit_and_the_memory_through_the_real_indices(
        world, client, settings):
    sim, w, data = world
    prepare_policy_indices(client, settings, data)
    pipeline = Pipeline.from_cluster(client, settings)
    replay = Replay(pipeline, Policy("linucb", bandit=load_config("configs/policies/linucb.toml")),
                    ClickModel(sim, seed=1), batch=40, follow_up=Reformulator(w, seed=3))
    outcomes = replay.run(QueryStream(w, sim).take(160))

    logged = client.count(index=settings.ubi_queries_index)["count"]
    assert logged == len(outcomes)  # every search served was logged, follow-ups included
    # Every arm that ran for every logged search became exactly one observation.
    arms_run = sum(o.subsearches for o in outcomes)
    assert replay.learner.bandit.observations == arms_run
    # Slang (head) queries were learned from reformulations: memory now serves them.
    head = [q for q in QueryStream(w, sim).take(160) if q.intent == "head"]
    assert head, "the stream has head queries"
    found = [q.target in {c.id for c in pipeline.search(q.text, strategies=[("q2e_memory", 10)],
                                                        now=q.timestamp).candidates}
             for q in head]
    assert mean(found) > 0.3
    # ... and the bandit may choose it for them: after each cycle the replay re-reads the
    # memory's keys, so every key the cycles made eligible is available. (The cycles stamp
    # simulated time, before the seed's wall-clock stamps: a clock watermark would hide them.)
    learned = client.search(index=memory_index(settings), body={
        "size": 0, "query": {"bool": {"filter": [{"term": {"eligible": True}},
                                                 {"term": {"source": "observed"}}]}},
        "aggs": {"keys": {"terms": {"field": "key", "size": 10_000}}}})
    learned = {b["key"] for b in learned["aggregations"]["keys"]["buckets"]}
    assert learned and learned <= pipeline.availability.memory_keys.keys()


def test_closing_rewards_again_from_scratch_records_only_duplicates(world, client, settings):
    sim, w, data = world
    prepare_policy_indices(client, settings, data)
    replay = Replay(Pipeline.from_cluster(client, settings),
                    Policy("linucb", bandit=load_config("configs/policies/linucb.toml")),
                    ClickModel(sim, seed=1), batch=1000)
    queries = QueryStream(w, sim).take(30)
    replay.run(queries)
    learned = replay.learner.bandit.observations
    replay.learner.store.put_marker("rewards-closed", 0)  # as if a worker lost its marker
    again = replay.learner.learn_from_rewards(now=int(queries[-1].timestamp.timestamp() * 1000) + 1)
    assert again.created == 0 and again.duplicates == learned > 0
