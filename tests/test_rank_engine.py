"""In-engine ranking on the real node with ltrr's LTR plugin: the engine's ``sltr`` scores
equal the Python evaluation of the exported models, logged features equal the features'
own queries, and the registry, gate, ``ltr init``, ``model train`` and CLI around them.

The Chinook catalog (4168 entities, TF-IDF vectors) is loaded once for the module, into a
1-shard index (the alias) and a 3-shard copy. The LTR store is cluster-wide: every model and
feature set a test creates there has a unique name and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.catalog.index import catalog_body
from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder
from ltrr_opensearch.cli import main
from ltrr_opensearch.errors import ConfigError, LtrrError, ValidationError
from ltrr_opensearch.pipeline import BufferedSearchLog, Pipeline
from ltrr_opensearch.rank import registry, setup
from ltrr_opensearch.rank.features import load_feature_set, sltr_params
from ltrr_opensearch.rank.gate import heldout_gate, predict
from ltrr_opensearch.rank.learn import train_from_logs
from ltrr_opensearch.rank.predict import predict_linear, predict_xgboost_json
from ltrr_opensearch.rank.ranker import Ranker
from ltrr_opensearch.rank.train import train_lambdamart, train_linear
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.retrieve.msearch import default_q2e_key
from ltrr_opensearch.understand import Gazetteer, understand

pytestmark = [pytest.mark.integration, pytest.mark.ltr, pytest.mark.usefixtures("require_ltr")]

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "data" / "chinook" / "catalog.jsonl"
NOW = date(2025, 1, 1)
TEXT_FIELDS = ["title^3", "artist^2", "album", "description"]
TRAIN_QUERIES = ("rock", "love", "blues", "queen", "metal", "jazz", "night", "iron maiden",
                 "greatest hits", "live", "heart", "rock and roll", "symphony", "brazil")
PARITY_QUERIES = ("love", "rock music", "miles davis")
TOLERANCE = 1e-4


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _logged(hit, name="ltrr") -> dict[str, float]:
    """One hit's ``_ltrlog`` entry as {feature: value}; a missing feature is left out."""
    for entry in hit["fields"]["_ltrlog"]:
        if name in entry:
            return {f["name"]: float(f["value"]) for f in entry[name] if "value" in f}
    raise AssertionError(f"no _ltrlog entry {name!r} in {hit['fields']}")


class StoreModels:
    """Models and feature sets this module put in the cluster-wide LTR store."""

    def __init__(self, client):
        self.client, self.models, self.sets = client, [], []

    def cleanup(self):
        for name in self.models:
            with contextlib.suppress(os_exc.NotFoundError):
                self.client.plugins.ltr.delete_model(id=name)
        for name in self.sets:
            with contextlib.suppress(os_exc.NotFoundError):
                self.client.plugins.ltr.delete_featureset(id=name)


@pytest.fixture(scope="module")
def chinook(base_settings, session_client, ltr_available):
    if not ltr_available:
        pytest.skip("no Learning to Rank API answers on this cluster")
    client = session_client
    settings = base_settings.with_overrides(index_prefix=f"t{_uid()}")
    store = StoreModels(client)
    try:
        load_catalog(client, settings, CATALOG, embedder=make_fresh_embedder("tfidf"), quiet=True)
        client.indices.refresh(index=settings.catalog_alias)
        one = next(iter(client.indices.get_alias(index=settings.catalog_alias)))
        dimension = client.indices.get_mapping(index=one)[one]["mappings"]["properties"][
            "embedding"]["dimension"]
        three = f"{settings.index_prefix}-catalog-3shards"
        body = catalog_body(settings, dimension, {})
        body["settings"]["index"]["number_of_shards"] = 3
        client.indices.create(index=three, body=body)
        client.reindex(body={"source": {"index": one}, "dest": {"index": three}}, refresh=True,
                       wait_for_completion=True)
        assert client.count(index=three)["count"] == client.count(index=one)["count"] == 4168
        assert client.indices.get_settings(index=three)[three]["settings"]["index"][
            "number_of_shards"] == "3"
        feature_set = load_feature_set(settings)
        setup.ensure_store(client)
        setup.ensure_feature_set(client, feature_set)
        embedder = resources.query_embedder_for(client, settings)
        gazetteer = resources.gazetteer_for(client, settings)
        from ltrr_opensearch.retrieve.catalog import catalog_context

        yield SimpleNamespace(client=client, settings=settings, indices={1: one, 3: three},
                              feature_set=feature_set, embedder=embedder, gazetteer=gazetteer,
                              store=store, catalog=catalog_context(client, settings))
    finally:
        resources.clear()
        store.cleanup()
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


def _params(chinook, text: str) -> dict:
    """The sltr params the search path would send for ``text``."""
    u = understand(text, chinook.gazetteer)
    vector = chinook.embedder.embed_query(u.normalized or u.raw)
    return sltr_params(u, q2e_key=default_q2e_key(u.normalized), vector=vector, now=NOW,
                       needed=chinook.feature_set.params, catalog=chinook.catalog)


def _logging_body(chinook, text: str, size: int, missing_as_zero: bool = True) -> dict:
    """A text query whose hits carry every feature of the set (logging-only sltr rescore)."""
    fs = chinook.feature_set
    ranker = Ranker.logging_only(fs.store_name, tuple(fs.names), frozenset(fs.params))
    ext = ranker.log_ext()
    ext["ltr_log"]["log_specs"][0]["missing_as_zero"] = missing_as_zero
    return {"size": size, "_source": ["title", "artist", "album"],
            "query": {"multi_match": {"query": text, "fields": TEXT_FIELDS}},
            "rescore": ranker.rescore(_params(chinook, text), window=size), "ext": ext}


