"""Ranking metrics over graded relevance (grades 0..3, as the simulator assigns them)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def reciprocal_rank(ranked_ids: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """1/rank of the first relevant id in the top ``k`` (0 if none)."""
    for rank, entity_id in enumerate(ranked_ids[:k], start=1):
        if relevant.get(entity_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def ndcg(ranked_ids: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """NDCG@k with gains 2^grade - 1 and log2 discounts; 0 when nothing is relevant."""
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    ideal_dcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    if ideal_dcg == 0:
        return 0.0
    dcg = sum((2 ** relevant.get(entity_id, 0) - 1) / math.log2(i + 2)
              for i, entity_id in enumerate(ranked_ids[:k]))
    return dcg / ideal_dcg


def hit(candidate_ids: Sequence[str] | set[str], target: str) -> float:
    """1 if the target entered the candidate set (retrieval recall for one query)."""
    return 1.0 if target in candidate_ids else 0.0


def recall_at_k(ranked_ids: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Share of the relevant ids in the top ``k``, out of at most ``k`` (a query with 500
    relevant items scores 1 when its top 10 are all relevant); 0 when nothing is relevant."""
    wanted = sum(1 for g in relevant.values() if g > 0)
    if wanted == 0:
        return 0.0
    found = sum(1 for entity_id in ranked_ids[:k] if relevant.get(entity_id, 0) > 0)
    return found / min(k, wanted)
