"""ltrr's LTR plugin REST API through opensearch-py's ``client.plugins.ltr``, on a real node.

Every element route runs on the default store and on a named store. Names are unique per test
and everything a test creates is deleted afterwards; the default store itself is never deleted
(other tests and people use it): destructive store tests create and drop their own store.
"""

from __future__ import annotations

import pytest
from opensearchpy import exceptions as os_exc

from tests.ltr_support import (
    Made,
    drop_store,
    ensure_default_store,
    feature,
    get_element,
    ltr_path,
    make_docs_index,
    reason,
    unique,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["default", "named"])
def store(request, session_client, ltr_available):
    """``None`` (the default store) or the name of a store made for this module."""
    if not ltr_available:
        pytest.skip("no Learning to Rank API answers on this cluster (GET /_ltr)")
    if request.param == "default":
        ensure_default_store(session_client)
        yield None
        return
    name = unique("h7s")
    session_client.plugins.ltr.create_store(store=name)
    yield name
    drop_store(session_client, name)


@pytest.fixture()
def client(session_client):
    """The session's client: these tests name and delete what they create, so they need no
    per-test index prefix."""
    return session_client


@pytest.fixture()
def ltr(client, require_ltr):
    ensure_default_store(client)
    return client.plugins.ltr


@pytest.fixture()
def made(client, request):
    # Elements in the module's named store go with the store at the end of the module.
    module_store = request.getfixturevalue("store") if "store" in request.fixturenames else None
    registry = Made(client, dropped_store=module_store)
    yield registry
    registry.cleanup()


@pytest.fixture()
def own_store(ltr, client):
    """A store of this test's own, for tests that count or destroy."""
    name = unique("h7s")
    ltr.create_store(store=name)
    yield name
    drop_store(client, name)


@pytest.fixture(scope="module")
def docs(session_client):
    """Five documents the search-time tests rank (read only, shared by the module)."""
    index = f"{unique()}-docs"
    make_docs_index(session_client, index)
    yield index
    session_client.indices.delete(index=index, ignore_unavailable=True)


def names(search_response) -> list[str]:
    return [hit["_source"]["name"] for hit in search_response["hits"]["hits"]]


def a_set(name: str, *features: dict) -> dict:
    return {"featureset": {"name": name, "features": list(features)}}


def set_features(ltr, name, store) -> list[dict]:
    return ltr.get_featureset(id=name, store=store)["_source"]["featureset"]["features"]


# --- stores -------------------------------------------------------------------------------


def test_a_created_store_exists_and_is_listed_with_its_index_and_zero_counts(ltr, client):
    name = unique("h7s")
    try:
        created = ltr.create_store(store=name)
        assert created["acknowledged"] is True and created["index"] == f".ltrstore_{name}"
        assert ltr.get_store(store=name) == {"exists": True}
        listed = ltr.list_stores()["stores"][name]
        assert listed["index"] == f".ltrstore_{name}" and listed["version"] == 1
        assert listed["counts"] == {"feature": 0, "featureset": 0, "model": 0}
    finally:
        drop_store(client, name)


def test_a_store_that_was_never_created_does_not_exist(ltr):
    name = unique("h7s")
    assert ltr.get_store(store=name) == {"exists": False}
    assert name not in ltr.list_stores()["stores"]


def test_creating_an_existing_store_is_a_400_and_keeps_its_elements(ltr, own_store):
    ltr.create_feature(id="kept", store=own_store, body={"feature": feature("kept")})
    with pytest.raises(os_exc.RequestError) as refused:
        ltr.create_store(store=own_store)
    assert "exists" in reason(refused.value)
    assert ltr.get_feature(id="kept", store=own_store)["found"] is True


def test_creating_the_default_store_again_is_a_400(ltr):
    with pytest.raises(os_exc.RequestError) as refused:
        ltr.create_default_store()
    assert "exists" in reason(refused.value)
    assert "_default_" in ltr.list_stores()["stores"]


def test_deleting_a_store_drops_it_and_its_elements(ltr, client):
    name = unique("h7s")
    ltr.create_store(store=name)
    try:
        ltr.create_feature(id="gone", store=name, body={"feature": feature("gone")})
        deleted = ltr.delete_store(store=name)
        assert deleted["acknowledged"] is True and deleted["caches_cleared"]["failed"] == 0
        assert ltr.get_store(store=name) == {"exists": False}
        with pytest.raises(os_exc.NotFoundError) as missing:
            ltr.get_feature(id="gone", store=name)
        assert name in reason(missing.value)
    finally:
        drop_store(client, name)


