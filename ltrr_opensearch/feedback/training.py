"""LTR training rows: per logged query with at least one event, one row per shown hit.

Row: ``{query_id, query, normalized, doc_id, position, actions, clicked}`` with ``position``
1-based in the served list, ``actions`` the action names on that hit and ``clicked`` true
when any of them has a positive engagement weight. Rows live in ``<prefix>-training-rows``
(``_id = query_id:doc_id``, recomputed, so idempotent) and export as JSONL. Actions on
entities that were not in the served list are left out (no position to learn from).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import action, bulk_write, scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.feedback.indices import training_rows_index
from ltrr_opensearch.feedback.rewards import PerRequestConsumer

ROW_FIELDS = ("query_id", "query", "normalized", "doc_id", "position", "actions", "clicked")


def training_rows(query: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                  config: FeedbackConfig) -> list[dict[str, Any]]:
    by_entity: dict[str, set[str]] = {}
    for event in events:
        entity = event["event_attributes"]["object"]["object_id"]
        by_entity.setdefault(entity, set()).add(event["action_name"])
    rows = []
    for position, doc_id in enumerate(query.get("query_response_hit_ids") or [], start=1):
        actions = sorted(by_entity.get(doc_id, ()))
        rows.append({
            "query_id": query["query_id"], "query": query.get("user_query"),
            "normalized": query.get("normalized"), "doc_id": doc_id, "position": position,
            "actions": actions, "clicked": any(config.weight(a) > 0 for a in actions),
            "timestamp": query.get("timestamp"),
        })
    return rows


class TrainingSetConsumer(PerRequestConsumer):
    """Rebuilds the training rows of every request touched by new queries or events."""

    name = "training"

    def apply(self, query_ids: set[str], now: datetime | None = None) -> int:
        queries, events = self.requests(query_ids)
        actions: list[dict[str, Any]] = []
        for query_id, query in queries.items():
            if not events[query_id]:
                continue  # a query nobody acted on teaches the ranker little; skipped
            for row in training_rows(query, events[query_id], self.config):
                actions.append(action("index", training_rows_index(self.settings),
                                      f"{query_id}:{row['doc_id']}", row))
        if actions:
            bulk_write(self.client, actions, "training rows")
        return len(actions)


def export_training_rows(client: OpenSearch, settings: Settings, out: IO[str]) -> int:
    """Write every training row as one JSON line (ordered by query, then position)."""
    count = 0
    client.indices.refresh(index=training_rows_index(settings))
    for hit in scan(client, training_rows_index(settings), {"match_all": {}},
                    ("query_id", "position")):
        row = hit["_source"]
        out.write(json.dumps({k: row.get(k) for k in ROW_FIELDS}, ensure_ascii=False) + "\n")
        count += 1
    return count
