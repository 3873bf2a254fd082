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


def _understood(raw: str, tokens: tuple[str, ...], slots: tuple[Slot, ...],
                unknown: tuple[str, ...] = ()) -> Understanding:
    return Understanding(raw=raw, normalized=raw.lower(), tokens=tokens, slots=slots,
                         keywords=(), intent=None, intent_confidence=0.0,
                         context=ContextVector("v", (), ()), unknown=unknown)


def test_sltr_params_carry_the_slots_and_query_properties():
    u = _understood("Rock 1990s", ("rock", "1990s"),
                    (Slot("genre", "rock", "rock", 1.0), Slot("decade", "1990s", "1990s", 1.0)))
    params = sltr_params(u, q2e_key=None, vector=None)
    assert params["genres"] == ["rock"] and params["decades"] == ["1990s"]
    assert params["facet_count"] == 2 and params["query_terms"] == 2
    assert params["query"] == "Rock 1990s" and params["q2e_key"] == "_none_"


def test_sltr_params_name_each_facet_kind_of_the_catalog_and_count_the_slots():
    u = _understood("banks in ohio 1990s", ("banks", "in", "ohio", "1990s"),
                    (Slot("state", "Ohio", "ohio", 1.0), Slot("degree", "bachelor", "banks", 1.0),
                     Slot("decade", "1990s", "1990s", 1.0)), unknown=("banks",))
    catalog = {"facets": {"state": "state", "degree": "degree", "region": "region"},
               "date_field": "founded"}
    params = sltr_params(u, q2e_key=None, vector=None, catalog=catalog)
    assert params["facet_state"] == ["Ohio"] and params["facet_degree"] == ["bachelor"]
    assert (params["period_gte"], params["period_lte"]) == ("1990-01-01", "1999-12-31")
    assert params["slot_count"] == 3 and params["slots_required"] == 3
    assert params["unknown_words"] == "banks" and params["unknown_count"] == 1
    asked = sltr_params(u, q2e_key=None, vector=None, catalog=catalog,
                        needed={"facet_region", "slot_count"})
    assert asked == {"facet_region": [], "slot_count": 3}  # a kind the query did not name


def test_without_slots_no_item_matches_all_of_them():
    params = sltr_params(_understood("x", ("x",), ()), q2e_key=None, vector=None,
                         catalog={"facets": {}, "date_field": "d"})
    assert params["slot_count"] == 0 and params["slots_required"] == 1
    assert params["period_gte"] > params["period_lte"]  # a range no date falls in


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


def test_a_bound_set_keeps_the_core_feature_names_in_order_on_any_catalog():
    from ltrr_opensearch.rank.setup import shipped_default

    settings = Settings.load(env={})
    films = load_feature_set(settings, catalog=_bound(FILMS_LIKE)).names
    music = load_feature_set(settings).names
    core = list(shipped_default().feature_names)  # what the shipped default model reads
    assert films[:len(core)] == music[:len(core)] == core
    assert films[len(core):] == ["facet_genre"]  # one feature per facet kind after the core
    assert music[len(core):] == ["facet_decade", "facet_genre", "facet_language", "facet_mood"]


def test_binding_to_another_catalog_gives_another_store_name():
    settings = Settings.load(env={})
    films = load_feature_set(settings, catalog=_bound(FILMS_LIKE))
    assert films.store_name != load_feature_set(settings).store_name
    assert films.store_name.startswith("ltrr_core_")


def test_slot_features_have_one_clause_per_slot_kind_the_catalog_has():
    fs = load_feature_set(Settings.load(env={}), catalog=_bound(FILMS_LIKE))
    template = next(f for f in fs.features if f.name == "slot_matches").template
    assert '"genres": {{#toJson}}facet_genre{{/toJson}}' in template
    assert "moods" not in template and "artist" not in template  # no such roles in films
    assert template.count("constant_score") == 1
    assert next(f for f in fs.features if f.name == "facet_genre").params == ("facet_genre",)


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
    assert {"name", "name.raw", "author", "blurb", "kind", "category", "sold",
            "published"} <= quoted
    assert '"memo.{{q2e_key}}"' in texts["memory"]
