"""The second phase of a search: the deployed model reranks the merged union once.

Phase 1 (``retrieve/msearch.py``) runs the chosen strategies unranked in one ``_msearch``
and ``retrieve/merge.py`` fuses their hits. Phase 2 is ONE search: an ``ids`` query on the
first ``window`` fused candidates, the model as an ``sltr`` rescore over all of them
(``query_weight`` 0: a hit's score is the model's) and ``ext.ltr_log`` logging the feature
values of the hits it returns, the top ``size`` by model score. The rest of the candidates
follow in fused order.

Why a second search rather than a rescore on every sub-search: a feature's cost is mostly
fixed per search (rendering, parsing, rewriting, per-segment scorers), so ranking inside
each sub-search paid it once per strategy, and its feature log once per hit of each; the
union's own rescore pays it once (measured in docs/benchmarks.md, "Where the ranker's time
went"). Both LTR plugins take this request as it is.

A failed or partial reranking search never fails the search: the fused order is served and
the reason is reported (``Reranked.error``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import error_text
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.rank.features import MEMORY_CLAUSES_PARAM, sltr_params
from ltrr_opensearch.rank.ranker import Ranker
from ltrr_opensearch.types import Candidate, Understanding

DEFAULT_WINDOW = 400  # fused candidates the model rescores (a plan asks for 100-250)
MEMORY_STRATEGY = "q2e_memory"  # the shipped strategy whose score is the memory's weight
# A page of 10 and the 20 below it that retraining takes as negatives (rank.learn).
DEFAULT_LOG_DEPTH = 30
_FILTER_PATH = ",".join(("took", "timed_out", "_shards.failures.reason.type",
                         "_shards.failures.reason.reason", "hits.hits._id", "hits.hits._score",
                         "hits.hits.fields._ltrlog"))


@dataclass(frozen=True)
class Reranked:
    """The candidates in their served order and what the reranking search did."""

    candidates: list[Candidate]
    error: str | None = None  # why the fused order is served instead, if it is
    engine_ms: float = 0.0  # the wait on the reranking search
    rescored: int = 0  # candidates the model scored
    logged: list[str] = field(default_factory=list)  # ids that came back with features


def rerank_window(settings: Settings, override: int | None = None) -> int:
    """``[ranking] window`` (or a flag's ``rescore-window``): fused candidates rescored."""
    raw = override if override is not None else settings.section("ranking").get(
        "window", DEFAULT_WINDOW)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 10_000:
        raise LtrrError(f"[ranking] window must be an integer from 1 to 10000, got {raw!r}")
    return raw


def memory_clauses(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    """The memory feature's clauses when the memory is kept outside the catalog: each
    candidate the ``q2e_memory`` strategy found scores its weight there (that strategy's
    score is the stored weight), the rest 0. Without that strategy in the plan the memory
    reads 0 for all, as it does for a key it has not learnt."""
    clauses = []
    for c in candidates:
        _, weight = c.provenance.get(MEMORY_STRATEGY, (0, None))
        if weight:
            clauses.append({"constant_score": {"filter": {"ids": {"values": [c.doc_id or c.id]}},
                                               "boost": float(weight)}})
    return clauses


def log_depth(settings: Settings) -> int:
    """``[ranking] log_depth``: reranked hits that come back with their feature vectors. The
    ones past the page are the negatives retraining needs (``rank.learn.below_page``)."""
    raw = settings.section("ranking").get("log_depth", DEFAULT_LOG_DEPTH)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 10_000:
        raise LtrrError(f"[ranking] log_depth must be an integer from 0 to 10000, got {raw!r}")
    return raw


def rerank(client: OpenSearch, settings: Settings, ranker: Ranker,
           understanding: Understanding, candidates: Sequence[Candidate], *, size: int,
           window: int, q2e_key: str | None, now: datetime | None = None,
           embed: Callable[[str], Sequence[float]] | None = None,
           catalog: Mapping[str, Any] | None = None,
           timeout: str = "2s") -> Reranked:
    """Rerank ``candidates`` (fused order) with ``ranker``: the first ``window`` are scored,
    the best ``size`` come back with their feature values. A logging-only ranker (no model)
    keeps the fused order and logs the first ``size``."""
    ordered = list(candidates)
    if not ordered:
        return Reranked(ordered)
    scored = ordered[:window] if ranker.model is not None else ordered[:size]
    ids = [c.doc_id or c.id for c in scored]
    vector = None
    if "query_vector" in ranker.params:
        if embed is None:
            return Reranked(ordered, "the model reads the query vector but there is no "
                                     "embedder")
        try:
            vector = embed(understanding.normalized or understanding.raw)
        except LtrrError as exc:
            return Reranked(ordered, f"the model reads the query vector: {exc.message}")
    params = sltr_params(understanding, q2e_key=q2e_key, vector=vector, now=now,
                         needed=set(ranker.params), catalog=catalog)
    if MEMORY_CLAUSES_PARAM in ranker.params:
        params[MEMORY_CLAUSES_PARAM] = memory_clauses(scored)
    body = {"size": min(size, len(ids)) if ranker.model is not None else len(ids),
            "_source": False, "track_total_hits": False, "timeout": timeout,
            "query": {"ids": {"values": ids}},
            "rescore": ranker.rescore(params, window=len(ids)),
            "ext": ranker.log_ext()}
    started = time.perf_counter()
    try:
        answer = client.search(index=settings.catalog_index, body=body,
                               params={"filter_path": _FILTER_PATH})
    except os_exc.ConnectionTimeout:
        return Reranked(ordered, f"the reranking search timed out after {settings.timeout}s",
                        _ms(started))
    except (os_exc.TransportError, os_exc.ConnectionError) as exc:
        status = getattr(exc, "status_code", None)
        return Reranked(ordered, f"the reranking search failed (HTTP {status}): "
                                 f"{error_text(getattr(exc, 'info', None) or str(exc))}",
                        _ms(started))
    engine_ms = _ms(started)
    problem = _partial(answer, timeout)
    if problem:
        return Reranked(ordered, problem, engine_ms)
    by_doc = {c.doc_id or c.id: c for c in scored}
    first: list[Candidate] = []
    logged: list[str] = []
    for hit in answer.get("hits", {}).get("hits", []):
        candidate = by_doc.pop(hit.get("_id"), None)
        if candidate is None:
            continue
        candidate.features = ranker.features_of(hit)
        if candidate.features is not None:
            logged.append(candidate.id)
        if ranker.model is not None:
            candidate.score = hit.get("_score")
        first.append(candidate)
    if ranker.model is None:  # logging only: the fused order stands
        return Reranked(ordered, None, engine_ms, 0, logged)
    taken = {id(c) for c in first}
    return Reranked(first + [c for c in ordered if id(c) not in taken], None, engine_ms,
                    len(ids), logged)


def _partial(answer: Mapping[str, Any], timeout: str) -> str | None:
    """Why a reranking answer cannot be trusted (timed out, shards failed), or None."""
    if answer.get("timed_out"):
        return f"the reranking search timed out after {timeout}; the fused order is served"
    failures = answer.get("_shards", {}).get("failures", [])
    if failures:
        reason = failures[0].get("reason", {})
        return (f"the reranking search lost {len(failures)} shard(s): "
                f"{reason.get('type', 'error')}: {reason.get('reason', '')}")
    return None


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
