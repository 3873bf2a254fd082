"""A data node lost under load: steady searches and events through a real ``ltrr serve``
process against a local multi-node cluster, one node killed, then brought back.

    LTRR_HOME=/var/tmp/ltrr-h16 ltrr engine up --port 9400 --nodes 3
    LTRR_HOME=/var/tmp/ltrr-h16 python benchmarks/bench_node_loss.py --port 9400

1. loads a seeded synthetic catalog (TF-IDF vectors) under a throw-away index prefix, puts
   the shipped default ranker in the model registry, and starts ``ltrr serve`` (packaged
   LinUCB policy, no settling) and ``ltrr worker`` as subprocesses, both given EVERY node's
   URL (``LTRR_OPENSEARCH_URL=u1,u2,u3``);
2. ``--searchers`` threads search without pause and one thread posts play events for what
   was served (batches of ``--batch``; a batch refused with 503 is re-sent after the
   Retry-After the service gave, as a client should);
3. phases: ``baseline`` (``--baseline`` s), ``down`` (the elected cluster manager, or
   ``--victim PORT``, is SIGKILLed; ``--down`` s), ``back`` (the node restarted with its
   data; until the cluster is green again, plus ``--after`` s);
4. prints per phase: searches served / slowed (> 2x the baseline median) / failed, and the
   events acknowledged; then after one more ``ltrr worker --once``: acknowledged events
   found in the events index (must be all), the bandit snapshot against the observation
   log, the Q2E memory against the catalog's ``q2e`` field, the deployed model, and every
   index's primary and replica shard copies holding the same documents.
Exit status 1 if any consistency check fails. Everything it creates is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import WORDS, synthetic_catalog  # noqa: E402

from ltrr_opensearch.catalog.embed import make_embedder  # noqa: E402
from ltrr_opensearch.catalog.loader import load_catalog  # noqa: E402
from ltrr_opensearch.config import PACKAGE_ROOT, Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402
from ltrr_opensearch.engine.node import LocalCluster, choose_distribution  # noqa: E402

POLICY = (PACKAGE_ROOT / "policies" / "linucb.toml").read_text().replace(
    "[state]\nsettle_seconds = 5.0", "[state]\nsettle_seconds = 0.0\nattribution_seconds = 0.0")


class Phase:
    def __init__(self) -> None:
        self.name = "warmup"
        self.lock = threading.Lock()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(settings: Settings, urls: list[str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LTRR_CONFIG"}
    env.update(LTRR_INDEX_PREFIX=settings.index_prefix,
               LTRR_OPENSEARCH_URL=",".join(urls or settings.urls))
    return env


def start_service(settings: Settings, policy: str, log: Path, urls: list[str] | None = None
                  ) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ltrr_opensearch.cli", "serve", "--port",
                             str(port), "--policy", policy, "--resync", "1", "--flush", "0.5"],
                            env=subprocess_env(settings, urls), stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the service did not become ready; see {log}")


def searcher(base: str, phase: Phase, stop: threading.Event, seed: int,
             results: list[tuple[str, float, str]], served: list[tuple[str, str]]) -> None:
    import random

    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as http:
        while not stop.is_set():
            text = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
            name = phase.name
            started = time.perf_counter()
            try:
                answer = http.post("/search", json={"query": text, "k": 5,
                                                    "client_id": f"c{rng.randint(0, 40)}"})
                outcome = str(answer.status_code)
                if answer.status_code == 200:
                    body = answer.json()
                    if body["results"]:
                        served.append((body["request_id"], body["results"][0]["id"]))
                else:
                    outcome += " " + answer.json().get("error", "")[:100]
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            results.append((name, (time.perf_counter() - started) * 1000, outcome))


def event_sender(base: str, phase: Phase, stop: threading.Event, batch: int,
                 served: list[tuple[str, str]], acked: dict[str, str], tally: Counter,
                 refusals: Counter) -> None:
    n = 0
    with httpx.Client(base_url=base, timeout=60) as http:
        while not stop.is_set():
            if len(served) < batch:
                time.sleep(0.2)
                continue
            now = int(time.time() * 1000)
            events = []
            for rid, entity in served[-batch:]:
                n += 1
                events.append({"action_name": "play", "query_id": rid,
                               "client_id": "loss-bench", "event_id": f"nl-{n}",
                               "timestamp": now, "event_attributes": {
                                   "object": {"object_id": entity},
                                   "position": {"ordinal": 0}}})
            name = phase.name
            for attempt in range(30):  # a client re-sends what was not acknowledged
                try:
                    answer = http.post("/events", json=events)
                except httpx.HTTPError as exc:
                    refusals[type(exc).__name__] += 1
                    time.sleep(1)
                    continue
                if answer.status_code in (200, 422):
                    refused = {r["index"] for r in answer.json()["refused"]}
                    for i, event in enumerate(events):
                        if i not in refused:
                            acked[event["event_id"]] = name
                    tally[(name, "acked" if attempt == 0 else "acked_after_retry")] += \
                        len(events) - len(refused)
                    tally[(name, "dead_lettered")] += len(refused)
                    break
                refusals[f"{answer.status_code} {answer.json().get('error', '')[:90]}"] += 1
                time.sleep(float(answer.headers.get("retry-after", 1)))
            else:
                tally[(name, "never_acked")] += len(events)
            time.sleep(0.5)


def elected_manager(client) -> int:
    row = client.cat.cluster_manager(format="json")[0]
    return int(row["node"].rsplit("-", 1)[1])  # nodes are named ltrr-<http port>


def shard_copies_agree(client, prefix: str) -> list[str]:
    """Indices whose primary and replica copies of a shard hold different doc counts."""
    client.indices.refresh(index=f"{prefix}-*")
    stats = client.indices.stats(index=f"{prefix}-*", metric="docs", level="shards")
    problems = []
    for index, data in stats["indices"].items():
        for shard, copies in data.get("shards", {}).items():
            counts = {(c["routing"]["primary"], c["docs"]["count"]) for c in copies}
            if len({count for _, count in counts}) > 1:
                problems.append(f"{index}[{shard}] copies differ: {sorted(counts)}")
            if len(copies) < 2:
                problems.append(f"{index}[{shard}] has {len(copies)} copy")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9400, help="the local cluster's base port")
    parser.add_argument("--home", default=os.environ.get("LTRR_HOME"),
                        help="its engine home (LTRR_HOME)")
    parser.add_argument("--victim", type=int, help="HTTP port of the node to kill "
                                                   "(default: the elected cluster manager)")
    parser.add_argument("--only-victim-url", action="store_true",
                        help="give the service and worker only the victim's URL (what a "
                             "single-URL deployment sees: the circuit breaker's case)")
    parser.add_argument("--n", type=int, default=5000, help="catalog size")
    parser.add_argument("--searchers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--baseline", type=float, default=30.0)
    parser.add_argument("--down", type=float, default=45.0)
    parser.add_argument("--after", type=float, default=20.0)
    args = parser.parse_args()

    home = Path(args.home) if args.home else None
    cluster = LocalCluster.load(args.port, home)
    if cluster is None or len(cluster.running()) != cluster.size:
        raise SystemExit(f"no running local cluster on port {args.port} (home {home})")
    urls = [node.url for node in cluster.nodes]
    settings = Settings.load(env={k: v for k, v in os.environ.items() if k != "LTRR_CONFIG"}
                             ).with_overrides(url=",".join(urls),
                                              index_prefix=f"bench-nl-{uuid.uuid4().hex[:8]}")
    client = make_client(settings, timeout=60)
    cluster_info(client, settings)
    victim_port = args.victim or elected_manager(client)
    victim = next(node for node in cluster.nodes if node.port == victim_port)
    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-nl-"))
    failures: list[str] = []
    try:
        path = synthetic_catalog(tmp / "catalog.jsonl", args.n)
        load_catalog(client, settings, path, embedder=make_embedder("tfidf"), quiet=True)
        client.indices.refresh(index=settings.catalog_alias)
        from ltrr_opensearch.rank.registry import deployment
        from ltrr_opensearch.rank.setup import ltr_init

        ltr_init(client, settings)
        deployed_before = deployment(client, settings).model
        policy = tmp / "policy.toml"
        policy.write_text(POLICY)
        served_urls = [victim.url] if args.only_victim_url else None
        service, base = start_service(settings, str(policy), tmp / "serve.log", served_urls)
        procs.append(service)
        worker = subprocess.Popen(
            [sys.executable, "-m", "ltrr_opensearch.cli", "worker", "--policy", str(policy),
             "--interval", "3", "--settle", "0"], env=subprocess_env(settings, served_urls),
            stdout=subprocess.DEVNULL, stderr=(tmp / "worker.log").open("w"))
        procs.append(worker)
        client.cluster.health(index=f"{settings.index_prefix}-*", wait_for_status="green")
        print(f"cluster {','.join(urls)}; service and worker given "
              f"{'only the victim' if served_urls else 'every node'}; "
              f"victim ltrr-{victim_port} (elected cluster manager: "
              f"ltrr-{elected_manager(client)}); catalog {args.n}; service {base}; "
              f"{args.searchers} searchers + 1 event sender (batches of {args.batch})")

        phase, stop = Phase(), threading.Event()
        results: list[tuple[str, float, str]] = []
        served: list[tuple[str, str]] = []
        acked: dict[str, str] = {}
        tally: Counter = Counter()
        refusals: Counter = Counter()
        threads = [threading.Thread(target=searcher, args=(base, phase, stop, i, results, served))
                   for i in range(args.searchers)]
        threads.append(threading.Thread(target=event_sender, args=(
            base, phase, stop, args.batch, served, acked, tally, refusals)))
        for thread in threads:
            thread.start()
        time.sleep(5)
        phase.name = "baseline"
        time.sleep(args.baseline)

        state = victim.running()
        assert state is not None
        phase.name = "down"
        killed_at = time.monotonic()
        os.killpg(os.getpgid(state.pid), signal.SIGKILL)
        print(f"killed ltrr-{victim_port} (pid {state.pid}, SIGKILL)")
        time.sleep(args.down)

        recorded = json.loads(cluster.state_file.read_text())
        _dist, java = choose_distribution()
        phase.name = "back"
        victim.start(Path(state.dist), java, heap=recorded.get("heap", "512m"), wait=False)
        green = None
        while time.monotonic() - killed_at < args.down + 600:
            health = cluster.health()
            if health and health["status"] == "green" and health["number_of_nodes"] == \
                    cluster.size:
                green = time.monotonic() - killed_at
                break
            time.sleep(1)
        print(f"restarted ltrr-{victim_port}; cluster green again "
              f"{green:.0f}s after the kill" if green else "cluster NOT green again in 10 min")
        if green is None:
            failures.append("the cluster did not return to green")
        time.sleep(args.after)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

        # ---- searches per phase
        base_ms = [ms for name, ms, out in results if name == "baseline" and out == "200"]
        median = statistics.median(base_ms) if base_ms else float("nan")
        print(f"\nbaseline median {median:.1f} ms; slowed = served in more than "
              f"{2 * median:.1f} ms")
        print(f"{'phase':10} {'searches':>9} {'served':>7} {'slowed':>7} {'failed':>7} "
              f"{'p50 ms':>7} {'p99 ms':>8} {'max ms':>8}")
        outcomes: dict[str, Counter] = defaultdict(Counter)
        for name in ("baseline", "down", "back"):
            rows = [(ms, out) for n, ms, out in results if n == name]
            ok = sorted(ms for ms, out in rows if out == "200")
            slowed = sum(1 for ms in ok if ms > 2 * median)
            for _, out in rows:
                if out != "200":
                    outcomes[name][out] += 1

            def p(q: float, ok: list[float] = ok) -> float:
                return ok[min(len(ok) - 1, int(q * len(ok)))] if ok else float("nan")

            print(f"{name:10} {len(rows):9d} {len(ok):7d} {slowed:7d} {len(rows) - len(ok):7d} "
                  f"{p(0.5):7.1f} {p(0.99):8.1f} {(ok[-1] if ok else 0):8.1f}")
        for name, counter in outcomes.items():
            for out, n in counter.most_common(5):
                print(f"  {name} failures: {n} x {out}")

        # ---- events
        print(f"\n{'phase':10} {'acked':>7} {'after retry':>12} {'dead-lettered':>14} "
              f"{'never acked':>12}")
        for name in ("warmup", "baseline", "down", "back"):
            print(f"{name:10} {tally[(name, 'acked')]:7d} {tally[(name, 'acked_after_retry')]:12d}"
                  f" {tally[(name, 'dead_lettered')]:14d} {tally[(name, 'never_acked')]:12d}")
        for reason, n in refusals.most_common(5):
            print(f"  refused attempts: {n} x {reason}")

        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)
        time.sleep(1.5)  # the service flushes its search log every 0.5 s
        once = subprocess.run([sys.executable, "-m", "ltrr_opensearch.cli", "worker", "--once",
                               "--policy", str(policy), "--settle", "0"],
                              env=subprocess_env(settings), capture_output=True, text=True,
                              timeout=600, check=False)
        if once.returncode != 0:
            failures.append(f"final worker cycle failed: {once.stderr[-500:]}")

        # ---- consistency
        client.indices.refresh(index=f"{settings.index_prefix}-*")
        ids = list(acked)
        found = 0
        for start in range(0, len(ids), 1000):
            docs = client.mget(index=settings.ubi_events_index,
                               body={"ids": ids[start:start + 1000]}, _source=False)["docs"]
            found += sum(1 for d in docs if d.get("found"))
        print(f"\nevents acknowledged {len(ids)}, found afterwards {found}")
        if found != len(ids):
            failures.append(f"{len(ids) - found} acknowledged events are missing")

        failures += check_bandit(client, settings, policy)
        failures += check_memory(client, settings)
        deployed_after = deployment(client, settings).model
        print(f"model registry: deployed {deployed_before!r} before, {deployed_after!r} after")
        if deployed_after != deployed_before:
            failures.append("the deployed model changed")
        problems = shard_copies_agree(client, settings.index_prefix)
        print(f"shard copies: {problems or 'primary and replica agree on every shard'}")
        failures += problems
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if victim.running() is None:
            print(f"note: ltrr-{victim_port} is not running", file=sys.stderr)
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")
    print("\nCONSISTENT" if not failures else "\nINCONSISTENT:\n  " + "\n  ".join(failures))
    return 0 if not failures else 1


def check_bandit(client, settings: Settings, policy: Path) -> list[str]:
    from ltrr_opensearch.loop import serving_config
    from ltrr_opensearch.select.learner import Learner

    config = serving_config(settings, str(policy))
    learner = Learner.load(client, settings, config)
    result = learner.sync()
    stored = client.count(index=settings.state_index, body={"query": {"bool": {"filter": [
        {"term": {"kind": "observation"}}]}}})["count"]
    print(f"bandit {config.name!r}: snapshot v{result.version} covers {result.observations} "
          f"observations; observation log holds {stored}")
    if result.observations != stored:
        return [f"bandit snapshot covers {result.observations} of {stored} observations"]
    return []


def check_memory(client, settings: Settings) -> list[str]:
    """Every entity with Q2E evidence carries, in the catalog, the q2e map its evidence gives."""
    from ltrr_opensearch.bulk import scan
    from ltrr_opensearch.feedback.config import MemoryConfig
    from ltrr_opensearch.feedback.indices import memory_index
    from ltrr_opensearch.feedback.scoring import merge_q2e

    config = MemoryConfig.from_settings(settings)
    evidence: dict[str, list[dict]] = defaultdict(list)
    if client.indices.exists(index=memory_index(settings)):
        for hit in scan(client, memory_index(settings), {"match_all": {}},
                        source=["entity_id", "key", "value", "source", "eligible"]):
            evidence[hit["_source"]["entity_id"]].append(hit["_source"])
    mismatched = 0
    for entity, docs in evidence.items():
        docs.sort(key=lambda d: -d.get("value", 0))
        want = merge_q2e(docs, config.max_pairs_per_entity)
        got = client.get(index=settings.catalog_alias, id=entity,
                         _source_includes=["q2e"])["_source"].get("q2e") or {}
        if set(want) != set(got) or any(abs(want[k] - got[k]) > 1e-6 * max(1.0, want[k])
                                        for k in want):
            mismatched += 1
    pairs = sum(len(d) for d in evidence.values())
    print(f"memory: {pairs} evidence docs over {len(evidence)} entities; catalog q2e differs "
          f"from the evidence on {mismatched}")
    return [f"catalog q2e differs from the memory on {mismatched} entities"] if mismatched else []


if __name__ == "__main__":
    sys.exit(main())
