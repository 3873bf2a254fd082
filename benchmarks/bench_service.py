"""Load test of ``ltrr serve`` from a second process, loopback only, bounded in time.

    LTRR_OPENSEARCH_URL=http://127.0.0.1:9200 python benchmarks/bench_service.py --n 10000

1. loads a seeded synthetic catalog (TF-IDF vectors) under a throw-away index prefix and
   starts ``ltrr serve`` (the packaged LinUCB policy) as a subprocess on a free port;
2. sequential phase: ``--sequential`` searches one at a time, each followed at once by the
   raw opensearch-py ``_msearch`` of the very bodies the service rendered for it (same
   strategies, budgets and filter_path) and by an empty endpoint (``GET /health``):
   p50/p95/p99 of each, the stages the service reports in ``Server-Timing``, and the
   service's own share (minus the query embedding, as the goal is stated), paired per
   request, once per client library (``--clients``: urllib3, the raw _msearch's own, and
   httpx), and inside the service (its ``app`` time minus its ``engine`` wait);
3. load phase: ``--concurrency`` asyncio httpx clients for ``--duration`` seconds:
   throughput, p50/p95/p99, errors;
4. events: ``--events`` play events for served searches through ``POST /events`` (batches
   of ``--batch``, ``--in-flight`` at once), against a plain ``_bulk`` of the same docs.
Everything it creates is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import WORDS, synthetic_catalog  # noqa: E402

from ltrr_opensearch.catalog.embed import make_embedder  # noqa: E402
from ltrr_opensearch.catalog.loader import load_catalog  # noqa: E402
from ltrr_opensearch.config import Settings  # noqa: E402
from ltrr_opensearch.engine.client import cluster_info, make_client  # noqa: E402


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def line(name: str, ms: list[float]) -> str:
    return (f"{name:<34} n={len(ms):>5}  p50 {pct(ms, 50):7.2f} ms  p95 {pct(ms, 95):7.2f} ms  "
            f"p99 {pct(ms, 99):7.2f} ms")


def queries(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(WORDS, rng.randint(1, 3))) for _ in range(n)]


def start_server(settings: Settings) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LTRR_INDEX_PREFIX": settings.index_prefix,
           "LTRR_OPENSEARCH_URL": settings.urls[0]}
    proc = subprocess.Popen([sys.executable, "-m", "ltrr_opensearch.cli", "serve", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
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
    raise SystemExit("the service did not become ready")


def server_timing(header: str) -> dict[str, float]:
    """``Server-Timing: understand;dur=0.1, ...`` -> {stage: ms}."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in header.split(","))):
        name, _, dur = part.partition(";dur=")
        out[name] = float(dur or 0)
    return out


class Client:
    """The service called through one HTTP client library: ``urllib3`` (what opensearch-py's
    transport uses, so the service and the raw _msearch pay the same client machinery) or
    ``httpx`` (what applications in Python often use; more client work per request)."""

    def __init__(self, kind: str, base: str) -> None:
        self.kind = kind
        host, _, port = base.removeprefix("http://").partition(":")
        self.pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, timeout=30)
        self.http = httpx.Client(base_url=base, timeout=30)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, bytes]:
        """(status, Server-Timing header, body bytes)."""
        if self.kind == "httpx":
            answer = self.http.post(path, json=body) if body is not None else self.http.get(path)
            return answer.status_code, answer.headers.get("server-timing", ""), answer.content
        reply = self.pool.request(method, path, body=None if body is None else orjson.dumps(body),
                                  headers={"content-type": "application/json"} if body else None)
        return reply.status, reply.headers.get("server-timing", ""), reply.data

    def close(self) -> None:
        self.pool.close()
        self.http.close()


