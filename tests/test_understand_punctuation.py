"""Titles whose punctuation carries meaning (initialisms, "AC/DC", "R&B"), loaded through
the loader into the real node, are found by their exact and by their typed forms."""

from __future__ import annotations

import json

import pytest

from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder
from ltrr_opensearch.pipeline import Pipeline

pytestmark = pytest.mark.integration


def _row(id_: str, title: str, artist: str, popularity: float, **extra: object) -> dict:
    return {"id": id_, "entity_type": "track", "title": title, "artist": artist,
            "popularity": popularity, **extra}


# Each wanted title has a popular distractor that shares its plain words, so a query that
# loses the punctuated word ranks the distractor first.
ROWS = [
    _row("titan-ae", "Titan A.E.", "Graeme Revell", 5.0),
    _row("titan", "Titan", "Popular Band", 90.0),
    _row("titan-remix", "Titan (Remix)", "Popular Band", 80.0),
    _row("la-story", "L.A. Story", "Peter Melnick", 5.0),
    _row("story", "Story", "Popular Band", 90.0),
    _row("la-bamba", "La Bamba", "Los Lobos", 70.0),
    _row("swat", "S.W.A.T.", "Barry De Vorzon", 5.0),
    _row("sway", "Sway", "Popular Band", 90.0),  # one edit from "swat"
    _row("thunderstruck", "Thunderstruck", "AC/DC", 40.0),
    _row("dc-thunder", "Thunder", "DC Talk", 90.0),
    _row("rnb-love", "Love", "Soul Singer", 10.0, genres=["R&B"]),
    _row("love", "Love", "Popular Band", 95.0, genres=["pop"]),
    _row("et", "E.T. the Extra-Terrestrial", "John Williams", 5.0),
    _row("extra", "Extra", "Popular Band", 90.0),
]

# query -> the id it must find first. "la story" is left out: "La Bamba" makes "la" a word of
# this catalog, so it is searched as typed (tests/test_understand.py states that rule).
CASES = {
    "Titan A.E.": "titan-ae",
    "titan a.e": "titan-ae",
    "titan ae": "titan-ae",
    "titan a e": "titan-ae",
    "L.A. Story": "la-story",
    "l a story": "la-story",
    "S.W.A.T.": "swat",
    "swat": "swat",
    "E.T. the Extra-Terrestrial": "et",
    "et extraterrestrial": "et",
    "AC/DC Thunderstruck": "thunderstruck",
    "acdc thunderstruck": "thunderstruck",
    "ac dc thunderstruck": "thunderstruck",
}


@pytest.fixture()
def pipeline(client, settings, tmp_path):
    path = tmp_path / "punctuated.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    report = load_catalog(client, settings, path, embedder=make_fresh_embedder("tfidf"),
                          quiet=True)
    assert report.indexed == len(ROWS)
    return Pipeline.from_cluster(client, settings)


def _first(pipeline, query, strategies=None) -> str:
    shown = pipeline.search(query, k=5, strategies=strategies, log=False).shown
    return shown[0].id if shown else "(nothing)"


def test_bm25_finds_punctuated_titles_by_exact_and_typed_forms(pipeline):
    found = {q: _first(pipeline, q, [("bm25_popularity", 10)]) for q in CASES}
    assert found == CASES


def test_the_default_search_finds_punctuated_titles_by_exact_and_typed_forms(pipeline):
    found = {q: _first(pipeline, q) for q in CASES}
    assert found == CASES


def test_r_and_b_typed_any_way_is_the_genre_the_catalog_stores(pipeline):
    for query in ("R&B love", "r and b love", "rnb love"):
        u = pipeline.search(query, k=5, log=False).understanding
        assert [(s.kind, s.value) for s in u.slots] == [("genre", "r&b")], query
        assert _first(pipeline, query, [("structured_qu", 10)]) == "rnb-love", query