def _grade(text: str, source: dict) -> int:
    words = set(text.lower().split()) - {"and", "the"}
    title = set(re.findall(r"\w+", (source.get("title") or "").lower()))
    other = set(re.findall(r"\w+", f"{source.get('artist') or ''} {source.get('album') or ''}"
                           .lower()))
    return 2 if words & title else 1 if words & other else 0


@pytest.fixture(scope="module")
def trained(chinook):
    """A linear and a LambdaMART model trained on rows the engine logged, stored through
    ``_createmodel`` on the feature set."""
    fs = chinook.feature_set
    rows = []
    for text in TRAIN_QUERIES:
        answer = chinook.client.search(index=chinook.indices[1],
                                       body=_logging_body(chinook, text, 60))
        for hit in answer["hits"]["hits"]:
            rows.append({"query_id": text, "doc_id": hit["_id"], "features": _logged(hit),
                         "label": _grade(text, hit["_source"])})
    assert len(rows) > 500 and {r["label"] for r in rows} == {0, 1, 2}
    results = {"linear": train_linear(rows, fs.names, seed=0),
               "xgboost": train_lambdamart(rows, fs.names, rounds=30, max_depth=3, seed=0)}
    names = {}
    for kind, result in results.items():
        name = f"h6_parity_{kind}_{_uid()}"
        chinook.store.models.append(name)
        chinook.client.plugins.ltr.create_model_from_set(name=fs.store_name,
                                                         body=result.model_body(name))
        names[kind] = name
    return SimpleNamespace(rows=rows, results=results, names=names)


def _python_scores(result, rows):
    if result.model_type == "model/linear":
        return predict_linear(result.definition, result.feature_normalizers, rows)
    return predict_xgboost_json(result.definition, rows)


def _sltr(name: str, params: dict) -> dict:
    return {"sltr": {"model": name, "params": params, "_name": "ltrr"}}


@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("kind", ["linear", "xgboost"])
@pytest.mark.parametrize("placement", ["top_level", "rescore"])
def test_engine_score_equals_python_prediction_on_the_logged_features(
        chinook, trained, placement, kind, shards):
    name, result = trained.names[kind], trained.results[kind]
    for text in PARITY_QUERIES:
        params = _params(chinook, text)
        body: dict = {"size": 300, "_source": False}
        if placement == "top_level":
            body["query"] = _sltr(name, params)
            spec = {"name": "ltrr", "named_query": "ltrr", "missing_as_zero": False}
        else:  # every doc matches; the model's score replaces the text score
            body["query"] = {"bool": {"should": [{"multi_match": {"query": text,
                                                                  "fields": TEXT_FIELDS}}],
                                      "filter": [{"match_all": {}}]}}
            body["rescore"] = {"window_size": 300, "query": {
                "rescore_query": _sltr(name, params), "query_weight": 0.0,
                "rescore_query_weight": 1.0}}
            spec = {"name": "ltrr", "rescore_index": 0, "missing_as_zero": False}
        body["ext"] = {"ltr_log": {"log_specs": [spec]}}
        hits = chinook.client.search(index=chinook.indices[shards], body=body)["hits"]["hits"]
        assert len(hits) >= 200
        engine = [h["_score"] for h in hits]
        python = _python_scores(result, [_logged(h) for h in hits])
        worst = max(abs(a - b) for a, b in zip(engine, python, strict=True))
        assert worst <= TOLERANCE, (text, worst)
        assert max(engine) - min(engine) > 0.1  # the model really discriminates these docs



@pytest.mark.parametrize("kind", ["linear", "xgboost"])
def test_missing_features_are_scored_alike_by_engine_and_python(chinook, trained, kind):
    """Features left out with ``active_features`` reach the model as missing (NaN): linear
    counts them 0, trees follow each node's ``missing`` branch, in both implementations."""
    name, result = trained.names[kind], trained.results[kind]
    active = chinook.feature_set.names[::2]
    params = _params(chinook, "rock music")
    body = {"size": 300, "_source": False,
            "query": {"sltr": {"model": name, "params": params, "_name": "ltrr",
                               "active_features": active}},
            "ext": {"ltr_log": {"log_specs": [{"name": "ltrr", "named_query": "ltrr"}]}}}
    hits = chinook.client.search(index=chinook.indices[1], body=body)["hits"]["hits"]
    rows = [_logged(h) for h in hits]
    assert all(set(row) == set(active) for row in rows)
    python = _python_scores(result, rows)
    full = _python_scores(result, [{**row, **dict.fromkeys(
        set(chinook.feature_set.names) - set(active), 0.0)} for row in rows])
    assert max(abs(h["_score"] - s) for h, s in zip(hits, python, strict=True)) <= TOLERANCE
    if kind == "xgboost":  # missing is not 0 for trees: the comparison above is not vacuous
        assert any(abs(a - b) > TOLERANCE for a, b in zip(python, full, strict=True))


FEATURE_DOCS_QUERIES = ("queen rock", "love songs from the 80s", "beethoven")