def sequential(base: str, client, settings: Settings, texts: list[str],
               kinds: tuple[str, ...] = ("urllib3", "httpx"),
               warm: bool = False) -> dict[str, dict[str, float]]:
    """Side by side, one request at a time, so load spikes hit both alike: each search
    through the service, then at once the raw _msearch of the very bodies it rendered (same
    plan, templates, catalog variable, memory and embedder; same filter_path; the ranker's
    own search is not replayed: run with no model deployed to compare like with like), then
    an empty endpoint (GET /health: the HTTP hop alone). Once per client library in
    ``kinds`` (alternating which goes first), each paired with its own raw _msearch.

    The raw _msearch always runs second, on an engine that has just run the same query
    (measured: 0.22 ms faster at p50 than the first run of the same bodies). With ``warm``,
    every strategy's body for the query is run once, untimed, before the service is called,
    so both timed searches find the engine equally warm."""
    from ltrr_opensearch.feedback.memory import template_memory
    from ltrr_opensearch.pipeline import Pipeline
    from ltrr_opensearch.retrieve.msearch import (
        FILTER_PATH,
        default_q2e_key,
        prepare_searches,
        subsearch_timeout,
    )
    from ltrr_opensearch.understand import understand

    pipeline = Pipeline.from_cluster(client, settings)
    timeout = subsearch_timeout(settings)

    def bodies(text: str, plan: list[tuple[str, int]]) -> list[dict]:
        """The _msearch lines the service sends for this plan (as run_strategies builds them)."""
        understanding = understand(text, pipeline.gazetteer)
        memory = None
        if "memory" in pipeline.registry.needs([name for name, _ in plan]):
            memory = template_memory(client, settings, pipeline.catalog,
                                     default_q2e_key(understanding.normalized),
                                     max(k for _, k in plan))
        lines: list[dict] = []
        for p in prepare_searches(pipeline.registry, understanding, plan,
                                  embed_query=pipeline.embed_query, timeout=timeout,
                                  catalog=pipeline.catalog,
                                  memory=memory):
            if p.body is not None:
                lines += [{}, p.body]
        return lines

    def msearch(lines: list[dict]) -> None:
        client.msearch(body=lines, index=settings.catalog_index,
                       params={"filter_path": FILTER_PATH})

    clients = {kind: Client(kind, base) for kind in kinds}
    samples = {kind: {"service": [], "raw": [], "empty": [], "embed": [], "stages": {}}
               for kind in kinds}
    try:
        for i, text in enumerate(texts):
            for kind in kinds if i % 2 == 0 else kinds[::-1]:
                http, got = clients[kind], samples[kind]
                if warm:
                    msearch(bodies(text, [(name, 50) for name in pipeline.registry.names]))
                started = time.perf_counter()
                status, timing, data = http.call("POST", "/search", {"query": text})
                got["service"].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise SystemExit(f"POST /search answered {status}: {data[:500]!r}")
                stages = server_timing(timing)
                for stage, ms in stages.items():
                    got["stages"].setdefault(stage, []).append(ms)
                got["embed"].append(stages.get("embed", 0.0))
                lines = bodies(text, [(s["arm"], s["k"])
                                      for s in orjson.loads(data)["strategies"]])
                started = time.perf_counter()
                msearch(lines)
                got["raw"].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                if http.call("GET", "/health")[0] != 200:
                    raise SystemExit("GET /health failed")
                got["empty"].append((time.perf_counter() - started) * 1000)
    finally:
        for http in clients.values():
            http.close()
    summary: dict[str, dict[str, float]] = {}
    for kind, got in samples.items():
        service_ms, raw_ms, empty_ms = got["service"], got["raw"], got["empty"]
        stages, raw = got["stages"], pct(got["raw"], 50)
        print(f"client {kind}:")
        print(line("  service POST /search (sequential)", service_ms))
        print(line("  raw _msearch, same bodies", raw_ms))
        print(line("  empty endpoint GET /health", empty_ms))
        print("  stages inside the service, p50 ms (embed: of the searches that embedded): "
              + ", ".join(f"{stage} {pct(ms, 50):.3f}" for stage, ms in stages.items()))
        # Paired per request (steadier when the shared machine's load moves): the median of
        # (service - embedding - raw), and of that minus the request's empty hop.
        paired = [s - e - r for s, e, r in zip(service_ms, got["embed"], raw_ms, strict=True)]
        own = pct(paired, 50)
        print(f"  paired per request: median own work (excl. embedding) {own:.2f} ms = "
              f"{100 * own / raw:.0f}% of the raw p50 {raw:.2f} ms; without the hop "
              f"{pct([o - h for o, h in zip(paired, empty_ms, strict=True)], 50):.2f} ms")
        # Inside the service (Server-Timing): its time from the request reaching its
        # middleware to the response built, minus the wait on the engine client and the
        # embedding. What the client-side figure adds is the HTTP hop and the client.
        inside = [a - e - m for a, e, m in zip(stages.get("app", []), stages.get("engine", []),
                                               got["embed"], strict=False)]
        if inside:
            print(f"  inside the service: median (app - engine wait - embedding) "
                  f"{pct(inside, 50):.2f} ms = {100 * pct(inside, 50) / raw:.0f}% of the raw p50")
        summary[kind] = {"service": pct(service_ms, 50), "raw": raw, "empty": pct(empty_ms, 50),
                         "own": own, "inside": pct(inside, 50) if inside else float("nan")}
    return summary


