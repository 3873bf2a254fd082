"""The feature set as templates: read and checked offline, listed and shown by the CLI."""

from __future__ import annotations

import json

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