def test_deleting_a_missing_store_is_404(ltr):
    with pytest.raises(os_exc.NotFoundError):
        ltr.delete_store(store=unique("h7s"))


def test_an_element_in_a_missing_store_is_404_naming_the_store(ltr):
    name = unique("h7s")
    with pytest.raises(os_exc.NotFoundError) as missing:
        ltr.create_feature(id="f", store=name, body={"feature": feature("f")})
    assert name in reason(missing.value)
    assert ltr.get_store(store=name) == {"exists": False}


# --- features -----------------------------------------------------------------------------


def test_a_created_feature_reads_back_with_its_template_and_version_1(ltr, store, made):
    name = made("feature", unique(), store)
    created = ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    assert created["result"] == "created" and created["_id"] == f"feature-{name}"
    got = ltr.get_feature(id=name, store=store)
    assert got["found"] is True and got["_version"] == 1
    assert got["_index"] == (f".ltrstore_{store}" if store else ".ltrstore")
    stored = got["_source"]["feature"]
    assert stored["name"] == name and stored["params"] == ["q"]
    assert stored["template"] == {"match": {"title": "{{q}}"}}


def test_creating_an_existing_feature_is_a_409_and_leaves_it_unchanged(ltr, store, made):
    name = made("feature", unique(), store)
    ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    with pytest.raises(os_exc.ConflictError):
        ltr.create_feature(id=name, store=store, body={"feature": feature(name, field="body")})
    got = ltr.get_feature(id=name, store=store)
    assert got["_version"] == 1
    assert got["_source"]["feature"]["template"] == {"match": {"title": "{{q}}"}}


def test_updating_a_feature_replaces_its_template_and_bumps_the_version(ltr, store, made):
    name = made("feature", unique(), store)
    ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    updated = ltr.update_feature(id=name, store=store, body={"feature": feature(name, field="body")})
    assert updated["result"] == "updated" and updated["_version"] == 2
    got = ltr.get_feature(id=name, store=store)["_source"]["feature"]
    assert got["template"] == {"match": {"body": "{{q}}"}}


def test_updating_a_missing_feature_creates_it(ltr, store, made):
    name = made("feature", unique(), store)
    assert ltr.update_feature(id=name, store=store, body={"feature": feature(name)})["result"] == "created"
    assert ltr.get_feature(id=name, store=store)["found"] is True


def test_a_body_name_that_differs_from_the_path_is_a_400_and_writes_nothing(ltr, store, made):
    path_name, body_name = made("feature", unique(), store), made("feature", unique(), store)
    with pytest.raises(os_exc.RequestError) as refused:
        ltr.create_feature(id=path_name, store=store, body={"feature": feature(body_name)})
    assert path_name in reason(refused.value) and body_name in reason(refused.value)
    assert get_element(ltr.client, "feature", path_name, store) is None
    assert get_element(ltr.client, "feature", body_name, store) is None


def test_delete_then_get_is_404_and_a_second_delete_is_404(ltr, store, made):
    name = made("feature", unique(), store)
    ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    deleted = ltr.delete_feature(id=name, store=store)
    assert deleted["result"] == "deleted" and deleted["caches_cleared"]["failed"] == 0
    with pytest.raises(os_exc.NotFoundError):
        ltr.get_feature(id=name, store=store)
    with pytest.raises(os_exc.NotFoundError):
        ltr.delete_feature(id=name, store=store)


def test_head_is_true_for_an_existing_element_and_false_for_a_missing_one(ltr, client, store, made):
    name = made("feature", unique(), store)
    ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    assert client.transport.perform_request("HEAD", ltr_path(store, "_feature", name)) is True
    assert client.transport.perform_request("HEAD", ltr_path(store, "_feature", unique())) is False


def test_search_by_prefix_returns_only_matching_names_sorted_by_name(ltr, store, made):
    prefix = unique()
    for suffix in ("c", "a", "b"):
        name = made("feature", f"{prefix}_{suffix}", store)
        ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    other = made("feature", unique(), store)
    ltr.create_feature(id=other, store=store, body={"feature": feature(other)})
    found = ltr.search_features(store=store, prefix=prefix)
    assert found["hits"]["total"]["value"] == 3
    assert names(found) == [f"{prefix}_a", f"{prefix}_b", f"{prefix}_c"]


