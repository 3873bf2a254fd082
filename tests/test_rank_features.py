"""The feature set as templates: read and checked offline, listed and shown by the CLI."""

from __future__ import annotations

import json
import re

import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.rank.features import load_feature_set, sltr_params
from ltrr_opensearch.types import ContextVector, Slot, Understanding


def settings_with(tmp_path, features: dict[str, dict]) -> Settings:
    folder = tmp_path / "features" / "mine"
    folder.mkdir(parents=True)
    for i, (name, doc) in enumerate(features.items()):
        (folder / f"{i:02d}_{name}.json").write_text(json.dumps({"name": name, **doc}))
    return Settings.load(env={}).with_overrides(templates_dir=tmp_path)


def test_a_template_using_an_undeclared_param_is_refused_naming_its_file(tmp_path):
    settings = settings_with(tmp_path, {"f": {"params": [], "template": {"match": {
        "title": "{{keywords}}"}}}})
    with pytest.raises(ConfigError, match=r"00_f\.json.*keywords"):
        load_feature_set(settings, "mine")


def test_a_param_the_search_path_does_not_pass_is_refused(tmp_path):
    settings = settings_with(tmp_path, {"f": {"params": ["user_secret"], "template": "{}"}})
    with pytest.raises(ConfigError, match="user_secret"):
        load_feature_set(settings, "mine")


def test_a_changed_template_gets_a_new_versioned_store_name(tmp_path):
    one = load_feature_set(settings_with(tmp_path / "a", {"f": {"params": ["keywords"], "template": {
        "match": {"title": "{{keywords}}"}}}}), "mine")
    two = load_feature_set(settings_with(tmp_path / "b", {"f": {"params": ["keywords"], "template": {
        "match": {"title.words": "{{keywords}}"}}}}), "mine")
    assert one.store_name != two.store_name and one.store_name.startswith("mine_")


def test_sltr_params_carry_the_slots_and_query_properties():
    u = Understanding(raw="Rock 1990s", normalized="rock 1990s", tokens=("rock", "1990s"),
                      slots=(Slot("genre", "rock", "rock", 1.0), Slot("decade", "1990s", "1990s", 1.0)),
                      keywords=(), intent=None, intent_confidence=0.0,
                      context=ContextVector("v", (), ()))
    params = sltr_params(u, q2e_key=None, vector=None)
    assert params["genres"] == ["rock"] and params["decades"] == ["1990s"]
    assert params["facet_count"] == 2 and params["query_terms"] == 2
    assert params["query"] == "Rock 1990s" and params["q2e_key"] == "_none_"


def test_templates_list_features_names_every_feature_of_the_shipped_set(capsys):
    assert main(["templates", "list", "--features"]) == 0
    out = capsys.readouterr().out
    for name in load_feature_set(Settings.load(env={})).names:
        assert f"  {name} " in out


def _bound(description: dict):
    from ltrr_opensearch.catalog.description import bind, parse_description
    from ltrr_opensearch.mappings import load_mapping

    properties = load_mapping(Settings.load(env={}), "catalog")["mappings"]["properties"]
    return bind(parse_description(description), properties)


FILMS_LIKE = {"name": "films", "fields": {"id": "id", "title": ["title^3"],
                                          "text": ["description^0.5"]},
              "facets": {"genre": "genres"}}


def test_a_feature_whose_role_the_catalog_lacks_is_the_constant_zero_feature():
    fs = load_feature_set(Settings.load(env={}), catalog=_bound(FILMS_LIKE))
    creator = next(f for f in fs.features if f.name == "creator_bm25")
    assert creator.template == {"bool": {"filter": [{"match_all": {}}]}} and creator.params == ()


def test_a_bound_set_keeps_every_feature_name_in_order_on_any_catalog():
    settings = Settings.load(env={})
    assert load_feature_set(settings, catalog=_bound(FILMS_LIKE)).names == \
        load_feature_set(settings).names


def test_binding_to_another_catalog_gives_another_store_name():
    settings = Settings.load(env={})
    films = load_feature_set(settings, catalog=_bound(FILMS_LIKE))
    assert films.store_name != load_feature_set(settings).store_name
    assert films.store_name.startswith("ltrr_core_")


