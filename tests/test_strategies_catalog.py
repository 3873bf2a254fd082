"""Strategy templates read field names from the catalog description, never music names."""

from __future__ import annotations

import json

from ltrr_opensearch.catalog.description import bind, load_description, parse_description
from ltrr_opensearch.retrieve.catalog import managed_properties, offline_catalog, template_context
from ltrr_opensearch.retrieve.templates import TemplateRegistry, build_context
from ltrr_opensearch.types import ContextVector, Slot, Understanding
from tests.test_templates import REPO_STRATEGIES

REGISTRY = TemplateRegistry(REPO_STRATEGIES)

# A user's own index: no sub-fields, no rank_feature, no decade facet, no creator.
BOOKS = {
    "sku": {"type": "keyword"},
    "name": {"type": "text"},
    "blurb": {"type": "text"},
    "author": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    "category": {"type": "keyword"},
    "sold": {"type": "long"},
    "published": {"type": "date"},
    "vec": {"type": "knn_vector", "dimension": 3},
    "q2e": {"type": "rank_features"},
}


def books(**fields) -> dict:
    roles = {"id": "sku", "title": ["name^2"], "text": ["blurb"], "creator": ["author"],
             "popularity": "sold", "date": "published", "vector": "vec", **fields}
    roles = {k: v for k, v in roles.items() if v is not None}
    description = parse_description({"name": "books", "index": "shop-books", "fields": roles,
                                     "facets": {"genre": "category"}})
    return template_context(bind(description, BOOKS))


def understood(raw: str, slots=()) -> Understanding:
    return Understanding(raw=raw, normalized=raw, tokens=tuple(raw.split()), slots=tuple(slots),
                         keywords=tuple(raw.split()), intent=None, intent_confidence=0.0,
                         context=ContextVector("t", (), ()))


def render(name: str, catalog: dict, u: Understanding | None = None) -> dict:
    u = u or understood("dune")
    context = build_context(u, size=5, q2e_key="dune", vector=[0.1, 0.2, 0.3], catalog=catalog)
    return REGISTRY.render(name, context)


def fields_named(body) -> set[str]:
    """Every field name a rendered body refers to (as a key or a "field"/"fields" value)."""
    text = json.dumps(body)
    return {f for f in [*BOOKS, "title", "artist", "album", "genres", "popularity_feature",
                        "release_date", "embedding", "entity_type"] if f'"{f}' in text}


def test_no_template_names_a_music_field_on_another_catalog():
    catalog = books()
    for name in REGISTRY.available:
        if name == "q2e_memory":
            continue  # the memory template is the loader engineer's
        assert fields_named(render(name, catalog)) <= set(BOOKS), name


def test_without_prefix_subfields_bm25_matches_titles_as_you_type():
    should = render("bm25_popularity", books())["query"]["bool"]["must"][0]["bool"]["should"]
    prefix = [m["multi_match"] for m in should if m["multi_match"].get("type") == "bool_prefix"]
    assert prefix == [{"query": "dune", "type": "bool_prefix", "fields": ["name^2"],
                       "boost": 0.5}]


def test_popularity_without_rank_feature_is_a_log_scaled_field_value():
    [clause] = render("bm25_popularity", books())["query"]["bool"]["should"]
    factor = clause["function_score"]["field_value_factor"]
    assert factor == {"field": "sold", "modifier": "log1p", "missing": 0}


def test_no_popularity_field_means_no_popularity_clause():
    assert render("bm25_popularity", books(popularity=None))["query"]["bool"]["should"] == []


def test_a_decade_without_a_decade_facet_filters_on_the_date_field():
    u = understood("90s", [Slot("decade", "1990s", "90s", 1.0)])
    body = render("structured_qu", books(), u)["query"]["bool"]
    assert {"range": {"published": {"gte": "1990-01-01", "lte": "1999-12-31"}}} in body["filter"]


def test_a_year_without_a_year_facet_filters_on_the_date_field():
    u = understood("1994", [Slot("year", "1994", "1994", 1.0)])
    body = render("structured_qu", books(), u)["query"]["bool"]
    assert body["filter"] == [{"range": {"published": {"gte": "1994-01-01",
                                                       "lte": "1994-12-31"}}}]


def test_a_decade_facet_wins_over_the_date_range():
    u = understood("90s", [Slot("decade", "1990s", "90s", 1.0)])
    body = render("structured_qu", offline_catalog(), u)["query"]["bool"]
    assert body["filter"] == [{"terms": {"decade": ["1990s"]}}]


