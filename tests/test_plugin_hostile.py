"""Hostile input to ltrr's LTR plugin, on a real node.

Each bad request is answered with the expected 4xx (never a 5xx) whose text names the problem;
nothing is half-written (an element a refused create names does not exist, the existing elements
are unchanged); and afterwards the cluster is green/yellow and still answers a search. The huge
bodies are just over their limits, so the whole file runs in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from opensearchpy import exceptions as os_exc

from tests.ltr_support import (
    Made,
    delete_quietly,
    ensure_default_store,
    feature,
    get_element,
    make_docs_index,
    reason,
    unique,
)

pytestmark = pytest.mark.integration

JSON = "application/json"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Bad:
    """One hostile request. ``path`` and a text ``body`` may hold the placeholders ``<n>`` (a fresh
    element name), ``<set>``, ``<feat>``, ``<model>`` (existing elements) and ``<index>`` (a docs index)."""

    id: str
    method: str
    path: str
    body: str | dict | Callable[[], str] | None
    status: int
    word: str
    absent: tuple[str, ...] = ()  # element kinds named <n> that must not exist afterwards
    content_type: str | None = JSON
    params: dict = field(default_factory=dict)


def feature_body(**fields) -> dict:
    return {"feature": {"name": "<n>", **fields}}


SET_X = {"name": "s", "features": [{"name": "x", "template": {"match_all": {}}}]}


def model_body(model: dict, feature_set: dict = SET_X) -> dict:
    return {"model": {"name": "<n>", "feature_set": feature_set, "model": model}}


def model_text(definition_text: str, kind: str = "model/linear") -> str:
    """A model create whose definition is JSON text given verbatim (to carry NaN/Infinity/1e999)."""
    text = json.dumps(model_body({"type": kind, "definition": "DEF"}))
    return text.replace('"DEF"', definition_text)


def tree(**root) -> list[dict]:
    node = {"nodeid": 0, "split": "x", "split_condition": 1.0, "yes": 1, "no": 2,
            "children": [{"nodeid": 1, "leaf": 1.0}, {"nodeid": 2, "leaf": 2.0}]}
    return [node | root]


def xgb(definition) -> dict:
    return model_body({"type": "model/xgboost+json", "definition": definition})


def deep_tree(depth: int) -> list[dict]:
    node: dict = {"nodeid": depth, "leaf": 1.0}
    for i in range(depth - 1, -1, -1):
        node = {"nodeid": i, "split": "x", "split_condition": 0.5, "yes": i + 1, "no": i + 1,
                "children": [node]}
    return [node]


def deeply_nested() -> str:
    return '{"feature":{"name":"<n>","template":' + '{"a":' * 1500 + "1" + "}" * 1500 + "}}"


def many_features() -> str:
    features = [{"name": f"f{i}", "template": {"match_all": {}}} for i in range(10_001)]
    return json.dumps({"featureset": {"name": "<n>", "features": features}})


def oversized_definition() -> str:
    definition = '{"x": 1' + " " * (10 * MiB + 10) + "}"
    return json.dumps(model_body({"type": "model/linear", "definition": definition}))


def oversized_body() -> str:
    return " " * (32 * MiB + 10) + "{}"


def sltr_search(**sltr) -> dict:
    return {"query": {"sltr": {"params": {"q": "red"}, **sltr}}}


FEATURE = "/_ltr/_feature/<n>"
FEATURESET = "/_ltr/_featureset/<n>"
MODEL = "/_ltr/_model/<n>"
F, FS, M = ("feature",), ("featureset",), ("model",)

CASES = [
    # request bodies
    Bad("non-json", "PUT", FEATURE, "not json", 400, "not valid JSON", F),
    Bad("text-plain", "PUT", FEATURE, '{"feature":{}}', 406, "Content-Type", F, content_type="text/plain"),
    Bad("no-body", "PUT", FEATURE, None, 400, "body is required", F, content_type=None),
    Bad("array-root", "PUT", FEATURE, "[1,2]", 400, "must be a JSON object", F),
    Bad("trailing-garbage", "PUT", FEATURE, '{"feature":{"name":"<n>","template":{"match_all":{}}}} xx',
        400, "not valid JSON", F),
    Bad("wrong-wrapper", "PUT", FEATURE, {"model": {"name": "<n>"}}, 400, "must be {", F),
    Bad("duplicate-json-key", "PUT", FEATURE,
        '{"feature":{"name":"<n>","name":"<n>","template":{"match_all":{}}}}', 400, "Duplicate field", F),
    Bad("deeply-nested", "PUT", FEATURE, deeply_nested, 400, "nesting depth", F),
    Bad("body-over-32mb", "PUT", FEATURE, oversized_body, 413, "max_request_bytes", F),
    # features
    Bad("name-number", "PUT", FEATURE, {"feature": {"name": 5, "template": {"match_all": {}}}}, 400,
        "[name] must be a string", F),
    Bad("empty-name", "PUT", "/_ltr/_feature/%20", {"feature": {"name": " ", "template": {"match_all": {}}}},
        400, "must not be empty"),
    Bad("name-too-long", "PUT", "/_ltr/_feature/" + "a" * 257,
        {"feature": {"name": "a" * 257, "template": {"match_all": {}}}}, 400, "longer than 256"),
    Bad("name-dot", "PUT", "/_ltr/_feature/.", {"feature": {"name": ".", "template": {"match_all": {}}}},
        400, "path segment"),
    Bad("name-dot-dot", "PUT", "/_ltr/_featureset/..", {"featureset": {"name": "..", "features": []}},
        400, "path segment"),
    Bad("name-control-char", "PUT", "/_ltr/_feature/a%01b",
        {"feature": {"name": "a\u0001b", "template": {"match_all": {}}}}, 400, "control character"),
    Bad("missing-template", "PUT", FEATURE, feature_body(), 400, "[template] is required", F),
    Bad("template-number", "PUT", FEATURE, feature_body(template=5), 400, "[template] must be", F),
    Bad("unknown-field", "PUT", FEATURE, feature_body(template={"match_all": {}}, boost=2), 400,
        "unknown field [boost]", F),
    Bad("params-not-list", "PUT", FEATURE, feature_body(params="q", template={"match_all": {}}), 400,
        "[params] must be a list", F),
    Bad("template-language", "PUT", FEATURE,
        feature_body(template_language="painless", template={"match_all": {}}), 400, "painless", F),
    Bad("unknown-query-in-template", "PUT", FEATURE, feature_body(template={"nosuchquery": {}}), 400,
        "nosuchquery", F),
    Bad("bad-query-option", "PUT", FEATURE,
        feature_body(params=["q"], template={"match": {"title": {"query": "{{q}}", "bogus": 1}}}), 400,
        "bogus", F),
    Bad("template-not-json", "PUT", FEATURE, feature_body(params=["q"], template='{"match": {'), 400,
        "did not render to a valid query", F),
    Bad("unclosed-mustache", "PUT", FEATURE,
        feature_body(params=["q"], template='{"match":{"t":"{{#q}}"}}'), 400, "never closed", F),
    Bad("mustache-partial", "PUT", FEATURE,
        feature_body(params=["q"], template={"match": {"t": "{{> p}}"}}), 400, "partials", F),
    Bad("name-differs-from-path", "PUT", FEATURE,
        {"feature": {"name": "other", "template": {"match_all": {}}}}, 400, "does not match", F),
    # feature sets
    Bad("duplicate-features", "PUT", FEATURESET, {"featureset": {"name": "<n>", "features": [
        {"name": "x", "template": {"match_all": {}}}, {"name": "x", "template": {"match_all": {}}}]}}, 400,
        "duplicate feature name [x]", FS),
    Bad("features-object", "PUT", FEATURESET, {"featureset": {"name": "<n>", "features": {"name": "x"}}}, 400,
        "[features] must be a list", FS),
    Bad("validation-object", "PUT", FEATURESET, {"featureset": dict(SET_X, name="<n>", validation={})}, 400,
        "unknown field [validation]", FS),
    Bad("routing-param", "PUT", FEATURESET, {"featureset": dict(SET_X, name="<n>")}, 400, "routing", FS,
        params={"routing": "1"}),
    Bad("10001-features", "PUT", FEATURESET, many_features, 400, "max_features_per_set", FS),
    # routes, stores, search parameters, stats
    Bad("unknown-element-type", "PUT", "/_ltr/_bogus/<n>", {"bogus": {}}, 400, "no handler"),
    Bad("bad-store-name", "PUT", "/_ltr/BAD*name", None, 400, "invalid store name", content_type=None),
    Bad("store-name-underscore", "PUT", "/_ltr/_x", None, 400, "invalid store name", content_type=None),
    Bad("missing-store", "GET", "/_ltr/h7nostore/_feature/x", None, 404, "PUT /_ltr/h7nostore"),
    Bad("search-from-negative", "GET", "/_ltr/_feature", None, 400, "[from]", params={"from": "-1"}),
    Bad("search-size-not-int", "GET", "/_ltr/_feature", None, 400, "[size]", params={"size": "abc"}),
    Bad("search-window", "GET", "/_ltr/_feature", None, 400, "from + size",
        params={"from": "9999", "size": "2"}),
    Bad("search-unknown-param", "GET", "/_ltr/_feature", None, 400, "bogus", params={"bogus": "1"}),
    Bad("clearcache-bad-store", "POST", "/_ltr/BAD/_clearcache", None, 400, "invalid store name",
        content_type=None),
    Bad("unknown-stat", "GET", "/_plugins/_ltr/stats/nope", None, 400, "unknown stat [nope]"),
    # models
    Bad("model-update", "POST", MODEL, model_body({"type": "model/linear", "definition": {"x": 1}}), 400,
        "cannot be updated", M),
    Bad("model-missing-set", "PUT", MODEL, {"model": {"name": "<n>", "model": {
        "type": "model/linear", "definition": {"x": 1}}}}, 400, "[feature_set] is required", M),
    Bad("model-unknown-type", "PUT", MODEL, model_body({"type": "model/nope", "definition": {"x": 1}}), 400,
        "model/nope", M),
    Bad("model-unknown-feature", "PUT", MODEL,
        model_body({"type": "model/linear", "definition": {"nope": 1}}), 400, "unknown feature [nope]", M),
    Bad("linear-not-object", "PUT", MODEL, model_body({"type": "model/linear", "definition": [1, 2]}), 400,
        "must be an object", M),
    Bad("linear-weight-string", "PUT", MODEL, model_body({"type": "model/linear", "definition": {"x": "1"}}),
        400, "must be a number", M),
    Bad("linear-infinite-number", "PUT", MODEL, model_text('{"x": 1e999}'), 400, "non-finite number", M),
    Bad("linear-infinite-in-text", "PUT", MODEL, model_text('"{\\"x\\": 1e999}"'), 400, "not finite", M),
    Bad("linear-nan-in-text", "PUT", MODEL, model_text('"{\\"x\\": NaN}"'), 400, "NaN", M),
    Bad("linear-infinity-token-in-text", "PUT", MODEL, model_text('"{\\"x\\": -Infinity}"'), 400,
        "Infinity", M),
    Bad("normalizer-zero-sd", "PUT", MODEL, model_body({"type": "model/linear", "definition": {"x": 1},
        "feature_normalizers": {"x": {"standard": {"mean": 0, "standard_deviation": 0}}}}), 400,
        "[standard_deviation] must be positive", M),
    Bad("normalizer-unknown-feature", "PUT", MODEL, model_body({"type": "model/linear",
        "definition": {"x": 1}, "feature_normalizers": {"y": {"min_max": {"minimum": 0, "maximum": 1}}}}),
        400, "feature [y]", M),
    Bad("tree-missing-child", "PUT", MODEL, xgb(tree(no=5, children=[{"nodeid": 1, "leaf": 1.0}])), 400,
        "not among its children", M),
    Bad("tree-cycle", "PUT", MODEL,
        xgb(tree(children=[{"nodeid": 1, "leaf": 1.0}, {"nodeid": 0, "leaf": 2.0}], no=0)), 400, "cycle", M),
    Bad("tree-unreferenced-child", "PUT", MODEL, xgb(tree(children=[{"nodeid": 1, "leaf": 1.0},
        {"nodeid": 2, "leaf": 2.0}, {"nodeid": 3, "leaf": 3.0}])), 400, "not referenced", M),
    Bad("tree-unknown-feature", "PUT", MODEL, xgb(tree(split="nope")), 400, "unknown feature [nope]", M),
    Bad("tree-infinite-split-number", "PUT", MODEL,
        model_text(json.dumps(tree()).replace("1.0", "-1e999", 1), "model/xgboost+json"), 400,
        "non-finite number (-Infinity)", M),
    Bad("tree-infinite-split", "PUT", MODEL, xgb(json.dumps(tree()).replace("1.0", "1e999", 1)), 400,
        "not finite", M),
    Bad("tree-nan-leaf", "PUT", MODEL, xgb(json.dumps(tree()).replace('"leaf": 2.0', '"leaf": NaN')), 400,
        "NaN", M),
    Bad("tree-too-deep", "PUT", MODEL, xgb(deep_tree(130)), 400, "depth", M),
    Bad("tree-empty", "PUT", MODEL, xgb([]), 400, "no trees", M),
    Bad("definition-over-10mb", "PUT", MODEL, oversized_definition, 400, "max_model_bytes", M),
    # _createmodel and _addfeatures on the existing set <set>
    Bad("createmodel-missing-set", "POST", "/_ltr/_featureset/<n>/_createmodel", {"model": {
        "name": "<n>", "model": {"type": "model/linear", "definition": {"t": 1}}}}, 404, "not found", M),
    Bad("createmodel-not-object", "POST", "/_ltr/_featureset/<set>/_createmodel", {"model": "x"}, 400,
        "must be an object"),
    Bad("createmodel-with-feature-set", "POST", "/_ltr/_featureset/<set>/_createmodel", {"model": {
        "name": "<n>", "feature_set": SET_X, "model": {"type": "model/linear", "definition": {"t": 1}}}}, 400,
        "unknown field [feature_set]", M),
    Bad("createmodel-unknown-feature", "POST", "/_ltr/_featureset/<set>/_createmodel", {"model": {
        "name": "<n>", "model": {"type": "model/linear", "definition": {"nope": 1}}}}, 400,
        "unknown feature [nope]", M),
    Bad("createmodel-existing-model", "POST", "/_ltr/_featureset/<set>/_createmodel", {"model": {
        "name": "<model>", "model": {"type": "model/linear", "definition": {"t": 5}}}}, 409, "<model>"),
    Bad("addfeatures-empty", "POST", "/_ltr/_featureset/<set>/_addfeatures", {"features": []}, 400,
        "must not be empty"),
    Bad("addfeatures-query-and-body", "POST", "/_ltr/_featureset/<set>/_addfeatures/t", {"features": []}, 400,
        "takes no body"),
    Bad("addfeatures-existing-name", "POST", "/_ltr/_featureset/<set>/_addfeatures",
        {"features": [feature("new"), feature("t", field="body")]}, 400, "merge=true"),
    Bad("addfeatures-bad-template", "POST", "/_ltr/_featureset/<set>/_addfeatures",
        {"features": [feature("new"), {"name": "bad", "template": {"nosuchquery": {}}}]}, 400, "nosuchquery"),
    Bad("addfeatures-duplicates", "POST", "/_ltr/_featureset/<set>/_addfeatures",
        {"features": [feature("new"), feature("new")]}, 400, "duplicate feature name [new]"),
    Bad("addfeatures-stale-version", "POST", "/_ltr/_featureset/<set>/_addfeatures",
        {"features": [feature("new")]}, 409, "version", params={"version": "99"}),
    Bad("addfeatures-missing-set-version", "POST", "/_ltr/_featureset/<n>/_addfeatures",
        {"features": [feature("new")]}, 409, "does not exist", FS, params={"version": "1"}),
    # refused updates of existing elements
    Bad("update-feature-unknown-field", "POST", "/_ltr/_feature/<feat>",
        {"feature": dict(feature("<feat>", field="body"), boost=3)}, 400, "unknown field [boost]"),
    Bad("update-feature-bad-query", "POST", "/_ltr/_feature/<feat>",
        {"feature": {"name": "<feat>", "template": {"nosuchquery": {}}}}, 400, "nosuchquery"),
    Bad("update-feature-other-name", "POST", "/_ltr/_feature/<feat>", {"feature": feature("other")}, 400,
        "does not match"),
    Bad("update-featureset-duplicates", "POST", "/_ltr/_featureset/<set>",
        {"featureset": {"name": "<set>", "features": [feature("t"), feature("t")]}}, 400,
        "duplicate feature name"),
    Bad("create-existing-feature", "PUT", "/_ltr/_feature/<feat>",
        {"feature": feature("<feat>", field="body")}, 409, "<feat>"),
    # search time
    Bad("sltr-missing-param", "POST", "/<index>/_search",
        {"query": {"sltr": {"params": {}, "model": "<model>"}}}, 400, "missing required param(s): [q]"),
    Bad("sltr-missing-model", "POST", "/<index>/_search", sltr_search(model="<n>"), 404,
        "model [<n>] not found"),
    Bad("rescore-sltr-missing-model", "POST", "/<index>/_search", {"query": {"match_all": {}}, "rescore": {
        "query": {"rescore_query": {"sltr": {"params": {"q": "red"}, "model": "<n>"}}}}}, 404,
        "model [<n>] not found"),
    Bad("sltr-missing-featureset", "POST", "/<index>/_search", sltr_search(featureset="<n>"), 404,
        "featureset [<n>] not found"),
    Bad("sltr-missing-store", "POST", "/<index>/_search", sltr_search(model="<model>", store="h7nostore"),
        404, "h7nostore"),
    Bad("sltr-model-and-featureset", "POST", "/<index>/_search",
        sltr_search(model="<model>", featureset="<set>"), 400, "exactly one"),
    Bad("sltr-unknown-active-feature", "POST", "/<index>/_search",
        sltr_search(model="<model>", active_features=["zz"]), 400, "[zz]"),
    Bad("sltr-unknown-field", "POST", "/<index>/_search", sltr_search(model="<model>", bogus=1), 400,
        "bogus"),
    Bad("ltr-log-missing-query", "POST", "/<index>/_search",
        {"query": {"match_all": {}}, "ext": {"ltr_log": {"log_specs": {"name": "l", "named_query": "nope"}}}},
        400, "nope"),
]


@dataclass
class World:
    """Elements that exist before every hostile request (in the default store) and a docs index."""

    names: dict[str, str]

    def fill(self, text: str) -> str:
        for key, value in self.names.items():
            text = text.replace(f"<{key}>", value)
        return text


@pytest.fixture(scope="module")
def world(session_client, ltr_available):
    if not ltr_available:
        pytest.skip("no Learning to Rank API answers on this cluster (GET /_ltr)")
    client, ltr = session_client, session_client.plugins.ltr
    ensure_default_store(client)
    names = {"feat": unique(), "set": unique(), "model": unique(), "index": f"{unique()}-docs"}
    made = Made(client)
    try:
        make_docs_index(client, names["index"])
        ltr.create_feature(id=made("feature", names["feat"]), body={"feature": feature(names["feat"])})
        ltr.create_featureset(id=made("featureset", names["set"]), body={"featureset": {
            "name": names["set"], "features": [feature("t"), feature("b", field="body")]}})
        ltr.create_model_from_set(name=names["set"], body={"model": {
            "name": made("model", names["model"]),
            "model": {"type": "model/linear", "definition": {"t": 1.0, "b": 0.5}}}})
        yield World(names)
    finally:
        made.cleanup()
        client.indices.delete(index=names["index"], ignore_unavailable=True)


def snapshot(client, world: World) -> list:
    """The stored documents of the world's elements (sequence number and source), read in one request
    from the default store's index."""
    names = world.names
    ids = [f"feature-{names['feat']}", f"featureset-{names['set']}", f"model-{names['model']}"]
    docs = client.mget(index=".ltrstore", body={"ids": ids})["docs"]
    return [(d["_id"], d.get("found"), d.get("_seq_no"), d.get("_source")) for d in docs]


