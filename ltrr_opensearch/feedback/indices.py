"""Index names and creation for the feedback loop's indices.

The UBI query/event logs, dead letters, Q2E memory, training rows and learned vocabulary
are owned here and created from ``ltrr_opensearch/mappings/*.v1.json``. The state index is
shared with other subsystems (the bandit keeps its own docs there), so it is only created
when missing and our fields are added with an additive ``put_mapping``.
"""

from __future__ import annotations

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.mappings import load_mapping
from ltrr_opensearch.state import ensure_state_index


def memory_index(settings: Settings) -> str:
    return f"{settings.index_prefix}-memory"


def vocab_index(settings: Settings) -> str:
    """Phrases learned from engagement (feedback/vocab.py)."""
    return f"{settings.index_prefix}-vocab"


def training_rows_index(settings: Settings) -> str:
    return f"{settings.index_prefix}-training-rows"


def _create(client: OpenSearch, settings: Settings, index: str, mapping: str) -> None:
    if client.indices.exists(index=index):
        return
    try:  # the mapping is read only now: its replica count asks the cluster
        client.indices.create(index=index, body=load_mapping(settings, mapping, client=client))
    except os_exc.RequestError as exc:
        if exc.error != "resource_already_exists_exception":  # lost a race: fine
            raise LtrrError(f"cannot create index {index}: {exc.error}") from None


def ensure_log_indices(client: OpenSearch, settings: Settings) -> None:
    """The UBI query/event logs and the dead-letter index (what ingestion writes)."""
    names = (settings.ubi_queries_index, settings.ubi_events_index, settings.deadletter_index)
    if client.indices.exists(index=",".join(names)):  # one round trip on every ingest call
        return
    _create(client, settings, settings.ubi_queries_index, "ubi_queries")
    _create(client, settings, settings.ubi_events_index, "ubi_events")
    _create(client, settings, settings.deadletter_index, "deadletter")


def ensure_feedback_indices(client: OpenSearch, settings: Settings) -> None:
    """Every index the consumers read or write (idempotent)."""
    ensure_log_indices(client, settings)
    ensure_state_index(client, settings)
    _create(client, settings, memory_index(settings), "memory")
    _create(client, settings, training_rows_index(settings), "training_rows")
    _create(client, settings, vocab_index(settings), "vocab")
