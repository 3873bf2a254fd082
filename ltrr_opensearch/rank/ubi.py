"""UBI events -> :class:`Impression`: what a logged result list became for the click models.

Kept apart from the models so the event shape (``ubi_events`` mapping) can change without
touching them. Only events of the impression's query are read; actions other than the click
add their weight to ``engagements``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ltrr_opensearch.rank.types import Impression

CLICK_ACTION = "click"
DEFAULT_ACTION_WEIGHTS: Mapping[str, float] = {"click": 1.0, "play": 2.0, "add_to_favorites": 4.0}


def _object_id(event: Mapping[str, Any]) -> str | None:
    obj = (event.get("event_attributes") or {}).get("object") or {}
    value = obj.get("object_id")
    return value if isinstance(value, str) else None


def impression_from_events(query_key: str, doc_ids: Sequence[str],
                           events: Iterable[Mapping[str, Any]], query_id: str | None = None,
                           action_weights: Mapping[str, float] = DEFAULT_ACTION_WEIGHTS
                           ) -> Impression:
    """The impression of ``doc_ids`` shown for ``query_key`` with the clicks in ``events``.

    With ``query_id``, events of other queries are ignored; events on documents that were not
    shown (another page, a stale id) are ignored too, not an error: logs are messy.
    """
    shown = set(doc_ids)
    clicked: set[str] = set()
    engagement: dict[str, float] = {}
    for event in events:
        if query_id is not None and event.get("query_id") != query_id:
            continue
        doc = _object_id(event)
        if doc is None or doc not in shown:
            continue
        action = event.get("action_name")
        if action == CLICK_ACTION:
            clicked.add(doc)
        weight = action_weights.get(str(action), 0.0)
        if weight:
            engagement[doc] = engagement.get(doc, 0.0) + weight
    return Impression(query_key, doc_ids, frozenset(clicked), engagement)
