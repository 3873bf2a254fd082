"""Training from logs holds out whole query texts for the deploy gate."""

from __future__ import annotations

from ltrr_opensearch.rank.learn import split_by_key


def rows_for(keys_and_searches):
    return [{"query_id": f"{key}-search-{n}", "doc_id": f"d{n}", "label": 1, "features": {},
             "query_key": key}
            for key, searches in keys_and_searches for n in range(searches)]


def test_the_gate_holds_out_query_texts_never_trained_on_not_repeated_searches():
    # Popular texts are searched by many users: each search is its own logged query id.
    rows = rows_for([(f"key_{i}", 1 + 10 * (i % 3)) for i in range(20)])
    trained, held = split_by_key(rows, seed=4)
    assert not {r["query_key"] for r in trained} & {r["query_key"] for r in held}
    assert len(trained) + len(held) == len(rows)
    assert len({r["query_key"] for r in held}) == 4  # a fifth of the texts
    assert split_by_key(rows, seed=4) == (trained, held)


def test_one_query_text_leaves_nothing_to_hold_out():
    rows = rows_for([("only", 5)])
    assert split_by_key(rows, seed=0) == (rows, [])
