"""Row validation, field mapping and file reading (pure logic, no node needed)."""

from __future__ import annotations

import gzip
import json
import math
import re

import pytest

from ltrr_opensearch.catalog.description import load_description, parse_description
from ltrr_opensearch.catalog.index import managed_properties
from ltrr_opensearch.catalog.loader import iter_rows
from ltrr_opensearch.catalog.schema import (
    apply_field_map,
    parse_field_map,
    popularity_feature,
    row_schema,
    validate_row,
)
from ltrr_opensearch.config import PACKAGE_ROOT
from ltrr_opensearch.errors import ConfigError, ValidationError

GOOD = {"id": "t1", "entity_type": "track", "title": "Wonderwall", "artist": "Oasis",
        "genres": ["britpop"], "decade": "1990s", "language": "EN", "popularity": 12,
        "release_date": "1995-10-02"}


def test_a_good_row_becomes_a_complete_document_with_a_positive_popularity_feature():
    doc, error = validate_row(GOOD, 1)
    assert error is None
    assert doc["language"] == "en"
    assert doc["album"] is None and doc["moods"] == [] and "embedding" not in doc
    assert doc["popularity_feature"] == pytest.approx(math.log1p(12) + 1e-3)
    assert popularity_feature(0.0) > 0


@pytest.mark.parametrize(("given", "stored"), [
    ("movie", "movie"), ("Track", "track"), (" tv_series ", "tv_series"), ("e-book", "e-book"),
])
def test_entity_type_is_any_short_token_stored_lowercase(given, stored):
    doc, error = validate_row({**GOOD, "entity_type": given}, 1)
    assert error is None
    assert doc["entity_type"] == stored


@pytest.mark.parametrize(("change", "reason"), [
    ({"id": None}, "missing required field 'id'"),
    ({"title": "  "}, "missing required field 'title'"),
    ({"id": 1.5}, "id must be a string"),
    ({"id": "x" * 513}, "longer than 512 bytes"),
    ({"entity_type": "feature film"}, "entity_type must be one short lowercase token"),
    ({"entity_type": "9track"}, "entity_type must be one short lowercase token"),
    ({"entity_type": "x" * 41}, "entity_type must be one short lowercase token"),
    ({"entity_type": 3}, "entity_type must be a string"),
    ({"artist": 42}, "artist must be a string"),
    ({"genres": "rock"}, "genres must be a list"),
    ({"genres": ["rock", 3]}, "genres must hold strings only"),
    ({"decade": "1995"}, 'decade must be like "1990s"'),
    ({"language": "english"}, "language must be an ISO 639-1"),
    ({"popularity": "high"}, "popularity must be a number"),
    ({"popularity": True}, "popularity must be a number"),
    ({"popularity": -1}, "popularity must be finite and >= 0"),
    ({"popularity": float("nan")}, "popularity must be finite and >= 0"),
    ({"popularity": 1e39}, "popularity must be finite and >= 0"),
    ({"release_date": "02/10/1995"}, "release_date must be YYYY-MM-DD"),
    ({"release_date": "1995-02-30"}, "is not a calendar date"),
    ({"title": "x" * 1001}, "title is longer than 1000 characters"),
    ({"embedding": []}, "embedding must be a non-empty list"),
    ({"embedding": [0.1, "a"]}, "embedding must hold numbers only"),
    ({"embedding": [0.1, float("inf")]}, "NaN or infinity"),
    ({"embedding": [0.0, 0.0]}, "all zeros"),
])
def test_a_bad_field_is_reported_with_the_line_and_the_reason(change, reason):
    doc, error = validate_row({**GOOD, **change}, 7)
    assert doc is None
    assert error.line == 7
    assert reason in error.reason


def test_a_precomputed_embedding_must_have_the_index_width():
    _, error = validate_row({**GOOD, "embedding": [0.1, 0.2, 0.3]}, 3, dimension=4)
    assert "has 3 values, the index expects 4" in error.reason


