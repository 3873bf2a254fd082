"""The rough edges of serving a user's own index (issue 21, item 7): readiness reflects what
the own index needs, strategies the catalog cannot serve are said to be unavailable, a
relative description path is read from the config's folder, hits of a catalog without
types print no "[?]", and an inline description names its tables as written."""

from __future__ import annotations

import pytest

from ltrr_opensearch.catalog.description import (
    INLINE_SOURCE,
    check,
    description_for,
    forget,
    parse_description,
)
from ltrr_opensearch.cli import main
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.service.app import ServiceState, readiness
from tests.test_own_index import OWN_MAPPING, own_index

SHOP = {"name": "shop", "fields": {"id": "sku", "title": ["name^3"]},
        "memory": {"store": "outside"}}


def with_catalog(settings: Settings, **catalog) -> Settings:
    forget()
    return settings.with_overrides(sections={**settings.sections, "catalog": catalog})


def ready(client, settings) -> tuple[list[str], dict]:
    state = ServiceState(settings, client, use_bandit=False)
    state.build()
    return readiness(state)


@pytest.mark.integration
def test_ready_passes_on_an_own_index_that_exists_and_fits(client, settings, tmp_path):
    index, own = own_index(client, settings, tmp_path, store="outside")
    reasons, checks = ready(client, own)
    assert reasons == [], reasons
    assert checks["catalog"] is True and checks["catalog_index"] == index
    assert "knn_vector" not in checks["strategies"]  # the description has no vector field
    assert "bm25_popularity" in checks["strategies"]


@pytest.mark.integration
def test_ready_names_an_own_index_that_does_not_exist(client, settings):
    own = with_catalog(settings, **SHOP, index=f"{settings.index_prefix}-nowhere")
    reasons, checks = ready(client, own)
    assert checks["catalog"] is False
    assert any(f"own index '{settings.index_prefix}-nowhere'" in r and "does not exist" in r
               for r in reasons), reasons
    assert not any("ltrr catalog load" in r for r in reasons)


@pytest.mark.integration
def test_ready_names_a_description_that_does_not_fit_the_index_with_its_fix(
        client, settings, tmp_path):
    index, _ = own_index(client, settings, tmp_path, store="outside")
    own = with_catalog(settings, **{**SHOP, "fields": {"id": "sku", "title": ["nmae^3"]}},
                       index=index)
    reasons, checks = ready(client, own)
    assert checks["catalog"] is False
    assert any("'nmae' is not in the mapping" in r and "did you mean 'name'" in r
               for r in reasons), reasons


@pytest.mark.integration
def test_ready_still_asks_to_load_a_managed_catalog_that_is_missing(client, settings):
    reasons, checks = ready(client, with_catalog(settings, description="music"))
    assert f"catalog alias {settings.catalog_alias} is missing (ltrr catalog load)" in reasons
    assert checks["catalog"] is False


@pytest.fixture()
def own_config(client, settings, tmp_path, monkeypatch):
    """An own index described by a file named RELATIVELY in a config file of another
    folder than the one the command runs in."""
    index, _ = own_index(client, settings, tmp_path, store="outside")
    config = tmp_path / "ltrr.toml"
    config.write_text('[catalog]\ndescription = "shop-outside.toml"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("LTRR_CONFIG", str(config))
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("LTRR_OPENSEARCH_URL", settings.urls[0])
    forget()
    return index


@pytest.mark.integration
def test_validate_says_knn_vector_is_unavailable_without_a_vector_field(own_config, capsys):
    assert main(["templates", "validate"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "unavailable" in lines["knn_vector"] and "no vector field" in lines["knn_vector"]
    assert lines["bm25_popularity"].split()[1] == "ok"
    assert "1 unavailable on this catalog" in out


@pytest.mark.integration
def test_search_prints_no_type_brackets_on_a_catalog_without_types(own_config, capsys):
    assert main(["search", "trail runner", "--no-log"]) == 0
    hits = [line for line in capsys.readouterr().out.splitlines() if " id=SKU-" in line]
    assert hits and hits[0].split(". ", 1)[1].startswith("Trail Runner")
    assert not any("[?]" in line for line in hits)


def test_a_relative_description_is_read_from_the_config_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "shop.toml").write_text('name = "shop"\nindex = "products"\n[fields]\n'
                                      'title = ["name"]\n[memory]\nstore = "outside"\n')
    (folder / "ltrr.toml").write_text('[catalog]\ndescription = "shop.toml"\n')
    monkeypatch.chdir(tmp_path)  # a shop.toml here would be the wrong one
    (tmp_path / "shop.toml").write_text('name = "wrong"\n[fields]\ntitle = ["x"]\n')
    forget()
    settings = Settings.load(config_file=folder / "ltrr.toml", env={})
    described = description_for(settings)
    assert described.name == "shop" and described.source == str(folder / "shop.toml")


@pytest.mark.parametrize("spec", ["music", "films", "/abs/path/books.toml"])
def test_built_in_names_and_absolute_paths_are_kept_as_written(tmp_path, spec):
    (tmp_path / "ltrr.toml").write_text(f'[catalog]\ndescription = "{spec}"\n')
    settings = Settings.load(config_file=tmp_path / "ltrr.toml", env={})
    assert settings.section("catalog")["description"] == spec


def test_an_inline_descriptions_memory_error_names_catalog_memory(tmp_path):
    settings = with_catalog(Settings.load(env={}), **{**SHOP, "memory": {"store": "nowhere"}})
    with pytest.raises(ConfigError) as raised:
        description_for(settings)
    assert "[catalog.memory] store must be" in raised.value.message
    assert "[memory]" not in raised.value.message.replace("[catalog.memory]", "")
    in_a_file = tmp_path / "shop.toml"
    in_a_file.write_text('[fields]\ntitle = ["name"]\n[memory]\nstore = "nowhere"\n')
    with pytest.raises(ConfigError, match=r"\[memory\] store must be"):
        description_for(with_catalog(Settings.load(env={}), description=str(in_a_file)))


def test_an_inline_description_without_its_memory_field_says_catalog_memory():
    inline = parse_description({**SHOP, "index": "products", "memory": {}},
                               source=INLINE_SOURCE)
    _, problems = check(inline, OWN_MAPPING["properties"])
    assert any('set [catalog.memory] store = "outside"' in p for p in problems), problems
    in_a_file = parse_description({**SHOP, "index": "products", "memory": {}},
                                  source="shop.toml")
    _, problems = check(in_a_file, OWN_MAPPING["properties"])
    assert any('set [memory] store = "outside"' in p for p in problems), problems
