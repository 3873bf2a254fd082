"""Attribute queries in everyday words for any catalog's facets (querysets.FacetPhrasing):
what is asked for, what is judged relevant, and how it is graded; no node needed."""

from __future__ import annotations

from collections import Counter

from ltrr_opensearch.evaluate.querysets import FacetPhrasing, generate_queries

PHRASING = FacetPhrasing(what="category", where="state",
                         nouns={"Shoes": ("sneakers",), "Hats": ("caps",)},
                         places={"Ohio": ("ohio",)}, adjectives={"Ohio": ("ohioan",)},
                         generic="products")


def rows():
    """4 shoes and 3 hats in Ohio, 4 shoes in Utah (no adjective), 2 bags (no noun)."""
    def row(i, category, state, popularity):
        return {"id": f"p{i}", "title": f"Item number {i}", "popularity": popularity,
                "facets": {"category": category, "state": [state]}}
    return ([row(i, "Shoes", "Ohio", i) for i in range(4)]
            + [row(10 + i, "Hats", "Ohio", i) for i in range(3)]
            + [row(20 + i, "Shoes", "Utah", i) for i in range(4)]
            + [row(30 + i, "Bags", "Utah", i) for i in range(2)])


def attribute(seed=1, n=40):
    return [q for q in generate_queries(rows(), n, seed, kinds=("attribute",),
                                        phrasing=PHRASING)]


def test_queries_name_values_in_the_given_words_and_judge_every_match():
    by_text = {q.query: q for q in attribute()}
    assert set(by_text["sneakers in ohio"].relevant) == {"p0", "p1", "p2", "p3"}
    assert set(by_text["sneakers"].relevant) == {f"p{i}" for i in (0, 1, 2, 3, 20, 21, 22, 23)}
    assert set(by_text["products in utah"].relevant) == {f"p{i}" for i in (20, 21, 22, 23, 30,
                                                                           31)}
    assert set(by_text["ohioan products"].relevant) == {f"p{i}" for i in (0, 1, 2, 3, 10, 11,
                                                                         12)}


def test_values_without_words_or_enough_items_are_never_asked_for():
    texts = {q.query for q in attribute()}
    assert not any("bags" in t for t in texts)  # no noun for Bags
    assert not any(t.startswith("utah") for t in texts)  # no adjective for Utah
    assert "caps in utah" not in texts  # no hats there


def test_the_most_popular_third_of_the_matches_gets_grade_3():
    [query] = [q for q in attribute() if q.query == "sneakers in ohio"]
    assert query.relevant["p3"] == 3 and query.relevant["p0"] == 1
    assert Counter(query.relevant.values()) == {3: 2, 2: 1, 1: 1}


def test_the_same_seed_gives_the_same_queries():
    assert attribute(seed=5) == attribute(seed=5)
    assert {q.form for q in attribute()} <= {f"facets:{form}" for form in (
        "what", "what-in-where", "adjective-what", "generic-in-where", "adjective-generic")}
