"""Reads of unbounded sets page to the end or fail loudly: none stops at a page silently."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.feedback import ArmLog, SearchRecord, log_search
from ltrr_opensearch.select.ope import read_logged_decisions
from ltrr_opensearch.select.store import BanditStore
from ltrr_opensearch.types import ContextVector

pytestmark = pytest.mark.integration


def logged(client, settings, n: int, arms: int = 1) -> list[str]:
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    context = ContextVector("v1", ("x",), (1.0,))
    records = [SearchRecord(query_id=f"q{i}", user_query="a song", hit_ids=(),
                            arms=tuple(ArmLog(f"arm{a}", 10, 0.5) for a in range(arms)),
                            context=context, timestamp=start + timedelta(milliseconds=i))
               for i in range(n)]
    log_search(client, settings, records, refresh=True)
    return [r.query_id for r in records]


def test_more_logged_decisions_than_the_bound_is_an_error_not_the_oldest_part(client, settings):
    logged(client, settings, 30)
    assert len(read_logged_decisions(client, settings, limit=30)) == 30
    with pytest.raises(ValidationError, match="more than 29 logged decisions"):
        read_logged_decisions(client, settings, limit=29)


def test_rewards_of_requests_with_many_arms_are_all_read(client, settings):
    from ltrr_opensearch.bulk import action, bulk_write

    store = BanditStore(client, settings)
    store.ensure_index()
    arms = 12  # more than the ten docs per request a single page used to allow
    bulk_write(client, (action("index", settings.state_index, f"q{i}:arm{a}", {
        "kind": "reward", "request_id": f"q{i}", "arm": f"arm{a}", "reward": 1.0})
        for i in range(1000) for a in range(arms)), "reward docs", refresh=True)
    rewards = store.rewards_for([f"q{i}" for i in range(1000)])
    assert sum(len(by_arm) for by_arm in rewards.values()) == 1000 * arms
