"""``ltrr serve``: the HTTP API over one :class:`~ltrr_opensearch.pipeline.Pipeline`.

    POST /search   one query through Pipeline.search (logged as a UBI query)
    POST /events   one UBI event or a batch, through the existing ingestion (durable on 2xx)
    GET  /health   the process is up
    GET  /ready    cluster reachable, the catalog there and fitting its description (the
                   managed alias, or the user's own index), plugins it needs: 503 with
                   reasons if not
    GET  /metrics  Prometheus text
    GET  /openapi.json, /docs   published by FastAPI

The pipeline is built once (``Pipeline.from_cluster``); if the cluster is not reachable at
start the service still starts, answers 503 (with the reason and a request id) and keeps
trying in the background. Background threads re-sync the bandit from the state index,
follow the deployed ranker and the learned vocabulary, and flush the buffered search log
on an interval (and at shutdown). Errors never carry a stack
trace: 4xx name the problem, 503/504 say the engine is unavailable or slow.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opensearchpy import exceptions as os_exc
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware

from ltrr_opensearch import __version__
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import make_client
from ltrr_opensearch.errors import ClusterUnreachable, EngineBusy, LtrrError
from ltrr_opensearch.service.asgi import FastJSONResponse, JSONFastRoute, RequestObserver, server_timing
from ltrr_opensearch.service.breaker import CircuitBreaker

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS = 1000
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0)

Text = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]


class SearchRequest(BaseModel):
    """One search. ``k`` is the page size (results returned), as everywhere in ltrr."""

    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, max_length=512,
                                description="what the user typed")]
    client_id: Text | None = Field(None, description="the user (or device) id, logged")
    session_id: Text | None = Field(None, description="the session id, logged")
    k: Annotated[int, Field(ge=1, le=100, description="page size: results returned")] = 10
    explain: bool = Field(False, description="add understanding, selection and timings")
    context: Annotated[dict[Annotated[str, Field(min_length=1, max_length=64)],
                            Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]],
                       Field(max_length=32)] | None = Field(
        None, description="numeric user/context features added to the bandit's context "
                          "(names must be known to the context schema)")


Event = Annotated[dict[str, Any], Field(description="a UBI event (docs/feedback.md)")]
EventsBody = Annotated[Event | Annotated[list[Event], Field(min_length=1, max_length=MAX_EVENTS)],
                       Body(description=f"one UBI event, or a JSON array of at most "
                                        f"{MAX_EVENTS}")]


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram("ltrr_http_request_seconds", "request latency per endpoint",
                                  ["endpoint", "method", "status"], registry=r,
                                  buckets=_LATENCY_BUCKETS)
        self.strategy = Histogram("ltrr_strategy_engine_seconds",
                                  "engine time (took) of each sub-search per strategy",
                                  ["strategy"], registry=r, buckets=_LATENCY_BUCKETS)
        self.stage = Histogram("ltrr_search_stage_seconds",
                               "time per pipeline stage (understand, select, embed, retrieve, "
                               "merge, log)", ["stage"], registry=r, buckets=_LATENCY_BUCKETS)
        self.engine = Histogram("ltrr_engine_seconds",
                                "the one _msearch per search, render and embedding included",
                                registry=r, buckets=_LATENCY_BUCKETS)
        self.arms = Counter("ltrr_arm_choices", "strategies chosen per search", ["arm"],
                            registry=r)
        self.errors = Counter("ltrr_errors", "errors by endpoint and kind", ["endpoint", "kind"],
                              registry=r)
        self.strategy_errors = Counter("ltrr_strategy_errors", "sub-searches that failed",
                                       ["strategy"], registry=r)
        self.events = Counter("ltrr_events", "UBI events by outcome", ["outcome"], registry=r)
        self.bandit_syncs = Counter("ltrr_bandit_publishes",
                                    "new bandit snapshots picked up without restart",
                                    registry=r)
        # The feedback consumers' lag (``ltrr worker``), read from their checkpoints in the
        # state index every resync interval; ..._read_timestamp says how fresh it is.
        lag = ["consumer", "log"]
        self.consumer_behind = Gauge("ltrr_consumer_behind_docs",
                                     "log docs that arrived after the consumer's checkpoint",
                                     lag, registry=r)
        self.consumer_lag = Gauge("ltrr_consumer_lag_seconds",
                                  "how long the oldest doc not applied yet has waited",
                                  lag, registry=r)
        self.consumer_processed = Gauge("ltrr_consumer_processed_docs",
                                        "log docs the consumer has applied", lag, registry=r)
        self.consumer_lag_read = Gauge("ltrr_consumer_lag_read_timestamp_seconds",
                                       "when the consumers' lag was last read (unix time)",
                                       registry=r)


@dataclass
class ServiceState:
    settings: Settings
    client: Any
    policy_file: str | None = None
    use_bandit: bool = True
    resync_seconds: float = 5.0
    flush_seconds: float = 1.0
    metrics: Metrics = field(default_factory=Metrics)
    pipeline: Any = None
    selector: Any = None
    search_log: Any = None
    problem: str | None = "starting"  # why the pipeline is not built yet
    flags: Any = None  # experiment.FlagSource (``--flags FILE``): per-request behaviour flags
    interleavers: Any = None  # experiment.interleave.Interleavers: the ``interleave`` flag
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)  # see service/breaker.py
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def build(self) -> bool:
        """Build the pipeline once; False (with ``problem`` set) while the cluster is not
        ready for it. Called at start and by the background thread until it succeeds."""
        if self.pipeline is not None:
            return True
        from ltrr_opensearch.pipeline import Pipeline
        from ltrr_opensearch.service.state import LockedSearchLog, PublishedSelector

        try:
            selector = None
            if self.use_bandit:
                from ltrr_opensearch.loop import serving_config
                from ltrr_opensearch.select.learner import Learner

                config = serving_config(self.settings, self.policy_file)
                selector = PublishedSelector(Learner.load(self.client, self.settings, config))
            log = LockedSearchLog(self.client, self.settings)
            pipeline = Pipeline.from_cluster(self.client, self.settings, selector=selector,
                                             search_log=log)
        except (LtrrError, os_exc.TransportError, os_exc.ConnectionError) as exc:
            self.problem = _reason(exc)
            return False
        if self.flags is not None:
            # Flags may name every template: an experiment can turn on an off-by-default one.
            self.flags.strategies = tuple(pipeline.registry.available)
            pipeline.flags = self.flags
        self.selector, self.search_log, self.pipeline = selector, log, pipeline
        self.problem = None
        from ltrr_opensearch.select.availability import missing_roles

        never = missing_roles(pipeline.registry, pipeline.catalog)  # e.g. no vector field
        logger.info("pipeline ready", extra={"fields": {
            "event": "ready", "cluster": self.settings.display_urls,
            "strategies": [n for n in pipeline.registry.names if n not in never],
            "unavailable": {n: never[n] for n in pipeline.registry.names if n in never},
            "policy": selector.learner.config.name if selector else None,
            "bandit_version": selector.version if selector else None}})
        return True

    def start_background(self) -> None:
        self.threads = [threading.Thread(target=self._every, args=(interval, job), daemon=True,
                                         name=name)
                        for name, interval, job in (("ltrr-build", 2.0, self._build_job),
                                                    ("ltrr-resync", self.resync_seconds,
                                                     self._resync_job),
                                                    ("ltrr-flush", self.flush_seconds,
                                                     self._flush_job),
                                                    ("ltrr-lag", self.resync_seconds,
                                                     self._lag_job))]
        for thread in self.threads:
            thread.start()

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        try:
            self._flush_job()  # what was served before shutdown is logged
        except Exception as exc:  # the engine is gone: say what is lost, exit cleanly
            pending = len(self.search_log.pending) if self.search_log is not None else 0
            logger.error("search log not written at shutdown", extra={"fields": {
                "event": "shutdown_flush", "records_lost": pending, "error": _reason(exc)}})

    def _every(self, interval: float, job: Callable[[], None]) -> None:
        while not self.stop.wait(interval):
            try:
                job()
            except Exception as exc:  # a background failure must not kill the thread
                logger.warning("background job failed", extra={"fields": {
                    "event": "background", "job": threading.current_thread().name,
                    "error": _reason(exc)}})

    def _build_job(self) -> None:
        if self.pipeline is None:
            self.build()

    def _resync_job(self) -> None:
        if self.selector is not None and self.selector.refresh():
            self.metrics.bandit_syncs.inc()
        if self.flags is not None:  # bandits that variants loaded follow the shared log too
            for learner in list(self.flags.learners.values()):
                learner.sync()
        self._follow_deployed_ranker()
        self._follow_vocabulary()

    def _follow_deployed_ranker(self) -> None:
        """Serve the model the registry names now: a deploy or rollback (by hand or by the
        worker's retraining) reaches every server within one resync, without a restart."""
        from ltrr_opensearch.rank.registry import deployed_ranker

        if self.pipeline is None:
            return
        current = deployed_ranker(self.client, self.settings)
        before = self.pipeline.ranker
        if (current and current.model) != (before and before.model):
            self.pipeline.ranker = current  # one attribute write: requests see old or new
            logger.info("ranker changed", extra={"fields": {
                "event": "ranker", "from": before and before.model,
                "to": current and current.model}})

    def _follow_vocabulary(self) -> None:
        """Understand with the phrases learned so far: the worker's vocabulary consumer
        bumps a version doc when they change, and only then are they reread."""
        from ltrr_opensearch.feedback.learned import follow_learned

        if self.pipeline is None:
            return
        before = self.pipeline.gazetteer
        after = follow_learned(self.client, self.settings, before)
        if after is not before:
            self.pipeline.gazetteer = after  # one attribute write: requests see old or new
            logger.info("vocabulary changed", extra={"fields": {
                "event": "vocabulary", "version": after.learned_version,
                "learned_phrases": len(after.learned)}})

    def _flush_job(self) -> None:
        if self.search_log is not None:
            self.search_log.flush()

    def _lag_job(self) -> None:
        from ltrr_opensearch.feedback.lag import consumer_lag

        for lag in consumer_lag(self.client, self.settings):
            self.metrics.consumer_behind.labels(lag.consumer, lag.log).set(lag.behind)
            self.metrics.consumer_lag.labels(lag.consumer, lag.log).set(lag.seconds_behind)
            self.metrics.consumer_processed.labels(lag.consumer, lag.log).set(lag.processed)
        self.metrics.consumer_lag_read.set_to_current_time()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, LtrrError):
        return exc.message
    if isinstance(exc, os_exc.ConnectionTimeout):  # before ConnectionError: a subclass
        return "OpenSearch timed out"
    if isinstance(exc, os_exc.ConnectionError):  # status "N/A": no answer at all
        from ltrr_opensearch.engine.client import _short_reason

        return f"cannot reach OpenSearch ({_short_reason(exc)})"
    if isinstance(exc, os_exc.TransportError):
        return f"OpenSearch answered {exc.status_code}: {exc.error}"
    return f"{type(exc).__name__}"