async def load(base: str, texts: list[str], duration: float, concurrency: int
               ) -> tuple[list[float], int, int, list[tuple[str, str]]]:
    latencies: list[float] = []
    errors = 0
    served: list[tuple[str, str]] = []
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        async def user(n: int) -> None:
            nonlocal errors
            i = n
            while time.monotonic() < deadline:
                text = texts[i % len(texts)]
                i += concurrency
                started = time.perf_counter()
                try:
                    answer = await http.post("/search", json={"query": text,
                                                              "client_id": f"u{n}"})
                except httpx.TransportError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    errors += 1
                elif answer.json()["results"]:
                    served.append((answer.json()["request_id"], answer.json()["results"][0]["id"]))
        await asyncio.gather(*(user(n) for n in range(concurrency)))
    return latencies, errors, len(latencies), served


async def post_events(base: str, batches: list[list[dict]], in_flight: int = 4
                      ) -> tuple[float, int]:
    errors = 0
    gate = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        async def send(batch: list[dict]) -> None:
            nonlocal errors
            async with gate:
                answer = await http.post("/events", json=batch)
                if answer.status_code != 200:
                    errors += 1
        started = time.perf_counter()
        await asyncio.gather(*(send(b) for b in batches))
    return time.perf_counter() - started, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000, help="catalog size")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=4, help="concurrent POST /events")
    parser.add_argument("--clients", default="urllib3,httpx",
                        help="HTTP client libraries the sequential phase calls the service with")
    parser.add_argument("--warm", action="store_true",
                        help="an untimed _msearch of every strategy for the query before each "
                             "service search, so the raw _msearch is not the only one to find "
                             "the engine warm from the same query")
    parser.add_argument("--repeat", type=int, default=1,
                        help="sequential phases in a row, on the same server and catalog")
    args = parser.parse_args()
    if not set(args.clients.split(",")) <= {"urllib3", "httpx"}:
        parser.error("--clients: a comma-separated list of urllib3 and httpx")

    settings = Settings.load().with_overrides(index_prefix=f"bench-svc-{uuid.uuid4().hex[:8]}")
    client = make_client(settings)
    cluster_info(client, settings)
    proc = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = synthetic_catalog(Path(tmp) / "catalog.jsonl", args.n)
            load_catalog(client, settings, path, embedder=make_embedder("tfidf"), quiet=True)
        client.indices.refresh(index=settings.catalog_alias)
        proc, base = start_server(settings)
        print(f"catalog {args.n} entities, service {base}, {os.cpu_count()} cores shared "
              "with the node and this client")
        texts = queries(2000)
        for _ in range(args.repeat):
            if args.sequential:
                sequential(base, client, settings, texts[: args.sequential],
                           tuple(args.clients.split(",")), warm=args.warm)
        if args.duration <= 0:
            return
        latencies, errors, done, served = asyncio.run(
            load(base, texts, args.duration, args.concurrency))
        print(f"load: {args.concurrency} concurrent clients for {args.duration:.0f}s: "
              f"{done / args.duration:.1f} searches/s, errors {errors}")
        print(line("  POST /search under load", latencies))
        if args.events <= 0 or not served:
            return

        now = int(time.time() * 1000)
        docs = [{"action_name": "play", "query_id": rid, "client_id": f"c{i % 50}",
                 "event_id": f"bench-{i}", "timestamp": now,
                 "event_attributes": {"object": {"object_id": entity},
                                      "position": {"ordinal": 0}}}
                for i, (rid, entity) in zip(range(args.events),
                                            (served[i % len(served)] for i in range(args.events)),
                                            strict=False)]
        batches = [docs[i:i + args.batch] for i in range(0, len(docs), args.batch)]
        seconds, failed = asyncio.run(post_events(base, batches, args.in_flight))
        print(f"events through POST /events: {len(docs) / seconds:,.0f} events/s "
              f"({len(docs)} in batches of {args.batch}, {args.in_flight} in flight, failed batches "
              f"{failed})")
        scratch = f"{settings.index_prefix}-bulk-scratch"
        def bulk(batch: list[dict]) -> None:
            body: list[dict] = []
            for doc in batch:
                body += [{"create": {"_index": scratch}}, doc]
            client.bulk(body=body)  # acknowledged once stored, as POST /events is

        started = time.perf_counter()
        with ThreadPoolExecutor(args.in_flight) as pool:  # as many in flight as above
            list(pool.map(bulk, batches))
        print(f"plain _bulk of the same docs ({args.in_flight} in flight): "
              f"{len(docs) / (time.perf_counter() - started):,.0f} events/s")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")


if __name__ == "__main__":
    main()
