"""``ltrr serve`` as a real server process (uvicorn, subprocess, free port) against the real
node, and ``ltrr worker --once`` closing the loop on what the service served."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress

import httpx
import pytest

from ltrr_opensearch.config import PACKAGE_ROOT
from tests.test_retrieve import DOCS

pytestmark = pytest.mark.integration

# The packaged serving policy, with no settling or attribution delay so one worker cycle
# right after the clicks turns them into observations.
POLICY = (PACKAGE_ROOT / "policies" / "linucb.toml").read_text().replace(
    "[state]\nsettle_seconds = 5.0", "[state]\nsettle_seconds = 0.0\nattribution_seconds = 0.0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(settings, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LTRR_CONFIG"}
    env.update(LTRR_INDEX_PREFIX=settings.index_prefix,
               LTRR_OPENSEARCH_URL=url or settings.urls[0], LTRR_OPENSEARCH_TIMEOUT="5")
    return env


@contextmanager
def serving(settings, *extra: str, url: str | None = None,
            command: tuple[str, ...] = (sys.executable, "-m", "ltrr_opensearch.cli"),
            cwd: str | None = None):
    port = free_port()
    proc = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--resync", "0.3", "--flush", "0.2", *extra],
        env=env_for(settings, url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.2)
        yield httpx.Client(base_url=base, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
        assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]
        assert "Application shutdown complete" in err and "Traceback" not in err, err[-2000:]


@pytest.fixture()
def catalog(client, settings, tmp_path):
    """DOCS behind the catalog alias with TF-IDF vectors, so every strategy can run."""
    from ltrr_opensearch.catalog.embed import make_embedder
    from ltrr_opensearch.catalog.loader import load_catalog

    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in d.items() if k != "embedding"}) + "\n"
                            for d in DOCS))
    load_catalog(client, settings, path, embedder=make_embedder("tfidf"), quiet=True)
    client.indices.refresh(index=settings.catalog_alias)
    return settings


@pytest.fixture()
def policy(tmp_path) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return str(path)


def count(client, index: str, query: dict | None = None) -> int:
    if not client.indices.exists(index=index):
        return 0
    client.indices.refresh(index=index)
    return client.count(index=index, body={"query": query or {"match_all": {}}})["count"]


def play(request_id: str, entity: str, client_id: str, n: int) -> dict:
    return {"action_name": "play", "query_id": request_id, "client_id": client_id,
            "event_id": f"{request_id}-{n}", "timestamp": int(time.time() * 1000),
            "event_attributes": {"object": {"object_id": entity}, "position": {"ordinal": 0}}}


def test_search_is_served_logged_and_measured(catalog, client, policy):
    with serving(catalog, "--policy", policy) as api:
        answer = api.post("/search", json={"query": "love", "client_id": "u1", "k": 3},
                          headers={"X-Request-ID": "req-1"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["request_id"] == "req-1" == answer.headers["x-request-id"]
        assert 1 <= len(body["results"]) <= 3
        # Day one: every strategy that can answer runs (bm25, structured, fresh_releases...).
        assert len(body["strategies"]) >= 3
        assert all(s["propensity"] == 1.0 for s in body["strategies"])
        deadline = time.monotonic() + 10  # the buffered log is flushed every 0.2 s
        while count(client, catalog.ubi_queries_index) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        doc = client.get(index=catalog.ubi_queries_index, id="req-1")["_source"]
        assert doc["client_id"] == "u1"
        metrics = api.get("/metrics").text
        assert 'ltrr_http_request_seconds_count{endpoint="/search",method="POST",status="200"} 1.0' \
            in metrics
        arm = body["strategies"][0]["arm"]
        assert f'ltrr_arm_choices_total{{arm="{arm}"}} 1.0' in metrics
        assert "ltrr_strategy_engine_seconds_bucket" in metrics


def test_bad_requests_get_a_4xx_naming_the_problem(catalog, policy):
    with serving(catalog, "--policy", policy) as api:
        cases = [({"query": "love", "k": 0}, 422, "k"),
                 ({"query": ""}, 422, "query"),
                 ({"query": "love", "surprise": 1}, 422, "surprise"),
                 ({"query": "x" * 513}, 422, "query"),
                 ({"query": "love", "context": {"no_such_feature": 1.0}}, 400, "no_such_feature")]
        for body, status, named in cases:
            answer = api.post("/search", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert named in answer.json()["error"] and answer.json()["request_id"]
        answer = api.post("/search", content=b"{not json", headers={"content-type":
                                                                      "application/json"})
        assert answer.status_code == 422 and "Traceback" not in answer.text
        answer = api.post("/events", content=b"[" + b"1," * 600_000 + b"1]",
                          headers={"content-type": "application/json"})
        assert answer.status_code == 413


def test_events_are_acknowledged_once_stored_and_refusals_dead_lettered(catalog, client, policy):
    with serving(catalog, "--policy", policy) as api:
        served = api.post("/search", json={"query": "love", "client_id": "u1"}).json()
        good = play(served["request_id"], served["results"][0]["id"], "u1", 1)
        answer = api.post("/events", json=[good, {**good, "action_name": "teleport",
                                                  "event_id": "bad"}])
        assert answer.status_code == 422, answer.text
        report = answer.json()
        assert (report["accepted"], report["dead_lettered"]) == (1, 1)
        assert "teleport" in report["refused"][0]["reason"] and report["refused"][0]["index"] == 1
        # Acknowledged means stored (in the translog), not yet searchable: a reader
        # refreshes first. A get by id sees it at once.
        assert client.get(index=catalog.ubi_events_index, id=good["event_id"])["found"]
        client.indices.refresh(index=f"{catalog.ubi_events_index},{catalog.deadletter_index}")
        assert client.count(index=catalog.ubi_events_index)["count"] == 1
        assert client.count(index=catalog.deadletter_index)["count"] == 1
        again = api.post("/events", json=good)  # one event, sent twice: a duplicate
        assert again.status_code == 200 and again.json()["duplicates"] == 1


class Forwarder:
    """A TCP relay to the real node that can be switched off and on: the cluster becoming
    unreachable and coming back, as the service sees it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.server: socket.socket | None = None

    def start(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_readiness_fails_while_the_cluster_is_unreachable_and_recovers(catalog, policy):
    from urllib.parse import urlsplit

    node = urlsplit(catalog.urls[0])
    relay = Forwarder((node.hostname, node.port))
    with serving(catalog, "--policy", policy, url=f"http://127.0.0.1:{relay.port}") as api:
        ready = api.get("/ready")
        assert ready.status_code == 503 and "cannot reach OpenSearch" in ready.json()["reasons"][0]
        refused = api.post("/search", json={"query": "love"})
        assert refused.status_code == 503 and refused.json()["request_id"]
        assert api.get("/health").status_code == 200  # still serving
        relay.start()
        deadline = time.monotonic() + 30
        while (ready := api.get("/ready")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert ready.status_code == 200, ready.text
        assert api.post("/search", json={"query": "love"}).status_code == 200
        relay.stop()


def test_clicks_through_the_service_teach_the_bandit_memory_and_training_rows(
        catalog, client, settings, policy):
    from ltrr_opensearch.feedback.indices import memory_index, training_rows_index

    observations = {"term": {"kind": "observation"}}
    with serving(catalog, "--policy", policy) as api:
        before = api.post("/search", json={"query": "love", "explain": True}).json()
        assert before["selection"]["observations"] == 0
        for n in range(12):
            served = api.post("/search", json={"query": "love", "client_id": f"u{n}",
                                               "session_id": f"s{n}"}).json()
            target = served["results"][0]["id"]
            assert api.post("/events", json=play(served["request_id"], target, f"u{n}", n)
                            ).status_code == 200
        time.sleep(0.5)  # the service's log flush (0.2 s) has written every query record
        counts = (count(client, settings.state_index, observations),
                  count(client, memory_index(settings)),
                  count(client, training_rows_index(settings)))
        worker = subprocess.run(
            [sys.executable, "-m", "ltrr_opensearch.cli", "worker", "--once", "--settle", "0",
             "--policy", policy], env=env_for(settings), capture_output=True, text=True,
            timeout=120)
        assert worker.returncode == 0, worker.stderr
        cycle = json.loads(worker.stderr.strip().splitlines()[-1])
        assert cycle["ok"] and cycle["observations"] >= 13 * 2
        assert count(client, settings.state_index, observations) > counts[0]
        assert count(client, memory_index(settings)) > counts[1]
        assert count(client, training_rows_index(settings)) > counts[2]
        deadline = time.monotonic() + 15  # the service re-syncs every 0.3 s, no restart
        while True:
            after = api.post("/search", json={"query": "love", "explain": True}).json()
            if after["selection"]["observations"] > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert after["selection"]["observations"] == cycle["bandit_observations"]
        expected = {a["arm"]: a["expected_reward"] for a in after["selection"]["arms"]}
        assert expected != {a["arm"]: a["expected_reward"] for a in before["selection"]["arms"]}


def test_worker_stops_cleanly_on_sigterm(catalog, policy):
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltrr_opensearch.cli", "worker", "--interval", "0.2",
         "--settle", "0", "--policy", policy], env=env_for(catalog),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []  # signal only once a cycle ran: a loaded machine may still be importing at 4 s
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if json.loads(line).get("event") == "cycle":
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    err = "".join(seen) + err
    lines = [json.loads(line) for line in err.strip().splitlines()]
    assert proc.returncode == 0, err
    assert any(line.get("event") == "cycle" and line["ok"] for line in lines)
    assert lines[-1]["event"] == "stop"


def test_openapi_is_published(catalog, policy):
    with serving(catalog, "--policy", policy) as api:
        spec = api.get("/openapi.json").json()
    assert {"/search", "/events", "/health", "/ready", "/metrics"} <= set(spec["paths"])


def test_a_deployed_model_reaches_a_running_server_without_restart(catalog, client, policy,
                                                                    require_ltr):
    import uuid

    from ltrr_opensearch.rank import registry
    from ltrr_opensearch.rank.features import load_feature_set
    from ltrr_opensearch.rank.setup import ltr_init

    ltr_init(client, catalog, default_model=False)
    feature_set = load_feature_set(catalog)
    entry = registry.ModelEntry(
        name=f"svc_{uuid.uuid4().hex[:8]}", type="model/linear", definition={"title_bm25": 1.0},
        feature_set=feature_set.store_name, feature_names=tuple(feature_set.names),
        params=tuple(sorted(feature_set.params)))
    try:
        with serving(catalog, "--policy", policy) as api:
            before = api.post("/search", json={"query": "love", "explain": True}).json()
            assert "ranking" not in before
            registry.register(client, catalog, entry, feature_set.to_store())
            registry.deploy(client, catalog, entry.name)
            deadline = time.monotonic() + 15  # the server resyncs every 0.3 s
            while True:
                body = api.post("/search", json={"query": "love", "explain": True}).json()
                if body.get("ranking", {}).get("model") == entry.name:
                    break
                assert time.monotonic() < deadline, "the server never picked up the deployment"
                time.sleep(0.3)
            assert body["ranking"]["hits"] and all("features" in h for h in body["ranking"]["hits"])
    finally:
        with suppress(Exception):
            client.plugins.ltr.delete_model(id=entry.name)
