"""The cascade click model: observed rates match its formula, events have the UBI shape."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime, timezone

import pytest

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.simulate.clicks import ClickModel
from ltrr_opensearch.simulate.config import ClickParams
from ltrr_opensearch.simulate.queries import SimQuery

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
RANKED = [f"e{i}" for i in range(10)]


def make_query(grades: dict[str, int], query_id: str = "q-1") -> SimQuery:
    return SimQuery(
        query_id=query_id, text="anything", intent="known_item",
        target=max(grades, key=grades.get) if grades else "none", relevant=grades,
        user_id="u000001", session_id="s-1",
        timestamp=datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc))


def observed_click_rates(model: ClickModel, query: SimQuery, impressions: int) -> list[int]:
    clicks = Counter()
    for _ in range(impressions):
        for event in model.simulate(query, RANKED):
            if event["action_name"] == "click":
                clicks[event["event_attributes"]["position"]["ordinal"]] += 1
    return [clicks[r] for r in range(len(RANKED))]


def assert_within_sampling_error(counts, expected, n):
    for rank, (k, p) in enumerate(zip(counts, expected, strict=True)):
        se = math.sqrt(max(p * (1 - p), 1e-4) / n)
        assert abs(k / n - p) < 4.5 * se, (rank, k / n, p)


def test_click_rate_by_rank_is_examination_times_attractiveness():
    # No satisfaction: the scan never stops, so P(click at r) = e(r) * a(g_r) exactly.
    params = ClickParams(eta=1.0, satisfaction=(0, 0, 0, 0))
    model = ClickModel(params, seed=1)
    grades = {"e0": 1, "e2": 3, "e3": 2, "e5": 3, "e7": 1}
    query = make_query(grades)
    n = 20_000
    counts = observed_click_rates(model, query, n)
    expected = [params.examination(r) * params.attractiveness[grades.get(e, 0)]
                for r, e in enumerate(RANKED)]
    assert expected == pytest.approx(model.click_probabilities([grades.get(e, 0)
                                                                for e in RANKED]))
    assert_within_sampling_error(counts, expected, n)


def test_satisfied_users_stop_as_the_cascade_formula_says():
    params = ClickParams(eta=0.7, satisfaction=(0.0, 0.5, 0.8, 0.95))
    model = ClickModel(params, seed=2)
    grades = {"e0": 3, "e1": 2, "e4": 3}
    n = 20_000
    counts = observed_click_rates(model, make_query(grades), n)
    expected = model.click_probabilities([grades.get(e, 0) for e in RANKED])
    assert expected[1] < params.examination(1) * params.attractiveness[2]  # stopping shows
    assert_within_sampling_error(counts, expected, n)


def test_an_examine_table_overrides_the_power_law():
    params = ClickParams(examine=(1.0, 0.5, 0.0), attractiveness=(1, 1, 1, 1),
                         satisfaction=(0, 0, 0, 0))
    assert [params.examination(r) for r in range(4)] == [1.0, 0.5, 0.0, 0.0]
    clicks = ClickModel(params).click_probabilities([0, 0, 0, 0])
    assert clicks == [1.0, 0.5, 0.0, 0.0]


def test_irrelevant_results_get_only_noise_clicks():
    params = ClickParams(attractiveness=(0.02, 0.3, 0.6, 0.9))
    model = ClickModel(params, seed=3)
    n = 5000
    clicks = sum(len([e for e in model.simulate(make_query({}), RANKED)
                      if e["action_name"] == "click"]) for _ in range(n))
    expected = n * sum(params.examination(r) * 0.02 for r in range(len(RANKED)))
    assert 0 < clicks < 2 * expected


def test_plays_follow_clicks_and_favorites_follow_plays():
    model = ClickModel(ClickParams(play=(0, 0, 0, 1.0), favorite=(0, 0, 0, 1.0)), seed=4)
    events = []
    for _ in range(200):
        events.extend(model.simulate(make_query({"e0": 3}), RANKED))
    actions = Counter(e["action_name"] for e in events
                      if e["event_attributes"]["object"]["object_id"] == "e0")
    assert actions["click"] == actions["play"] == actions["add_to_favorites"] > 0


def test_events_have_the_ubi_event_shape():
    model = ClickModel(ClickParams(attractiveness=(0.5, 1, 1, 1), satisfaction=(0, 0, 0, 0)),
                       seed=5)
    events = model.simulate(make_query({"e0": 3, "e1": 2}), RANKED)
    assert events
    for event in events:
        assert set(event) == {"event_id", "application", "action_name", "client_id", "query_id",
                              "message_type", "timestamp", "event_attributes"}
        assert event["action_name"] in ("click", "play", "add_to_favorites")
        assert event["message_type"] in ("CLICK_THROUGH", "CONVERSION")
        assert event["application"] == "ltrr-sim" and event["client_id"] == "u000001"
        assert event["query_id"] == "q-1"
        assert ISO_UTC.match(event["timestamp"]), event["timestamp"]
        assert event["timestamp"] > "2025-01-01T12:00:00"
        attrs = event["event_attributes"]
        assert attrs["object"] == {"object_id": attrs["object"]["object_id"],
                                   "object_id_field": "id"}
        assert attrs["object"]["object_id"] in RANKED
        ordinal = attrs["position"]["ordinal"]
        assert isinstance(ordinal, int) and RANKED[ordinal] == attrs["object"]["object_id"]
        assert all(len(event[k]) <= 100 for k in ("application", "client_id", "message_type"))


def test_event_ids_are_deterministic_and_unique():
    def run():
        model = ClickModel(ClickParams(attractiveness=(0.5, 1, 1, 1)), seed=6)
        return [e for i in range(50)
                for e in model.simulate(make_query({"e0": 3}, f"q-{i}"), RANKED)]
    first, second = run(), run()
    assert first == second
    ids = [e["event_id"] for e in first]
    assert len(set(ids)) == len(ids)


def test_logged_query_and_client_ids_override_the_simulated_ones():
    model = ClickModel(ClickParams(attractiveness=(1, 1, 1, 1)), seed=7)
    events = model.simulate(make_query({"e0": 3}), RANKED, query_id="real-q", client_id="c9")
    assert {(e["query_id"], e["client_id"]) for e in events} == {("real-q", "c9")}


def test_nothing_beyond_max_rank_is_clicked():
    model = ClickModel(ClickParams(max_rank=3, attractiveness=(1, 1, 1, 1),
                                   satisfaction=(0, 0, 0, 0), eta=0), seed=8)
    events = model.simulate(make_query({}), RANKED)
    assert {e["event_attributes"]["position"]["ordinal"] for e in events} == {0, 1, 2}


def test_invalid_click_parameters_raise_config_errors():
    with pytest.raises(ConfigError, match="probabilities"):
        ClickParams(attractiveness=(0.1, 0.2, 0.3, 2.0))
    with pytest.raises(ConfigError, match="eta"):
        ClickParams(eta=-1)
