"""``Pipeline.search()``: the one place the funnel is composed.

    understand -> select (bandit, or a fixed plan) -> retrieve (one _msearch) -> merge
        -> rank (one search: the deployed model reranks the union) -> log

A search never changes what the system has learned: it reads the bandit's current state
and, at most, appends a UBI query record (buffered, bulk-written) that later feedback
joins on ``request_id``. Learning happens in the feedback path (``ltrr memory update``,
``Learner.sync``), never here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.types import ArmChoice, Candidate, StrategyResult, Understanding


@dataclass(frozen=True)
class SearchResponse:
    """Everything one request produced, for callers, feedback and explanations."""

    request_id: str
    query: str
    understanding: Understanding
    choices: tuple[ArmChoice, ...]
    results: tuple[StrategyResult, ...]
    candidates: tuple[Candidate, ...]  # the merged union, best first
    shown: tuple[Candidate, ...]  # the first k: what the user sees
    took_ms: float
    explanation: Any = None  # the selector's explanation (select.bandit.Explanation) or None
    # Where the time went (ms): understand, select, embed (the query embedding, inside
    # retrieve), retrieve (render + the one _msearch + reading the hits), merge, rank (the
    # reranking search, built and read), log; engine is the wait on the engine in all
    # (engine_retrieve + engine_rank). Measured, never estimated.
    timings: Mapping[str, float] = field(default_factory=dict)
    ranker: Any = None  # rank.ranker.Ranker that ordered the candidates, if any
    rank_error: str | None = None  # why the fused order was served despite a ranker
    # The catalog variable the strategies rendered with: which source field plays which
    # role in the results (None: the built-in music description).
    catalog: Mapping[str, Any] | None = None

    def arm_candidates(self) -> dict[str, list[str]]:
        """Ids each strategy returned: what per-arm rewards are computed against."""
        return {r.strategy: [h.id for h in r.hits] for r in self.results}

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        """Each result: ``id``, ``score``, ``title``/``entity_type``/``creator`` (the fields
        the catalog description gives those roles), ``fields`` (its display fields) and
        ``provenance``."""
        from ltrr_opensearch.retrieve.catalog import display

        body: dict[str, Any] = {
            "request_id": self.request_id,
            "query": self.query,
            "took_ms": round(self.took_ms, 2),
            "results": [{"id": c.id, "score": c.score, **display(c.source, self.catalog),
                         "provenance": {s: {"rank": r, "score": sc}
                                        for s, (r, sc) in c.provenance.items()}}
                        for c in self.shown],
            "strategies": [{"arm": c.arm, "k": c.k, "propensity": c.propensity}
                           for c in self.choices],
            "errors": [{"strategy": r.strategy, "error": r.error}
                       for r in self.results if r.error],
        }
        if self.rank_error:
            body["rank_error"] = self.rank_error
        if explain:
            u = self.understanding
            body["understanding"] = {
                "normalized": u.normalized, "intent": u.intent,
                "intent_confidence": u.intent_confidence, "keywords": list(u.keywords),
                "slots": [vars(s) for s in u.slots]}
            body["context"] = dict(zip(u.context.names, u.context.values, strict=True))
            body["per_strategy"] = [{"strategy": r.strategy, "hits": len(r.hits),
                                     "took_ms": r.took_ms, "error": r.error}
                                    for r in self.results]
            if self.explanation is not None:
                body["selection"] = self.explanation.to_dict()
            body["timings_ms"] = {name: round(ms, 3) for name, ms in self.timings.items()}
            if self.ranker is not None:
                body["ranking"] = self.ranker.explain(self.shown)
        return body


class Selector(Protocol):
    """What the pipeline needs from a bandit (``select.Bandit`` and ``select.Learner`` fit)."""

    def select(self, context: Any, seed: int | None = None,
               unavailable: Mapping[str, str] | None = None) -> Any: ...


DEFAULT_UNION_FLOOR = 50  # candidates per strategy the bandit left out, when a model reranks


@dataclass
class Pipeline:
    """The search funnel over one cluster. Build it with :meth:`from_cluster`."""

    client: OpenSearch
    settings: Settings
    registry: Any  # retrieve.templates.TemplateRegistry
    gazetteer: Any  # understand.Gazetteer
    selector: Selector | None = None  # None: every enabled strategy with the default k
    embed_query: Callable[[str], Sequence[float]] | None = None
    search_log: Callable[[Any], None] | None = None  # receives feedback.querylog.SearchRecord
    default_k: int = 50  # candidates per strategy when no selector decides
    now: Callable[[], datetime] | None = None
    embed_problem: str | None = None  # why embed_query is None, when a strategy needs one
    ranker: Any = None  # rank.ranker.Ranker: the deployed LTR model; None orders by fusion
    # Reranked candidates that come back with their feature vectors (and go to the search
    # record), at least the shown ones: retraining reads the shown ones and, as negatives,
    # the ones below the page. ``from_cluster`` reads ``[ranking] log_depth``.
    log_features_depth: int = 0
    # experiment.FlagSource: behaviour flags and experiments, resolved once per request by
    # the user/client id; None: the configuration above decides alone.
    flags: Any = None
    availability: Any = None  # select.availability.Availability, built on first use
    # The templates' ``catalog`` variable (retrieve.catalog.catalog_context), read once;
    # None: read per request (each strategy then fails with the reason if it cannot be).
    catalog: Mapping[str, Any] | None = None

    @classmethod
    def from_cluster(cls, client: OpenSearch, settings: Settings, *,
                     selector: Selector | None = None,
                     search_log: Callable[[Any], None] | None = None) -> Pipeline:
        """Read the gazetteer, the catalog description bound to the live mapping and the
        catalog's embedder from the cluster (cached per process)."""
        from ltrr_opensearch.rank.registry import deployed_ranker
        from ltrr_opensearch.rank.rerank import log_depth
        from ltrr_opensearch.retrieve.catalog import catalog_context
        from ltrr_opensearch.retrieve.resources import gazetteer_for, query_embedder_for
        from ltrr_opensearch.retrieve.templates import TemplateRegistry

        registry = TemplateRegistry.from_settings(settings)
        ranker = deployed_ranker(client, settings)
        embed_query = None
        embed_problem = None
        if "vector" in registry.needs(registry.names) or (
                ranker is not None and "query_vector" in ranker.params):
            try:
                embedder = query_embedder_for(client, settings)
                embed_query = embedder.embed_query
            except LtrrError as exc:
                embed_problem = exc.message  # vector strategies then fail alone, with the reason
        try:
            catalog = catalog_context(client, settings)
        except ValidationError:
            catalog = None  # a missing or misfit index: every search says why, per strategy
        pipeline = cls(client, settings, registry, gazetteer_for(client, settings),
                       selector=selector, embed_query=embed_query, search_log=search_log,
                       embed_problem=embed_problem, ranker=ranker, catalog=catalog,
                       log_features_depth=log_depth(settings))
        if selector is not None:  # a bandit reads the memory's keys: read them before request 1
            pipeline._availability().memory_keys.warm()
        return pipeline

    def plan(self, understanding: Understanding, strategies: Sequence[tuple[str, int]] | None,
             seed: int | None, variant: Any = None) -> tuple[list[ArmChoice], Any]:
        """The strategies to run and their budgets: given, the flags' fixed plan, chosen by
        the bandit (the variant's, if it has its own), or all."""
        if strategies is not None:
            return [ArmChoice(name, int(k), 1.0) for name, k in strategies], None
        # A flag may name a strategy that is off by default (an experiment turning it on).
        pool = self.registry.available if variant and variant.strategies else self.registry.names
        fixed = variant.plan(pool, self.default_k) if variant else None
        if fixed is not None:
            return [ArmChoice(name, int(k), 1.0) for name, k in fixed], None
        selector = (self.flags.selector(variant, self.selector, self.client, self.settings)
                    if variant is not None and variant.mode in (None, "bandit") else self.selector)
        if selector is not None:
            selection = selector.select(understanding.context, seed=seed,
                                        unavailable=self.unavailable(understanding))
            choices = list(selection.choices)
            if variant is not None and variant.strategies:  # kill switches win over the bandit
                kept = [c for c in choices if c.arm in variant.strategies]
                if kept:
                    return kept, selection.explanation
                choices = []
            if choices:
                return choices, selection.explanation
        names = variant.strategies if variant is not None and variant.strategies \
            else self.registry.names
        # A strategy needing a field the catalog lacks (a vector, a date) could only fail.
        never = self._availability().missing_fields
        names = [n for n in names if n not in never] or list(names)
        return [ArmChoice(name, self.default_k, 1.0) for name in names], None

    def understand(self, query: str, *, now: datetime | None = None,
                   user_features: Mapping[str, float] | None = None) -> Understanding:
        """Query understanding with the context the selector reads: its layout (the clock
        fields if its config turns them on) and whether the memory holds the query's key."""
        from ltrr_opensearch.select.config import context_spec_of
        from ltrr_opensearch.understand import understand

        return understand(query, self.gazetteer, now=now, user_features=user_features,
                          spec=context_spec_of(self.selector),
                          memory_keys=self._availability().memory_keys)

    def unavailable(self, understanding: Understanding) -> dict[str, str]:
        """Strategies that cannot return anything for this request (no memory for its key,
        no query vector, no date field), with reasons: the bandit does not choose them."""
        return self._availability().unavailable(understanding)

    def _availability(self) -> Any:
        """The pipeline's select.availability.Availability, built on first use."""
        if self.availability is None:
            from ltrr_opensearch.select.availability import Availability

            self.availability = Availability(self.client, self.settings, self.registry,
                                             has_vector=self.embed_query is not None,
                                             vector_problem=self.embed_problem,
                                             catalog=self.catalog)
        return self.availability

    def search(self, query: str, *, k: int = 10,
               strategies: Sequence[tuple[str, int]] | None = None,
               request_id: str | None = None, client_id: str | None = None,
               session_id: str | None = None, user_features: Mapping[str, float] | None = None,
               seed: int | None = None, now: datetime | None = None,
               log: bool = True) -> SearchResponse:
        """Serve one query. ``k`` is the page size: how many merged results are shown
        (``shown``); how many candidates each strategy retrieves is the plan's budget
        (``strategies`` pairs, the selector's choice, or ``default_k``). ``log=False``
        skips the UBI query record for this request only."""
        from ltrr_opensearch.retrieve.merge import merge_results
        from ltrr_opensearch.retrieve.msearch import run_strategies

        started = time.perf_counter()
        timings: dict[str, float] = {}
        now = now or (self.now() if self.now else None)
        understanding = self.understand(query, now=now, user_features=user_features)
        mark = _lap(timings, "understand", started)
        variant = self.flags.resolve(client_id) if self.flags is not None else None
        ranker = (self.flags.ranker(variant, self.ranker, self.client, self.settings)
                  if variant is not None else self.ranker)
        mark = _lap(timings, "flags", mark) if variant is not None else mark
        choices, explanation = self.plan(understanding, strategies, seed, variant)
        mark = _lap(timings, "select", mark)
        # Embedded at most once: the vector strategy and the model may both read it.
        embed_query = _once(_timed(self.embed_query, timings)) if self.embed_query else None
        floor = self._union_floor(ranker, understanding, choices, explanation, variant)
        results = run_strategies(self.client, self.settings, self.registry, understanding,
                                 choices + floor, embed_query=embed_query, now=now,
                                 catalog=self.catalog, timings=timings)
        timings["engine_retrieve"] = timings.get("engine", 0.0)
        mark = _lap(timings, "retrieve", mark)
        candidates = merge_results(results)
        mark = _lap(timings, "merge", mark)
        rank_error = None
        if ranker is not None and candidates:
            reranked = self._rerank(ranker, understanding, candidates, k, now, embed_query,
                                    variant.rescore_window if variant else None)
            candidates, rank_error = reranked.candidates, reranked.error
            timings["engine_rank"] = reranked.engine_ms
            timings["engine"] = timings.get("engine", 0.0) + reranked.engine_ms
            mark = _lap(timings, "rank", mark)
        response = SearchResponse(
            request_id=request_id or uuid.uuid4().hex, query=query, understanding=understanding,
            choices=tuple(choices), results=tuple(results), candidates=tuple(candidates),
            shown=tuple(candidates[:k]), took_ms=(mark - started) * 1000,
            explanation=explanation, timings=timings, ranker=ranker, catalog=self.catalog,
            rank_error=rank_error)
        if log and self.search_log is not None:
            self.search_log(search_record(response, client_id=client_id, session_id=session_id,
                                          timestamp=now, ranker=ranker,
                                          variant=variant.label if variant else None,
                                          features_depth=self.log_features_depth))
            _lap(timings, "log", mark)
        return response


    def _union_floor(self, ranker: Any, understanding: Understanding,
                     choices: list[ArmChoice], explanation: Any,
                     variant: Any) -> list[ArmChoice]:
        """``[ranking] union_floor`` (default 50; 0: off): when a model reranks the union of
        a plan the bandit chose, every other strategy the request can run adds this many
        candidates, so the model always has what any strategy would have found (on films the
        bandit's two-strategy plans cost held-out NDCG@10 0.015 against every strategy).
        Not the bandit's choice, so not recorded as one: its rewards stay its own arms'."""
        k = self.settings.section("ranking").get("union_floor", DEFAULT_UNION_FLOOR)
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 10_000:
            raise LtrrError(f"[ranking] union_floor must be an integer from 0 to 10000, "
                            f"got {k!r}")
        if not k or explanation is None or ranker is None or ranker.model is None:
            return []
        chosen = {c.arm for c in choices}
        skip = set(self.unavailable(understanding)) | set(self._availability().missing_fields)
        # A variant's strategies are its kill switches too: the floor runs none they leave out.
        pool = variant.strategies if variant is not None and variant.strategies \
            else self.registry.names
        return [ArmChoice(name, k, 1.0) for name in pool
                if name not in chosen and name not in skip]

    def _rerank(self, ranker: Any, understanding: Understanding, candidates: list[Candidate],
                k: int, now: datetime | None, embed: Callable[[str], Sequence[float]] | None,
                window: int | None) -> Any:
        from ltrr_opensearch.rank.rerank import rerank, rerank_window
        from ltrr_opensearch.retrieve.msearch import default_q2e_key, subsearch_timeout

        return rerank(self.client, self.settings, ranker, understanding, candidates,
                      size=max(k, self.log_features_depth),
                      window=rerank_window(self.settings, window),
                      q2e_key=default_q2e_key(understanding.normalized), now=now,
                      embed=embed, catalog=self.catalog, timeout=subsearch_timeout(self.settings))


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    mark = time.perf_counter()
    timings[name] = (mark - since) * 1000
    return mark


