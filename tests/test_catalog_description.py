"""The catalog description: parsing, and binding to a mapping (no cluster needed here;
binding to a live index created outside ltrr is in tests/test_own_index.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltrr_opensearch.catalog.description import (
    MEMORY_OUTSIDE,
    bind,
    check,
    description_for,
    load_description,
    parse_description,
)
from ltrr_opensearch.config import PACKAGE_ROOT, Settings
from ltrr_opensearch.errors import ConfigError, ValidationError

MANAGED = json.loads((PACKAGE_ROOT / "mappings" / "catalog.v1.json").read_text())
MANAGED_PROPERTIES = MANAGED["mappings"]["properties"]

# A mapping as OpenSearch's dynamic mapping makes it: text with a .keyword sub-field.
SHOP_PROPERTIES = {
    "sku": {"type": "keyword"},
    "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
    "brand": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
    "blurb": {"type": "text"},
    "category": {"type": "keyword"},
    "sales": {"type": "long"},
    "launched": {"type": "date"},
    "attrs": {"properties": {"colour": {"type": "keyword"}}},
}
SHOP = {
    "name": "shop", "index": "products",
    "fields": {"id": "sku", "title": ["name^2"], "creator": ["brand"], "text": ["blurb"],
               "popularity": "sales", "date": "launched"},
    "facets": {"category": "category", "colour": "attrs.colour"},
    "memory": {"store": "outside"},
}


def test_builtin_music_binds_to_the_managed_mapping_with_its_subfields():
    bound = bind(load_description("music"), MANAGED_PROPERTIES)
    ctx = bound.template_context()
    assert ctx["search_fields"] == ["title^3", "title.words^3", "artist^2", "artist.words^2",
                                    "contributors", "album^1.5", "description^0.5"]
    assert ctx["prefix_fields"] == ["title.prefix", "artist.prefix", "album.prefix"]
    assert (ctx["title_keyword"], ctx["creator_keyword"]) == ("title.keyword", "artist.keyword")
    assert (ctx["popularity_feature"], ctx["memory_field"]) == ("popularity_feature", "q2e")


def test_builtin_films_names_no_music_field():
    ctx = bind(load_description("films"), MANAGED_PROPERTIES).template_context()
    assert ctx["creator_fields"] == [] and ctx["creator_keyword"] is None
    assert set(ctx["facets"]) == {"genre", "decade"}


def test_an_own_index_binds_through_keyword_subfields_and_nested_objects():
    bound = bind(parse_description(SHOP), SHOP_PROPERTIES)
    ctx = bound.template_context()
    assert ctx["title_keyword"] == "name.keyword"
    assert ctx["facets"]["colour"] == "attrs.colour"
    assert ctx["prefix_fields"] == [] and ctx["fuzzy_fields"] == ["name^2", "brand"]
    # No rank_feature twin: the note says popularity falls back to a field value factor.
    assert ctx["popularity_feature"] is None and "field value" in bound.notes[0]
    assert ctx["memory_field"] is None  # memory kept outside the user's index


def test_binding_reports_every_problem_at_once():
    broken = {**SHOP, "fields": {**SHOP["fields"], "title": ["nmae"], "date": "sales"},
              "facets": {"category": "blurb"}, "memory": {"store": "index"}}
    bound, problems = check(parse_description(broken), SHOP_PROPERTIES)
    assert bound is None
    joined = " | ".join(problems)
    assert "title field 'nmae' is not in the mapping" in joined
    assert "date field 'sales' is of type long" in joined
    assert "facet category field 'blurb' is of type text" in joined
    assert "ltrr catalog adopt" in joined  # the memory field is missing: says how to add it
    with pytest.raises(ValidationError, match="does not fit the mapping of products"):
        bind(parse_description(broken), SHOP_PROPERTIES)


@pytest.mark.parametrize("change, reason", [
    ({"fields": {"title": []}}, "title is required"),
    ({"fields": {"title": ["name^0"]}}, "boost in 'name^0'"),
    ({"fields": {"title": ["name^x"]}}, "boost in 'name^x'"),
    ({"fields": {"title": ["na me"]}}, "is not \"field\""),
    ({"fields": {"title": ["name"], "colour": "x"}}, "unknown key(s) colour"),
    ({"facets": {"Bad Kind": "category"}}, "kind 'Bad Kind'"),
    ({"memory": {"store": "elsewhere"}}, "store must be"),
    ({"index": "Products"}, "index must be an index or alias name"),
    ({"fields": {"title": ["name"], "text": ["name"]}}, "more than one of title/creator/text"),
    ({"extra": {"rating": "float"}}, "describe catalogs ltrr manages"),
    ({"typo": 1}, "unknown key(s) typo"),
])
def test_bad_descriptions_are_refused_with_the_reason(change, reason):
    with pytest.raises(ConfigError) as caught:
        parse_description({**SHOP, **change})
    assert reason in caught.value.message


def test_a_missing_file_and_bad_toml_are_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="neither a built-in nor a file"):
        load_description("no-such-catalog")
    bad = tmp_path / "bad.toml"
    bad.write_text("[fields\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_description(bad)


def test_settings_pick_the_description_and_the_index_searched(tmp_path: Path):
    plain = Settings.load(env={})
    assert description_for(plain).name == "music"
    assert plain.catalog_index == plain.catalog_alias
    config = tmp_path / "ltrr.toml"
    config.write_text('[catalog]\nname = "shop"\nindex = "products"\n'
                      '[catalog.fields]\nid = "sku"\ntitle = ["name"]\n'
                      '[catalog.memory]\nstore = "outside"\n')
    own = Settings.load(config, env={})
    assert own.catalog_index == "products"
    assert description_for(own).memory_store == MEMORY_OUTSIDE


def test_the_digest_follows_roles_not_file_location():
    music = load_description("music")
    assert music.digest == parse_description(
        _toml("music"), source="elsewhere").digest
    changed = parse_description({**_toml("music"), "facets": {"genre": "genres"}})
    assert changed.digest != music.digest


def _toml(name: str) -> dict:
    import tomllib

    return tomllib.loads((PACKAGE_ROOT / "catalogs" / f"{name}.toml").read_text())


def test_an_inline_description_without_a_name_is_called_catalog(tmp_path: Path):
    config = tmp_path / "ltrr.toml"
    config.write_text('[catalog]\nindex = "products"\n[catalog.fields]\ntitle = ["name"]\n')
    assert description_for(Settings.load(config, env={})).name == "catalog"
