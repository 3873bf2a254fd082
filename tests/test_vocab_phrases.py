"""The evidence rules of phrases learned from engagement (feedback/phrases.py, no node)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ltrr_opensearch.feedback.config import DEFAULT_WEIGHTS, VocabConfig
from ltrr_opensearch.feedback.phrases import (
    EngagedEvent,
    QueryEvidence,
    candidate_phrases,
    decide,
    effective_items,
    subsumed_by,
    wilson_lower,
)

NOW = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)  # the cap's 24 h windows start at 0:00
CONFIG = VocabConfig()  # min engagement 2.0, min clients 2, min share 0.6


def play(client, degree, *, state=None, action="play", days=0.0, hours=0.0, item=None):
    """An event of ``client`` on an item (by default one of its own) with these values."""
    values = {"degree": (degree,) if isinstance(degree, str) else tuple(degree),
              "state": (state,) if state else ()}
    return EngagedEvent(client, action, NOW - timedelta(days=days, hours=hours), values,
                        item or f"{client}-{degree}")


def query(text, *events, phrases=None, named=()):
    found = phrases if phrases is not None else candidate_phrases(text.split(), set(), 3)
    return QueryEvidence(text.replace(" ", "_"), text, tuple(found), frozenset(named),
                         tuple(events))


def verdict(phrase, *queries, config=CONFIG):
    decision = decide(phrase, queries, DEFAULT_WEIGHTS, config, NOW)
    return decision.kind, decision.value, decision.eligible, decision.reason


def test_candidates_are_the_uncovered_words_without_stopwords_at_their_edges():
    tokens = ["best", "community", "colleges", "in", "ohio"]
    assert candidate_phrases(tokens, covered={4}, max_tokens=3) == (
        "community colleges", "community", "colleges")
    assert candidate_phrases(["four", "year", "colleges"], set(), 3) == (
        "four year colleges", "four year", "year colleges", "four", "year", "colleges")
    assert candidate_phrases(["2019", "a"], set(), 3) == ()  # numbers and stopwords alone


def test_engagement_concentrated_on_one_value_is_learned_with_its_share():
    decision = decide("community colleges", [
        query("community colleges", play("u1", "associate"), play("u2", "associate")),
        query("cheap community colleges", play("u3", "associate"),
              play("u4", "bachelor", action="click"))], DEFAULT_WEIGHTS, CONFIG, NOW)
    assert (decision.kind, decision.value, decision.eligible) == ("degree", "associate", True)
    assert decision.share == 3.0 / 3.5 and decision.clients == 3
    assert decision.runner_up == "degree=bachelor" and decision.runner_up_engagement == 0.5
    assert decision.learned().share == decision.share


def test_too_little_engagement_or_too_few_clients_learns_nothing():
    assert verdict("community colleges",
                   query("community colleges", play("u1", "associate"),
                         play("u2", "associate", action="click")))[2:] == (
        False, "engagement 1.5 < min 2")
    assert verdict("community colleges",
                   query("community colleges", *[play("u1", "associate", item=f"c{i}")
                                                 for i in range(3)]))[2:] == (
        False, "1 client(s) < min 2")


def test_engagement_on_one_item_is_the_memorys_not_the_vocabularys():
    # Everyone clicked "Animal Farm" for "anime": a query -> item link, whose every value
    # (animation, drama, 1950s) would look concentrated.
    events = [play(f"u{i}", ("animation", "drama"), item="animal-farm") for i in range(6)]
    assert verdict("anime", query("anime", *events[:2]))[2:] == (
        False, "engagement on 1.0 item(s) < min 3: so few items are the memory's to learn")
    # A few clicks elsewhere do not make it a spread.
    others = [play(f"v{i}", "drama", item=f"drama-{i}") for i in range(3)]
    assert verdict("anime", query("anime", *events, *others))[3].startswith(
        "engagement on 2.1 item(s)")  # (6 + 3)^2 / (36 + 3)
    assert effective_items([1.0] * 4) == 4.0
    # Three equal items are three, whatever the rounding of their decayed weights.
    assert verdict("anime", query("anime", *[play(f"w{i}", "animation", days=0.3)
                                             for i in range(3)]))[2] is True


def test_a_query_that_searches_for_one_item_by_name_is_no_evidence_for_its_words():
    # "bank": the clicks of "mizuho bank", "sumitomo bank"... each on its own Japanese bank,
    # spread over many items and all in Japan; the queries about banks click banks anywhere.
    by_name = [query(f"{name} bank", *[play(f"{name}{i}", degree, state="Japan",
                                            item=f"{name}-bank") for i in range(4)])
               for name, degree in (("mizuho", "finance"), ("sumitomo", "trust"),
                                    ("resona", "holding"), ("shinsei", "credit"))]
    about = [query("banks", play("a1", "finance", state="Ohio"),
                   play("a2", "finance", state="Texas"), play("a3", "finance", state="Japan")),
             query("regional bank", play("b1", "finance", state="Iowa"),
                   play("b2", "finance", state="Maine"))]
    kind, value, eligible, _ = verdict("bank", *by_name, *about)
    assert (kind, value, eligible) == ("degree", "finance", True)
    alone = verdict("bank", *by_name)
    assert alone[2:] == (False, "no engagement on a value to learn (4 of 4 queries search "
                                "for one item by name)")
    off = VocabConfig(known_item_share=1.0)
    assert verdict("bank", *by_name, config=off)[:3] == ("state", "Japan", True)


def test_two_values_tied_learn_nothing():
    kind, value, eligible, reason = verdict(
        "colleges", query("colleges", *[play(f"a{i}", "associate") for i in range(3)],
                          *[play(f"b{i}", "bachelor") for i in range(3)]))
    assert not eligible and reason == ("tied: degree=associate and degree=bachelor have the "
                                       "same share")
    # Items with two values back both equally: no reading is better.
    both = [play(f"u{i}", ("associate", "bachelor")) for i in range(3)]
    assert verdict("colleges", query("colleges", *both))[3].startswith("tied: ")


def test_engagement_spread_over_values_is_not_concentrated_enough():
    assert verdict("colleges", query(
        "colleges", *[play(f"a{i}", "associate") for i in range(3)],
        play("u4", "bachelor"), play("u5", "bachelor"), play("u6", "certificate")))[2:] == (
        False, "share 0.50 < min 0.6")


def test_a_kind_the_query_already_names_supports_no_value_of_it():
    # Every "community colleges ohio" engagement is in Ohio because of the slot "ohio".
    events = [play(f"u{i}", "associate", state="Ohio") for i in range(3)]
    assert verdict("community colleges",
                   query("community colleges ohio", *events,
                         phrases=("community colleges",), named={"state"}))[:3] == (
        "degree", "associate", True)
    # Without the slot, Ohio would be as concentrated as the degree: a tie, nothing learned.
    assert verdict("community colleges",
                   query("community colleges", *events))[2:] == (
        False, "tied: degree=associate and state=Ohio have the same share")


def test_a_named_kind_still_speaks_against_a_value_of_that_kind():
    # Everyone who typed "tearjerkers" alone was shown, and played, 1990s dramas; those who
    # asked for another decade played dramas of that decade: the phrase means drama.
    def film(client, decade):
        return EngagedEvent(client, "play", NOW, {"genre": ("drama",), "decade": (decade,)},
                            f"{client}-film")

    decision = decide("tearjerkers", [
        query("tearjerkers", *[film(f"u{i}", "1990s") for i in range(3)]),
        query("tearjerkers 2000s", *[film(f"v{i}", "2000s") for i in range(4)],
              phrases=("tearjerkers",), named={"decade"})], DEFAULT_WEIGHTS, CONFIG, NOW)
    assert (decision.kind, decision.value, decision.eligible) == ("genre", "drama", True)
    assert decision.runner_up == "decade=1990s"  # 3 of 7: not concentrated


def test_old_engagement_decays_with_the_memorys_half_life():
    events = [play("u1", "associate", days=14), play("u2", "associate", days=14),
              play("u3", "associate", days=14)]
    assert verdict("community colleges", query("community colleges", *events))[3] == (
        "engagement 1.5 < min 2")
    fresh = [play(f"u{i}", "associate") for i in range(3)]
    assert verdict("community colleges", query("community colleges", *fresh))[2] is True


def test_one_client_counts_at_most_per_client_cap_events_per_window():
    spam = [play("u1", "certificate", hours=i) for i in range(10)]
    honest = [play("u2", "associate"), play("u3", "associate"), play("u4", "associate")]
    decision = decide("colleges", [query("colleges", *spam, *honest)], DEFAULT_WEIGHTS,
                      CONFIG, NOW)
    assert decision.events_capped == 7  # 3 of u1's 10 count
    assert decision.runner_up == "degree=certificate"
    assert decision.value == "associate" and not decision.eligible  # about 3 of 6
    assert decision.share == pytest.approx(0.5, abs=0.01)


def test_a_value_as_frequent_as_in_the_catalog_says_nothing_about_the_phrase():
    # Every film is a movie: "funny" concentrates on movie only because everything does.
    events = [EngagedEvent(f"u{i}", "play", NOW, {"entity_type": ("movie",),
                                                  "genre": ("comedy",) if i < 10 else ("drama",)},
                           f"film-{i}") for i in range(11)]
    rates = {("entity_type", "movie"): 1.0, ("genre", "comedy"): 0.37, ("genre", "drama"): 0.49}
    decision = decide("funny", [query("funny", *events)], DEFAULT_WEIGHTS, CONFIG, NOW, rates)
    assert (decision.kind, decision.value, decision.eligible) == ("genre", "comedy", True)
    assert (round(decision.share, 3), decision.rate) == (0.909, 0.37)
    movies_only = [EngagedEvent(e.client_id, e.action, e.timestamp,
                                {"entity_type": ("movie",)}, e.entity_id) for e in events]
    assert verdict_with_rates("funny", rates, query("funny", *movies_only))[2:] == (
        False, "no value stands out from what was shown and the catalog by 0.15 "
               "(entity_type=movie: share 1.00 of 11 events, shown 0.00, catalog 1.00)")


def test_a_small_sample_is_trusted_less():
    assert wilson_lower(1.0, 4) == pytest.approx(0.596, abs=1e-3)
    assert wilson_lower(1.0, 40) == pytest.approx(0.937, abs=1e-3)
    # 4 of 4 comedies stand out from a catalog of 40% comedies; 3 of 3 do not, yet.
    rates = {("genre", "comedy"): 0.40}
    few = [EngagedEvent(f"u{i}", "play", NOW, {"genre": ("comedy",)}, f"film-{i}")
           for i in range(4)]
    assert verdict_with_rates("funny", rates, query("funny", *few))[2] is True
    assert verdict_with_rates("funny", rates, query("funny", *few[:3]))[2] is False


def test_engagement_that_only_follows_what_was_shown_says_nothing():
    # "love stories" after "stories" -> drama was learned: the searches showed dramas only,
    # and people played the romances among them.
    events = [EngagedEvent(f"u{i}", "play", NOW, {"genre": ("drama", "romance")}, f"film-{i}")
              for i in range(4)]
    shown = {"genre": {"drama": 10.0, "romance": 3.0, "comedy": 1.0}}
    decision = decide("love stories", [QueryEvidence(
        "love_stories", "love stories", ("love stories",), frozenset(), tuple(events),
        shown, 10.0)], DEFAULT_WEIGHTS, CONFIG, NOW)
    assert (decision.value, decision.eligible) == ("romance", True)
    # Drama, as concentrated, is only as engaged as it was shown: no tie, only a runner-up.
    assert (decision.shown_share, decision.runner_up) == (0.3, "genre=drama")


def verdict_with_rates(phrase, rates, *queries):
    decision = decide(phrase, queries, DEFAULT_WEIGHTS, CONFIG, NOW, rates)
    return decision.kind, decision.value, decision.eligible, decision.reason


def test_a_phrase_always_part_of_a_longer_one_leaves_the_learning_to_it():
    events = [play(f"u{i}", "associate") for i in range(3)]
    assert verdict("community", query("community colleges", *events))[2:] == (
        False, "always part of 'community colleges'")
    assert subsumed_by("community", [("community colleges", "community", "colleges"),
                                     ("community", "community college", "college")]) is None


def test_events_after_now_and_weightless_actions_do_not_count():
    events = [play("u1", "associate"), play("u2", "associate", action="impression"),
              play("u3", "associate", days=-1)]
    decision = decide("colleges", [query("colleges", *events)], DEFAULT_WEIGHTS, CONFIG, NOW)
    assert decision.events == 1 and not decision.eligible


def vocab_config(text, tmp_path):
    from ltrr_opensearch.config import Settings

    path = tmp_path / "ltrr.toml"
    path.write_text(text)
    return VocabConfig.from_settings(Settings.load(env={"LTRR_CONFIG": str(path)}))


@pytest.mark.parametrize(("text", "message"), [
    ("[vocab]\nmin_shar = 0.7\n", r"unknown key\(s\) in \[vocab\]: min_shar"),
    ("[vocab]\nmin_share = 0.3\n", r"\[vocab\] min_share must be between 0.5 and 1.0"),
    ("[vocab]\nmin_clients = 0\n", r"\[vocab\] min_clients must be between 1"),
    ("[vocab]\nmax_phrases = 50000\n", r"max_phrases must be at most 10000"),
    ("[vocab]\nmax_phrase_tokens = 6\n", r"max_phrase_tokens must be at most 5"),
    ("[vocab]\nmin_margin = 2\n", r"\[vocab\] min_margin must be between -1.0 and 1.0"),
    ("[vocab]\nlearn = \"no\"\n", r"\[vocab\] learn must be true or false"),
    ("[vocab]\nhalf_life_days = \"two weeks\"\n", r"half_life_days must be a number"),
])
def test_a_bad_vocab_setting_is_refused_naming_its_key(text, message, tmp_path):
    from ltrr_opensearch.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        vocab_config(text, tmp_path)


def test_the_example_config_sets_the_vocabulary_rules(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "configs" / "ltrr.example.toml"
    config = vocab_config(example.read_text(), tmp_path)
    assert (config.min_engagement, config.min_clients, config.min_share) == (2.0, 2, 0.6)