def _timed(embed: Callable[[str], Sequence[float]],
           timings: dict[str, float]) -> Callable[[str], Sequence[float]]:
    """``embed`` that adds its time to ``timings['embed']``."""
    def timed(text: str) -> Sequence[float]:
        started = time.perf_counter()
        try:
            return embed(text)
        finally:
            timings["embed"] = timings.get("embed", 0.0) + (time.perf_counter() - started) * 1000
    return timed


def _once(embed: Callable[[str], Sequence[float]]) -> Callable[[str], Sequence[float]]:
    """``embed`` that computes its one text's vector once per search."""
    memo: dict[str, Sequence[float]] = {}

    def once(text: str) -> Sequence[float]:
        if text not in memo:
            memo[text] = embed(text)
        return memo[text]
    return once


def search_record(response: SearchResponse, *, client_id: str | None = None,
                  session_id: str | None = None, timestamp: datetime | None = None,
                  variant: str | None = None, ranker: Any = None,
                  features_depth: int = 0) -> Any:
    """The UBI query record of a response (what feedback later joins on ``request_id``).

    With a ranker, it keeps the feature vectors the engine computed for the first
    ``features_depth`` merged candidates (every shown one included): training rows are
    built from these, never by re-querying a catalog that has changed since."""
    from ltrr_opensearch.feedback.querylog import ArmLog, SearchRecord

    extra: dict[str, Any] = {"session_id": session_id} if session_id else {}
    extra["took_ms"] = round(response.took_ms, 3)  # the latency experiments report on
    logged = [c for c in response.candidates[:max(features_depth, len(response.shown))]
              if c.features is not None]
    if ranker is not None and logged:
        extra["ltr"] = {"model": ranker.model, "feature_set": ranker.feature_set,
                        "feature_names": list(ranker.feature_names),
                        "features": {c.id: list(c.features or ()) for c in logged}}
    by_arm = response.arm_candidates()
    took = {r.strategy: r.took_ms for r in response.results}
    return SearchRecord(
        query_id=response.request_id, user_query=response.query,
        hit_ids=tuple(c.id for c in response.shown),
        arms=tuple(ArmLog.from_choice(c, by_arm.get(c.arm, ()), took.get(c.arm))
                   for c in response.choices),
        client_id=client_id, variant=variant, context=response.understanding.context,
        model_version=ranker.model if ranker is not None else None,
        timestamp=timestamp, extra=extra)


class BufferedSearchLog:
    """Collects search records and writes them in one bulk request per ``batch`` searches,
    so logging costs the search path no round trip. Call :meth:`flush` before feedback
    for the logged searches is processed (and at shutdown)."""

    def __init__(self, client: OpenSearch, settings: Settings, batch: int = 100) -> None:
        self.client, self.settings, self.batch = client, settings, batch
        self.pending: list[Any] = []
        self.written = 0

    def __call__(self, record: Any) -> None:
        self.pending.append(record)
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self, refresh: bool | str = False) -> int:
        from ltrr_opensearch.feedback.querylog import log_search

        records, self.pending = self.pending, []
        if records:
            self.written += log_search(self.client, self.settings, records, refresh=refresh)
        return len(records)
