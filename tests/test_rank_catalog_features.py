"""The features a catalog description implies, computed by the real engine on an index of
the user's own: per facet kind, slot matches, popularity and recency read straight from the
user's fields (nothing written to the index), type match against the catalog's own types,
and typo tolerance that only the words the catalog does not know pay for."""

from __future__ import annotations

import contextlib

import pytest
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.catalog.description import forget
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.rank import setup
from ltrr_opensearch.rank.features import feature_set_for
from ltrr_opensearch.rank.ranker import Ranker
from ltrr_opensearch.rank.rerank import rerank
from ltrr_opensearch.retrieve import resources
from ltrr_opensearch.retrieve.catalog import catalog_context
from ltrr_opensearch.retrieve.msearch import default_q2e_key
from ltrr_opensearch.types import Candidate
from ltrr_opensearch.understand import understand

pytestmark = [pytest.mark.integration, pytest.mark.ltr, pytest.mark.usefixtures("require_ltr")]

MAPPING = {"properties": {
    "unitid": {"type": "keyword"},
    "institution": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    "state": {"type": "keyword"},
    "degree": {"type": "keyword"},
    "kind": {"type": "keyword"},
    "enrollment": {"type": "long"},
    "founded": {"type": "date"},
}}
SCHOOLS = [  # id, name, state, degree, kind, enrollment, founded
    ("u1", "Ohio State University", "Ohio", "bachelor", "university", 60000, "1870-01-01"),
    ("u2", "Kent State University", "Ohio", "bachelor", "university", 26000, "1910-01-01"),
    ("c1", "Columbus State Community College", "Ohio", "associate", "college", 25000,
     "1963-01-01"),
    ("u3", "University of Virginia", "Virginia", "bachelor", "university", 25000, "1819-01-01"),
    ("c2", "Northern Virginia Community College", "Virginia", "associate", "college", 50000,
     "1964-01-01"),
    ("u4", "Springfield College in Illinois", "Illinois", "bachelor", "college", 900,
     "2001-01-01"),
]
DESCRIPTION = """
name = "schools"
index = "{index}"

[fields]
id = "unitid"
type = "kind"
title = ["institution^3"]
popularity = "enrollment"
date = "founded"

[facets]
state = "state"
degree = "degree"

[memory]
store = "outside"
"""


@pytest.fixture()
def schools(client, settings, tmp_path):
    index = f"{settings.index_prefix}-schools"
    client.indices.create(index=index, body={"mappings": MAPPING})
    ops = []
    for uid, name, state, degree, kind, enrollment, founded in SCHOOLS:
        ops += [{"index": {"_index": index, "_id": f"doc-{uid}"}},
                {"unitid": uid, "institution": name, "state": state, "degree": degree,
                 "kind": kind, "enrollment": enrollment, "founded": founded}]
    client.bulk(body=ops, refresh=True)
    path = tmp_path / "schools.toml"
    path.write_text(DESCRIPTION.format(index=index), encoding="utf-8")
    forget()
    resources.clear()
    own = settings.with_overrides(sections={**settings.sections,
                                            "catalog": {"description": str(path)}})
    fs = feature_set_for(client, own)
    setup.ensure_store(client)
    setup.ensure_feature_set(client, fs)
    yield own, fs, index
    for name in {fs.store_name}:
        with contextlib.suppress(os_exc.NotFoundError):
            client.plugins.ltr.delete_featureset(id=name)
    forget()
    resources.clear()


def features_of(client, own, fs, query: str) -> dict[str, dict[str, float]]:
    """Every school's feature values for ``query``, computed by the engine through the
    search path's reranking search (a logging-only ranker)."""
    pipeline = Pipeline.from_cluster(client, own)
    understanding = understand(query, pipeline.gazetteer)
    ranker = Ranker.logging_only(fs.store_name, tuple(fs.names), frozenset(fs.params))
    candidates = [Candidate(id=uid, source={}, doc_id=f"doc-{uid}") for uid, *_ in SCHOOLS]
    done = rerank(client, own, ranker, understanding, candidates, size=len(candidates),
                  window=len(candidates), q2e_key=default_q2e_key(understanding.normalized),
                  catalog=catalog_context(client, own))
    assert done.error is None
    return {c.id: dict(zip(fs.names, c.features or (), strict=True)) for c in done.candidates}


def test_the_set_gets_a_feature_per_facet_kind_and_reads_popularity_from_the_field(client,
                                                                                    schools):
    _, fs, index = schools
    assert fs.names[-2:] == ["facet_degree", "facet_state"]
    popularity = next(f for f in fs.features if f.name == "popularity")
    assert "script_score" in str(popularity.template) and "enrollment" in str(popularity.template)
    assert "enrollment_feature" not in client.indices.get_mapping(index=index)[index][
        "mappings"]["properties"]  # nothing was written to the user's index


def test_slot_features_count_what_the_item_matches_of_what_the_query_names(client, schools):
    own, fs, _ = schools
    rows = features_of(client, own, fs, "universities in ohio")
    assert [rows[u]["slot_count"] for u in rows] == [2.0] * len(SCHOOLS)  # state + type
    assert rows["u1"]["slot_matches"] == rows["u2"]["slot_matches"] == 2.0
    assert rows["u1"]["all_slots_match"] == 1.0
    assert rows["c1"]["slot_matches"] == 1.0 and rows["c1"]["all_slots_match"] == 0.0
    assert rows["u3"]["slot_matches"] == 1.0 and rows["u3"]["facet_state"] == 0.0
    assert rows["c1"]["facet_state"] == 1.0 and rows["c1"]["type_match"] == 0.0
    assert rows["u1"]["type_match"] == 1.0  # the catalog's own type, asked for by "universities"
    assert all(row["facet_degree"] == 0.0 for row in rows.values())  # no degree named


def test_without_slots_nothing_matches_all_of_them(client, schools):
    own, fs, _ = schools
    rows = features_of(client, own, fs, "springfield")
    assert {row["all_slots_match"] for row in rows.values()} == {0.0}
    assert {row["slot_count"] for row in rows.values()} == {0.0}


def test_popularity_and_recency_follow_the_users_own_fields(client, schools):
    own, fs, _ = schools
    rows = features_of(client, own, fs, "state university")
    popularity = {u: row["popularity"] for u, row in rows.items()}
    assert all(0.0 < p < 1.0 for p in popularity.values())
    assert popularity["u1"] > popularity["u2"] > popularity["u4"]  # 60000 > 26000 > 900
    assert rows["u4"]["recency"] > rows["u1"]["recency"] > rows["u3"]["recency"]


def test_only_the_words_the_catalog_does_not_know_are_expanded_for_typos(client, schools):
    own, fs, _ = schools
    spelled = features_of(client, own, fs, "kent state university")
    assert spelled["u2"]["title_fuzzy"] == 0.0 and spelled["u2"]["unknown_count"] == 0.0
    typo = features_of(client, own, fs, "knet state universty")
    assert typo["u2"]["unknown_count"] == 2.0
    assert typo["u2"]["title_fuzzy"] > typo["u1"]["title_fuzzy"] > 0.0  # "knet" ~ "kent"


def test_a_typo_that_spells_another_word_is_caught_one_edit_away(client, schools):
    own, fs, _ = schools
    rows = features_of(client, own, fs, "kant state")  # "kant": no title word, a real word
    assert rows["u2"]["title_one_typo"] > rows["u3"]["title_one_typo"]
