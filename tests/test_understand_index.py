"""Gazetteer.from_index against the real node: a small catalog behind the alias."""

from __future__ import annotations

import json

import pytest

from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.understand import Gazetteer, understand

pytestmark = pytest.mark.integration

ROWS = [
    {"id": "a1", "entity_type": "artist", "title": "Taylor", "genres": ["pop"]},
    {"id": "a2", "entity_type": "artist", "title": "Solo Artist Without Tracks"},
    {"id": "t1", "entity_type": "track", "title": "Love Story", "artist": "Taylor Swift",
     "genres": ["rock", "Hip-Hop"], "moods": ["sad"], "decade": "1990s", "language": "en"},
    {"id": "t2", "entity_type": "track", "title": "Halo", "artist": "Beyoncé",
     "genres": ["rock"], "moods": ["chill"], "decade": "2000s", "language": "es"},
    {"id": "t3", "entity_type": "track", "title": "Other", "artist": "Taylor Swift",
     "genres": ["jazz"], "decade": "1990s"},
    {"id": "t4", "entity_type": "track", "title": "Road Trip", "artist": "Roan",
     "popularity": 3.0},
]


@pytest.fixture()
def catalog(client, settings):
    mapping = json.loads((settings.mappings_dir / "catalog.v1.json").read_text())
    mapping.pop("_comment", None)
    index = f"{settings.catalog_alias}-v1-test"
    client.indices.create(index=index, body={**mapping, "aliases": {settings.catalog_alias: {}}})
    for row in ROWS:
        client.index(index=index, id=row["id"], body=row)
    client.indices.refresh(index=index)
    return index


def test_from_index_reads_every_vocabulary_through_the_alias(client, settings, catalog):
    gazetteer = Gazetteer.from_index(client, settings, page_size=2)  # forces paging
    # Keyword fields store values folded by the mapping's normalizer.
    assert gazetteer.values("artist") == (
        "beyonce", "roan", "solo artist without tracks", "taylor", "taylor swift")
    assert gazetteer.values("genre") == ("hip-hop", "jazz", "pop", "rock")
    assert gazetteer.values("mood") == ("chill", "sad")
    assert gazetteer.values("decade") == ("1990s", "2000s")
    assert gazetteer.values("language") == ("en", "es")


def test_gazetteer_from_index_understands_like_one_from_rows(client, settings, catalog):
    from_index = Gazetteer.from_index(client, settings)
    from_rows = Gazetteer.from_rows(ROWS)
    for query in ["tayler love", "90s rok", "Beyoncé songs", "spanish hiphop"]:
        a, b = understand(query, from_index), understand(query, from_rows)
        assert [(s.kind, s.value.lower(), s.text) for s in a.slots] == [
            (s.kind, normalize(s.value), s.text) for s in b.slots], query
        assert a.intent == b.intent


def normalize(value: str) -> str:
    return value.lower().replace("é", "e")


def test_titles_from_index_are_known_words_not_typos(client, settings, catalog):
    gazetteer = Gazetteer.from_index(client, settings, title_entities=2)
    assert understand("road", gazetteer).slots == ()
    assert [s.value for s in understand("roen", gazetteer).slots] == ["roan"]


# A catalog described without a decade facet, with a type, a generic facet and punctuated
# titles: the vocabularies come from the fields the description names.
OWN_ROWS = [
    {"id": "f1", "entity_type": "movie", "title": "Titan A.E.", "genres": ["animation"],
     "moods": ["epic"], "release_date": "2000-06-16", "popularity": 5.0},
    {"id": "f2", "entity_type": "movie", "title": "Toy Story", "genres": ["animation", "comedy"],
     "moods": ["happy"], "release_date": "1995-11-22", "popularity": 9.0},
    {"id": "f3", "entity_type": "movie", "title": "Airplane!", "genres": ["comedy"],
     "release_date": "1980-07-02", "popularity": 7.0},
    {"id": "s1", "entity_type": "series", "title": "M*A*S*H", "genres": ["comedy"],
     "release_date": "1972-09-17", "popularity": 8.0},
]


