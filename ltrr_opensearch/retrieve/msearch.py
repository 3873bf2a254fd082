"""Run the chosen strategies as ONE ``_msearch`` and report each sub-search on its own.

A strategy that cannot be rendered fails before anything is sent; a sub-search that
errors, times out or loses shards is reported for that strategy only. The other
strategies' results always come back.

The sub-searches are never ranked here: the deployed model reranks the merged union
once, in a second search (``rank/rerank.py``), so its features cost one rescore whatever
the number of strategies.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import error_text, unreachable
from ltrr_opensearch.errors import ConfigError, LtrrError, ValidationError
from ltrr_opensearch.retrieve.catalog import catalog_context
from ltrr_opensearch.retrieve.templates import TemplateRegistry, build_context
from ltrr_opensearch.types import ArmChoice, Hit, StrategyResult, Understanding

FILTER_PATH = ",".join(
    f"responses.{p}" for p in ("took", "timed_out", "status", "error.type", "error.reason",
                               "error.root_cause.type", "error.root_cause.reason",
                               "error.caused_by.type", "error.caused_by.reason",
                               "_shards.failures.reason.type", "_shards.failures.reason.reason",
                               "hits.hits._id", "hits.hits._score", "hits.hits._source")
)
DEFAULT_TIMEOUT = "2s"
_TIME_VALUE = re.compile(r"^\d+(nanos|micros|ms|s|m|h|d)$")

logger = logging.getLogger(__name__)

EmbedQuery = Callable[[str], Sequence[float]]


@dataclass(frozen=True)
class PreparedSearch:
    """A rendered sub-search (``body``) or the reason it could not be rendered (``error``)."""

    strategy: str
    k: int
    body: dict[str, Any] | None
    error: str | None = None
    render_ms: float = 0.0
    id_field: str | None = "id"  # the catalog's id field (None: the document _id)


def subsearch_timeout(settings: Settings) -> str:
    """``[strategies] timeout`` as an OpenSearch time value ("500ms"; a number means ms)."""
    raw = settings.section("strategies").get("timeout", DEFAULT_TIMEOUT)
    text = f"{raw}ms" if isinstance(raw, int) and not isinstance(raw, bool) else str(raw)
    if not _TIME_VALUE.match(text):
        raise ConfigError(f"[strategies] timeout must be a time like '500ms' or '2s', got {raw!r}")
    return text


def _normalize_choices(choices: Sequence[ArmChoice | tuple[str, int]]) -> list[tuple[str, int]]:
    pairs = [(c.arm, c.k) if isinstance(c, ArmChoice) else (str(c[0]), c[1]) for c in choices]
    seen: set[str] = set()
    for name, k in pairs:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValidationError(f"strategy {name}: candidate count must be a positive "
                                  f"integer, got {k!r}")
        if name in seen:
            raise ValidationError(f"strategy {name} chosen twice", hint="give each strategy once")
        seen.add(name)
    return pairs


def default_q2e_key(normalized: str) -> str | None:
    """The memory key of a normalised query, as the understanding layer defines it."""
    from ltrr_opensearch.understand.normalize import q2e_key

    try:
        return q2e_key(normalized)
    except ValueError:  # nothing left after normalisation: no memory to look up
        return None


def prepare_searches(
    registry: TemplateRegistry,
    understanding: Understanding,
    choices: Sequence[ArmChoice | tuple[str, int]],
    *,
    embed_query: EmbedQuery | None = None,
    q2e_key: str | None = None,
    timeout: str = DEFAULT_TIMEOUT,
    now: datetime | None = None,
    catalog: Mapping[str, Any] | None = None,
    memory: Sequence[tuple[str, float]] | None = None,
) -> list[PreparedSearch]:
    """Render each chosen strategy; the query vector is computed only if one needs it.
    ``catalog`` is the templates' ``catalog`` variable (:func:`catalog_context`; default:
    the built-in music description on the managed mapping); hits return its source fields."""
    pairs = _normalize_choices(choices)
    if catalog is None:
        from ltrr_opensearch.retrieve.catalog import offline_catalog

        catalog = offline_catalog()
    source_fields = list(catalog["source_fields"])
    id_field = catalog["id_field"]
    vector: list[float] | None = None
    vector_error: str | None = None
    names = [n for n, _ in pairs]
    if "vector" in registry.needs(names):
        if embed_query is None:
            vector_error = "needs a query vector but no embedder was given"
        else:
            try:
                vector = [float(x) for x in
                          embed_query(understanding.normalized or understanding.raw)]
            except LtrrError as exc:  # only the strategies that need the vector fail
                vector_error = f"needs a query vector but embedding failed: {exc.message}"
    if q2e_key is None:
        q2e_key = default_q2e_key(understanding.normalized)

    prepared: list[PreparedSearch] = []
    for name, k in pairs:
        started = time.perf_counter()
        try:
            template = registry.get(name)
            if "vector" in template.needs and vector is None:
                raise ValidationError(f"strategy {name} {vector_error}")
            context = build_context(understanding, size=k, q2e_key=q2e_key, vector=vector,
                                    now=now, catalog=catalog, memory=memory)
            body = registry.render(name, context)
        except LtrrError as exc:
            prepared.append(PreparedSearch(name, k, None, exc.message, id_field=id_field))
            continue
        body.setdefault("size", k)
        body.setdefault("_source", {"includes": source_fields})
        body.setdefault("timeout", timeout)
        body.setdefault("track_total_hits", False)
        prepared.append(PreparedSearch(name, k, body, None,
                                       (time.perf_counter() - started) * 1000, id_field))
    return prepared


def execute(client: OpenSearch, settings: Settings, prepared: Sequence[PreparedSearch],
            timings: dict[str, float] | None = None) -> list[StrategyResult]:
    """Send the rendered sub-searches as one ``_msearch``; one result per prepared search.
    ``timings["engine"]``, when given: ms spent waiting on the engine client (the request
    sent, the engine's work, the answer read and decoded), the rest being ours."""
    runnable = [p for p in prepared if p.body is not None]
    responses: list[Mapping[str, Any]] = []
    failure: str | None = None
    if runnable:
        sent = time.perf_counter()
        try:
            try:
                responses = _send(client, settings, [p.body for p in runnable if p.body is not None])
            except os_exc.RequestError:
                # The engine parses every body before running any: one unparseable query
                # (unknown query type, bad option) rejects the whole request. Rare, so
                # isolate it by sending each sub-search alone rather than losing them all.
                logger.warning("_msearch rejected as a whole; retrying %d sub-searches "
                               "one by one to isolate the bad one", len(runnable))
                responses = [_send_alone(client, settings, p.body) for p in runnable
                             if p.body is not None]
        except os_exc.ConnectionTimeout:
            failure = f"the _msearch request timed out after {settings.timeout}s"
        except os_exc.ConnectionError:
            raise unreachable(settings, "searching") from None
        except os_exc.TransportError as exc:
            failure = f"_msearch failed with HTTP {exc.status_code}: {error_text(exc.info)}"
        except LtrrError as exc:
            failure = exc.message
        finally:
            if timings is not None:
                timings["engine"] = (time.perf_counter() - sent) * 1000

    by_name = {p.strategy: r for p, r in zip(runnable, responses, strict=False)}
    results = []
    for p in prepared:
        if p.body is None:
            results.append(StrategyResult(p.strategy, (), None, p.error))
        elif failure is not None:
            results.append(StrategyResult(p.strategy, (), None, failure))
        else:
            results.append(_result(p.strategy, by_name[p.strategy], p.body.get("timeout"),
                                   p.id_field))
    return results


def _send(client: OpenSearch, settings: Settings,
          bodies: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    lines: list[Mapping[str, Any]] = []
    for body in bodies:
        lines += [{}, body]  # empty header: the index comes from the URL
    answer = client.msearch(body=lines, index=settings.catalog_index,
                            params={"filter_path": FILTER_PATH})
    responses = answer.get("responses", [])
    if len(responses) != len(bodies):
        raise LtrrError(f"_msearch returned {len(responses)} responses for {len(bodies)} "
                        "searches")
    return responses


def _send_alone(client: OpenSearch, settings: Settings,
                body: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        return _send(client, settings, [body])[0]
    except os_exc.RequestError as exc:
        return {"error": exc.info.get("error") if isinstance(exc.info, dict) else str(exc)}


def _result(strategy: str, response: Mapping[str, Any], timeout: Any,
            id_field: str | None = "id") -> StrategyResult:
    if "error" in response:
        return StrategyResult(strategy, (), response.get("took"), error_text(response["error"]))
    hits = tuple(
        Hit(id=str((h.get("_source", {}).get(id_field) if id_field else None) or h["_id"]),
            score=h.get("_score"),
            source=h.get("_source", {}),
            doc_id=h["_id"])
        for h in response.get("hits", {}).get("hits", [])
    )
    problems = []
    if response.get("timed_out"):
        problems.append(f"timed out after {timeout}; results are partial")
    failures = response.get("_shards", {}).get("failures", [])
    if failures:
        reasons = "; ".join(error_text(f.get("reason", {})) for f in failures[:3])
        problems.append(f"{len(failures)} shard failure(s): {reasons}")
    return StrategyResult(strategy, hits, response.get("took"), "; ".join(problems) or None)


def run_strategies(
    client: OpenSearch,
    settings: Settings,
    registry: TemplateRegistry,
    understanding: Understanding,
    choices: Sequence[ArmChoice | tuple[str, int]],
    *,
    embed_query: EmbedQuery | None = None,
    q2e_key: str | None = None,
    now: datetime | None = None,
    catalog: Mapping[str, Any] | None = None,
    timings: dict[str, float] | None = None,
) -> list[StrategyResult]:
    """Render the chosen strategies and run them in one ``_msearch`` (see module doc).
    ``catalog``: the pipeline's :func:`catalog_context`, read here when not given; a
    description that does not fit the index fails every chosen strategy with the reason."""
    if catalog is None:
        try:
            catalog = catalog_context(client, settings)
        except ValidationError as exc:
            return [StrategyResult(name, (), None, exc.message)
                    for name, _ in _normalize_choices(choices)]
    memory, pairs = None, _normalize_choices(choices)
    if "memory" in registry.needs([name for name, _ in pairs]):  # kept outside the catalog
        from ltrr_opensearch.feedback.memory import template_memory

        memory = template_memory(client, settings, catalog, q2e_key if q2e_key is not None
                                 else default_q2e_key(understanding.normalized),
                                 max(k for _, k in pairs))
    prepared = prepare_searches(registry, understanding, choices, embed_query=embed_query,
                                q2e_key=q2e_key, timeout=subsearch_timeout(settings), now=now,
                                catalog=catalog, memory=memory)
    return execute(client, settings, prepared, timings)
