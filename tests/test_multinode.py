"""A real local 3-node cluster (``ltrr engine up --nodes 3``) with ltrr's LTR plugin on every node.

The module starts its own cluster once, on free high ports away from the CI node (9250/9350)
and the nodes others run, in the engine home ``HOME`` below (by default
``/var/tmp/ltrr-multinode``, where the assembled node is cached between runs), and stops it
at the end. It proves what one node cannot: the
plugin's element and compiled-model caches are invalidated on EVERY node by a write or a
``_clearcache`` sent to one of them, and indices ltrr creates get a replica on a cluster.
Deselect with ``-m "not multinode"`` (a start costs ~50-90 s and ~2.3 GB of memory).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from ltrr_opensearch.cli import main
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.state import ensure_state_index

pytestmark = pytest.mark.multinode

NODES = 3
# The engine home: LTRR_MULTINODE_HOME, else LTRR_HOME (CI's fresh one under /var/tmp: the
# cluster reuses the node assembled there for the CI node, and CI removes it), else our own.
OWN_HOME = Path("/var/tmp/ltrr-multinode")
HOME = Path(os.environ.get("LTRR_MULTINODE_HOME") or os.environ.get("LTRR_HOME") or OWN_HOME)
# HTTP base ports tried in turn (transport = HTTP + 100); never the CI node's 9250/9350 nor
# the long-running nodes on 9200, 9280, 9290, 9310 (and their transport ports).
CANDIDATE_BASES = range(9400, 9500, 10)
RESERVED = {9200, 9250, 9280, 9290, 9310} | {p + 100 for p in (9200, 9250, 9280, 9290, 9310)}
FEATURES = [  # scores that do not depend on the shard a document is on (no BM25 statistics)
    {"name": "pop", "params": [], "template_language": "mustache",
     "template": {"function_score": {"query": {"match_all": {}}, "boost_mode": "replace",
                                     "field_value_factor": {"field": "pop", "missing": 0}}}},
    {"name": "one", "params": [], "template_language": "mustache",
     "template": {"constant_score": {"filter": {"match_all": {}}, "boost": 1.0}}},
]
DOCS = 12  # document i has pop = i


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_base() -> int:
    for base in CANDIDATE_BASES:
        ports = [p for i in range(NODES) for p in (base + i, base + 100 + i)]
        if not RESERVED.intersection(ports) and not any(map(_listening, ports)):
            return base
    pytest.fail(f"no free ports for a {NODES}-node cluster in {CANDIDATE_BASES}")


def _ltrr(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LTRR_ENGINE_PORT", "LTRR_OPENSEARCH_URL", "LTRR_CONFIG")}
    env["LTRR_HOME"] = str(HOME)
    return subprocess.run([sys.executable, "-m", "ltrr_opensearch.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class Cluster:
    base: int
    urls: list[str]
    clients: list[OpenSearch]
    start_seconds: float

    @property
    def client(self) -> OpenSearch:
        return self.clients[0]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = _free_base()
    began = time.monotonic()
    up = _ltrr("engine", "up", "--nodes", str(NODES), "--port", str(base), "--fresh")
    try:
        if up.returncode != 0:
            pytest.fail(f"`ltrr engine up --nodes {NODES} --port {base}` failed:\n{up.stderr}")
        urls = up.stdout.strip().splitlines()[-1].split(",")
        clients = [OpenSearch(url, timeout=60) for url in urls]
        yield Cluster(base, urls, clients, time.monotonic() - began)
    finally:
        _ltrr("engine", "down", "--port", str(base), timeout=180)
        if HOME == OWN_HOME:
            _prune_distributions()


def _prune_distributions() -> None:
    """Keep only the newest assembled node in HOME (a plugin source change assembles a new
    one, ~250 MB each), unless a live node still runs from an older one."""
    in_use = set()
    for state in (HOME / "nodes").glob("*/node.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            in_use.add(json.loads(state.read_text())["dist"])
    dists = sorted((HOME / "dist").glob("[0-9]*"), key=lambda p: p.stat().st_mtime)
    for old in dists[:-1]:
        if str(old) not in in_use:
            shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="module")
def docs(cluster) -> str:
    """An index of 3 shards and 1 replica, so every node holds shards and scores documents."""
    index = f"h11-docs-{uuid.uuid4().hex[:8]}"
    cluster.client.indices.create(index=index, body={
        "settings": {"number_of_shards": 3, "number_of_replicas": 1},
        "mappings": {"properties": {"pop": {"type": "float"}}}})
    for i in range(DOCS):
        cluster.client.index(index=index, id=str(i), body={"pop": float(i)})
    cluster.client.indices.refresh(index=index)
    cluster.client.cluster.health(index=index, wait_for_status="green")  # waits up to 30 s
    cluster.client.plugins.ltr.create_default_store()
    return index


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _features(one_boost: float = 1.0) -> list[dict]:
    features = json.loads(json.dumps(FEATURES))
    features[1]["template"]["constant_score"]["boost"] = one_boost
    return features


def _linear_model(client: OpenSearch, featureset: str, model: str, weights: dict) -> None:
    client.plugins.ltr.create_model_from_set(name=featureset, body={"model": {
        "name": model, "model": {"type": "model/linear", "definition": weights}}})


def _scores(client: OpenSearch, index: str, model: str) -> dict[str, float]:
    hits = client.search(index=index, body={
        "size": DOCS, "query": {"sltr": {"model": model, "params": {}}}})["hits"]["hits"]
    return {hit["_id"]: hit["_score"] for hit in hits}


def _expected(weights: dict) -> dict[str, float]:
    return {str(i): weights["pop"] * i + weights["one"] for i in range(DOCS)}


def _cache_entries(client: OpenSearch) -> dict[str, tuple[int, int]]:
    """Node name -> (cached elements, compiled models)."""
    stats = client.plugins.ltr.cache_stats()
    assert stats["_nodes"]["successful"] == NODES
    return {node["name"]: (node["elements"]["entries"], node["models"]["entries"])
            for node in stats["nodes"].values()}


def _cached_everywhere(cluster: Cluster, index: str, model: str) -> None:
    """A search through EACH node's HTTP port, so each node caches the model as coordinator
    (and compiles it for the shards it holds); asserts every node did."""
    for client in cluster.clients:
        _scores(client, index, model)
    entries = _cache_entries(cluster.client)
    assert len(entries) == NODES
    assert all(elements >= 1 and models >= 1 for elements, models in entries.values()), entries


# ---------------------------------------------------------------- the cluster itself


def test_the_cluster_forms_with_every_node(cluster):
    health = cluster.client.cluster.health()
    assert (health["number_of_nodes"], health["number_of_data_nodes"]) == (NODES, NODES)
    names = {row["name"] for row in cluster.client.cat.nodes(format="json")}
    assert names == {f"ltrr-{cluster.base + i}" for i in range(NODES)}


def test_every_node_carries_ltrr_ltr_and_knn(cluster):
    nodes = cluster.client.nodes.info(metric="plugins")["nodes"].values()
    plugins = {node["name"]: {p["name"] for p in node["plugins"]} for node in nodes}
    assert len(plugins) == NODES
    assert all({"ltrr-ltr", "opensearch-knn"} <= names for names in plugins.values()), plugins


def test_doctor_finds_ltr_on_the_cluster(cluster, capsys):
    main(["doctor", "--json", "--url", cluster.urls[1]])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["ltr"]["status"] == "ok", checks["ltr"]
    assert "ltrr-ltr" in checks["ltr"]["detail"]


def test_engine_status_reports_every_node_running_and_its_memory(cluster):
    status = _ltrr("engine", "status", "--json", "--port", str(cluster.base), timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    info = json.loads(status.stdout)
    assert info["running"] and info["health"]["number_of_nodes"] == NODES
    assert [m["port"] for m in info["members"]] == [cluster.base + i for i in range(NODES)]
    assert all(m["running"] and m["resident_memory_mb"] > 100 for m in info["members"])


def test_a_node_that_dies_at_start_up_stops_the_others_and_says_why():
    base = _free_base()
    up = _ltrr("engine", "up", "--nodes", str(NODES), "--port", str(base), "--heap", "100000g")
    assert up.returncode != 0
    assert "exited during start-up" in up.stderr
    assert "Could not reserve enough space" in up.stderr  # the JVM's own reason
    assert not any(_listening(base + i) for i in range(NODES))
    assert not (HOME / "clusters" / f"{base}.json").exists()


# ---------------------------------------------------------------- caches on every node


def test_a_model_recreated_through_one_node_scores_with_its_new_weights_through_every_node(
        cluster, docs):
    featureset, model = _name("h11set"), _name("h11model")
    old, new = {"pop": 2.0, "one": 1.0}, {"pop": -1.0, "one": 0.5}
    cluster.client.plugins.ltr.create_featureset(id=featureset, body={"featureset": {
        "name": featureset, "features": _features()}})
    _linear_model(cluster.client, featureset, model, old)
    _cached_everywhere(cluster, docs, model)
    for client in cluster.clients:
        assert _scores(client, docs, model) == pytest.approx(_expected(old))

    cluster.clients[2].plugins.ltr.delete_model(id=model)
    _linear_model(cluster.clients[2], featureset, model, new)
    for url, client in zip(cluster.urls, cluster.clients, strict=True):
        assert _scores(client, docs, model) == pytest.approx(_expected(new)), url


def test_clearcache_through_one_node_empties_the_caches_of_every_node(cluster, docs):
    featureset, model = _name("h11set"), _name("h11model")
    cluster.client.plugins.ltr.create_featureset(id=featureset, body={"featureset": {
        "name": featureset, "features": _features()}})
    _linear_model(cluster.client, featureset, model, {"pop": 1.0, "one": 0.0})
    _cached_everywhere(cluster, docs, model)

    cluster.clients[1].plugins.ltr.clear_cache()
    assert set(_cache_entries(cluster.clients[2]).values()) == {(0, 0)}


def test_clearcache_makes_every_node_reload_a_model_changed_behind_the_plugin(cluster, docs):
    # A write straight into the store index skips the plugin's invalidation: every node keeps
    # serving the model it cached (the caches are real), until one `_clearcache` reaches all.
    featureset, model = _name("h11set"), _name("h11model")
    old, new = {"pop": 3.0, "one": 0.0}, {"pop": 0.5, "one": 2.0}
    cluster.client.plugins.ltr.create_featureset(id=featureset, body={"featureset": {
        "name": featureset, "features": _features()}})
    _linear_model(cluster.client, featureset, model, old)
    _cached_everywhere(cluster, docs, model)
    stored = cluster.client.get(index=".ltrstore", id=f"model-{model}")["_source"]
    stored["model"]["model"]["definition"] = new
    cluster.client.index(index=".ltrstore", id=f"model-{model}", body=stored, refresh=True)
    for client in cluster.clients:
        assert _scores(client, docs, model) == pytest.approx(_expected(old))

    cluster.clients[0].plugins.ltr.clear_cache()
    for url, client in zip(cluster.urls, cluster.clients, strict=True):
        assert _scores(client, docs, model) == pytest.approx(_expected(new)), url


def _logged_one(client: OpenSearch, index: str, featureset: str) -> set[float]:
    """The value of feature ``one`` that ``_ltrlog`` reports for every document."""
    body = {"size": DOCS,
            "query": {"bool": {"filter": [{"sltr": {"_name": "logged", "featureset": featureset,
                                                     "params": {}}}]}},
            "ext": {"ltr_log": {"log_specs": {"name": "log", "named_query": "logged"}}}}
    hits = client.search(index=index, body=body)["hits"]["hits"]
    assert len(hits) == DOCS
    return {value["value"] for hit in hits for value in hit["fields"]["_ltrlog"][0]["log"]
            if value["name"] == "one"}


def test_a_feature_set_updated_through_one_node_is_logged_anew_through_every_node(cluster, docs):
    featureset = _name("h11set")
    cluster.client.plugins.ltr.create_featureset(id=featureset, body={"featureset": {
        "name": featureset, "features": _features(one_boost=1.0)}})
    for client in cluster.clients:
        assert _logged_one(client, docs, featureset) == {1.0}
    assert all(elements >= 1 for elements, _ in _cache_entries(cluster.client).values())

    cluster.clients[1].plugins.ltr.update_featureset(id=featureset, body={"featureset": {
        "name": featureset, "features": _features(one_boost=3.0)}})
    for url, client in zip(cluster.urls, cluster.clients, strict=True):
        assert _logged_one(client, docs, featureset) == {3.0}, url


# ---------------------------------------------------------------- replicas


def test_an_index_ltrr_creates_on_the_cluster_gets_one_replica_and_goes_green(cluster):
    settings = Settings.load(env={}).with_overrides(url=cluster.urls[0],
                                                    index_prefix=_name("h11r"))
    client = make_client(settings)
    ensure_state_index(client, settings)
    try:
        index = settings.state_index
        replicas = client.indices.get_settings(index=index)[index]["settings"]["index"]
        assert replicas["number_of_replicas"] == "1"
        health = client.cluster.health(index=index, wait_for_status="green")  # waits up to 30 s
        assert health["status"] == "green" and not health["timed_out"]
    finally:
        client.indices.delete(index=settings.state_index, ignore_unavailable=True)
