"""Simulated searches: reproducible, and each intent has the documented form and ground truth."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from ltrr_opensearch.simulate import vocab
from ltrr_opensearch.simulate.config import INTENTS, QueryConfig, load_sim_config
from ltrr_opensearch.simulate.queries import INTENT_FAVOURS, QueryStream, SimQuery
from ltrr_opensearch.simulate.typos import KEYBOARD_NEIGHBOURS, TYPO_KINDS, add_typo
from ltrr_opensearch.simulate.world import World

SMALL = Path(__file__).resolve().parent.parent / "configs" / "worlds" / "small.toml"
STOP = {"a", "an", "and", "the", "for", "to", "of", "in", "on", "by", "with", "no"}


def content_words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - STOP


def loose_stem(word: str) -> str:
    """Crude suffix stripping, stricter than Lucene's stemmer would need."""
    for suffix in ("ing", "es", "ed", "s", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@pytest.fixture(scope="module")
def config():
    return load_sim_config(SMALL)


@pytest.fixture(scope="module")
def world(config):
    return World.generate(config)


@pytest.fixture(scope="module")
def rows(world):
    return {r["id"]: r for r in world.rows()}


@pytest.fixture(scope="module")
def queries(world, config) -> list[SimQuery]:
    return QueryStream(world, config).take(3000)


def by_intent(queries, intent):
    found = [q for q in queries if q.intent == intent]
    assert len(found) >= 50, f"too few {intent} queries to test"
    return found


def test_same_seed_gives_identical_query_stream(world, config, queries):
    again = QueryStream(world, config).take(300)
    assert [q.to_dict() for q in again] == [q.to_dict() for q in queries[:300]]


def test_different_seeds_give_different_streams(world, config, queries):
    other = QueryStream(world, config, seed=12).take(300)
    assert [q.text for q in other] != [q.text for q in queries[:300]]


def test_every_intent_occurs_and_names_the_strategy_it_favours(queries):
    counts = Counter(q.intent for q in queries)
    assert set(counts) == set(INTENTS)
    for q in queries[:50]:
        assert q.favours == INTENT_FAVOURS[q.intent]


def test_queries_carry_ground_truth_user_and_time(queries):
    assert len({q.query_id for q in queries}) == len(queries)
    stamps = [q.timestamp for q in queries]
    assert stamps == sorted(stamps) and all(t.utcoffset() == timedelta(0) for t in stamps)
    for q in queries:
        assert q.relevant[q.target] == 3
        assert all(g in (1, 2, 3) for g in q.relevant.values())
        assert q.user_id.startswith("u") and q.session_id
        assert 0 <= q.context["hour"] < 24 and q.context["device"] in vocab.DEVICES


def test_sim_query_round_trips_through_json(queries):
    for q in queries[:100]:
        assert SimQuery.from_dict(json.loads(json.dumps(q.to_dict()))) == q


def test_known_item_text_comes_from_the_target_title_or_artist(queries, rows):
    for q in by_intent(queries, "known_item"):
        target = rows[q.target]
        name = f"{target['artist'] or ''} {target['title']}".lower()
        assert fuzz.partial_ratio(q.text.lower(), name) >= 70, (q.text, name)
        if not q.attributes["typos"]:
            if q.attributes["form"] == "title":
                assert q.text.lower() == target["title"].lower()
            elif q.attributes["form"] == "partial":
                assert target["title"].lower().startswith(q.text.lower())
            else:
                assert q.text.lower() == name.strip()
        assert q.relevant == {q.target: 3}


def test_known_item_queries_include_typos_and_partial_names(queries):
    known = by_intent(queries, "known_item")
    assert any(q.attributes["typos"] for q in known)
    assert any(q.attributes["form"] == "partial" for q in known)
    assert any(q.attributes["form"] == "artist_title" for q in known)


def test_each_typo_is_one_edit_of_a_known_kind():
    rng = np.random.default_rng(3)
    seen = Counter()
    for _ in range(2000):
        text, kind, _ = add_typo("Electric Lantern Carousel", rng)
        seen[kind] += 1
        assert OSA.distance(text, "Electric Lantern Carousel") == 1
        if kind == "neighbour":
            (a, b), = [(x, y) for x, y in zip(text, "Electric Lantern Carousel", strict=True)
                       if x != y]
            assert a.lower() in KEYBOARD_NEIGHBOURS[b.lower()]
    assert set(seen) == set(TYPO_KINDS)


def test_short_words_get_no_typos():
    assert add_typo("the sky", np.random.default_rng(0)) == ("the sky", None, None)


def test_a_second_typo_spares_the_word_already_edited():
    rng = np.random.default_rng(4)
    for _ in range(200):
        text, _, word = add_typo("Hazy Garden", rng)
        again, kind, _ = add_typo(text, rng, frozenset({word}))
        assert OSA.distance(again.split()[word], text.split()[word]) == 0 and kind


def test_attribute_queries_name_attributes_all_relevant_items_share(queries, rows):
    for q in by_intent(queries, "attribute"):
        genre = q.attributes["genre"]
        assert genre in q.text
        for entity_id in q.relevant:
            row = rows[entity_id]
            assert row["genres"] == [genre]
            if "decade" in q.attributes:
                assert row["decade"] == q.attributes["decade"]
                assert q.attributes["decade"][2:] in q.text
            if "mood" in q.attributes:
                assert row["moods"] == [q.attributes["mood"]] and q.attributes["mood"] in q.text
            if "language" in q.attributes:
                assert row["language"] == q.attributes["language"]
                assert vocab.LANGUAGES[row["language"]] in q.text
            if "entity_type" in q.attributes:
                assert row["entity_type"] == q.attributes["entity_type"]
        popularity = [rows[i]["popularity"] for i in q.relevant]
        assert popularity == sorted(popularity, reverse=True)


def test_topic_queries_use_synonyms_never_words_of_the_description(queries, rows):
    topics = {t.name: t for t in vocab.TOPICS}
    for q in by_intent(queries, "topic"):
        topic = topics[q.attributes["topic"]]
        asked = content_words(q.text)
        described = content_words(rows[q.target]["description"])
        assert not {loose_stem(w) for w in asked} & {loose_stem(w) for w in described}, q.text
        synonyms = {w for phrase in topic.ask for w in content_words(phrase)}
        assert asked & synonyms, q.text
        assert any(w in rows[q.target]["description"].lower() for w in topic.describe)


def test_head_queries_repeat_slang_tied_to_one_playlist(world, queries):
    head = by_intent(queries, "head")
    targets = world.head_phrase_targets()
    for q in head:
        assert q.text in vocab.HEAD_PHRASES
        assert dict(q.relevant) == targets[q.text]
    top, _ = Counter(q.text for q in head).most_common(1)[0]
    assert len({q.user_id for q in head if q.text == top}) > 5


def test_new_release_queries_target_recent_items_of_the_genre(queries, rows, config):
    window = config.queries.new_release_days
    for q in by_intent(queries, "new_release"):
        genre = q.attributes["genre"]
        assert genre in q.text
        for entity_id in q.relevant:
            row = rows[entity_id]
            released = date.fromisoformat(row["release_date"])
            assert row["genres"] == [genre]
            assert q.timestamp.date() - timedelta(days=window) <= released <= q.timestamp.date()


def test_intent_mix_drifts_from_start_to_end_mix(world):
    drift = QueryConfig(days=10, sessions_per_day=100,
                        mix_start={"known_item": 1.0}, mix_end={"head": 1.0})
    stream = QueryStream(world, drift, seed=5).take(3000)
    start = stream[0].timestamp
    early = [q.intent for q in stream if (q.timestamp - start).days < 2]
    late = [q.intent for q in stream if (q.timestamp - start).days >= 8]
    assert early.count("head") / len(early) < 0.25
    assert late.count("head") / len(late) > 0.75
    assert set(early + late) == {"known_item", "head"}