def test_a_missing_facet_drops_only_its_own_clause():
    fs = load_feature_set(Settings.load(env={}), catalog=_bound(FILMS_LIKE))
    template = next(f for f in fs.features if f.name == "attribute_matches").template
    assert '"genres": {{#toJson}}genres{{/toJson}}' in template
    assert "moods" not in template.replace("{{#toJson}}moods{{/toJson}}", "")
    assert template.count("constant_score") == 1


def test_role_positions_bind_fields_sub_fields_and_boosts():
    bound = _bound({"fields": {"title": ["title^3"], "creator": ["artist^2", "contributors"],
                               "text": ["album", "related_ids", "description"]}})
    from ltrr_opensearch.rank.features import bind_template

    template = {"multi_match": {"query": "{{query}}", "fields": [
        "@catalog.title[0]^3", "@catalog.title[0].words^2", "@catalog.creator[1:]",
        "@catalog.text[:-1]^1", "@catalog.text[-1]^0.5"]}}
    assert bind_template(template, bound)["multi_match"]["fields"] == [
        "title^3", "title.words^2", "contributors", "album", "related_ids", "description^0.5"]
    assert bind_template({"match": {"@catalog.text[0].prefix": "x"}}, bound) == {
        "match": {"album.prefix": "x"}}
    assert bind_template({"match": {"@catalog.text[-1].words": "x"}}, bound) == {
        "match": {"description": "x"}}  # no unstemmed sub-field: the field itself


def test_a_reference_to_no_role_is_refused_naming_its_file(tmp_path):
    settings = settings_with(tmp_path, {"f": {"params": ["keywords"], "template": {
        "match": {"@catalog.titel_field": "{{keywords}}"}}}})
    with pytest.raises(ConfigError, match=r"00_f\.json.*titel_field"):
        load_feature_set(settings, "mine")


def test_a_key_naming_several_fields_is_refused():
    from ltrr_opensearch.rank.features import bind_template

    bound = _bound({"fields": {"title": ["title"], "text": ["album", "description"]}})
    with pytest.raises(ConfigError, match="2 fields where a key takes one"):
        bind_template({"match": {"@catalog.text[0:]": "x"}}, bound, "f.json")


def test_a_catalog_reference_inside_a_longer_string_is_refused():
    from ltrr_opensearch.rank.features import bind_template

    with pytest.raises(ConfigError, match="as a whole string"):
        bind_template({"match": {"field": "see @catalog.title_field"}}, _bound(FILMS_LIKE))


def test_the_users_own_index_needs_its_live_mapping_to_bind():
    own = Settings.load(env={}).with_overrides(sections={"catalog": {
        "name": "products", "index": "products", "fields": {"title": ["name"]}}})
    with pytest.raises(ConfigError, match="live mapping"):
        load_feature_set(own)


MUSIC_FIELDS = {"title", "artist", "album", "contributors", "description", "genres", "moods",
                "decade", "language", "entity_type", "popularity_feature", "release_date",
                "embedding", "q2e"}


def test_no_feature_names_a_music_field_once_bound_to_another_catalog():
    from ltrr_opensearch.catalog.description import bind, parse_description

    own = {"sku": {"type": "keyword"}, "name": {"type": "text", "fields": {
        "raw": {"type": "keyword"}}}, "author": {"type": "text"}, "blurb": {"type": "text"},
        "kind": {"type": "keyword"}, "category": {"type": "keyword"},
        "sold": {"type": "rank_feature"}, "published": {"type": "date"},
        "vec": {"type": "knn_vector", "dimension": 3}, "memo": {"type": "rank_features"}}
    bound = bind(parse_description({
        "name": "books", "index": "shop-books", "fields": {
            "id": "sku", "type": "kind", "title": ["name^2"], "creator": ["author"],
            "text": ["blurb"], "popularity": "sold", "date": "published", "vector": "vec"},
        "facets": {"genre": "category"}, "memory": {"field": "memo"}}), own)
    fs = load_feature_set(Settings.load(env={}), catalog=bound)
    texts = {f.name: f.template if isinstance(f.template, str) else json.dumps(f.template)
             for f in fs.features}
    quoted = {m.split("^")[0] for text in texts.values() for m in re.findall(r'"([\w.^]+)"', text)}
    assert {q.split(".")[0] for q in quoted} & MUSIC_FIELDS == set()
    assert {"name", "name.raw", "author", "blurb", "kind", "category", "sold", "published",
            "vec"} <= quoted
    assert '"memo.{{q2e_key}}"' in texts["memory"]
