"""The shipped default ranker on an index created outside ltrr: `ltr init` binds the feature
set to the index's own field names, the features of roles it lacks are constant 0, and the
default search is reranked in the engine by the default model created from that set."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.catalog.description import forget
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.rank import registry, setup
from ltrr_opensearch.rank.features import feature_set_for, load_feature_set
from ltrr_opensearch.retrieve import resources

pytestmark = [pytest.mark.integration, pytest.mark.ltr, pytest.mark.usefixtures("require_ltr")]

# Field names of the user's own; no vector, no type, no rank_feature twin, no memory field.
MAPPING = {"properties": {
    "sku": {"type": "keyword"},
    "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
    "maker": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
    "blurb": {"type": "text"},
    "category": {"type": "keyword"},
    "sales": {"type": "long"},
    "launched": {"type": "date"},
}}
PRODUCTS = [
    ("Trail Runner 2", "Fleetfoot", "A light running shoe for rough trails.", "shoes", 1200),
    ("Trail Runner Pro", "Fleetfoot", "The trail shoe for long races.", "shoes", 300),
    ("Summit Jacket", "Northwall", "A waterproof shell for mountain days.", "jackets", 800),
    ("Camp Mug", "Northwall", "Enamel mug for the trail.", "kitchen", 0),
    ("Runner's Socks", "Fleetfoot", "Socks for trail runners.", "socks", 50),
]
DESCRIPTION = """
name = "shop"
index = "{index}"

[fields]
id = "sku"
title = ["name^3"]
creator = ["maker^2"]
text = ["blurb^0.5"]
popularity = "sales"
date = "launched"

[facets]
category = "category"