def test_search_by_prefix_pages_with_from_and_size(ltr, store, made):
    prefix = unique()
    for i in range(5):
        name = made("feature", f"{prefix}_{i}", store)
        ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    page = ltr.search_features(store=store, prefix=prefix, from_=1, size=2)
    assert page["hits"]["total"]["value"] == 5
    assert names(page) == [f"{prefix}_1", f"{prefix}_2"]
    assert names(ltr.search_features(store=store, prefix=prefix, from_=4, size=2)) == [f"{prefix}_4"]


# --- feature sets -------------------------------------------------------------------------


def test_a_created_featureset_reads_back_with_its_features_in_order(ltr, store, made):
    name = made("featureset", unique(), store)
    body = {"featureset": {"name": name, "features": [feature("t"), feature("b", field="body")]}}
    assert ltr.create_featureset(id=name, store=store, body=body)["result"] == "created"
    got = ltr.get_featureset(id=name, store=store)
    assert got["_id"] == f"featureset-{name}"
    assert [f["name"] for f in got["_source"]["featureset"]["features"]] == ["t", "b"]


def test_creating_an_existing_featureset_is_a_409_and_leaves_it_unchanged(ltr, store, made):
    name = made("featureset", unique(), store)
    ltr.create_featureset(id=name, store=store, body=a_set(name, feature("t")))
    with pytest.raises(os_exc.ConflictError):
        ltr.create_featureset(id=name, store=store,
                              body={"featureset": {"name": name, "features": [feature("x")]}})
    assert [f["name"] for f in set_features(ltr, name, store)] == ["t"]
    assert ltr.get_featureset(id=name, store=store)["_version"] == 1


def test_updating_a_featureset_replaces_its_features(ltr, store, made):
    name = made("featureset", unique(), store)
    ltr.create_featureset(id=name, store=store, body=a_set(name, feature("t")))
    updated = ltr.update_featureset(id=name, store=store, body={"featureset": {
        "name": name, "features": [feature("b", field="body"), feature("t")]}})
    assert updated["result"] == "updated"
    assert [f["name"] for f in set_features(ltr, name, store)] == ["b", "t"]


def test_addfeatures_appends_in_order(ltr, store, made):
    name = made("featureset", unique(), store)
    ltr.create_featureset(id=name, store=store, body=a_set(name, feature("t")))
    added = ltr.add_features_to_set(name=name, store=store,
                                    body={"features": [feature("b", field="body"), feature("a")]})
    assert added["result"] == "updated"
    assert [f["name"] for f in set_features(ltr, name, store)] == ["t", "b", "a"]


def test_addfeatures_creates_a_missing_set(ltr, store, made):
    name = made("featureset", unique(), store)
    added = ltr.add_features_to_set(name=name, store=store, body={"features": [feature("t")]})
    assert added["result"] == "created"
    assert [f["name"] for f in set_features(ltr, name, store)] == ["t"]


def test_addfeatures_refuses_a_feature_already_in_the_set_and_changes_nothing(ltr, store, made):
    name = made("featureset", unique(), store)
    ltr.create_featureset(id=name, store=store, body=a_set(name, feature("t")))
    with pytest.raises(os_exc.RequestError) as refused:
        ltr.add_features_to_set(name=name, store=store,
                                body={"features": [feature("new"), feature("t", field="body")]})
    assert "[t]" in reason(refused.value) and "merge" in reason(refused.value)
    assert set_features(ltr, name, store) == [feature("t")]


def test_addfeatures_merge_true_replaces_same_named_features_in_place(ltr, store, made):
    name = made("featureset", unique(), store)
    ltr.create_featureset(id=name, store=store, body={"featureset": {
        "name": name, "features": [feature("t"), feature("b", field="body")]}})
    ltr.add_features_to_set(name=name, store=store, params={"merge": "true"},
                            body={"features": [feature("t", field="body"), feature("n")]})
    features = set_features(ltr, name, store)
    assert [f["name"] for f in features] == ["t", "b", "n"]
    assert features[0]["template"] == {"match": {"body": "{{q}}"}}


def test_addfeatures_by_query_adds_the_stored_features_with_that_prefix(ltr, store, made):
    prefix = unique()
    for suffix in ("y", "x"):
        name = made("feature", f"{prefix}_{suffix}", store)
        ltr.create_feature(id=name, store=store, body={"feature": feature(name)})
    other = made("feature", unique(), store)
    ltr.create_feature(id=other, store=store, body={"feature": feature(other)})
    set_name = made("featureset", unique(), store)
    assert ltr.add_features_to_set_by_query(name=set_name, store=store, query=prefix)["result"] == "created"
    assert [f["name"] for f in set_features(ltr, set_name, store)] == [f"{prefix}_x", f"{prefix}_y"]