@pytest.mark.parametrize("shards", [1, 3])
def test_a_logged_feature_equals_its_own_templates_score_for_that_doc(chinook, shards):
    """Each feature's template, rendered by OpenSearch's own mustache (search templates) and
    run alone restricted to one doc, scores exactly what ``_ltrlog`` reported for it."""
    fs = chinook.feature_set
    client, index = chinook.client, chinook.indices[shards]
    nonzero: dict[str, int] = dict.fromkeys(fs.names, 0)
    checked = 0
    for text in FEATURE_DOCS_QUERIES:
        params = _params(chinook, text)
        hits = client.search(index=index, body=_logging_body(chinook, text, 100, False))[
            "hits"]["hits"]
        for hit in hits[:4] + hits[20::40]:
            logged = _logged(hit)
            lines = []
            for feature in fs.features:
                template = feature.template if isinstance(feature.template, str) \
                    else json.dumps(feature.template)
                # The doc id is a param, so each feature's source compiles once.
                source = ('{"size": 1, "_source": false, "query": {"bool": {"must": [' + template
                          + '], "filter": [{"ids": {"values": {{#toJson}}doc_ids{{/toJson}}}}]}}}')
                lines += [{"index": index},
                          {"source": source, "params": {**params, "doc_ids": [hit["_id"]]}}]
            answers = client.msearch_template(body=lines)["responses"]
            for feature, answer in zip(fs.features, answers, strict=True):
                assert "error" not in answer, (feature.name, answer.get("error"))
                own = answer["hits"]["hits"]
                assert len(own) == 1, (feature.name, hit["_id"])
                assert abs(own[0]["_score"] - logged[feature.name]) <= TOLERANCE, (
                    text, hit["_id"], feature.name, own[0]["_score"], logged[feature.name])
                nonzero[feature.name] += logged[feature.name] != 0.0
            checked += 1
    assert checked >= 15
    # The comparison means something: the query-dependent features were exercised.
    for name in ("title_bm25", "creator_bm25", "popularity", "type_match", "slot_matches",
                 "facet_genre", "last_text_bm25"):
        assert nonzero[name] > 0, name


def test_every_feature_of_every_candidate_has_a_logged_value(chinook):
    fs = chinook.feature_set
    candidates = 0
    for text in FEATURE_DOCS_QUERIES:
        hits = chinook.client.search(index=chinook.indices[1],
                                     body=_logging_body(chinook, text, 200, False))["hits"]["hits"]
        for hit in hits:
            missing = set(fs.names) - set(_logged(hit))
            assert not missing, (text, hit["_id"], missing)
        candidates += len(hits)
    assert candidates >= 200


def test_a_set_bound_to_a_catalog_without_creators_logs_zero_for_them_and_the_rest_alike(
        chinook):
    """The films description bound to the Chinook index: the features of roles films lacks
    are the constant 0 feature on every candidate; the others log what the music set logs."""
    from ltrr_opensearch.catalog.description import bind, live_properties, load_description

    client, index = chinook.client, chinook.indices[1]
    films = load_feature_set(chinook.settings, catalog=bind(
        load_description("films"), live_properties(client, index)))
    chinook.store.sets.append(films.store_name)
    setup.ensure_feature_set(client, films)
    core = [n for n in chinook.feature_set.names if not n.startswith("facet_")]
    assert films.names == core + ["facet_decade", "facet_genre"]  # the films facet kinds
    text = "queen rock"
    ranker = Ranker.logging_only(films.store_name, tuple(films.names), frozenset(films.params))
    body = {**_logging_body(chinook, text, 60), "rescore": ranker.rescore(
        _params(chinook, text), window=60)}
    music = {h["_id"]: _logged(h) for h in client.search(
        index=index, body=_logging_body(chinook, text, 60))["hits"]["hits"]}
    hits = client.search(index=index, body=body)["hits"]["hits"]
    assert len(hits) == 60
    lacking = {"creator_bm25", "creator_exact"}
    for hit in hits:
        logged = _logged(hit)
        assert all(logged[name] == 0.0 for name in lacking), hit["_id"]
        for name in ("title_bm25", "last_text_bm25", "popularity"):
            assert abs(logged[name] - music[hit["_id"]][name]) <= TOLERANCE, name
    assert any(music[h["_id"]]["creator_bm25"] > 0 for h in hits)  # music does score it


# --- the search path with a deployed model ----------------------------------------------

SEARCH_NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)
PIPELINE_QUERIES = ("queen", "rock love songs", "beethoven symphony", "iron maiden live")


@pytest.fixture(scope="module")
def served(chinook, trained):
    """The LambdaMART model registered and deployed on the Chinook prefix, and a pipeline
    built from the cluster (it finds the deployed model) that logs its searches."""
    client, settings, fs = chinook.client, chinook.settings, chinook.feature_set
    result = trained.results["xgboost"]
    entry = registry.ModelEntry(
        name=f"h6_served_{_uid()}", type=result.model_type, definition=result.definition,
        feature_set=fs.store_name, feature_names=tuple(fs.names), params=tuple(sorted(fs.params)))
    chinook.store.models.append(entry.name)
    registry.register(client, settings, entry, fs.to_store())
    registry.deploy(client, settings, entry.name)
    log = BufferedSearchLog(client, settings, batch=1000)
    pipeline = Pipeline.from_cluster(client, settings, search_log=log)
    responses = [pipeline.search(text, k=10, now=SEARCH_NOW, request_id=f"h6-{i}")
                 for i, text in enumerate(PIPELINE_QUERIES)]
    log.flush(refresh="wait_for")
    return SimpleNamespace(entry=registry.get_entry(client, settings, entry.name),
                           pipeline=pipeline, responses=responses)


def test_pipeline_serves_with_the_deployed_model(served):
    assert served.pipeline.ranker == served.entry.ranker()
    for response in served.responses:
        assert response.rank_error is None
        assert response.timings["engine_rank"] > 0  # the one reranking search ran


def test_pipeline_shows_the_unions_best_by_the_models_score_on_the_logged_features(served):
    names = served.entry.feature_names
    for response in served.responses:
        candidates, shown = response.candidates, response.shown
        assert len(candidates) >= 20 and len({r.strategy for r in response.results
                                              if r.hits}) >= 2
        assert len(shown) == 10
        assert all(c.features is not None and len(c.features) == len(names) for c in shown)
        scores = [c.score for c in shown]
        assert scores == sorted(scores, reverse=True)
        expected = predict(served.entry, [dict(zip(names, c.features, strict=True))
                                          for c in shown])
        worst = max(abs(a - b) for a, b in zip(scores, expected, strict=True))
        assert worst <= TOLERANCE, (response.query, worst)


