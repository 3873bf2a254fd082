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


def test_a_judged_search_brings_candidates_it_did_not_show_as_negatives():
    from ltrr_opensearch.rank.learn import LoggedSearch, below_page

    logged = {f"d{i}": [float(i)] for i in range(40)}  # the first 40 merged candidates
    search = LoggedSearch("q1", "key", tuple(f"d{i}" for i in range(10)), "set", ("f",), logged)
    picked = below_page(search, 20)
    assert len(picked) == 20 and len(set(picked)) == 20
    assert not set(picked) & set(search.shown) and set(picked) <= set(logged)
    assert below_page(search, 20) == picked  # the same pick every time
    assert {int(d[1:]) for d in picked} != set(range(10, 30))  # spread, not just the next 20
    assert below_page(search, 100) and len(below_page(search, 100)) == 30


def test_the_gate_weighs_query_texts_not_how_often_they_were_searched():
    from ltrr_opensearch.rank.learn import few_searches_per_key

    rows = rows_for([("head", 50), ("tail", 1)])
    kept = few_searches_per_key(rows, 3)
    assert [r["query_id"] for r in kept] == [
        "head-search-0", "head-search-1", "head-search-2", "tail-search-0"]


def test_retraining_starts_where_the_deployed_models_refinements_began():
    """A daily retrain refines the chain's first model on every logged search, so the model
    never grows by more than one refinement; a deleted start leaves nothing to refine."""
    from ltrr_opensearch.errors import ValidationError
    from ltrr_opensearch.rank.learn import refinement_root
    from ltrr_opensearch.rank.registry import ModelEntry

    def model(name, refines=None):
        return ModelEntry(name, "model/xgboost+json", [], "set", ("f",), (),
                          hyperparameters={"refines": refines} if refines else {})

    registered = {m.name: m for m in (model("default"), model("day1", "default"),
                                      model("day2", "default"), model("orphan", "gone"))}

    def lookup(name):
        if name not in registered:
            raise ValidationError(f"no model named {name!r} in the registry")
        return registered[name]

    assert refinement_root(registered["day2"], lookup).name == "default"
    assert refinement_root(registered["default"], lookup).name == "default"
    assert refinement_root(registered["orphan"], lookup) is None


def test_the_ranking_settings_are_read_with_their_defaults_and_bad_values_refused():
    import pytest

    from ltrr_opensearch.config import Settings
    from ltrr_opensearch.errors import LtrrError
    from ltrr_opensearch.rank.rerank import log_depth, rerank_window

    def ranking(**values):
        return Settings.load(env={}).with_overrides(sections={"ranking": values})

    assert (log_depth(ranking()), rerank_window(ranking())) == (30, 400)
    assert (log_depth(ranking(log_depth=0)), rerank_window(ranking(window=50))) == (0, 50)
    for bad in (-1, 10_001, "30", True, 2.5):
        with pytest.raises(LtrrError, match=r"\[ranking\] log_depth must be an integer"):
            log_depth(ranking(log_depth=bad))
        with pytest.raises(LtrrError, match=r"\[ranking\] window must be an integer"):
            rerank_window(ranking(window=bad if bad != -1 else 0))