def test_addfeatures_by_query_matching_nothing_is_404_and_creates_no_set(ltr, store, made):
    set_name = made("featureset", unique(), store)
    with pytest.raises(os_exc.NotFoundError) as missing:
        ltr.add_features_to_set_by_query(name=set_name, store=store, query=unique("zz"))
    assert "starting with" in reason(missing.value)
    assert get_element(ltr.client, "featureset", set_name, store) is None


def test_addfeatures_with_a_stale_version_is_409_and_changes_nothing(ltr, store, made):
    name = made("featureset", unique(), store)
    ltr.create_featureset(id=name, store=store, body=a_set(name, feature("t")))
    ltr.add_features_to_set(name=name, store=store, body={"features": [feature("b")]})  # now version 2
    with pytest.raises(os_exc.ConflictError) as stale:
        ltr.add_features_to_set(name=name, store=store, params={"version": 1},
                                body={"features": [feature("c")]})
    assert "version 2" in reason(stale.value)
    assert [f["name"] for f in set_features(ltr, name, store)] == ["t", "b"]
    ltr.add_features_to_set(name=name, store=store, params={"version": 2}, body={"features": [feature("c")]})
    assert [f["name"] for f in set_features(ltr, name, store)] == ["t", "b", "c"]


def test_search_featuresets_by_prefix(ltr, store, made):
    prefix = unique()
    for suffix in ("b", "a"):
        name = made("featureset", f"{prefix}_{suffix}", store)
        ltr.create_featureset(id=name, store=store, body=a_set(name, feature("t")))
    found = ltr.search_featuresets(store=store, prefix=prefix)
    assert names(found) == [f"{prefix}_a", f"{prefix}_b"]


def test_deleting_a_featureset_then_get_is_404(ltr, store, made):
    name = made("featureset", unique(), store)
    ltr.create_featureset(id=name, store=store, body=a_set(name, feature("t")))
    assert ltr.delete_featureset(id=name, store=store)["result"] == "deleted"
    with pytest.raises(os_exc.NotFoundError):
        ltr.get_featureset(id=name, store=store)


# --- models -------------------------------------------------------------------------------


def linear(name: str, weights: dict[str, float]) -> dict:
    return {"model": {"name": name, "model": {"type": "model/linear", "definition": weights}}}


def make_set(ltr, made, store, features=None) -> str:
    name = made("featureset", unique(), store)
    features = features or [feature("t"), feature("b", field="body")]
    ltr.create_featureset(id=name, store=store, body={"featureset": {"name": name, "features": features}})
    return name


def test_createmodel_stores_the_model_with_a_frozen_copy_of_the_set(ltr, store, made):
    set_name = make_set(ltr, made, store)
    model = made("model", unique(), store)
    created = ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 1.0, "b": 0.5}))
    assert created["result"] == "created" and created["_id"] == f"model-{model}"
    ltr.update_featureset(id=set_name, store=store, body=a_set(set_name, feature("x")))
    stored = ltr.get_model(id=model, store=store)["_source"]["model"]
    assert [f["name"] for f in stored["feature_set"]["features"]] == ["t", "b"]
    assert stored["model"]["type"] == "model/linear"


def test_createmodel_on_a_missing_set_is_404_naming_the_set(ltr, store, made):
    set_name, model = unique(), made("model", unique(), store)
    with pytest.raises(os_exc.NotFoundError) as missing:
        ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 1.0}))
    assert set_name in reason(missing.value)
    assert get_element(ltr.client, "model", model, store) is None


def test_a_model_with_an_inline_set_reads_back_with_its_definition_and_normalizers(ltr, store, made):
    model = made("model", unique(), store)
    tree = [{"nodeid": 0, "split": "t", "split_condition": 1.0, "yes": 1, "no": 2, "missing": 1,
             "children": [{"nodeid": 1, "leaf": 0.25}, {"nodeid": 2, "leaf": 2.0}]}]
    normalizers = {"b": {"standard": {"mean": 1.0, "standard_deviation": 2.0}}}
    inline_set = {"name": "inline", "features": [feature("t"), feature("b")]}
    body = {"model": {"name": model, "feature_set": inline_set,
                      "model": {"type": "model/xgboost+json", "definition": tree,
                                "feature_normalizers": normalizers}}}
    assert ltr.create_model(id=model, store=store, body=body)["result"] == "created"
    stored = ltr.get_model(id=model, store=store)["_source"]["model"]
    assert stored["model"]["type"] == "model/xgboost+json"
    assert stored["model"]["definition"] == tree
    assert stored["model"]["feature_normalizers"] == normalizers