def test_no_unshown_candidate_outscores_the_shown_ones(chinook, served):
    """The reranking search scored the whole union: every candidate below the page scores
    at most the page's last (computed here on features logged by a logging-only search)."""
    from ltrr_opensearch.rank.bootstrap import logging_pipeline

    logging = logging_pipeline(served.pipeline, chinook.feature_set)
    names = served.entry.feature_names
    for response in served.responses[:3]:
        every = logging.search(response.query, k=10, now=SEARCH_NOW, log=False)
        assert {c.id for c in every.candidates} == {c.id for c in response.candidates}
        scores = predict(served.entry, [dict(zip(names, c.features, strict=True))
                                        for c in every.candidates])
        below = [s for c, s in zip(every.candidates, scores, strict=True)
                 if c.id not in {x.id for x in response.shown}]
        assert max(below) <= response.shown[-1].score + TOLERANCE, response.query


def test_a_failed_reranking_search_serves_the_fused_order_and_says_why(served):
    from dataclasses import replace

    gone = replace(served.pipeline.ranker, model=f"gone_{_uid()}")  # not in the store
    broken = replace(served.pipeline, ranker=gone, search_log=None)
    response = broken.search("queen", k=10, now=SEARCH_NOW, log=False)
    fused = replace(served.pipeline, ranker=None).search("queen", k=10, now=SEARCH_NOW,
                                                         log=False)
    assert gone.model in (response.rank_error or "")
    assert [c.id for c in response.shown] == [c.id for c in fused.shown]
    assert response.to_dict()["rank_error"] == response.rank_error


def test_only_the_first_window_of_the_fused_order_is_reranked(chinook, served):
    from dataclasses import replace

    from ltrr_opensearch.rank.rerank import rerank

    pipeline = served.pipeline
    fused = replace(pipeline, ranker=None).search("love", k=10, now=SEARCH_NOW, log=False)
    u = fused.understanding
    candidates = [replace(c) for c in fused.candidates]
    done = rerank(chinook.client, chinook.settings, pipeline.ranker, u, candidates, size=10,
                  window=5, q2e_key=default_q2e_key(u.normalized), now=SEARCH_NOW,
                  catalog=pipeline.catalog)
    assert done.error is None and done.rescored == 5
    assert {c.id for c in done.candidates[:5]} == {c.id for c in fused.candidates[:5]}
    assert [c.id for c in done.candidates[5:]] == [c.id for c in fused.candidates[5:]]


def test_the_logged_search_keeps_the_feature_vector_of_every_shown_item(chinook, served):
    for response in served.responses:
        doc = chinook.client.get(index=chinook.settings.ubi_queries_index,
                                 id=response.request_id)["_source"]
        ltr = doc["query_attributes"]["ltr"]
        assert ltr["model"] == served.entry.name
        assert ltr["feature_set"] == served.entry.feature_set
        assert ltr["feature_names"] == list(served.entry.feature_names)
        assert doc["query_response_hit_ids"] == [c.id for c in response.shown]
        for candidate in response.shown:
            assert ltr["features"][candidate.id] == pytest.approx(list(candidate.features))


def test_the_logged_search_keeps_vectors_below_the_page_for_retraining_negatives(chinook, served):
    """The default ``[ranking] log_depth`` (30) logs the page and the reranked hits after
    it: ``rank.learn.below_page`` takes its negatives from those."""
    from ltrr_opensearch.rank.learn import below_page, logged_searches

    searches = {s.query_id: s for s in logged_searches(chinook.client, chinook.settings)}
    deep = [r for r in served.responses if len(r.candidates) > len(r.shown)]
    assert deep, "every query had one page of candidates at most"
    for response in deep:
        logged = searches[response.request_id]
        expected = [c.id for c in response.candidates[:30]]
        assert sorted(logged.features) == sorted(expected)
        negatives = below_page(logged, 20)
        assert len(negatives) == min(20, len(expected) - len(response.shown))
        assert not set(negatives) & set(logged.shown)




class OneArmBandit:
    """A selector that always runs one strategy, 30 deep: what the pipeline adds around a
    bandit's choice is under test here, not the bandit."""

    def select(self, context, seed=None, unavailable=None):
        from ltrr_opensearch.types import ArmChoice

        return SimpleNamespace(choices=[ArmChoice("bm25_popularity", 30, 0.9)],
                               explanation=SimpleNamespace(arms=["bm25_popularity"]))


def test_a_union_floor_adds_what_the_bandit_left_out_without_recording_it_as_chosen(served):
    settings = served.pipeline.settings
    floored = settings.with_overrides(sections={**settings.sections,
                                                "ranking": {"union_floor": 7}})
    pipeline = dataclasses.replace(served.pipeline, settings=floored, selector=OneArmBandit())
    response = pipeline.search("queen", k=10, log=False)
    default = dataclasses.replace(served.pipeline, selector=OneArmBandit())
    assert len(default.search("queen", k=10, log=False).results) == len(response.results)
    assert [c.arm for c in response.choices] == ["bm25_popularity"]
    others = {r.strategy: r for r in response.results if r.strategy != "bm25_popularity"}
    assert others and all(len(r.hits) <= 7 for r in others.values())
    assert any(r.hits for r in others.values())
    # Without a model to rerank the union, or with the floor off, the bandit's plan runs
    # alone.
    off = settings.with_overrides(sections={**settings.sections, "ranking": {"union_floor": 0}})
    for bare in (dataclasses.replace(pipeline, ranker=None),
                 dataclasses.replace(pipeline, settings=off)):
        assert [r.strategy for r in bare.search("queen", k=10, log=False).results] == [
            "bm25_popularity"]


