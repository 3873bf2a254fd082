"""Event validation and feedback config: pure logic, no node."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.feedback.config import FeedbackConfig, MemoryConfig
from ltrr_opensearch.feedback.events import Accepted, Rejected, event_key, validate_event

CONFIG = FeedbackConfig()


def good(**changes):
    doc = {"action_name": "play", "query_id": "r1", "client_id": "u1",
           "timestamp": "2024-05-01T12:00:00+02:00",
           "event_attributes": {"object": {"object_id": "t1"}, "position": {"ordinal": 0}}}
    return {**doc, **changes}


def test_a_valid_event_is_accepted_with_its_timestamp_normalised_to_utc():
    result = validate_event(good(), CONFIG, line=1)
    assert isinstance(result, Accepted)
    assert result.doc["timestamp"] == "2024-05-01T10:00:00.000Z"


def test_epoch_millis_timestamps_are_accepted():
    result = validate_event(good(timestamp=1714557600000), CONFIG)
    assert result.doc["timestamp"] == "2024-05-01T10:00:00.000Z"


@pytest.mark.parametrize("event, reason", [
    ({k: v for k, v in good().items() if k != "client_id"}, "missing client_id"),
    (good(action_name="teleport"), "unknown action_name"),
    (good(query_id=["r1"]), "query_id must be a non-empty string"),
    (good(query_id="  "), "query_id must be a non-empty string"),
    (good(timestamp=True), "is not ISO 8601"),
    (good(event_attributes={"object": {}}), "object_id"),
    (good(event_attributes={"object": {"object_id": "t1"}, "position": {"ordinal": -1}}),
     "ordinal"),
    (good(event_id=""), "event_id"),
    (good(message={"a": 1}), "message must be a string"),
    ([good()], "must be a JSON object"),
])
def test_malformed_events_are_rejected_with_a_reason(event, reason):
    result = validate_event(event, CONFIG, line=7)
    assert isinstance(result, Rejected) and reason in result.reason and result.line == 7


def test_an_event_over_the_size_cap_is_rejected_before_it_is_parsed():
    line = json.dumps(good(message="x" * 20000))
    result = validate_event(line, CONFIG)
    assert isinstance(result, Rejected) and "byte cap" in result.reason
    assert result.payload == line


def test_the_dedupe_key_is_the_event_id_or_a_stable_content_hash():
    assert event_key(good(event_id="e1")) == "e1"
    assert event_key(good()) == event_key(dict(reversed(list(good().items()))))
    assert event_key(good()) != event_key(good(action_name="click"))


def test_feedback_config_rejects_unknown_keys_and_weights_for_unknown_actions():
    with pytest.raises(ConfigError, match="unknown key"):
        FeedbackConfig.from_settings(Settings(sections=MappingProxyType(
            {"feedback": {"max_bytes": 1}})))
    with pytest.raises(ConfigError, match="unknown action"):
        FeedbackConfig.from_settings(Settings(sections=MappingProxyType(
            {"feedback": {"weights": {"teleport": 1.0}}})))
    with pytest.raises(ConfigError, match="must be a number"):
        MemoryConfig.from_settings(Settings(sections=MappingProxyType(
            {"q2e": {"half_life_days": "soon"}})))


def test_configured_actions_and_weights_replace_the_defaults():
    config = FeedbackConfig.from_settings(Settings(sections=MappingProxyType(
        {"feedback": {"actions": ["click", "buy"], "weights": {"buy": 1.0}}})))
    assert config.weight("buy") == 1.0 and config.weight("click") == 0.0
    assert isinstance(validate_event(good(action_name="play"), config), Rejected)


def test_consumer_batch_and_cache_sizes_are_read_and_bad_ones_refused():
    config = FeedbackConfig.from_settings(Settings(sections=MappingProxyType(
        {"feedback": {"consumer_batch_size": 1000, "consumer_cache_keys": 0}})))
    assert (config.consumer_batch_size, config.consumer_cache_keys) == (1000, 0)
    with pytest.raises(ConfigError, match="consumer_batch_size must be between 1"):
        FeedbackConfig.from_settings(Settings(sections=MappingProxyType(
            {"feedback": {"consumer_batch_size": 0}})))
    with pytest.raises(ConfigError, match="consumer_cache_keys must be a number"):
        FeedbackConfig.from_settings(Settings(sections=MappingProxyType(
            {"feedback": {"consumer_cache_keys": "lots"}})))
