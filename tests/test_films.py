"""The IMDb film catalog (simulate/films.py): conversion, and search through the same
loader and pipeline as music, on the real node."""

from __future__ import annotations

import json

import pytest

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder
from ltrr_opensearch.cli import main
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.simulate.films import convert_films, describe, display_title, film_row

MOVIE = {"rownames": 46268, "title": "Shawshank Redemption, The", "year": 1994, "length": 142,
         "rating": 9.1, "votes": 149494, "mpaa": "R", "Action": 0, "Animation": 0,
         "Comedy": 0, "Drama": 1, "Documentary": 0, "Romance": 0, "Short": 0}


@pytest.mark.parametrize(("imdb", "shown"), [
    ("Matrix, The", "The Matrix"), ("Avventura, L'", "L'Avventura"),
    ("Lord of the Rings: The Two Towers, The", "The Lord of the Rings: The Two Towers"),
    ("Star Wars", "Star Wars"), ("Me, Myself & Irene", "Me, Myself & Irene")])
def test_trailing_articles_move_to_the_front(imdb, shown):
    assert display_title(imdb) == shown


def test_a_film_becomes_a_movie_row_described_by_its_attributes():
    row = film_row(MOVIE)
    assert (row["id"], row["entity_type"], row["title"]) == (
        "film-46268", "movie", "The Shawshank Redemption")
    assert (row["genres"], row["decade"], row["release_date"]) == (
        ["drama"], "1990s", "1994-01-01")
    assert row["popularity"] == 149494.0 and "artist" not in row
    assert (row["rating"], row["runtime"], row["mpaa"]) == (9.1, 142, "R")
    assert row["description"] == "1994 drama film, 142 minutes, rated R, IMDb 9.1"


def test_a_film_row_fits_the_films_description_extra_fields_included():
    from ltrr_opensearch.catalog.description import load_description
    from ltrr_opensearch.catalog.schema import row_schema, validate_row

    schema = row_schema(load_description("films"))
    doc, error = validate_row(film_row(MOVIE), 1, schema=schema)
    assert error is None and set(film_row(MOVIE)) <= set(schema.fields)
    assert (doc["rating"], doc["runtime"], doc["mpaa"]) == (9.1, 142, "R")
    unknown = film_row({**MOVIE, "length": float("nan"), "mpaa": None, "rating": None})
    assert validate_row(unknown, 1, schema=schema)[1] is None


def test_a_description_leaves_out_what_is_unknown():
    assert describe(1931, [], float("nan"), float("nan"), None) == "1931 film"


def test_conversion_keeps_the_most_voted_films_above_the_floor_in_source_order():
    movies = [{**MOVIE, "rownames": i, "title": f"Film {i}", "votes": v}
              for i, v in enumerate([50, 400, 120, 9000, 300], start=1)]
    rows = convert_films(movies, min_votes=100, limit=3)
    assert [r["id"] for r in rows] == ["film-2", "film-4", "film-5"]


def test_a_bad_limit_is_refused():
    with pytest.raises(LtrrError, match="limit must be >= 1"):
        convert_films([MOVIE], limit=0)


@pytest.mark.integration
def test_a_film_is_found_by_exact_title_and_by_a_typo(client, settings, tmp_path):
    path = tmp_path / "films.jsonl"
    assert main(["simulate", "films", "--out", str(path), "--limit", "300", "--quiet"]) == 0
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 300 and {r["entity_type"] for r in rows} == {"movie"}
    report = load_catalog(client, settings, path, embedder=make_fresh_embedder("tfidf"),
                          quiet=True)
    assert report.indexed == 300
    wanted = next(r["id"] for r in rows if r["title"] == "The Shawshank Redemption")
    pipeline = Pipeline.from_cluster(client, settings)
    for query in ("The Shawshank Redemption", "shawshnak redemption"):
        assert pipeline.search(query, k=10).shown[0].id == wanted, query
