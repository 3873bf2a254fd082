"""Strategies run as one _msearch against the real node: each finds what the others miss,
and one failing sub-search never takes the others down."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, timedelta

import pytest

from ltrr_opensearch.errors import ClusterUnreachable
from ltrr_opensearch.retrieve.catalog import offline_catalog
from ltrr_opensearch.retrieve.msearch import prepare_searches, run_strategies
from ltrr_opensearch.retrieve.templates import TemplateRegistry
from ltrr_opensearch.types import ArmChoice, ContextVector, Slot, Understanding
from tests.test_templates import REPO_STRATEGIES, write

pytestmark = pytest.mark.integration

DIM = 8
ALL = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases",
       "long_tail")


def unit(i: int, j: int | None = None) -> list[float]:
    """Mostly axis i, a little of axis j: a hand-made embedding whose neighbours we know."""
    v = [0.0] * DIM
    v[i] = 0.9 if j is not None else 1.0
    if j is not None:
        v[j] = 0.1
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


RECENT = (date.today() - timedelta(days=20)).isoformat()
DOCS = [
    dict(id="queen-bohemian", entity_type="track", title="Bohemian Rhapsody", artist="Queen",
         album="A Night at the Opera", genres=["rock"], decade="1970s", popularity=90,
         release_date="1975-10-31", embedding=unit(0)),
    dict(id="lullaby", entity_type="playlist", title="Drifting Off",
         description="gentle lullabies for bedtime", genres=["lullaby"], moods=["sleepy"],
         popularity=5, release_date="2019-01-01", embedding=unit(1)),
    dict(id="teen-spirit", entity_type="track", title="Smells Like Teen Spirit",
         artist="Nirvana", album="Nevermind", genres=["grunge", "rock"], decade="1990s",
         popularity=80, release_date="1991-09-10", embedding=unit(2)),
    dict(id="rock-lobster", entity_type="track", title="Rock Lobster", artist="The B-52s",
         genres=["new wave"], decade="1970s", popularity=60, release_date="1978-01-01",
         embedding=unit(3)),
    dict(id="memory-target", entity_type="track", title="Midnight City", artist="M83",
         genres=["electronic"], decade="2010s", popularity=70, release_date="2011-08-16",
         q2e={"late_night_drive": 5.0}, embedding=unit(4)),
    dict(id="fresh-love", entity_type="track", title="Love Again", artist="New Band",
         popularity=8, release_date=RECENT, decade="2020s", embedding=unit(5)),
    dict(id="old-love", entity_type="track", title="Love Me Do", artist="The Beatles",
         popularity=95, release_date="1962-10-05", decade="1960s", embedding=unit(6)),
    dict(id="love-obscure", entity_type="track", title="Love Is Strange", artist="Obscure Duo",
         popularity=0, release_date="1985-01-01", decade="1980s", embedding=unit(7)),
]
# The hand-made "embedder": each test query's vector, near a known document.
QUERY_VECTORS = {
    "qeen": unit(3, 5),
    "songs to fall asleep to": unit(1, 6),
    "late night drive": unit(0, 2),
    "90s rock": unit(3, 0),
    "love": unit(1, 3),
}


def embed_query(text: str) -> list[float]:
    return QUERY_VECTORS[text]


def index_docs(client, settings, docs=DOCS) -> None:
    body = json.loads((settings.mappings_dir / "catalog.v1.json").read_text())
    body.pop("_comment")
    body["mappings"]["properties"]["embedding"]["dimension"] = DIM
    body["aliases"] = {settings.catalog_alias: {}}
    index = f"{settings.catalog_alias}-v1-test"
    client.indices.create(index=index, body=body)
    lines: list[dict] = []
    for doc in docs:
        doc = {**doc, "popularity_feature": math.log1p(doc["popularity"]) + 1e-3}
        lines += [{"index": {"_index": index, "_id": doc["id"]}}, doc]
    answer = client.bulk(body=lines, refresh=True)
    assert not answer["errors"], answer


@pytest.fixture()
def catalog(client, settings):
    index_docs(client, settings)
    return settings


def understood(raw: str, slots=(), keywords=None, intent=None) -> Understanding:
    return Understanding(raw=raw, normalized=raw, tokens=tuple(raw.split()), slots=tuple(slots),
                         keywords=tuple(raw.split() if keywords is None else keywords),
                         intent=intent, intent_confidence=0.0, context=ContextVector("t", (), ()))


def ids_by_strategy(client, settings, u, k=2, registry=None, **kwargs):
    registry = registry or TemplateRegistry(REPO_STRATEGIES)
    results = run_strategies(client, settings, registry, u, [(n, k) for n in ALL],
                             embed_query=embed_query, **kwargs)
    for r in results:
        assert r.error is None, (r.strategy, r.error)
    return {r.strategy: [h.id for h in r.hits] for r in results}


def test_typoed_artist_is_found_by_fuzzy_bm25_only(client, catalog):
    found = ids_by_strategy(client, catalog, understood("qeen"))
    assert "queen-bohemian" in found["bm25_popularity"]
    for other in ("structured_qu", "knn_vector", "q2e_memory"):
        assert "queen-bohemian" not in found[other], other


def test_paraphrased_description_is_found_by_knn_only(client, catalog):
    found = ids_by_strategy(client, catalog, understood("songs to fall asleep to"))
    assert found["knn_vector"][0] == "lullaby"
    for other in ("bm25_popularity", "structured_qu", "q2e_memory", "fresh_releases",
                  "long_tail"):
        assert "lullaby" not in found[other], other


def test_memory_only_link_is_found_by_q2e_only(client, catalog):
    found = ids_by_strategy(client, catalog, understood("late night drive"))
    assert found["q2e_memory"] == ["memory-target"]
    for other in ("bm25_popularity", "structured_qu", "knn_vector", "fresh_releases",
                  "long_tail"):
        assert "memory-target" not in found[other], other


def test_q2e_key_defaults_to_the_understanding_layers_key(client, catalog):
    u = understood("Late  Night Drive!")
    u = Understanding(**{**u.__dict__, "normalized": "late night drive"})
    [result] = run_strategies(client, catalog, TemplateRegistry(REPO_STRATEGIES), u,
                              [("q2e_memory", 3)])
    assert [h.id for h in result.hits] == ["memory-target"]
    assert result.hits[0].score == pytest.approx(5.0, rel=0.01)


def test_attribute_query_is_found_by_structured_qu_only(client, catalog):
    slots = (Slot("decade", "1990s", "90s", 1.0), Slot("genre", "rock", "rock", 1.0))
    found = ids_by_strategy(client, catalog, understood("90s rock", slots, keywords=()))
    assert found["structured_qu"] == ["teen-spirit"]
    for other in ("bm25_popularity", "knn_vector", "q2e_memory", "fresh_releases", "long_tail"):
        assert "teen-spirit" not in found[other], other


def test_exploration_strategies_surface_recent_and_unpopular_items(client, catalog):
    found = ids_by_strategy(client, catalog, understood("love"), k=1)
    assert found["bm25_popularity"] == ["old-love"]
    assert found["fresh_releases"] == ["fresh-love"]
    assert found["long_tail"] == ["love-obscure"]


def test_hits_carry_only_the_small_source_and_timing(client, catalog):
    registry = TemplateRegistry(REPO_STRATEGIES)
    [result] = run_strategies(client, catalog, registry, understood("love"),
                              [ArmChoice("bm25_popularity", 3, 1.0)])
    assert len(result.hits) == 3 and isinstance(result.took_ms, int)
    for hit in result.hits:
        assert set(hit.source) <= set(offline_catalog()["source_fields"])
        assert "embedding" not in hit.source and hit.source["id"] == hit.id


def test_one_failing_subsearch_leaves_the_others_intact(client, catalog, tmp_path):
    directory = tmp_path / "strategies"
    directory.mkdir()
    shutil.copy(REPO_STRATEGIES / "bm25_popularity.json.j2", directory)
    shutil.copy(REPO_STRATEGIES / "knn_vector.json.j2", directory)
    write(directory, "invalid_query", '{# description: valid JSON, unknown query #}\n'
                                      '{"query": {"no_such_query": {"title": 1}}}')
    write(directory, "invalid_json", '{# description: broken #}\n{"query": {"match_all": {}}')
    write(directory, "bad_field", '{# description: a type mismatch the engine rejects #}\n'
                                  '{"query": {"range": {"release_date": {"gte": "not a date"}}}}')
    registry = TemplateRegistry(directory)
    choices = [("invalid_query", 5), ("bm25_popularity", 5), ("invalid_json", 5),
               ("bad_field", 5), ("knn_vector", 2)]
    results = run_strategies(client, catalog, registry, understood("love"), choices,
                             embed_query=embed_query)
    by_name = {r.strategy: r for r in results}
    assert [r.strategy for r in results] == [n for n, _ in choices]
    assert by_name["invalid_query"].error == "parsing_exception: unknown query [no_such_query]"
    assert by_name["invalid_json"].error.startswith("template invalid_json: rendered line 2")
    assert "failed to parse date field [not a date]" in by_name["bad_field"].error
    assert {h.id for h in by_name["bm25_popularity"].hits} == {"fresh-love", "old-love",
                                                                "love-obscure"}
    assert by_name["bm25_popularity"].error is None
    assert [h.id for h in by_name["knn_vector"].hits] == ["lullaby", "rock-lobster"]


def test_vector_strategy_without_embedder_fails_alone(client, catalog):
    results = run_strategies(client, catalog, TemplateRegistry(REPO_STRATEGIES),
                             understood("love"), [("knn_vector", 3), ("bm25_popularity", 3)])
    knn, bm25 = results
    assert "needs a query vector" in knn.error and knn.hits == ()
    assert bm25.error is None and len(bm25.hits) == 3


def test_vector_is_only_computed_when_a_chosen_template_needs_it(client, catalog):
    def refuse(text):
        raise AssertionError("embedder called for strategies that need no vector")

    prepared = prepare_searches(TemplateRegistry(REPO_STRATEGIES), understood("love"),
                                [("bm25_popularity", 3), ("q2e_memory", 3)], embed_query=refuse)
    assert all(p.error is None for p in prepared)


def test_missing_catalog_is_reported_per_strategy(client, settings):
    results = run_strategies(client, settings, TemplateRegistry(REPO_STRATEGIES),
                             understood("love"), [("bm25_popularity", 3), ("q2e_memory", 3)])
    assert len(results) == 2
    for r in results:
        assert r.hits == () and "index_not_found_exception" in r.error


def test_unreachable_cluster_is_a_clear_error_without_secrets(settings):
    from ltrr_opensearch.engine.client import make_client

    down = settings.with_overrides(url="http://admin:hunter2@127.0.0.1:9", max_retries=0,
                                   timeout=2.0)
    with pytest.raises(ClusterUnreachable) as info:
        run_strategies(make_client(down), down, TemplateRegistry(REPO_STRATEGIES),
                       understood("love"), [("bm25_popularity", 3)])
    assert "127.0.0.1:9" in info.value.message and "hunter2" not in str(info.value)


def test_subsearch_timeout_comes_from_config(settings, tmp_path):
    from ltrr_opensearch.config import Settings
    from ltrr_opensearch.retrieve.msearch import subsearch_timeout

    config = tmp_path / "ltrr.toml"
    config.write_text('[strategies]\ntimeout = "250ms"\n')
    loaded = Settings.load(config_file=config, env={})
    assert subsearch_timeout(loaded) == "250ms"
    prepared = prepare_searches(TemplateRegistry(REPO_STRATEGIES), understood("love"),
                                [("bm25_popularity", 3)], timeout="250ms")
    assert prepared[0].body["timeout"] == "250ms"