def test_field_map_from_the_command_line_or_toml_names_catalog_fields():
    assert parse_field_map("title=name, artist=creator") == {"title": "name",
                                                             "artist": "creator"}
    assert parse_field_map({"title": "name"}) == {"title": "name"}
    with pytest.raises(ConfigError, match="unknown catalog field 'titel'"):
        parse_field_map("titel=name")
    with pytest.raises(ConfigError, match="not of the form"):
        parse_field_map("title")


def test_field_map_renames_source_columns_and_keeps_the_rest():
    row = apply_field_map({"name": "Yellow", "creator": "Coldplay", "id": "t2"},
                          {"title": "name", "artist": "creator"})
    assert row == {"title": "Yellow", "artist": "Coldplay", "id": "t2"}


def test_jsonl_rows_carry_their_line_numbers_and_unreadable_lines_an_error(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a"}\n\n{not json\n[1, 2]\n{"id": "b"}\n', encoding="utf-8")
    rows = list(iter_rows(path))
    assert [(r.line, r.data is not None) for r in rows] == [(1, True), (3, False), (4, False),
                                                             (5, True)]
    assert "not valid JSON" in rows[1].error and "expected a JSON object" in rows[2].error


def test_csv_cells_decode_lists_numbers_and_blanks_with_the_record_start_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "id,entity_type,name,genres,popularity,embedding,album\n"
        't1,track,"Two\nLines",rock| indie ,3.5,0.1|0.2,\n'
        "t2,track,Yellow,,lots,,\n"
        "t3,track,Extra,,1,,,surplus\n",
        encoding="utf-8")
    rows = list(iter_rows(path, {"title": "name"}))
    assert [r.line for r in rows] == [2, 4, 5]
    assert rows[0].data == {"id": "t1", "entity_type": "track", "title": "Two\nLines",
                            "genres": ["rock", "indie"], "popularity": 3.5,
                            "embedding": [0.1, 0.2], "album": None}
    assert rows[1].data["popularity"] == "lots" and rows[1].data["genres"] == []
    assert "more cells than the header" in rows[2].error


def test_gzipped_jsonl_is_read_like_plain_jsonl(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(GOOD) + "\n")
    assert [r.data["id"] for r in iter_rows(path)] == ["t1"]


def test_an_unknown_extension_or_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot tell the format"):
        list(iter_rows(tmp_path / "c.xml"))
    with pytest.raises(ValidationError, match="does not exist"):
        list(iter_rows(tmp_path / "missing.jsonl"))


# --- driven by the catalog description ---------------------------------------------------

FILMS_LIKE = {
    "name": "films", "fields": {"id": "id", "type": "entity_type", "title": ["title^3"],
                                "creator": ["director^2"], "text": ["description^0.5"],
                                "popularity": "votes", "date": "release_date"},
    "facets": {"genre": "genres", "decade": "decade"},
    "types": {"values": ["movie", "short"]},
    "extra": {"rating": "float", "runtime": "integer", "mpaa": "keyword", "colour": "boolean"},
}
FILM = {"id": "f1", "entity_type": "movie", "title": "Titan A.E.", "director": "Don Bluth",
        "genres": ["animation"], "decade": "2000s", "votes": 120, "release_date": "2000-06-16",
        "rating": 6.6, "runtime": 94, "mpaa": "PG", "colour": True}


def films_schema():
    return row_schema(parse_description(FILMS_LIKE))


def test_the_managed_mapping_generated_from_music_equals_the_mapping_file():
    reference = json.loads((PACKAGE_ROOT / "mappings" / "catalog.v1.json").read_text())
    generated = managed_properties(load_description("music"), 384)
    assert generated == reference["mappings"]["properties"]


def test_the_managed_mapping_of_another_catalog_follows_its_roles_and_extra_types():
    props = managed_properties(parse_description(FILMS_LIKE), 8)
    assert set(props["director"]["fields"]) == {"keyword", "words", "prefix"}
    assert props["description"] == {"type": "text", "analyzer": "english_folded"}
    assert props["genres"] == {"type": "keyword", "normalizer": "folded"}
    assert (props["votes"], props["votes_feature"]) == ({"type": "float"},
                                                        {"type": "rank_feature"})
    assert [props[f]["type"] for f in ("rating", "runtime", "mpaa", "colour")] == [
        "float", "integer", "keyword", "boolean"]
    assert props["q2e"] == {"type": "rank_features"} and "embedding" not in props