def _error(status: int, request_id: str, message: str, **extra: Any) -> JSONResponse:
    return FastJSONResponse({"error": message, "request_id": request_id, **extra},
                            status_code=status, headers={"X-Request-ID": request_id})


def create_app(settings: Settings, *, policy_file: str | None = None, use_bandit: bool = True,
               resync_seconds: float = 5.0, flush_seconds: float = 1.0,
               flags_file: str | None = None, breaker_failures: int = 5,
               breaker_cooldown: float = 10.0, rate_limit: float = 0.0,
               rate_burst: float | None = None) -> FastAPI:
    # One connection per request thread (the fast path's 40 searches and anyio's 40 for the
    # other routes) plus the background jobs, so no thread waits for or discards one.
    state = ServiceState(settings, make_client(settings, pool_maxsize=88), policy_file=policy_file,
                         use_bandit=use_bandit, resync_seconds=resync_seconds,
                         flush_seconds=flush_seconds,
                         breaker=CircuitBreaker(breaker_failures, breaker_cooldown))
    # Flags: ``--flags FILE``, else the provider of the config's [experiments] section (a
    # flag file or any OpenFeature provider class). A bad file or a provider that cannot be
    # imported or built fails here, at start, with the reason.
    from ltrr_opensearch.experiment.flags import FlagSource

    if flags_file is not None:
        state.flags = FlagSource.from_file(flags_file)
    else:
        from ltrr_opensearch.experiment.provider import provider_from_settings

        provider = provider_from_settings(settings)
        if provider is not None:
            state.flags = FlagSource(provider)
    if state.flags is not None:
        from ltrr_opensearch.experiment.interleave import Interleavers

        state.interleavers = Interleavers(state.flags)

    # The fast path's search threads, as many as anyio's pool gives the FastAPI routes.
    searches = ThreadPoolExecutor(max_workers=40, thread_name_prefix="ltrr-search")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        import anyio

        await anyio.to_thread.run_sync(state.build)
        state.start_background()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(state.shutdown)
            searches.shutdown(wait=False)

    app = FastAPI(title="ltrr-opensearch", version=__version__, lifespan=lifespan,
                  description="Learning to rank and retrieve on OpenSearch: search and feedback.")
    app.state.ltrr = state
    metrics = state.metrics
    # Body size of any framing and a per-client rate (service/limits.py); added first, so
    # the request observer wraps it and logs and counts what it refuses.
    from ltrr_opensearch.service.limits import RequestLimits

    app.add_middleware(RequestLimits, max_body_bytes=MAX_BODY_BYTES, rate=rate_limit,
                       burst=rate_burst, metrics=metrics)

    # Request id, body bound, no stack traces, latency metrics, one log line per request:
    # a plain ASGI middleware (service/asgi.py), not @app.middleware("http").
    app.add_middleware(RequestObserver, metrics=metrics, max_body_bytes=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                     "type": e.get("type", "")} for e in exc.errors()][:20]
        metrics.errors.labels(request.url.path, "invalid_request").inc()
        return _error(422, request.state.request_id, "invalid request: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems[:3]),
            problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, getattr(request.state, "request_id", uuid.uuid4().hex),
                      str(exc.detail))

    breaker = state.breaker

    def unavailable(request: Request, endpoint: str, exc: BaseException) -> JSONResponse:
        timeout = isinstance(exc, os_exc.ConnectionTimeout) or "timed out" in _reason(exc)
        busy = isinstance(exc, EngineBusy) or getattr(exc, "status_code", None) == 429
        kind = "engine_timeout" if timeout else "engine_busy" if busy else "engine_unavailable"
        metrics.errors.labels(endpoint, kind).inc()
        logger.warning(kind, extra={"fields": {"request_id": request.state.request_id,
                                               "path": endpoint, "error": _reason(exc)}})
        breaker.failed(_reason(exc))
        response = _error(504 if timeout else 503, request.state.request_id,
                          ("the search engine did not answer in time" if timeout
                           else "the search engine refused the request for now" if busy
                           else "the search engine is unavailable") + f": {_reason(exc)}")
        response.headers["Retry-After"] = "1" if timeout else "2"
        return response

    def engine_error(exc: os_exc.TransportError) -> bool:
        """An engine-side refusal the client can retry (429, 5xx), not a bad request."""
        status = exc.status_code
        return isinstance(status, int) and (status == 429 or status >= 500) or \
            not isinstance(status, int)

    def circuit_open(request: Request, endpoint: str) -> JSONResponse | None:
        wait = breaker.admit()
        if wait is None:
            return None
        metrics.errors.labels(endpoint, "circuit_open").inc()
        response = _error(503, request.state.request_id,
                          f"the search engine is failing ({breaker.consecutive} engine failures "
                          f"in a row, last: {breaker.reason}); not calling it for "
                          f"{wait:.0f}s more", circuit="open")
        response.headers["Retry-After"] = breaker.retry_after(wait)
        return response

    def run_search(body: SearchRequest, request: Request) -> Response:
        """POST /search, called by the route below or straight from the fast path
        (service/asgi.py JSONFastRoute) with the body already validated."""
        if state.pipeline is None:
            metrics.errors.labels("/search", "not_ready").inc()
            return _error(503, request.state.request_id, f"not ready: {state.problem}")
        if (refused := circuit_open(request, "/search")) is not None:
            return refused
        try:
            interleaver = (state.interleavers.for_request(state.pipeline, body.client_id)
                           if state.interleavers is not None else None)
            if interleaver is not None:  # the user is in an interleaving experiment
                response, _teams = interleaver.search(
                    body.query, k=body.k, request_id=request.state.request_id,
                    client_id=body.client_id, session_id=body.session_id,
                    user_features=body.context)
            else:
                response = state.pipeline.search(
                    body.query, k=body.k, request_id=request.state.request_id,
                    client_id=body.client_id, session_id=body.session_id,
                    user_features=body.context)
        except ClusterUnreachable as exc:
            return unavailable(request, "/search", exc)
        except (os_exc.ConnectionError, os_exc.ConnectionTimeout, EngineBusy) as exc:
            return unavailable(request, "/search", exc)
        except os_exc.TransportError as exc:
            if not engine_error(exc):
                breaker.released()
                raise
            return unavailable(request, "/search", exc)
        except LtrrError as exc:  # bad input the pipeline refused
            breaker.released()
            metrics.errors.labels("/search", "refused").inc()
            return _error(400, request.state.request_id, exc.message)
        except ValueError as exc:
            breaker.released()
            if not body.context:
                raise
            metrics.errors.labels("/search", "refused").inc()  # an undeclared context feature
            return _error(400, request.state.request_id, f"context: {exc}")
        failed = [r for r in response.results if r.error]

        def observe() -> None:
            """The search's metrics and log fields."""
            for r in response.results:
                if r.took_ms is not None:
                    metrics.strategy.labels(r.strategy).observe(r.took_ms / 1000)
            for r in failed:
                metrics.strategy_errors.labels(r.strategy).inc()
            for choice in response.choices:
                metrics.arms.labels(choice.arm).inc()
            for stage, ms in response.timings.items():
                metrics.stage.labels(stage).observe(ms / 1000)
            metrics.engine.observe(response.timings.get("retrieve", 0.0) / 1000)
            request.state.log_fields = {
                "arms": [{"arm": c.arm, "k": c.k} for c in response.choices],
                "timings_ms": {k: round(v, 2) for k, v in response.timings.items()},
                "results": len(response.shown),
                "failed_strategies": [r.strategy for r in failed]}

        if response.results and len(failed) == len(response.results):
            observe()
            reason = "; ".join(sorted({r.error or "" for r in failed}))
            timeout = "timed out" in reason
            metrics.errors.labels("/search", "engine_timeout" if timeout else "all_failed").inc()
            breaker.failed(f"every strategy failed: {reason}")
            answer = _error(504 if timeout else 503, request.state.request_id,
                            ("the search engine did not answer in time: " if timeout else "")
                            + f"every strategy failed: {reason}")
            answer.headers["Retry-After"] = "1"
            return answer
        breaker.succeeded()
        content = response.to_dict(explain=body.explain)
        # app: from the request reaching the service's middleware to its response built.
        app_ms = (time.perf_counter() - request.state.started) * 1000

        async def observe_after_sending() -> None:
            observe()  # on the event loop once the response is out (before the log line)

        return FastJSONResponse(content, headers={
            "X-Request-ID": request.state.request_id,
            "Server-Timing": server_timing({**response.timings, "app": app_ms})},
            background=BackgroundTask(observe_after_sending))

    @app.post("/search", summary="search the catalog",
              responses={422: {"description": "invalid request"},
                         503: {"description": "engine unavailable"},
                         504: {"description": "engine timeout"}})
    def search(body: SearchRequest, request: Request) -> Any:
        return run_search(body, request)

    # A valid JSON body skips FastAPI's request handling (validated once, from the bytes).
    # Appended (add_middleware would put it outermost): it runs inside the request observer
    # and the limits, so ids, bounds, rate limits, metrics and the log line still apply.
    app.user_middleware.append(Middleware(JSONFastRoute, fastapi=app, path="/search",
                                          model=SearchRequest, handler=run_search,
                                          executor=searches))

    @app.post("/events", summary="ingest UBI events (acknowledged once durable)",
              responses={422: {"description": "some events were refused (dead-lettered)"},
                         503: {"description": "engine unavailable; nothing acknowledged"}})
    def events(body: EventsBody, request: Request) -> Any:
        from ltrr_opensearch.feedback.ingest import ingest_events

        batch = body if isinstance(body, list) else [body]
        if (refused := circuit_open(request, "/events")) is not None:
            return refused
        try:
            report = ingest_events(state.client, settings, batch, source="api")
        except (ClusterUnreachable, EngineBusy) as exc:
            return unavailable(request, "/events", exc)
        except (os_exc.ConnectionError, os_exc.ConnectionTimeout) as exc:
            return unavailable(request, "/events", exc)
        except os_exc.TransportError as exc:  # a read before the write (join, indices)
            if not engine_error(exc):
                breaker.released()
                raise
            return unavailable(request, "/events", exc)
        except LtrrError as exc:
            breaker.released()
            metrics.errors.labels("/events", "refused").inc()
            return _error(503, request.state.request_id, exc.message)
        breaker.succeeded()
        for outcome in ("accepted", "duplicates", "dead_lettered"):
            metrics.events.labels(outcome).inc(getattr(report, outcome))
        answer = {"request_id": request.state.request_id, "received": report.received,
                  "accepted": report.accepted, "duplicates": report.duplicates,
                  "dead_lettered": report.dead_lettered, "unjoined": report.unjoined,
                  "refused": [{"index": (r.line or 1) - 1, "reason": r.reason}
                              for r in report.examples]}
        request.state.log_fields = {k: v for k, v in answer.items()
                                    if k not in ("refused", "request_id")}
        return JSONResponse(answer, status_code=422 if report.dead_lettered else 200)

    @app.get("/health", summary="liveness: the process answers")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", summary="readiness: cluster, catalog, plugins, pipeline",
             responses={503: {"description": "not ready, with reasons"}})
    def ready(request: Request) -> Any:
        reasons, checks = readiness(state)
        status = 200 if not reasons else 503
        return JSONResponse({"ready": not reasons, "checks": checks, "reasons": reasons,
                             "request_id": request.state.request_id}, status_code=status)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def catalog_readiness(client: Any, settings: Settings,
                      checks: dict[str, Any]) -> tuple[list[str], bool]:
    """(reasons the catalog is not ready, whether it needs the k-NN plugin). What the
    description in force needs: the managed alias loaded (``ltrr catalog load``), or the
    user's own index (or alias) there and fitting its description; k-NN only with a vector
    field. Transport errors propagate."""
    from ltrr_opensearch.catalog.description import description_for
    from ltrr_opensearch.retrieve.catalog import check_catalog

    checks["catalog"] = False
    try:
        description = description_for(settings)
    except LtrrError as exc:
        return [f"catalog description: {exc.message}"], False
    target = description.target(settings)
    checks["catalog_index"] = target
    if not client.indices.exists(index=target, request_timeout=2):
        if description.managed:
            return [f"catalog alias {target} is missing (ltrr catalog load)"], True
        return [f"the catalog's own index {target!r} (named by {description.source}) does "
                "not exist"], bool(description.vector)
    problems = [f for f in check_catalog(client, settings) if f.status != "ok"]
    checks["catalog"] = not problems
    return ([f"catalog: {f.detail}" + (f" (fix: {f.fix})" if f.fix else "") for f in problems],
            bool(description.vector))


