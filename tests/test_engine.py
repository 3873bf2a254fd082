"""The real node: plugins, field types the product relies on, doctor, and the launcher."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.engine.node import DISTRIBUTIONS, PINNED_VERSION, assemble, choose_distribution
from ltrr_opensearch.errors import EngineError
from tests.conftest import node_plugins

pytestmark = pytest.mark.integration

REQUIRED_MODULES = {"mapper-extras", "analysis-common", "lang-painless", "lang-mustache"}


def test_node_has_knn_plugin_and_the_modules_the_product_needs(client):
    cat = client.cat.plugins(format="json")
    assert "opensearch-knn" in {row["component"] for row in cat}
    assert node_plugins(client) >= REQUIRED_MODULES


def test_knn_rank_features_and_english_analysis_work_together(client, settings):
    index = f"{settings.index_prefix}-fields"
    client.indices.create(index=index, body={
        "settings": {"index.knn": True, "number_of_replicas": 0},
        "mappings": {"properties": {
            "vec": {"type": "knn_vector", "dimension": 3,
                    "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}},
            "q2e": {"type": "rank_features"},
            "title": {"type": "text", "analyzer": "english"}}}})
    docs = {"a": ([1, 0, 0], {"rock": 1.0}, "running songs"),
            "b": ([0, 1, 0], {"rock": 9.0}, "quiet piano"),
            "c": ([0, 0, 1], {"rock": 4.0}, "loud drums")}
    for doc_id, (vec, q2e, title) in docs.items():
        client.index(index=index, id=doc_id, body={"vec": vec, "q2e": q2e, "title": title})
    client.indices.refresh(index=index)

    knn = client.search(index=index, body={"query": {"knn": {"vec": {"vector": [0.1, 0.9, 0.05],
                                                                     "k": 1}}}, "size": 1})
    assert knn["hits"]["hits"][0]["_id"] == "b"

    ranked = client.search(index=index, body={"query": {"rank_feature": {"field": "q2e.rock"}}})
    assert [h["_id"] for h in ranked["hits"]["hits"]] == ["b", "c", "a"]

    stemmed = client.search(index=index, body={"query": {"match": {"title": "run"}}})
    assert [h["_id"] for h in stemmed["hits"]["hits"]] == ["a"]


def test_sltr_rescore_orders_by_linear_model_and_scores_equal_weighted_features(
        client, settings, require_ltr):
    index = f"{settings.index_prefix}-ltr"
    featureset = f"{settings.index_prefix}_set"
    model = f"{settings.index_prefix}_linear"
    client.indices.create(index=index, body={"mappings": {"properties": {
        "title": {"type": "text"}, "pop": {"type": "float"}}}})
    titles = ["red song", "red red song", "blue song", "red blue song", "green song"]
    for i, title in enumerate(titles):
        client.index(index=index, id=str(i), body={"title": title, "pop": float(i)})
    client.indices.refresh(index=index)

    stores = client.plugins.ltr.list_stores().get("stores", {})
    if "_default_" not in stores:
        client.plugins.ltr.create_default_store()
    features = [
        {"name": "title_match", "params": ["keywords"], "template_language": "mustache",
         "template": {"bool": {"should": [{"match": {"title": "{{keywords}}"}}],
                               "filter": [{"match_all": {}}]}}},
        {"name": "popularity", "params": [], "template_language": "mustache",
         "template": {"function_score": {"query": {"match_all": {}}, "boost_mode": "replace",
                                         "field_value_factor": {"field": "pop", "missing": 0}}}},
    ]
    client.plugins.ltr.create_featureset(id=featureset, body={"featureset": {
        "name": featureset, "features": features}})
    weights = {"title_match": 2.0, "popularity": 0.25}
    client.plugins.ltr.create_model_from_set(name=featureset, body={"model": {
        "name": model, "model": {"type": "model/linear", "definition": json.dumps(weights)}}})
    try:
        body = {
            "query": {"match_all": {}}, "size": 5,
            "rescore": {"window_size": 5, "query": {
                "query_weight": 0, "rescore_query_weight": 1,
                "rescore_query": {"sltr": {"params": {"keywords": "red"}, "model": model,
                                           "_name": "logged"}}}},
            "ext": {"ltr_log": {"log_specs": {"name": "log", "rescore_index": 0}}},
        }
        hits = client.search(index=index, body=body)["hits"]["hits"]
        assert len(hits) == 5, "the rescore must keep every document"
        expected = []
        for hit in hits:
            logged = {f["name"]: f.get("value", 0.0) for f in hit["fields"]["_ltrlog"][0]["log"]}
            predicted = sum(weights[name] * logged[name] for name in weights)
            assert hit["_score"] == pytest.approx(predicted, rel=1e-4)
            expected.append(predicted)
        assert expected == sorted(expected, reverse=True)
    finally:
        client.plugins.ltr.delete_model(id=model)
        client.plugins.ltr.delete_featureset(id=featureset)


def test_doctor_against_a_closed_port_says_cannot_reach_without_traceback(capsys):
    code = main(["doctor", "--url", "http://admin:hunter2@127.0.0.1:1"])
    out, err = capsys.readouterr()
    assert code != 0
    assert "cannot reach OpenSearch at http://127.0.0.1:1" in out
    assert "Traceback" not in out + err
    assert "hunter2" not in out + err


def test_doctor_finds_ltr_by_its_api_and_names_the_implementation(capsys, require_ltr):
    main(["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["ltr"]["status"] == "ok"
    assert "ltrr's own LTR plugin (ltrr-ltr)" in checks["ltr"]["detail"]


def test_doctor_json_reports_every_required_component(capsys):
    main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    names = {check["name"] for check in report["checks"]}
    assert {"reachable", "health", "opensearch-knn", "ltr", "mapper-extras",
            "analysis-common"} <= names


def test_a_bad_url_is_a_config_error_with_exit_code_2(capsys):
    assert main(["doctor", "--url", "localhost:9200"]) == 2
    assert "invalid URL" in capsys.readouterr().err


# ------------------------------------------------------------------- the launcher

managed = pytest.mark.skipif(not os.environ.get("LTRR_ENGINE_PORT"),
                             reason="the node was not started by `ltrr engine up` (scripts/test.sh)")


@managed
def test_second_up_on_a_running_node_is_a_no_op(capsys):
    assert main(["engine", "up"]) == 0
    assert "already running" in capsys.readouterr().out


@managed
def test_status_reports_version_plugins_and_memory(capsys):
    assert main(["engine", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["running"] and status["version"] == PINNED_VERSION
    assert "opensearch-knn" in status["plugins"]
    assert status["resident_memory_mb"] > 100


def test_java_25_here_selects_the_pinned_version():
    dist, java = choose_distribution()
    assert dist.version == PINNED_VERSION and java.major >= 21


@pytest.fixture()
def scratch_home():
    # /var/tmp, not pytest's tmp_path: the node's user must be able to traverse it.
    home = Path(tempfile.mkdtemp(prefix="ltrr-test-home-", dir="/var/tmp"))
    yield home
    subprocess.run(["rm", "-rf", str(home)], check=False)


def test_failed_download_leaves_no_half_built_node(scratch_home):
    dist, java = choose_distribution()
    broken = replace(dist, plugins=("org.opensearch.plugin:opensearch-knn:0.0.0.1:zip",))
    with pytest.raises(EngineError, match="opensearch-knn:0.0.0.1"):
        assemble(broken, java, home=scratch_home, log=lambda _: None)
    assert list((scratch_home / "dist").iterdir()) == []


def test_interrupted_assembly_leaves_the_cache_usable_on_the_next_up(scratch_home):
    code = ("from ltrr_opensearch.engine.node import assemble, choose_distribution;"
            "from pathlib import Path; d, j = choose_distribution();"
            f"assemble(d, j, home=Path({str(scratch_home)!r}))")
    victim = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    partials = scratch_home / "dist"
    for _ in range(400):  # kill it mid-way, once its partial folder exists
        time.sleep(0.05)
        if partials.exists() and any(partials.glob(".partial-*")):
            break
    assert any(partials.glob(".partial-*")), "the assembly never started"
    time.sleep(1.0)  # let it get into the download/unpack
    os.killpg(victim.pid, signal.SIGKILL)  # like Ctrl-C or a CI timeout: the whole group
    victim.wait()
    dist, java = choose_distribution()
    node_dir = assemble(dist, java, home=scratch_home, log=lambda _: None)
    assert (node_dir / "ltrr-manifest.json").is_file()
    assert (node_dir / "plugins" / "opensearch-knn").is_dir()
    assert list((scratch_home / "dist").glob(".partial-*")) == []


def test_every_pinned_distribution_names_knn_and_ltr():
    for dist in DISTRIBUTIONS.values():
        assert any("opensearch-knn" in p for p in dist.plugins)
        assert "ltr" in dist.ltr_plugin


def test_a_download_that_does_not_match_its_pinned_sha256_is_refused(tmp_path):
    from ltrr_opensearch.engine import maven

    dist, _ = choose_distribution()
    knn = dist.plugins[0]
    assert maven.fetch(knn, tmp_path / "ok", dist.sha256[knn]).is_file()
    with pytest.raises(EngineError, match="does not match its pinned sha256"):
        maven.fetch(knn, tmp_path / "bad", "0" * 64)


def test_doctor_warns_when_no_model_ranks_the_prefix(capsys, monkeypatch, settings, require_ltr):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    main(["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["ranker"]["status"] == "warn"
    assert "ltrr ltr init" in checks["ranker"]["fix"]
