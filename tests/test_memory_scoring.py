"""The Q2E score, guards and cold-start predictions: pure logic, no node."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ltrr_opensearch.feedback.config import DEFAULT_WEIGHTS, MemoryConfig
from ltrr_opensearch.feedback.scoring import PairEvent, merge_q2e, score_pair
from ltrr_opensearch.feedback.seed import predicted_queries

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
CONFIG = MemoryConfig()


def score(events, impressions=None, config=CONFIG):
    impressions = len(events) if impressions is None else impressions
    return score_pair("k", "q", "e", events, float(impressions), int(impressions),
                      DEFAULT_WEIGHTS, config, NOW)


def plays(n, client=None, age=timedelta(0)):
    return [PairEvent(client or f"u{i}", "play", NOW - age) for i in range(n)]


def test_more_engagement_per_impression_scores_higher():
    assert score(plays(5), 5).value > score(plays(2), 5).value > score(plays(0), 5).value


def test_a_stale_pair_scores_lower_than_the_same_fresh_evidence():
    fresh, stale = score(plays(4)), score(plays(4, age=timedelta(days=28)), impressions=1)
    assert stale.engagement == fresh.engagement / 4
    assert stale.value < fresh.value


def test_one_clients_events_beyond_the_cap_in_a_window_do_not_count():
    spam = score(plays(30, client="bot"), 30)
    assert (spam.events, spam.events_capped, spam.engagement_undecayed) == (30, 27, 3.0)
    assert spam.clients == 1


def test_the_cap_keeps_a_clients_strongest_actions():
    events = [PairEvent("u", "click", NOW)] * 5 + [PairEvent("u", "play", NOW)]
    assert score(events).engagement_undecayed == 1.0 + 0.5 + 0.5


def test_evidence_below_the_minimum_is_not_eligible():
    assert not score([PairEvent("u", "click", NOW)]).eligible
    assert score(plays(1)).eligible
    strict = MemoryConfig(min_clients=2)
    assert not score(plays(3, client="u"), config=strict).eligible


def test_values_are_positive_finite_and_at_most_the_scale():
    for evidence in (score(plays(0), 0), score(plays(50), 1), score(plays(3), 1000)):
        assert 0 < evidence.value <= CONFIG.scale


def test_observed_eligible_values_replace_predicted_ones_and_the_strongest_pairs_win():
    docs = [
        {"key": "a", "value": 5.0, "source": "predicted"},
        {"key": "a", "value": 30.0, "source": "observed", "eligible": True},
        {"key": "b", "value": 4.0, "source": "predicted"},
        {"key": "b", "value": 50.0, "source": "observed", "eligible": False},
        {"key": "c", "value": 1.0, "source": "predicted"},
        {"key": "d", "value": 0.0, "source": "predicted"},
    ]
    assert merge_q2e(docs, max_pairs=2) == {"a": 30.0, "b": 4.0}


def test_predicted_queries_cover_title_creator_and_genre_mood_combinations():
    track = dict(predicted_queries({"id": "t", "entity_type": "track", "title": "Halo",
                                    "artist": "Beyoncé", "genres": ["pop"]}))
    assert track["halo"] == 1.0 and track["halo beyonce"] > track["pop"]
    playlist = dict(predicted_queries({
        "id": "p", "entity_type": "playlist", "title": "Late Night Jazz", "genres": ["Jazz"],
        "moods": ["chill"], "decade": "1990s",
        "description": "Smooth jazz for late nights. Perfect."}))
    assert playlist["chill jazz"] > 0.5 and "1990s jazz" in playlist
    assert "smooth jazz for late nights" in playlist


def test_predicted_queries_skip_empty_fields_and_never_repeat_a_key():
    queries = predicted_queries({"id": "x", "entity_type": "artist", "title": "!!!",
                                 "artist": None, "genres": ["", "Rock", "rock"]})
    keys = [q for q, _ in queries]
    assert len(keys) == len(set(keys)) and "rock" in keys