def test_a_bad_union_floor_is_refused_naming_the_setting(served):
    settings = served.pipeline.settings
    bad = dataclasses.replace(served.pipeline, selector=OneArmBandit(),
                              settings=settings.with_overrides(sections={
                                  **settings.sections, "ranking": {"union_floor": -1}}))
    with pytest.raises(LtrrError, match=r"\[ranking\] union_floor must be an integer"):
        bad.search("queen", k=10, log=False)


@pytest.mark.parametrize("text", ['"}}, {"match_all": {}} {{keywords}}', "rock\\\" OR *:*",
                                  "{{#toJson}}genres{{/toJson}} ]} \u2028 queen"])
def test_hostile_query_text_stays_inside_its_json_strings(served, text):
    response = served.pipeline.search(text, k=10, now=SEARCH_NOW, log=False)
    assert [r.error for r in response.results if r.error] == []
    assert response.candidates and response.rank_error is None
    assert all(c.features is not None for c in response.shown)


def test_bootstrap_rows_carry_every_candidates_logged_features_and_its_grade(chinook, served):
    from ltrr_opensearch.rank.bootstrap import Labelled, collect_rows, logging_pipeline

    fs = chinook.feature_set
    pipeline = logging_pipeline(served.pipeline, fs)
    queen = {"chinook-artist-51": 3}  # Queen, the artist
    rows, baseline = collect_rows(pipeline, [
        Labelled("q1", "queen", queen, kind="known_item", now=SEARCH_NOW),
        Labelled("q2", "miles davis", lambda doc: 1 if "album" in doc else 0, now=SEARCH_NOW)],
        source="t")
    fused = pipeline.search("queen", k=10, now=SEARCH_NOW, log=False)
    assert all(c.features is not None for c in fused.candidates)  # logging only: all of them
    assert baseline["t:q1"] == [c.id for c in fused.candidates]
    by_doc = {r["doc_id"]: r for r in rows if r["query_id"] == "t:q1"}
    assert list(by_doc) == baseline["t:q1"]
    assert by_doc["chinook-artist-51"]["label"] == 3 and by_doc["chinook-artist-51"]["kind"] == \
        "known_item"
    assert sum(r["label"] for r in by_doc.values()) == 3
    for candidate in fused.candidates:
        assert by_doc[candidate.id]["features"] == dict(zip(fs.names, candidate.features,
                                                            strict=True))
    assert {r["label"] for r in rows if r["query_id"] == "t:q2"} == {0, 1}


# --- registry, gate and store refusals (fresh prefix per test, no catalog needed) ---------


@pytest.fixture()
def store(client):
    """Names this test puts in the cluster-wide LTR store, removed afterwards."""
    tracked = StoreModels(client)
    yield tracked
    tracked.cleanup()


@pytest.fixture()
def core_set(client, settings):
    feature_set = load_feature_set(settings)
    setup.ensure_store(client)
    setup.ensure_feature_set(client, feature_set)
    return feature_set


def _entry(feature_set, weights: dict, name: str | None = None, **extra) -> registry.ModelEntry:
    """A linear model over ``feature_set`` with held-out rows where title_bm25 decides."""
    rows = []
    for q in range(12):
        for d, (bm25, label) in enumerate([(9.0, 3), (6.0, 2), (3.0, 1), (0.5, 0), (0.1, 0)]):
            popularity = 0.1 * ((d * 7 + q) % 5)  # unrelated to the label
            rows.append({"query_id": f"q{q}", "doc_id": f"d{q}-{d}", "label": label,
                         "features": {n: 0.0 for n in feature_set.names} | {
                             "title_bm25": bm25, "popularity": popularity}})
    return registry.ModelEntry(
        name=name or f"h6_reg_{_uid()}", type="model/linear", definition=weights,
        feature_set=feature_set.store_name, feature_names=tuple(feature_set.names),
        params=tuple(sorted(feature_set.params)), heldout={"rows": rows}, **extra)


def _registered(client, settings, store, feature_set, weights, **extra) -> registry.ModelEntry:
    entry = _entry(feature_set, weights, **extra)
    store.models.append(entry.name)
    return registry.register(client, settings, entry, feature_set.to_store())


GOOD = {"title_bm25": 1.0}
BAD = {"title_bm25": -1.0, "popularity": 1.0}


def test_deploy_over_a_better_model_is_refused_naming_the_ndcg_of_both(
        client, settings, store, core_set):
    good = _registered(client, settings, store, core_set, GOOD)
    bad = _registered(client, settings, store, core_set, BAD)
    registry.deploy(client, settings, good.name, gate=heldout_gate)
    with pytest.raises(ValidationError) as refused:
        registry.deploy(client, settings, bad.name, gate=heldout_gate)
    assert re.search(rf"{bad.name} does not beat the deployed {good.name}: "
                     r"NDCG@10 0\.\d{3} vs 1\.000 \([-+]0\.\d{3}, 95% CI", refused.value.message)
    assert registry.deployment(client, settings).model == good.name


def test_deploy_of_a_better_model_passes_the_gate(client, settings, store, core_set):
    bad = _registered(client, settings, store, core_set, BAD)
    good = _registered(client, settings, store, core_set, GOOD)
    registry.deploy(client, settings, bad.name, gate=heldout_gate)
    current, why = registry.deploy(client, settings, good.name, gate=heldout_gate)
    assert current.model == good.name and current.history == (bad.name,)
    assert why.startswith("NDCG@10 1.000 vs 0.")


def test_forced_deploy_skips_the_gate(client, settings, store, core_set):
    good = _registered(client, settings, store, core_set, GOOD)
    bad = _registered(client, settings, store, core_set, BAD)
    registry.deploy(client, settings, good.name, gate=heldout_gate)
    current, why = registry.deploy(client, settings, bad.name, force=True, gate=heldout_gate)
    assert (current.model, why) == (bad.name, "forced")
    assert registry.deployed_ranker(client, settings).model == bad.name


