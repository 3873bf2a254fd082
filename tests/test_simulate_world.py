"""The synthetic world: reproducible, schema-shaped, and with a vocabulary BM25 cannot cheat on."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.simulate import vocab
from ltrr_opensearch.simulate.config import WorldConfig, load_sim_config
from ltrr_opensearch.simulate.world import World

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "configs" / "worlds" / "small.toml"
FIELDS = ("id", "entity_type", "title", "artist", "album", "contributors", "description",
          "genres", "moods", "decade", "language", "popularity", "release_date",
          "related_ids", "embedding")


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(SMALL)


@pytest.fixture(scope="module")
def rows(world) -> list[dict]:
    return list(world.rows())


def test_same_seed_gives_identical_catalog(rows):
    again = list(World.generate(SMALL).rows())
    assert again == rows


def test_different_seed_gives_different_catalog(rows):
    config = load_sim_config(SMALL)
    other = World.generate(dataclasses.replace(config.world, seed=8))
    assert [r["title"] for r in other.rows()] != [r["title"] for r in rows]


def test_world_has_the_configured_size_and_type_mix(world, rows):
    assert len(rows) == len(world) == 1000
    counts = Counter(r["entity_type"] for r in rows)
    assert counts == {"artist": 80, "album": 120, "track": 720, "playlist": 50, "podcast": 30}


def test_rows_follow_the_catalog_record_schema(rows):
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    known = set(ids)
    for row in rows:
        assert tuple(row) == FIELDS
        assert row["title"] and row["description"]
        assert isinstance(row["popularity"], float) and row["popularity"] >= 0
        assert row["decade"] is None or re.fullmatch(r"\d{3}0s", row["decade"])
        assert row["language"] in vocab.LANGUAGES
        if row["release_date"]:
            assert date.fromisoformat(row["release_date"])
        assert set(row["related_ids"]) <= known
        for name in ("contributors", "genres", "moods", "related_ids"):
            assert all(isinstance(x, str) and x for x in row[name])


def test_rows_pass_the_catalog_validator(rows):
    schema = pytest.importorskip("ltrr_opensearch.catalog.schema")
    for line, row in enumerate(rows, 1):
        doc, error = schema.validate_row(row, line)
        assert error is None, str(error)


def test_tracks_link_to_their_album_and_artist(rows):
    by_id = {r["id"]: r for r in rows}
    for track in (r for r in rows if r["entity_type"] == "track"):
        album, artist = (by_id[i] for i in track["related_ids"])
        assert album["entity_type"] == "album" and album["title"] == track["album"]
        assert artist["entity_type"] == "artist" and artist["title"] == track["artist"]
        assert track["id"] in album["related_ids"]


def test_popularity_is_heavy_tailed(rows):
    pops = sorted((r["popularity"] for r in rows if r["entity_type"] == "track"), reverse=True)
    top_tenth = sum(pops[: len(pops) // 10])
    assert top_tenth > 0.3 * sum(pops)  # a uniform draw would give about 0.1


def test_new_releases_keep_arriving_after_now(world, rows):
    now = world.config.now
    later = [r for r in rows if r["release_date"] and date.fromisoformat(r["release_date"]) > now]
    assert later, "the simulated period needs releases after 'now'"
    held_back = list(world.rows(released_by=now))
    assert len(held_back) == len(rows) - len(later)


def test_query_only_words_never_appear_in_the_catalog(rows):
    catalog = set()
    for row in rows:
        for name in ("title", "artist", "album", "description"):
            catalog |= words(row[name] or "")
        for name in ("contributors", "genres", "moods"):
            catalog |= words(" ".join(row[name]))
    asked = {w for t in vocab.TOPICS for phrase in t.ask for w in words(phrase)}
    slang = {w for p in vocab.HEAD_PHRASES for w in words(p)} - {"no"}
    frames = words(" ".join(vocab.MUSIC_TOPIC_FRAMES + vocab.PODCAST_TOPIC_FRAMES)) \
        - {"a", "b", "for", "to", "and"}
    assert not asked & catalog
    assert not slang & catalog
    assert not frames & catalog


def test_each_topic_has_disjoint_describe_and_ask_words():
    for topic in vocab.TOPICS:
        described = {w for phrase in topic.describe for w in words(phrase)}
        asked = {w for phrase in topic.ask for w in words(phrase)}
        assert not described & asked, topic.name
        assert len(topic.ask) >= 2 and len(topic.describe) == 3


def test_each_head_phrase_stands_for_a_playlist(world):
    targets = world.head_phrase_targets()
    assert set(targets) == set(vocab.HEAD_PHRASES)
    for graded in targets.values():
        best = [i for i, g in graded.items() if g == 3]
        assert len(best) == 1 and best[0].startswith("sim-playlist-")


def test_a_100_entity_world_without_playlists_still_generates():
    config = WorldConfig(entities=100, type_mix={"artist": 1, "album": 1, "track": 8})
    world = World.generate(config)
    assert len(list(world.rows())) == 100
    assert all(next(iter(g)).startswith("sim-track-") for g in world.head_phrase_targets().values())


@pytest.mark.parametrize("text, message", [
    ("[world]\nentities = 5\n", "entities"),
    ("[world]\ntype_mix = { robot = 1 }\n", "robot"),
    ("[world]\nsized = 3\n", "unknown key"),
    ("[queries]\nmix_start = { known_item = -1 }\n", "known_item"),
    ("[clicks]\nattractiveness = [0.1, 0.2]\n", "4 probabilities"),
    ("[clicks]\nsatisfaction = [0.1, 0.2, 0.3, 1.5]\n", "probabilities"),
    ("[galaxy]\nx = 1\n", "unknown table"),
    ("[world]\nnow = \"yesterday\"\n", "YYYY-MM-DD"),
    ("[world\n", "not valid TOML"),
])
def test_bad_world_config_raises_a_clear_config_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_sim_config(path)


def test_missing_world_config_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_sim_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", ["small.toml", "10k.toml", "100k.toml"])
def test_shipped_world_configs_load(name):
    config = load_sim_config(ROOT / "configs" / "worlds" / name)
    assert config.world.entities >= 1000
