"""The one rule from query text to Q2E key, owned by query understanding and used here."""

from __future__ import annotations

from ltrr_opensearch.understand.normalize import normalize_query, q2e_key


def query_key(text: str) -> tuple[str, str]:
    """(normalised query, q2e feature key); ``ValueError`` when nothing is left."""
    normalized = normalize_query(text)
    return normalized, q2e_key(normalized)