def readiness(state: ServiceState) -> tuple[list[str], dict[str, Any]]:
    """(reasons it is not ready, what was checked)."""
    client, settings = state.client, state.settings
    checks: dict[str, Any] = {"circuit": state.breaker.state}  # open: engine failures
    try:
        info = client.info(request_timeout=2)
        checks["cluster"] = info.get("version", {}).get("number")
    except (os_exc.TransportError, os_exc.ConnectionError) as exc:
        checks["cluster"] = None
        return [f"cannot reach OpenSearch at {settings.display_urls} ({type(exc).__name__})"], checks
    try:
        reasons, vectors = catalog_readiness(client, settings, checks)
        plugins: set[str] = set()
        for node in client.nodes.info(metric="plugins", request_timeout=2)["nodes"].values():
            plugins.update(p["name"] for p in node.get("plugins", []))
        checks["plugins"] = sorted(plugins)
    except (os_exc.TransportError, os_exc.ConnectionError) as exc:
        return [f"cluster checks failed: {_reason(exc)}"], checks
    if vectors and "opensearch-knn" not in plugins:
        reasons.append("the k-NN plugin (opensearch-knn) is not installed (the catalog "
                       "description has a vector field)")
    checks["pipeline"] = state.pipeline is not None
    if state.pipeline is None:
        reasons.append(f"pipeline not built: {state.problem}")
    if state.pipeline is not None:  # what serving can run on this catalog
        from ltrr_opensearch.select.availability import missing_roles

        never = missing_roles(state.pipeline.registry, state.pipeline.catalog)
        checks["strategies"] = [n for n in state.pipeline.registry.names if n not in never]
    checks["bandit_version"] = state.selector.version if state.selector is not None else None
    # The model that ranks: informational, since fusion still serves without one.
    ranker = state.pipeline.ranker if state.pipeline is not None else None
    checks["ranker"] = ranker.model if ranker is not None else None
    if state.flags is not None:  # a rejected reload is reported, never a reason to stop serving
        checks["flags"] = {"provider": state.flags.provider_name,
                           "status": state.flags.status, "problem": state.flags.problem,
                           "fallbacks": sum(state.flags.problems.values())}
    return reasons, checks