def test_rollback_serves_the_previous_model_again(client, settings, store, core_set):
    first = _registered(client, settings, store, core_set, GOOD)
    second = _registered(client, settings, store, core_set, BAD)
    registry.deploy(client, settings, first.name)
    registry.deploy(client, settings, second.name, force=True)
    assert registry.rollback(client, settings).model == first.name
    assert registry.deployed_ranker(client, settings).model == first.name
    with pytest.raises(ValidationError, match="nothing to roll back to"):
        registry.rollback(client, settings)


def test_rollback_never_lands_on_a_model_deleted_from_the_registry(
        client, settings, store, core_set):
    kept = _registered(client, settings, store, core_set, GOOD)
    deleted = _registered(client, settings, store, core_set, BAD)
    serving = _registered(client, settings, store, core_set, {"popularity": 1.0})
    for entry in (kept, deleted, serving):
        registry.deploy(client, settings, entry.name, force=True)
    registry.delete(client, settings, deleted.name)  # a rollback target, not deployed
    assert registry.rollback(client, settings).model == kept.name
    assert registry.deployed_ranker(client, settings).model == kept.name


def test_the_deployed_model_cannot_be_deleted(client, settings, store, core_set):
    entry = _registered(client, settings, store, core_set, GOOD)
    registry.deploy(client, settings, entry.name)
    with pytest.raises(ValidationError, match="is the deployed model and cannot be deleted"):
        registry.delete(client, settings, entry.name)
    assert registry.get_entry(client, settings, entry.name) == entry
    client.plugins.ltr.get_model(id=entry.name)  # still in the store


def test_a_deleted_model_leaves_the_registry_and_the_store(client, settings, store, core_set):
    entry = _registered(client, settings, store, core_set, GOOD)
    registry.delete(client, settings, entry.name)
    assert entry.name not in {e.name for e in registry.list_entries(client, settings)}
    with pytest.raises(os_exc.NotFoundError):
        client.plugins.ltr.get_model(id=entry.name)


def test_diff_reports_what_differs_between_two_models(client, settings, store, core_set):
    a = _registered(client, settings, store, core_set, GOOD, hyperparameters={"c": 1})
    b = _registered(client, settings, store, core_set, BAD, hyperparameters={"c": 2},
                    source="shipped")
    diff = registry.diff(registry.get_entry(client, settings, a.name),
                         registry.get_entry(client, settings, b.name))
    assert diff == {"source": {a.name: "trained", b.name: "shipped"},
                    "hyperparameters": {a.name: {"c": 1}, b.name: {"c": 2}}}


def test_a_model_naming_an_unknown_feature_is_refused_and_leaves_nothing(
        client, settings, store, core_set):
    entry = _entry(core_set, {"title_bm25": 1.0, "no_such_feature": 2.0})
    store.models.append(entry.name)
    with pytest.raises(ValidationError) as refused:
        registry.register(client, settings, entry, core_set.to_store())
    assert refused.value.message == (f"the LTR store refused model {entry.name!r}: model "
                                     f"[{entry.name}]: unknown feature [no_such_feature] in the "
                                     "linear weights")
    assert registry.list_entries(client, settings) == []
    with pytest.raises(os_exc.NotFoundError):
        client.plugins.ltr.get_model(id=entry.name)



def test_a_name_the_store_holds_with_another_definition_is_refused(
        client, settings, store, core_set):
    """The store is cluster-wide: a second registry must not record a model that ``sltr``
    would not serve."""
    ours = _registered(client, settings, store, core_set, GOOD)
    other = settings.with_overrides(index_prefix=f"{settings.index_prefix}-other")
    with pytest.raises(ValidationError, match="already holds a different model named"):
        registry.register(client, other, _entry(core_set, BAD, name=ours.name),
                          core_set.to_store())
    assert registry.list_entries(client, other) == []
    stored = client.plugins.ltr.get_model(id=ours.name)["_source"]["model"]["model"]
    assert stored["definition"] == GOOD


def test_the_same_model_in_a_second_registry_reuses_the_stored_one(
        client, settings, store, core_set):
    ours = _registered(client, settings, store, core_set, GOOD)
    other = settings.with_overrides(index_prefix=f"{settings.index_prefix}-other")
    again = registry.register(client, other, _entry(core_set, GOOD, name=ours.name),
                              core_set.to_store())
    assert registry.get_entry(client, other, ours.name) == again


def _templates_with(tmp_path, feature_file: str, doc: dict) -> Path:
    """A copy of the shipped templates whose ltrr_core set has one more feature file."""
    from ltrr_opensearch.config import Settings

    root = tmp_path / "templates"
    shutil.copytree(Settings().templates_dir, root)
    (root / "features" / "ltrr_core" / feature_file).write_text(json.dumps(doc))
    return root


@pytest.mark.parametrize("template", [
    '{"match": {"title": {{keywords}} }',  # renders to invalid JSON
    '{"match": {"title": "{{#keywords}}"}}',  # a mustache section never closed
    {"no_such_query": {"title": "{{keywords}}"}},  # not a query
])
def test_a_feature_set_with_a_broken_template_is_refused_naming_its_file(
        client, settings, store, tmp_path, template):
    root = _templates_with(tmp_path, "99_broken.json", {
        "name": "broken", "params": ["keywords"], "template": template})
    feature_set = load_feature_set(settings.with_overrides(templates_dir=root))
    store.sets.append(feature_set.store_name)
    setup.ensure_store(client)
    with pytest.raises(ValidationError) as refused:
        setup.ensure_feature_set(client, feature_set)
    message = refused.value.message
    assert f"refused feature set {feature_set.store_name}" in message
    assert "feature [broken]" in message and str(root / "features" / "ltrr_core" /
                                                 "99_broken.json") in message
    with pytest.raises(os_exc.NotFoundError):
        client.plugins.ltr.get_featureset(id=feature_set.store_name)