def test_creating_an_existing_model_is_a_409_and_leaves_it_unchanged(ltr, store, made):
    set_name = make_set(ltr, made, store)
    model = made("model", unique(), store)
    ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 1.0}))
    with pytest.raises(os_exc.ConflictError):
        ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 9.0}))
    got = ltr.get_model(id=model, store=store)
    assert got["_version"] == 1 and got["_source"]["model"]["model"]["definition"] == {"t": 1.0}


def test_a_model_cannot_be_updated(ltr, client, store, made):
    set_name = make_set(ltr, made, store)
    model = made("model", unique(), store)
    ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 1.0}))
    stored = ltr.get_model(id=model, store=store)["_source"]["model"]
    changed = dict(stored, model={"type": "model/linear", "definition": {"t": 9.0}})
    with pytest.raises(os_exc.RequestError) as refused:
        client.transport.perform_request("POST", ltr_path(store, "_model", model), body={"model": changed})
    assert "cannot be updated" in reason(refused.value)
    got = ltr.get_model(id=model, store=store)
    assert got["_version"] == 1 and got["_source"]["model"]["model"]["definition"] == {"t": 1.0}


def test_search_models_by_prefix(ltr, store, made):
    set_name = make_set(ltr, made, store)
    prefix = unique()
    for suffix in ("b", "a"):
        model = made("model", f"{prefix}_{suffix}", store)
        ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 1.0}))
    assert names(ltr.search_models(store=store, prefix=prefix)) == [f"{prefix}_a", f"{prefix}_b"]


def test_deleting_a_model_then_get_is_404(ltr, store, made):
    set_name = make_set(ltr, made, store)
    model = made("model", unique(), store)
    ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 1.0}))
    assert ltr.delete_model(id=model, store=store)["result"] == "deleted"
    with pytest.raises(os_exc.NotFoundError):
        ltr.get_model(id=model, store=store)


# --- the stored elements at search time ---------------------------------------------------


def rescored(client, index, store, model, params) -> list[dict]:
    sltr = {"params": params, "model": model, **({"store": store} if store else {})}
    body = {"size": 10, "query": {"match_all": {}},
            "rescore": {"window_size": 10, "query": {"query_weight": 0, "rescore_query_weight": 1,
                                                     "rescore_query": {"sltr": sltr}}},
            "ext": {"ltr_log": {"log_specs": {"name": "log", "rescore_index": 0}}}}
    return client.search(index=index, body=body)["hits"]["hits"]


def logged(hit) -> dict[str, float]:
    return {f["name"]: f.get("value", 0.0) for f in hit["fields"]["_ltrlog"][0]["log"]}


def test_sltr_scores_documents_with_the_stored_linear_model(ltr, client, store, made, docs):
    set_name = make_set(ltr, made, store)
    model = made("model", unique(), store)
    weights = {"t": 2.0, "b": 0.5}
    ltr.create_model_from_set(name=set_name, store=store, body=linear(model, weights))
    hits = rescored(client, docs, store, model, {"q": "red"})
    assert len(hits) == 5
    for hit in hits:
        values = logged(hit)
        assert hit["_score"] == pytest.approx(sum(w * values[f] for f, w in weights.items()), rel=1e-4)
    assert max(hit["_score"] for hit in hits) > 0


def test_a_deleted_and_recreated_model_is_served_with_its_new_weights(ltr, client, store, made, docs):
    set_name = make_set(ltr, made, store)
    model = made("model", unique(), store)
    ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 1.0, "b": 0.0}))
    before = {h["_id"]: h["_score"] for h in rescored(client, docs, store, model, {"q": "red"})}
    ltr.delete_model(id=model, store=store)
    ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 0.0, "b": 1.0}))
    hits = rescored(client, docs, store, model, {"q": "red"})
    after = {h["_id"]: h["_score"] for h in hits}
    assert after != before
    for hit in hits:
        assert hit["_score"] == pytest.approx(logged(hit)["b"], rel=1e-4)