@pytest.fixture()
def described(client, settings):
    from ltrr_opensearch.catalog.description import bind, live_properties, parse_description

    mapping = json.loads((settings.mappings_dir / "catalog.v1.json").read_text())
    mapping.pop("_comment", None)
    client.indices.create(index=settings.catalog_alias, body=mapping)
    for row in OWN_ROWS:
        client.index(index=settings.catalog_alias, id=row["id"], body=row)
    client.indices.refresh(index=settings.catalog_alias)
    description = parse_description({
        "fields": {"id": "id", "type": "entity_type", "title": ["title^3"],
                   "popularity": "popularity", "date": "release_date"},
        "facets": {"genre": "genres", "tone": "moods"}})
    return bind(description, live_properties(client, settings.catalog_alias))


def test_from_index_reads_the_described_fields_and_periods_from_the_dates(client, settings,
                                                                          described):
    gazetteer = Gazetteer.from_index(client, settings, catalog=described)
    assert gazetteer.values("entity_type") == ("movie", "series")
    assert gazetteer.values("genre") == ("animation", "comedy")
    assert gazetteer.values("tone") == ("epic", "happy")
    assert gazetteer.values("decade") == ("1970s", "1980s", "1990s", "2000s")
    assert gazetteer.values("year") == ("1972", "1980", "1995", "2000")
    assert gazetteer.values("artist") == ()


def test_a_described_catalog_is_understood_in_its_own_terms(client, settings, described):
    gazetteer = Gazetteer.from_index(client, settings, catalog=described)
    u = understand("nineties epic animation movies", gazetteer)
    assert [(s.kind, s.value) for s in u.slots] == [
        ("decade", "1990s"), ("tone", "epic"), ("genre", "animation"), ("entity_type", "movie")]
    assert u.intent == "movie"
    assert understand("songs", gazetteer).slots == ()


def test_punctuated_titles_from_the_index_teach_the_catalog_spelling(client, settings, described):
    # Only the most popular title (Toy Story) is read as a known word: the punctuated ones
    # come from their own search.
    gazetteer = Gazetteer.from_index(client, settings, catalog=described, title_entities=1)
    assert understand("titan ae", gazetteer).match_text == "titan a.e"
    assert understand("mash", gazetteer).match_text == "m a s h"


def test_from_index_without_a_catalog_says_what_to_do(client, settings):
    with pytest.raises(LtrrError, match="does not exist") as info:
        Gazetteer.from_index(client, settings)
    assert info.value.hint and "catalog" in info.value.hint


def test_from_index_with_no_node_raises_cluster_unreachable(settings):
    from ltrr_opensearch.engine.client import make_client
    from ltrr_opensearch.errors import ClusterUnreachable

    nowhere = settings.with_overrides(url="http://127.0.0.1:9", timeout=2.0, max_retries=0)
    with pytest.raises(ClusterUnreachable, match="cannot reach"):
        Gazetteer.from_index(make_client(nowhere), nowhere)


def test_cli_understand_prints_slots_from_the_live_catalog(settings, catalog, capsys, monkeypatch):
    from ltrr_opensearch.cli import main

    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.delenv("LTRR_CONFIG", raising=False)
    code = main(["understand", "--url", settings.urls[0], "--json",
                 "--now", "2024-01-06T12:00", "90s rok"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(s["kind"], s["value"]) for s in out["slots"]] == [
        ("decade", "1990s"), ("genre", "rock")]
    assert out["context"]["version"] == "ctx-v3" and "weekend" not in out["context"]["values"]


def test_cli_understand_shows_the_clock_when_the_config_turns_it_on(
        settings, catalog, capsys, monkeypatch, tmp_path):
    from ltrr_opensearch.cli import main

    config = tmp_path / "ltrr.toml"
    config.write_text('[bandit]\npolicy_file = "linucb"\nclock_features = true\n')
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("LTRR_CONFIG", str(config))
    assert main(["understand", "--url", settings.urls[0], "--json",
                 "--now", "2024-01-06T12:00", "90s rok"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["context"]["version"] == "ctx-v3+clock"
    assert out["context"]["values"]["weekend"] == 1.0


def test_cli_understand_rejects_a_bad_time(settings, capsys):
    from ltrr_opensearch.cli import main

    assert main(["understand", "--now", "yesterday", "rock"]) == 2
    assert "--now" in capsys.readouterr().err
