"""The reward rule as a pure function: an arm earns its strongest engaged candidate's weight."""

from __future__ import annotations

from datetime import datetime, timezone

from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.feedback.rewards import reward_docs

QUERY = {"query_id": "r1", "timestamp": "2024-05-01T10:00:00.000Z",
         "query_attributes": {"arms": [{"arm": "bm25", "k": 10, "propensity": 0.6,
                                        "candidates": ["t1", "t2", "t3"]}]}}


def engaged(entity: str, action: str) -> dict:
    return {"action_name": action, "event_attributes": {"object": {"object_id": entity}}}


def test_an_arm_with_several_engaged_candidates_earns_the_strongest_not_their_sum():
    events = [engaged("t2", "click"), engaged("t1", "add_to_favorites"), engaged("t3", "click")]
    [(doc_id, doc)] = reward_docs(QUERY, events, FeedbackConfig(), datetime.now(timezone.utc))
    assert doc_id == "r1:bm25"
    assert doc["engaged_ids"] == ["t1", "t2", "t3"]
    assert doc["reward"] == 0.8  # add_to_favorites; the sum would be 1.8