def test_a_feature_file_that_is_not_json_is_refused_naming_it(settings, tmp_path):
    root = _templates_with(tmp_path, "99_ok.json", {"name": "ok", "template": {"match_all": {}}})
    (root / "features" / "ltrr_core" / "99_ok.json").write_text('{"name": "ok", "template": {')
    with pytest.raises(ConfigError, match=re.escape(str(root / "features" / "ltrr_core" /
                                                          "99_ok.json"))):
        load_feature_set(settings.with_overrides(templates_dir=root))


def test_deploying_a_model_missing_from_the_store_is_refused(client, settings, store, core_set):
    first = _registered(client, settings, store, core_set, GOOD)
    gone = _registered(client, settings, store, core_set, BAD)
    registry.deploy(client, settings, first.name)
    client.plugins.ltr.delete_model(id=gone.name)
    with pytest.raises(ValidationError, match=f"model '{gone.name}' is registered but missing "
                                              "from the LTR store"):
        registry.deploy(client, settings, gone.name, force=True)
    assert registry.deployment(client, settings).model == first.name


def test_a_model_keeps_serving_when_its_feature_set_is_deleted_from_the_store(
        client, settings, store, tmp_path):
    """Models carry a frozen copy of their feature set: deleting the set breaks nothing."""
    root = _templates_with(tmp_path, "99_probe.json", {
        "name": f"probe_{_uid()}", "template": {"constant_score": {"filter": {"match_all": {}}}}})
    scoped = settings.with_overrides(templates_dir=root)
    feature_set = load_feature_set(scoped)
    setup.ensure_store(client)
    setup.ensure_feature_set(client, feature_set)
    store.sets.append(feature_set.store_name)
    entry = _registered(client, scoped, store, feature_set, GOOD)
    client.plugins.ltr.delete_featureset(id=feature_set.store_name)
    current, _ = registry.deploy(client, scoped, entry.name)
    assert current.model == entry.name
    client.indices.create(index=f"{settings.index_prefix}-probe")
    client.index(index=f"{settings.index_prefix}-probe", id="1", body={"title": "x"},
                 refresh=True)
    params = sltr_params(understand("x", Gazetteer({})), q2e_key=None, vector=[0.0], now=NOW,
                         needed=feature_set.params)
    answer = client.search(index=f"{settings.index_prefix}-probe", body={"query": {"sltr": {
        "model": entry.name, "params": params}}})
    assert answer["hits"]["total"]["value"] == 1


# --- ltr init -----------------------------------------------------------------------------


def test_ltr_init_uploads_a_new_feature_set_version_once(client, settings, store, tmp_path):
    root = _templates_with(tmp_path, "99_probe.json", {
        "name": f"probe_{_uid()}", "template": {"constant_score": {"filter": {"match_all": {}}}}})
    scoped = settings.with_overrides(templates_dir=root)
    feature_set = load_feature_set(scoped)
    store.sets.append(feature_set.store_name)
    first = setup.ltr_init(client, scoped, default_model=False)
    again = setup.ltr_init(client, scoped, default_model=False)
    assert (first.feature_set, first.feature_set_created) == (feature_set.store_name, True)
    assert (again.feature_set, again.feature_set_created) == (feature_set.store_name, False)
    stored = client.plugins.ltr.get_featureset(id=feature_set.store_name)
    assert [f["name"] for f in stored["_source"]["featureset"]["features"]] == feature_set.names
    assert "_default_" in client.plugins.ltr.list_stores()["stores"]
    assert not first.store_created and not again.store_created  # the store was already there


@pytest.fixture()
def default_model(client, settings, store, core_set, tmp_path, monkeypatch):
    """A default model file (a small linear model on the current feature set) where
    ``ltr init`` looks for the shipped one."""
    from dataclasses import replace

    entry = _entry(core_set, GOOD, name=f"h6_default_{_uid()}", source="shipped default")
    # A shipped default reads the catalog-independent core only (no per-facet-kind feature).
    entry = replace(entry, feature_names=tuple(n for n in core_set.names
                                               if not n.startswith("facet_")))
    store.models.append(entry.name)
    path = tmp_path / "default_ranker.json"
    path.write_text(json.dumps(entry.to_doc()))
    monkeypatch.setattr(setup, "DEFAULT_MODEL_FILE", path)
    return entry


def test_the_shipped_default_model_fits_the_shipped_feature_set(settings):
    """Otherwise ``ltr init`` registers no default and a new catalog is ordered by fusion."""
    shipped = setup.shipped_default()
    assert shipped is not None, "rank/default_ranker.json ships with the package"
    feature_set = load_feature_set(settings)
    assert shipped.feature_set == feature_set.store_name
    core = tuple(n for n in feature_set.names if not n.startswith("facet_"))
    assert shipped.feature_names == core  # the catalog-independent core, first in every set
    assert set(shipped.params) <= feature_set.params


def test_ltr_init_deploys_the_default_only_when_nothing_is_deployed(
        client, settings, default_model):
    shipped = default_model
    first = setup.ltr_init(client, settings)
    deployed = registry.deployment(client, settings)
    again = setup.ltr_init(client, settings)
    assert first.deployed == first.default_model == shipped.name
    assert again.deployed == shipped.name and again.notes == ()
    assert registry.deployment(client, settings) == deployed  # nothing rewritten
    assert [e.name for e in registry.list_entries(client, settings)] == [shipped.name]


def test_ltr_init_never_deploys_the_default_over_a_deployed_model(
        client, settings, store, core_set, default_model):
    ours = _registered(client, settings, store, core_set, GOOD)
    registry.deploy(client, settings, ours.name)
    report = setup.ltr_init(client, settings)
    assert report.deployed == ours.name
    assert registry.deployment(client, settings).model == ours.name
    assert report.default_model == default_model.name
    assert default_model.name in {e.name for e in registry.list_entries(client, settings)}
    assert any(f"{ours.name} is deployed" in note for note in report.notes)


