"""The catalog-agnostic labelled query generator (evaluate/querysets.py)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from rapidfuzz.distance import DamerauLevenshtein

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.evaluate.metrics import recall_at_k
from ltrr_opensearch.evaluate.querysets import (
    CatalogIndex,
    LabelledQuery,
    generate_queries,
    misspell,
    popularity_grades,
)
from ltrr_opensearch.understand.normalize import normalize_query

WORDS = ["midnight", "harbor", "silver", "lantern", "crimson", "meadow", "thunder", "orchard",
         "velvet", "canyon", "falcon", "whisper", "granite", "journey", "paradise", "shadow"]
GENRES = ["comedy", "drama", "action"]


def film_rows(n: int = 120) -> list[dict]:
    rng = random.Random(5)
    rows, titles = [], set()
    while len(rows) < n:
        title = " ".join(w.capitalize() for w in rng.sample(WORDS, rng.randint(1, 4)))
        if title in titles:
            continue
        titles.add(title)
        year = rng.randint(1950, 2005)
        rows.append({"id": f"film-{len(rows)}", "entity_type": "movie", "title": title,
                     "genres": rng.sample(GENRES, rng.randint(1, 2)),
                     "decade": f"{year // 10 * 10}s", "popularity": float(rng.randint(0, 5000))})
    return rows


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return film_rows()


def by_kind(queries: list[LabelledQuery], kind: str) -> list[LabelledQuery]:
    return [q for q in queries if q.kind == kind]


def test_same_rows_and_seed_give_the_same_queries_in_any_row_order(rows):
    shuffled = rows[::-1]
    assert generate_queries(rows, 40, seed=3) == generate_queries(shuffled, 40, seed=3)


def test_another_seed_gives_other_queries(rows):
    first = {q.query for q in generate_queries(rows, 40, seed=3)}
    second = {q.query for q in generate_queries(rows, 40, seed=4)}
    assert len(first & second) < len(first) / 2


def test_queries_are_split_evenly_over_the_four_kinds(rows):
    counts = Counter(q.kind for q in generate_queries(rows, 42, seed=1))
    assert counts == {"known_item": 11, "typo": 11, "partial": 10, "attribute": 10}


def test_a_known_item_query_is_a_title_and_every_item_with_that_title_is_relevant():
    rows = film_rows(40) + [{"id": "film-dup", "entity_type": "movie", "title": "Velvet Canyon",
                             "genres": ["drama"], "decade": "1990s"},
                            {"id": "film-dup2", "entity_type": "movie", "title": "velvet canyon!",
                             "genres": ["drama"], "decade": "1960s"}]
    queries = by_kind(generate_queries(rows, 400, seed=2, kinds=["known_item"]), "known_item")
    titles = {r["id"]: r["title"] for r in rows}
    for q in queries:
        assert q.query == titles[q.target] and q.relevant[q.target] == 3
    dup = next(q for q in queries if q.target in ("film-dup", "film-dup2"))
    assert set(dup.relevant) == {"film-dup", "film-dup2"}


def test_a_typo_query_is_one_or_two_edits_away_and_keeps_each_first_letter(rows):
    titles = {r["id"]: r["title"] for r in rows}
    queries = by_kind(generate_queries(rows, 120, seed=9, kinds=["typo"]), "typo")
    assert len(queries) == 120
    for q in queries:
        title = titles[q.target]
        assert 1 <= DamerauLevenshtein.distance(q.query, title) <= 2, (q.query, title)
        assert [w[0] for w in q.query.split()] == [w[0] for w in title.split()]
        assert normalize_query(q.query) not in {normalize_query(t) for t in titles.values()}


@pytest.mark.parametrize("seed", range(30))
def test_each_misspelling_is_a_single_edit_after_the_first_letter(seed):
    word, edit = misspell("lantern", random.Random(seed))
    assert word[0] == "l" and word != "lantern"
    assert DamerauLevenshtein.distance(word, "lantern") == 1, (word, edit)


def test_a_partial_query_identifies_its_item_among_few(rows):
    index = CatalogIndex.from_rows(rows)
    titles = {it.id: it.norm for it in index.items}
    queries = by_kind(generate_queries(index, 80, seed=5, kinds=["partial"]), "partial")
    assert {q.form for q in queries} >= {"rare-words"} and any(
        q.form.startswith("prefix") for q in queries)
    for q in queries:
        norm = normalize_query(q.query)
        assert norm != titles[q.target] and 1 <= len(q.relevant) <= 3
        if q.form.startswith("prefix"):
            assert {i for i, t in titles.items() if t.startswith(norm)} == set(q.relevant)
        else:
            assert set(norm.split()) <= set(titles[q.target].split())


def test_an_attribute_query_names_genre_and_decade_and_all_such_items_are_relevant(rows):
    queries = by_kind(generate_queries(rows, 20, seed=1, kinds=["attribute"]), "attribute")
    assert queries
    for q in queries:
        genre = next(g for g in GENRES if g in q.query)
        decade = next(r["decade"] for r in rows if r["decade"][2:] in q.query)
        expected = {r["id"] for r in rows if genre in r["genres"] and r["decade"] == decade}
        assert set(q.relevant) == expected


def test_without_decades_attribute_queries_pair_genre_with_entity_type():
    rows = [{"id": f"{t}-{i}", "entity_type": t, "title": f"{t} {WORDS[i]}", "genres": ["blues"]}
            for t in ("album", "track") for i in range(4)]
    (query,) = generate_queries(rows, 1, seed=0, kinds=["attribute"])
    assert query.query in ("blues albums", "blues tracks")
    assert set(query.relevant) == {f"{query.query.split()[1][:-1]}-{i}" for i in range(4)}


def test_popularity_grades_put_the_most_popular_third_first():
    index = CatalogIndex.from_rows([{"id": str(i), "title": f"t{i}", "popularity": i}
                                    for i in range(6)])
    assert popularity_grades(index.items) == {"5": 3, "4": 3, "3": 2, "2": 2, "1": 1, "0": 1}


def test_recall_counts_found_relevant_items_out_of_at_most_k():
    assert recall_at_k(["a", "x", "b"], {"a": 3, "b": 1, "c": 1}, k=3) == pytest.approx(2 / 3)
    assert recall_at_k(["a"] + ["x"] * 9, {str(i): 1 for i in range(50)} | {"a": 1}) == 0.1


@pytest.mark.parametrize(("n", "kinds", "message"), [
    (0, ("typo",), "must be >= 1"), (5, ("typo", "fuzzy"), "unknown query kind")])
def test_bad_arguments_are_refused_with_a_clear_error(rows, n, kinds, message):
    with pytest.raises(ConfigError, match=message):
        generate_queries(rows, n, seed=0, kinds=kinds)


def test_queries_round_trip_through_dicts(rows):
    for q in generate_queries(rows, 8, seed=0):
        assert LabelledQuery.from_dict(q.to_dict()) == q