def test_a_featureset_update_is_seen_by_feature_logging(ltr, client, store, made, docs):
    set_name = make_set(ltr, made, store)
    sltr = {"_name": "log", "featureset": set_name, "params": {"q": "red"},
            **({"store": store} if store else {})}
    body = {"size": 1, "query": {"bool": {"filter": {"sltr": sltr}}},
            "ext": {"ltr_log": {"log_specs": {"name": "l", "named_query": "log"}}}}

    def logged_names():
        hit = client.search(index=docs, body=body)["hits"]["hits"][0]
        return [f["name"] for f in hit["fields"]["_ltrlog"][0]["l"]]

    assert logged_names() == ["t", "b"]
    ltr.update_featureset(id=set_name, store=store, body=a_set(set_name, feature("b")))
    assert logged_names() == ["b"]


# --- caches and stats ---------------------------------------------------------------------


def node_ids(client) -> set[str]:
    return set(client.nodes.info(filter_path="nodes.*.name")["nodes"])


def test_clearcache_answers_for_every_node(ltr, client):
    cleared = ltr.clear_cache()
    assert cleared["_nodes"]["total"] == cleared["_nodes"]["successful"] == len(node_ids(client))
    assert cleared["_nodes"]["failed"] == 0
    assert set(cleared["nodes"]) == node_ids(client)


def test_cache_stats_show_a_used_store_and_clearing_that_store_drops_it(ltr, client, own_store, made, docs):
    set_name = make_set(ltr, made, own_store)
    model = made("model", unique(), own_store)
    ltr.create_model_from_set(name=set_name, store=own_store, body=linear(model, {"t": 1.0}))
    rescored(client, docs, own_store, model, {"q": "red"})
    stats = ltr.cache_stats()
    assert stats["_nodes"]["failed"] == 0 and set(stats["nodes"]) == node_ids(client)
    assert stats["all"]["elements"]["stores"][f".ltrstore_{own_store}"]["model"] >= 1
    cleared = ltr.clear_cache(store=own_store)
    assert cleared["_nodes"]["failed"] == 0
    assert f".ltrstore_{own_store}" not in cleared["all"]["elements"]["stores"]


def test_stats_list_the_stores_with_counts(ltr, own_store, made):
    set_name = make_set(ltr, made, own_store)
    ltr.create_feature(id="f1", store=own_store, body={"feature": feature("f1")})
    ltr.create_model_from_set(name=set_name, store=own_store, body=linear("m1", {"t": 1.0}))
    stats = ltr.stats()
    assert stats["status"] in ("green", "yellow")
    assert stats["stores"][own_store]["counts"] == {"feature": 1, "featureset": 1, "model": 1}
    assert stats["stores"][own_store]["index"] == f".ltrstore_{own_store}"
    assert ltr.list_stores()["stores"][own_store]["counts"] == {"feature": 1, "featureset": 1, "model": 1}


def test_stats_for_one_node_list_only_that_node(ltr):
    node_id = next(iter(ltr.stats()["nodes"]))
    assert list(ltr.stats(node_id=node_id)["nodes"]) == [node_id]


def test_stats_for_one_stat_return_only_that_section(ltr):
    stores_only = ltr.stats(stat="stores")
    assert "stores" in stores_only and "status" not in stores_only and "nodes" not in stores_only
    status_only = ltr.stats(stat="status")
    assert status_only["status"] in ("green", "yellow") and "stores" not in status_only


def test_feature_logging_reads_the_rescore_window_back_and_computes_the_rest(ltr, client, store, made, docs):
    """One shard: the fetch phase runs in the query's request, so the 2 window hits reuse the vectors
    the rescore scored them with; the 3 hits outside the window get theirs computed."""
    set_name = make_set(ltr, made, store)
    model = made("model", unique(), store)
    ltr.create_model_from_set(name=set_name, store=store, body=linear(model, {"t": 2.0, "b": 0.5}))
    sltr = {"params": {"q": "red"}, "model": model, **({"store": store} if store else {})}
    body = {"size": 5, "query": {"match_all": {}},
            "rescore": {"window_size": 2, "query": {"query_weight": 0, "rescore_query": {"sltr": sltr}}},
            "ext": {"ltr_log": {"log_specs": {"name": "log", "rescore_index": 0}}}}

    def counts() -> dict[str, int]:
        return ltr.cache_stats()["all"]["search"]["feature_log"]

    before = counts()
    hits = client.search(index=docs, body=body)["hits"]["hits"]
    after = counts()
    assert len(hits) == 5
    assert after["recorded"] - before["recorded"] == 2
    assert after["computed"] - before["computed"] == 3
    for hit in hits[:2]:
        values = logged(hit)
        assert hit["_score"] == pytest.approx(2.0 * values["t"] + 0.5 * values["b"], rel=1e-4)