def test_a_row_of_a_described_catalog_keeps_its_own_and_extra_fields():
    doc, error = validate_row(FILM, 1, schema=films_schema())
    assert error is None
    assert doc["director"] == "Don Bluth" and doc["runtime"] == 94 and doc["mpaa"] == "PG"
    assert doc["votes_feature"] == pytest.approx(math.log1p(120) + 1e-3)


def test_every_problem_of_a_row_is_reported_not_only_the_first():
    bad = {**FILM, "id": None, "entity_type": "track", "rating": "good", "runtime": 94.5,
           "colour": "yes", "release_date": "16/06/2000"}
    doc, error = validate_row(bad, 4, schema=films_schema())
    assert doc is None
    reasons = error.reason.split("; ")
    assert reasons == [
        "missing required field 'id'",
        "entity_type 'track' is not one of the catalog's types (movie, short: [types] values "
        "of its description)",
        "release_date must be YYYY-MM-DD, got '16/06/2000'",
        "rating must be a finite number (float), got 'good'",
        "runtime must be a whole number (integer), got 94.5",
        "colour must be true or false, got 'yes'",
    ]


def test_field_map_conversions_year_number_constant_and_split():
    spec = ("release_date=year:year_to_date,votes=num_votes:number,entity_type=const:movie,"
            "genres=genre_list:split(|),runtime=length:integer,title=name")
    field_map = parse_field_map(spec, films_schema())
    row = apply_field_map({"name": "Alien", "year": "1979", "num_votes": "12045",
                           "genre_list": "Horror| Sci-Fi", "length": "117", "id": "f2"},
                          field_map)
    assert row == {"id": "f2", "title": "Alien", "release_date": "1979-01-01",
                   "votes": 12045.0, "entity_type": "movie", "genres": ["Horror", "Sci-Fi"],
                   "runtime": 117}
    doc, error = validate_row(row, 1, schema=films_schema())
    assert error is None and doc["release_date"] == "1979-01-01"


def test_a_split_separator_may_be_a_comma_inside_the_parentheses():
    field_map = parse_field_map("genres=g:split(,),title=name", films_schema())
    assert apply_field_map({"g": "a, b", "name": "X"}, field_map)["genres"] == ["a", "b"]


@pytest.mark.parametrize(("spec", "reason"), [
    ("release_date=year:to_date", "unknown conversion 'to_date'"),
    ("release_date=:year_to_date", "unknown conversion"),
    ("genres=g:split()", "unknown conversion 'split()'"),
    ("rating=", "needs a source column name"),
    ("ratng=score:number", "unknown catalog field 'ratng'"),
])
def test_bad_map_specs_are_refused_with_the_reason(spec, reason):
    with pytest.raises(ConfigError, match=re.escape(reason)):
        parse_field_map(spec, films_schema())


def test_a_value_a_conversion_refuses_is_reported_with_the_rows_other_problems():
    field_map = parse_field_map("release_date=year:year_to_date,votes=v:number",
                                films_schema())
    row = apply_field_map({**FILM, "year": "MCMLXXIX", "v": "many", "title": None},
                          field_map)
    _, error = validate_row(row, 9, schema=films_schema())
    assert error.reason.split("; ") == [
        "missing required field 'title'",
        "votes: cannot convert v='many' with number: not a number",
        "release_date: cannot convert year='MCMLXXIX' with year_to_date: not a 4-digit year",
    ]


def test_a_described_catalog_is_embedded_from_its_own_fields():
    from ltrr_opensearch.catalog.embed import document_text

    doc, _ = validate_row(FILM, 1, schema=films_schema())
    assert document_text(films_schema().text_row(doc)) == (
        "Titan A.E.. by Don Bluth. animation. 2000s")
    music_doc, _ = validate_row(GOOD, 1)
    assert document_text(row_schema().text_row(music_doc)) == document_text(music_doc)