def send(client, case: Bad, world: World) -> tuple[int, str]:
    body = case.body() if callable(case.body) else case.body
    if isinstance(body, dict):
        body = json.dumps(body)
    if body is not None:
        body = world.fill(body)
    headers = {"content-type": case.content_type} if case.content_type else None
    try:
        response = client.transport.perform_request(case.method, world.fill(case.path), body=body,
                                                    params=dict(case.params), headers=headers)
    except os_exc.TransportError as exc:
        return exc.status_code, reason(exc)
    return 200, json.dumps(response)[:2000]


def assert_node_serves(client, world: World) -> None:
    assert client.cluster.health()["status"] in ("green", "yellow")
    hits = client.search(index=world.names["index"], body={"query": {"match": {"title": "red"}}})["hits"]
    assert hits["total"]["value"] == 3


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_request_is_a_4xx_naming_the_problem_and_changes_nothing(
        case, world, session_client, require_ltr):
    client = session_client
    world = World(dict(world.names, n=unique()))
    before = snapshot(client, world)

    status, text = send(client, case, world)

    written = [kind for kind in case.absent if get_element(client, kind, world.names["n"]) is not None]
    for kind in written:
        delete_quietly(client, kind, world.names["n"])
    assert status == case.status, f"{case.method} {case.path}: {status} {text[:600]}"
    assert world.fill(case.word) in text
    assert not written, f"{written} written despite {status}"
    assert snapshot(client, world) == before
    assert_node_serves(client, world)


def test_user_text_in_params_cannot_leave_its_json_string(world, session_client, require_ltr):
    """A param full of JSON syntax is matched as text: the feature scores exactly as a plain match query
    on that text, the search is not widened or broken."""
    client = session_client
    hostile = 'red"}}, {"match_all": {"boost": 1000}}, {"x": "'
    body = {"size": 10, "query": {"bool": {"filter": {"sltr": {
                "_name": "log", "featureset": world.names["set"], "params": {"q": hostile}}}}},
            "ext": {"ltr_log": {"log_specs": {"name": "l", "named_query": "log"}}}}
    hits = client.search(index=world.names["index"], body=body)["hits"]["hits"]
    plain = client.search(index=world.names["index"],
                          body={"size": 10, "query": {"match": {"title": hostile}}})
    expected = {h["_id"]: h["_score"] for h in plain["hits"]["hits"]}
    logged = {h["_id"]: {f["name"]: f.get("value") for f in h["fields"]["_ltrlog"][0]["l"]}["t"]
              for h in hits}
    assert len(hits) == 5
    assert {doc for doc, value in logged.items() if value is not None} == set(expected)
    for doc, score in expected.items():
        assert logged[doc] == pytest.approx(score, rel=1e-5)