[memory]
store = "outside"
"""
# Roles this index lacks: an as-you-type title sub-field, a second text field, a type field.
# (Popularity is read from the field itself, the memory from the memory index: no twin, no
# memory field is needed.)
ZERO = {"bool": {"filter": [{"match_all": {}}]}}
CONSTANT = {"title_prefix", "type_match"}


@pytest.fixture()
def shop(client, settings, tmp_path):
    index = f"{settings.index_prefix}-products"
    client.indices.create(index=index, body={"mappings": MAPPING})
    ops = []
    for i, (name, maker, blurb, category, sales) in enumerate(PRODUCTS, start=1):
        ops += [{"index": {"_index": index, "_id": f"doc-{i}"}},
                {"sku": f"SKU-{i}", "name": name, "maker": maker, "blurb": blurb,
                 "category": category, "sales": sales, "launched": f"20{10 + i}-01-01"}]
    client.bulk(body=ops, refresh=True)
    path = tmp_path / "shop.toml"
    path.write_text(DESCRIPTION.format(index=index), encoding="utf-8")
    forget()
    own = settings.with_overrides(sections={**settings.sections,
                                            "catalog": {"description": str(path)}})
    created: list[tuple[str, str]] = []
    yield own, created
    for kind, name in created:
        with contextlib.suppress(os_exc.NotFoundError):
            if kind == "model":
                client.plugins.ltr.delete_model(id=name)
            else:
                client.plugins.ltr.delete_featureset(id=name)
    forget()
    resources.clear()


def test_the_feature_set_binds_to_the_own_field_names_and_zeroes_what_it_lacks(client, shop):
    own, _ = shop
    bound = feature_set_for(client, own)
    music = load_feature_set(own.with_overrides(sections={})).names
    core = [n for n in music if not n.startswith("facet_")]
    assert bound.names == core + ["facet_category"]
    zero = {f.name for f in bound.features if f.template == ZERO}
    assert zero == CONSTANT
    by_name = {f.name: f.template for f in bound.features}
    assert by_name["title_exact"]["bool"]["should"][0]["constant_score"]["filter"] == {
        "match": {"name.keyword": "{{keywords}}"}}
    fuzzy = by_name["title_fuzzy"]["bool"]["should"][0]["match"]["name"]
    assert fuzzy["query"] == "{{unknown_words}}" and fuzzy["fuzziness"] == "AUTO"


def test_ltr_init_deploys_the_default_and_the_search_is_reranked_by_it(client, shop):
    own, created = shop
    report = setup.ltr_init(client, own)
    created += [("set", report.feature_set), ("model", report.deployed or "")]
    assert report.deployed == report.default_model and report.deployed.startswith(
        "ltrr_default_")
    entry = registry.get_entry(client, own, report.deployed)
    assert entry.feature_set == report.feature_set == feature_set_for(client, own).store_name
    response = Pipeline.from_cluster(client, own).search("trail runer", k=3, log=False)
    assert response.ranker is not None and response.ranker.model == report.deployed
    assert [c.id for c in response.shown][:2] in (["SKU-1", "SKU-2"], ["SKU-2", "SKU-1"])
    rows = [dict(zip(entry.feature_names, c.features, strict=True)) for c in response.shown]
    assert all(row[name] == 0.0 for row in rows for name in CONSTANT | {"memory"})
    assert all(row["title_fuzzy"] > 0 for row in rows[:2])  # "runer" ~ "runner" in the name


def test_the_memory_kept_outside_reaches_the_ranker_as_its_weights(client, shop):
    """With no memory field in the user's index, the memory feature reads the weight the
    q2e_memory strategy found for a candidate (the memory index's), and 0 for the rest."""
    from ltrr_opensearch.rank.rerank import rerank

    own, created = shop
    report = setup.ltr_init(client, own)
    created += [("set", report.feature_set), ("model", report.deployed or "")]
    pipeline = Pipeline.from_cluster(client, own)
    fused = list(replace(pipeline, ranker=None).search("trail", k=5, log=False).candidates)
    remembered = next(c for c in fused if c.id == "SKU-4")
    remembered.provenance["q2e_memory"] = (0, 2.5)
    understanding = pipeline.understand("trail")
    reranked = rerank(client, own, pipeline.ranker, understanding, fused, size=5, window=50,
                      q2e_key="trail", catalog=pipeline.catalog)
    assert reranked.error is None
    names = registry.get_entry(client, own, report.deployed).feature_names
    memory = {c.id: dict(zip(names, c.features, strict=True))["memory"]
              for c in reranked.candidates if c.features is not None}
    assert memory.pop("SKU-4") == pytest.approx(2.5)
    assert memory and set(memory.values()) == {0.0}


def test_templates_show_features_binds_to_the_own_index(client, settings, shop, tmp_path,
                                                        capsys):
    from ltrr_opensearch.cli import main

    own, _ = shop
    config = tmp_path / "ltrr.toml"
    config.write_text(f'[opensearch]\nurl = "{settings.urls[0]}"\n\n[indices]\nprefix = '
                      f'"{settings.index_prefix}"\n\n[catalog]\ndescription = '
                      f'"{own.section("catalog")["description"]}"\n')
    assert main(["templates", "show", "--features", "title_exact", "--config", str(config)]) == 0
    assert '"name.keyword": "{{keywords}}"' in capsys.readouterr().out


def test_doctor_warns_when_the_deployed_model_was_bound_to_other_fields(client, shop, tmp_path):
    from ltrr_opensearch.engine.doctor import diagnose

    own, created = shop
    report = setup.ltr_init(client, own)
    created += [("set", report.feature_set), ("model", report.deployed or "")]
    [ranker] = [c for c in diagnose(own, client).checks if c.name == "ranker"]
    assert ranker.status == "ok"
    moved = tmp_path / "shop-moved.toml"  # the description now searches the blurb as a title
    moved.write_text(Path(own.section("catalog")["description"]).read_text().replace(
        'title = ["name^3"]', 'title = ["name^3", "blurb"]').replace(
        'text = ["blurb^0.5"]', ''), encoding="utf-8")
    forget()
    changed = own.with_overrides(sections={"catalog": {"description": str(moved)}})
    [ranker] = [c for c in diagnose(changed, client).checks if c.name == "ranker"]
    assert ranker.status == "warn" and report.feature_set in ranker.detail
    assert "ltrr model train" in (ranker.fix or "")


def test_validating_the_bound_features_runs_them_on_the_own_index(client, shop):
    from ltrr_opensearch.rank.validate import validate_feature_set
    from ltrr_opensearch.understand import Gazetteer, understand

    own, created = shop
    bound = feature_set_for(client, own)
    created.append(("set", bound.store_name))
    problems = validate_feature_set(client, own, bound,
                                    lambda q: understand(q, Gazetteer({})), None)
    assert {name: found for name, found in problems.items() if found} == {}


def test_adopting_a_popularity_twin_redeploys_the_shipped_default_bound_to_it(client, shop):
    from ltrr_opensearch.catalog.adopt import apply_plan, plan_adoption
    from ltrr_opensearch.catalog.description import description_for

    own, created = shop
    first = setup.ensure_ranker(client, own)
    before = registry.deployment(client, own).model
    created += [("set", feature_set_for(client, own).store_name), ("model", before or "")]
    assert before is not None and "deployed the shipped default model" in first
    apply_plan(client, own, plan_adoption(client, own, description_for(own),
                                          popularity_feature=True))
    forget()
    resources.clear()
    message = setup.ensure_ranker(client, own)
    after = registry.deployment(client, own).model
    created += [("set", feature_set_for(client, own).store_name), ("model", after or "")]
    assert after != before and f"it replaces {before}" in message
    popularity = Pipeline.from_cluster(client, own).search("trail runner", k=3, log=False)
    names = popularity.ranker.feature_names
    assert any(dict(zip(names, c.features, strict=True))["popularity"] > 0
               for c in popularity.shown)  # the twin now feeds the ranker's popularity
