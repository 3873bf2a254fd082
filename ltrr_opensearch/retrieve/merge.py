"""Merge per-strategy hits into one de-duplicated candidate list with provenance.

The merged order is reciprocal-rank fusion (Cormack et al., 2009),
``score(d) = sum over strategies s of w_s / (rrf_k + rank_s(d))`` with 1-based ranks: what
the deployed LTR model then reranks (``rank/rerank.py``), and the final order when there is
no model (no LTR API on the cluster, or the reranking search failed). RRF needs no score
calibration across strategies (BM25, cosine and rank_feature scores are not comparable)
and rewards items several strategies agree on. Ties break by the number of
strategies that found the item, then its best rank, then id, so the order is deterministic.

Plain RRF demotes the one item a precise strategy is sure of: an exact title that BM25 ranks
first far ahead of its second hit scores 1/61, less than a loosely related item four weak
strategies list around rank 5 (4/65). So a strategy's first hit whose score beats its second
by a clear margin (``score_1 >= (1 + margin) * score_2``, scale-free) goes first, ahead of
the fused order; several such hits are ordered by how many strategies are sure of them, then
by their relative margin. Measured in ``docs/ranking.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ltrr_opensearch.types import Candidate, StrategyResult

DEFAULT_RRF_K = 60
DEFAULT_MARGIN = 0.5  # a first hit scoring 1.5x the second is one its strategy is sure of


def merge_results(
    results: Sequence[StrategyResult],
    *,
    rrf_k: int = DEFAULT_RRF_K,
    weights: Mapping[str, float] | None = None,
    margin: float | None = DEFAULT_MARGIN,
) -> list[Candidate]:
    """One candidate per id; ``provenance[strategy] = (rank, score)``; ``score`` is the RRF.
    ``margin=None`` is plain RRF (no clear-winner promotion)."""
    if rrf_k < 0:
        raise ValueError("rrf_k must be >= 0")
    merged: dict[str, Candidate] = {}
    for result in results:
        weight = 1.0 if weights is None else float(weights.get(result.strategy, 1.0))
        for rank, hit in enumerate(result.hits, start=1):
            candidate = merged.get(hit.id)
            if candidate is None:
                candidate = merged[hit.id] = Candidate(id=hit.id, source=dict(hit.source),
                                                       score=0.0, doc_id=hit.doc_id)
            elif result.strategy in candidate.provenance:
                continue  # a strategy lists an id once; keep its best rank
            else:
                for key, value in hit.source.items():  # strategies may return different fields
                    candidate.source.setdefault(key, value)
            candidate.provenance[result.strategy] = (rank, hit.score)
            candidate.score = (candidate.score or 0.0) + weight / (rrf_k + rank)

    sure = _clear_winners(results, margin) if margin is not None else {}

    def order(c: Candidate) -> tuple[int, float, float, int, int, str]:
        best = min(rank for rank, _ in c.provenance.values())
        votes, gap = sure.get(c.id, (0, 0.0))
        return (-votes, -gap, -(c.score or 0.0), -len(c.provenance), best, c.id)

    return sorted(merged.values(), key=order)


def _clear_winners(results: Sequence[StrategyResult],
                   margin: float) -> dict[str, tuple[int, float]]:
    """id -> (strategies whose clear first hit it is, its largest relative margin)."""
    out: dict[str, tuple[int, float]] = {}
    for result in results:
        if len(result.hits) < 2:
            continue
        first, second = result.hits[0].score, result.hits[1].score
        if first is None or second is None or second <= 0 or first < (1 + margin) * second:
            continue
        votes, gap = out.get(result.hits[0].id, (0, 0.0))
        out[result.hits[0].id] = (votes + 1, max(gap, first / second - 1))
    return out