def test_ltr_init_on_another_catalog_deploys_the_default_created_from_its_bound_set(
        client, settings, store, default_model):
    films = settings.with_overrides(sections={**settings.sections,
                                              "catalog": {"description": "films"}})
    report = setup.ltr_init(client, films)
    store.sets.append(report.feature_set)
    entry = registry.get_entry(client, films, report.deployed)
    store.models.append(entry.name)
    assert report.feature_set != load_feature_set(settings).store_name
    assert entry.feature_set == report.feature_set and entry.name != default_model.name
    assert entry.definition == default_model.definition
    core = setup.shipped_default().feature_names
    assert entry.feature_names == (*core, "facet_decade", "facet_genre")
    stored = client.plugins.ltr.get_model(id=entry.name)["_source"]["model"]["feature_set"]
    zero = [f["name"] for f in stored["features"] if f["params"] == []
            and f["template"] == {"bool": {"filter": [{"match_all": {}}]}}]
    assert {"creator_bm25", "creator_exact"} <= set(zero)


# --- ltrr model train on simulated traffic ------------------------------------------------


def test_model_train_registers_a_model_learned_from_logged_searches_and_clicks(
        client, settings, store):
    from ltrr_opensearch.evaluate.experiment import (
        embed_world,
        prepare_policy_indices,
        scratch_folder,
    )
    from ltrr_opensearch.evaluate.harness import Policy, Replay
    from ltrr_opensearch.simulate import ClickModel, QueryStream, World, load_sim_config

    sim = load_sim_config(ROOT / "configs" / "worlds" / "small.toml")
    world = World.generate(sim)
    data = embed_world(list(world.rows()), "tfidf", scratch_folder())
    try:
        prepare_policy_indices(client, settings, data)
        serving = _registered(client, settings, store, load_feature_set(settings),
                              {"title_bm25": 1.0, "memory": 2.0, "popularity": 1.0,
                               "slot_matches": 2.0})
        setup.ltr_init(client, settings, default_model=False)
        registry.deploy(client, settings, serving.name)
        pipeline = Pipeline.from_cluster(client, settings)
        plan = Policy("ltr", plan=lambda q: [("bm25_popularity", 20), ("knn_vector", 20),
                                             ("q2e_memory", 20)])
        Replay(pipeline, plan, ClickModel(sim, seed=1), batch=100).run(
            QueryStream(world, sim).take(SIM_SEARCHES))
    finally:
        resources.clear()
    name = f"h6_trained_{_uid()}"
    store.models.append(name)
    entry = train_from_logs(client, settings, min_evidence=SIM_MIN_EVIDENCE, name=name)
    assert registry.get_entry(client, settings, name) == entry
    client.plugins.ltr.get_model(id=name)
    assert entry.type == "model/xgboost+json" and entry.feature_set == load_feature_set(
        settings).store_name
    assert entry.training_window["searches"] >= SIM_SEARCHES  # follow-ups aside, all logged
    ndcg = entry.metrics["ndcg@10"]
    assert 0.0 <= ndcg["model"]["mean"] <= 1.0 and ndcg["queries"] > 0
    assert entry.heldout["rows"] and {r["query_id"] for r in entry.heldout["rows"]} <= {
        hit["_id"] for hit in client.search(index=settings.ubi_queries_index,
                                            body={"size": 10000, "_source": False})["hits"]["hits"]}



def test_logged_searches_come_oldest_first_so_the_newest_feature_set_wins(client, settings):
    """``training_rows`` trains on the feature set of the last logged search."""
    from ltrr_opensearch.feedback.querylog import SearchRecord, log_search
    from ltrr_opensearch.rank.learn import logged_searches

    def record(query_id, day, feature_set):
        return SearchRecord(query_id=query_id, user_query="rock", hit_ids=("a",),
                            timestamp=datetime(2025, 1, day, tzinfo=timezone.utc),
                            extra={"ltr": {"model": "m", "feature_set": feature_set,
                                           "feature_names": ["f"], "features": {"a": [1.0]}}})

    # Request ids are random: the older search may well have the larger one.
    log_search(client, settings, [record("zz-older", 1, "set_v1"), record("aa-newer", 2, "set_v2"),
                                  record("mm-newest", 3, "set_v2")], refresh="wait_for")
    found = logged_searches(client, settings)
    assert [s.query_id for s in found] == ["zz-older", "aa-newer", "mm-newest"]
    assert found[-1].feature_set == "set_v2"


SIM_SEARCHES = 150
SIM_MIN_EVIDENCE = 3.0


# --- the CLI --------------------------------------------------------------------------------


def test_cli_ltr_init_and_model_list_and_show(client, settings, tmp_path, capsys,
                                              default_model):
    config = tmp_path / "ltrr.toml"
    config.write_text(f'[opensearch]\nurl = "{settings.urls[0]}"\n\n'
                      f'[indices]\nprefix = "{settings.index_prefix}"\n')
    shipped = default_model
    assert main(["ltr", "init", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^LTR store: (present|created)$", out, re.M)
    assert f"deployed model: {shipped.name}" in out
    assert f"feature set: {load_feature_set(settings).store_name}" in out
    assert main(["model", "list", "--config", str(config)]) == 0
    assert re.search(rf"^\* {shipped.name} +model/linear +shipped default", capsys.readouterr().out, re.M)
    assert main(["model", "show", shipped.name, "--config", str(config)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == shipped.name and shown["deployed"] is True
    assert main(["model", "show", "no_such_model", "--config", str(config)]) == 1
    assert "no model named 'no_such_model'" in capsys.readouterr().err