def test_a_decade_is_ignored_without_a_date_field_or_facet():
    u = understood("90s", [Slot("decade", "1990s", "90s", 1.0)])
    body = render("structured_qu", books(date=None), u)["query"]["bool"]
    assert body["filter"] == [] and "published" not in json.dumps(body)


def test_creator_slots_use_the_creator_keyword_and_no_type_clause_without_a_type_field():
    u = understood("herbert", [Slot("artist", "frank herbert", "herbert", 1.0)])
    matches = render("structured_qu", books(), u)["query"]["bool"]["must"][0]["bool"]["should"]
    assert {"term": {"author.raw": {"value": "frank herbert", "boost": 3.0}}} in matches
    assert "entity_type" not in json.dumps(matches)


def test_filtered_attribute_searches_are_ordered_by_popularity():
    u = understood("scifi", [Slot("genre", "scifi", "scifi", 1.0)])
    body = render("structured_qu", books(), u)["query"]["bool"]
    assert body["filter"] == [{"terms": {"category": ["scifi"]}}]
    assert any("field_value_factor" in json.dumps(c) for c in body["should"])


def test_fresh_releases_matches_nothing_without_a_date_field():
    assert render("fresh_releases", books(date=None))["query"] == {"match_none": {}}


def test_fresh_releases_measures_recency_from_the_catalogs_own_dates():
    catalog = {**books(), "dates": {"latest": "1999-06-01", "median": "1980-01-01",
                                    "pivot": "7091d"}}
    [recency] = render("fresh_releases", catalog)["query"]["bool"]["should"]
    assert recency["distance_feature"] == {"field": "published", "origin": "1999-06-01",
                                           "pivot": "7091d", "boost": 3.0}


def test_knn_uses_the_described_vector_field():
    assert set(render("knn_vector", books())["query"]["knn"]) == {"vec"}


def test_offline_catalog_is_the_music_description_on_the_managed_mapping():
    catalog = offline_catalog()
    expected = bind(load_description("music"), managed_properties()).template_context()
    assert {k: catalog[k] for k in expected} == expected
    assert catalog["source_fields"][0] == "id" and catalog["dates"] is None


def test_fresh_releases_is_unavailable_without_a_date_field_and_knn_without_a_vector():
    from ltrr_opensearch.select.availability import missing_roles

    assert missing_roles(REGISTRY, books()) == {}
    missing = missing_roles(REGISTRY, books(date=None, vector=None))
    assert missing == {"fresh_releases": "the catalog description 'books' has no date field",
                       "knn_vector": "the catalog description 'books' has no vector field"}


def test_api_results_name_the_described_roles():
    from ltrr_opensearch.pipeline import SearchResponse
    from ltrr_opensearch.types import Candidate

    source = {"sku": "b1", "name": "Dune", "author": "Frank Herbert", "category": ["scifi"],
              "sold": 9}
    shown = (Candidate("b1", source, {"bm25_popularity": (1, 2.5)}, 0.5),)
    response = SearchResponse("r1", "dune", understood("dune"), (), (), shown, shown, 1.0,
                              catalog={**books(), "display_fields": ["name", "category"]})
    [result] = response.to_dict()["results"]
    assert result == {"id": "b1", "score": 0.5, "title": "Dune", "entity_type": None,
                      "creator": "Frank Herbert",
                      "fields": {"name": "Dune", "category": ["scifi"]},
                      "provenance": {"bm25_popularity": {"rank": 1, "score": 2.5}}}


def test_fresh_releases_is_unavailable_when_no_document_has_a_date():
    from ltrr_opensearch.select.availability import missing_roles

    missing = missing_roles(REGISTRY, {**books(), "dated": False})
    assert missing == {"fresh_releases": "no document of the catalog has a 'published' date"}
    assert missing_roles(REGISTRY, {**books(), "dated": None}) == {}  # offline: not known


def test_offline_render_binds_the_managed_description_in_force(tmp_path, monkeypatch, capsys):
    from ltrr_opensearch.cli import main

    config = tmp_path / "ltrr.toml"
    config.write_text('[catalog]\ndescription = "films"\n')
    monkeypatch.setenv("LTRR_CONFIG", str(config))
    assert main(["templates", "render", "bm25_popularity", "--query", "matrix",
                 "--offline"]) == 0
    body = json.loads(capsys.readouterr().out)
    fields = body["query"]["bool"]["must"][0]["bool"]["should"][0]["multi_match"]["fields"]
    assert fields == ["title^3", "title.words^3", "description^0.5"]  # no artist, no album
