"""The search path's shortcuts keep its behaviour: ``POST /search`` served without FastAPI's
request machinery (service/asgi.py JSONFastRoute), the catalog copied per render by a
pickle round trip, rendered texts reused for the very same variables, and the
Server-Timing stages the benchmark reads."""

from __future__ import annotations

import pytest

from ltrr_opensearch.config import PACKAGE_ROOT
from ltrr_opensearch.retrieve.catalog import offline_catalog
from ltrr_opensearch.retrieve.templates import TemplateRegistry, _RenderCache, build_context
from ltrr_opensearch.types import ContextVector, Understanding
from tests.test_service import catalog, policy, serving  # noqa: F401 - fixtures


def _understanding() -> Understanding:
    return Understanding(raw="love", normalized="love", tokens=("love",), intent=None,
                         intent_confidence=0.0, slots=(), keywords=("love",),
                         context=ContextVector("t", ("x",), (0.0,)))


def test_each_render_gets_its_own_copy_of_the_catalog():
    shared = {**offline_catalog(), "pair": ("a", "b"), "nested": {"list": [1, 2]}}
    first = build_context(_understanding(), size=3, catalog=shared)["catalog"]
    assert first == shared and first["pair"] == ("a", "b")  # same values, tuples stay tuples
    first["nested"]["list"].append(3)
    first["search_fields"].append("injected")
    second = build_context(_understanding(), size=3, catalog=shared)["catalog"]
    assert shared["nested"]["list"] == [1, 2] == second["nested"]["list"]
    assert "injected" not in shared["search_fields"] + second["search_fields"]


def test_a_catalog_pickle_cannot_take_is_still_copied():
    def local() -> int:  # pickle cannot take a local function; deepcopy keeps it as it is
        return 1

    shared = {**offline_catalog(), "fn": local, "nested": {"list": [1]}}
    copied = build_context(_understanding(), size=3, catalog=shared)["catalog"]
    assert copied["fn"] is local and copied["nested"] == {"list": [1]}
    assert copied["nested"]["list"] is not shared["nested"]["list"]


def test_a_repeated_render_is_reused_but_each_body_is_its_own():
    registry = TemplateRegistry(PACKAGE_ROOT / "templates" / "strategies")
    context = build_context(_understanding(), size=3, q2e_key="love")
    first = registry.render("bm25_popularity", context)
    first["query"]["injected"] = True
    again = registry.render("bm25_popularity", build_context(_understanding(), size=3,
                                                               q2e_key="love"))
    assert "injected" not in again["query"] and again["size"] == 3
    assert len(registry._rendered._texts) == 1  # the second was the first's text
    assert registry.render("bm25_popularity", {**context, "size": 4})["size"] == 4


def test_render_cache_keys_tell_equal_looking_variables_apart():
    key = _RenderCache.key
    assert key("t", {"v": None}) != key("t", {"v": float("nan")})
    assert key("t", {"v": 1}) != key("t", {"v": 1.0}) != key("t", {"v": True})
    assert key("t", {"v": (1,)}) != key("t", {"v": [1]})
    assert key("t", {"v": 1}) != key("u", {"v": 1})
    assert key("t", {"v": lambda: 1}) is None  # not picklable: rendered, never cached
    cache = _RenderCache(size=2)
    for n in range(3):
        cache.put(key("t", {"n": n}), str(n))
    assert cache.get(key("t", {"n": 0})) is None and cache.get(key("t", {"n": 2})) == "2"


def _timing(header: str) -> dict[str, float]:
    return {name: float(dur) for name, _, dur in
            (part.strip().partition(";dur=") for part in header.split(","))}


@pytest.mark.integration
def test_a_search_reports_its_engine_wait_and_its_time_in_the_service(catalog, policy):  # noqa: F811
    with serving(catalog, "--policy", policy) as api:
        answer = api.post("/search", json={"query": "love"})
        assert answer.status_code == 200, answer.text
        stages = _timing(answer.headers["server-timing"])
        assert 0 < stages["engine"] <= stages["retrieve"] <= stages["app"]
        assert stages["app"] >= sum(v for k, v in stages.items()
                                    if k in ("understand", "select", "retrieve", "merge", "log"))


@pytest.mark.integration
def test_searches_are_served_the_same_whichever_way_the_body_comes(catalog, policy):  # noqa: F811
    with serving(catalog, "--policy", policy) as api:
        bodies = {  # the fast path, and with a charset parameter
            "json": api.post("/search", json={"query": "love", "k": 2}),
            "charset": api.post("/search", content=b'{"query": "love", "k": 2}',
                                headers={"content-type": "application/json; charset=utf-8"}),
        }
        for name, answer in bodies.items():
            assert answer.status_code == 200, (name, answer.text)
            assert answer.headers["x-request-id"] == answer.json()["request_id"]
            assert 1 <= len(answer.json()["results"]) <= 2, name
        ids = {name: [r["id"] for r in a.json()["results"]] for name, a in bodies.items()}
        plans = {name: [s["arm"] for s in a.json()["strategies"]] for name, a in bodies.items()}
        if plans["charset"] == plans["json"]:  # the bandit may explore: same plan, same page
            assert ids["charset"] == ids["json"]
        # Left to FastAPI's route, as before: an invalid body, and one without a JSON type.
        refused = api.post("/search", json={"query": "love", "k": 0})
        assert refused.status_code == 422 and "k" in refused.json()["error"]
        untyped = api.post("/search", content=b'{"query": "love"}')
        assert untyped.status_code == 422 and "body" in untyped.json()["error"]
        metrics = api.get("/metrics").text
        assert 'ltrr_http_request_seconds_count{endpoint="/search",method="POST",status="200"} ' \
               '2.0' in metrics
        assert 'endpoint="/search",method="POST",status="422"' in metrics
