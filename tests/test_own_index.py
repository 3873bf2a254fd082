"""An index created outside ltrr (its own mapping and field names), searched after writing
only a description file; `ltrr catalog adopt` adds exactly the documented fields; the
memory learns in both modes (in the index, and kept outside it)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from ltrr_opensearch.catalog.adopt import apply_plan, plan_adoption
from ltrr_opensearch.catalog.description import description_for, forget
from ltrr_opensearch.feedback import ArmLog, SearchRecord, ingest_events, log_search, run_consumers
from ltrr_opensearch.feedback.memory import MemoryConsumer, forget_memory_cache, memory_for_key
from ltrr_opensearch.understand.normalize import normalize_query, q2e_key

pytestmark = pytest.mark.integration

# A plain mapping of the user's own: other field names than ltrr's, dynamic .keyword
# sub-fields as OpenSearch makes them, an id field that is not the document _id.
OWN_MAPPING = {
    "properties": {
        "sku": {"type": "keyword"},
        "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "maker": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "blurb": {"type": "text"},
        "category": {"type": "keyword"},
        "sales": {"type": "long"},
        "launched": {"type": "date"},
    }
}
PRODUCTS = [
    {"sku": "SKU-1", "name": "Trail Runner 2", "maker": "Fleetfoot",
     "blurb": "A light running shoe for rough trails.", "category": "shoes", "sales": 1200,
     "launched": "2021-03-01"},
    {"sku": "SKU-2", "name": "Trail Runner Pro", "maker": "Fleetfoot",
     "blurb": "The trail shoe for long races.", "category": "shoes", "sales": 300,
     "launched": "2023-05-10"},
    {"sku": "SKU-3", "name": "Summit Jacket", "maker": "Northwall",
     "blurb": "A waterproof shell for mountain days.", "category": "jackets", "sales": 800,
     "launched": "2019-10-01"},
    {"sku": "SKU-4", "name": "Camp Mug", "maker": "Northwall",
     "blurb": "Enamel mug for the trail.", "category": "kitchen", "sales": 0,
     "launched": "2015-06-01"},
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
display = ["sku", "name", "maker", "category", "sales", "launched"]

[facets]
category = "category"

[memory]
store = "{store}"
"""
DOCUMENTED_ADDITIONS = {"q2e": {"type": "rank_features"},
                        "sales_feature": {"type": "rank_feature"}}


def own_index(client, settings, tmp_path, store="index", id_field="sku"):
    """The user's index (document _id "doc-N", entity id in `sku`) and settings whose
    `[catalog] description` is the file written for it."""
    index = f"{settings.index_prefix}-products"
    client.indices.create(index=index, body={"mappings": OWN_MAPPING})
    ops = []
    for i, row in enumerate(PRODUCTS, start=1):
        ops += [{"index": {"_index": index, "_id": f"doc-{i}"}}, row]
    client.bulk(body=ops, refresh=True)
    path = tmp_path / f"shop-{store}.toml"
    path.write_text(DESCRIPTION.format(index=index, store=store).replace(
        'id = "sku"', f'id = "{id_field}"'), encoding="utf-8")
    sections = {**settings.sections, "catalog": {"description": str(path)}}
    forget()
    forget_memory_cache()
    return index, settings.with_overrides(sections=sections)


def properties(client, index):
    return client.indices.get_mapping(index=index)[index]["mappings"]["properties"]


def sources(client, index):
    hits = client.search(index=index, body={"size": 100})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def learn(client, settings, query, shown, played, users=3):
    """`users` people search `query`, are shown `shown` and play `played`."""
    now = datetime.now(timezone.utc)
    records, events = [], []
    for u in range(users):
        rid = f"{query}-{u}"
        records.append(SearchRecord(query_id=rid, user_query=query, hit_ids=tuple(shown),
                                    arms=(ArmLog("bm25_popularity", 10, 1.0, tuple(shown)),),
                                    client_id=f"u{u}", timestamp=now))
        events.append({"action_name": "play", "query_id": rid, "client_id": f"u{u}",
                       "timestamp": now.isoformat(), "event_id": f"{rid}-play",
                       "event_attributes": {"object": {"object_id": played},
                                            "position": {"ordinal": shown.index(played)}}})
    log_search(client, settings, records, refresh="wait_for")
    ingest_events(client, settings, events)
    run_consumers(client, settings, [MemoryConsumer(client, settings)], settle_seconds=0)


def key(text):
    return q2e_key(normalize_query(text))


def test_adopt_is_a_dry_run_by_default_and_changes_nothing(client, settings, tmp_path):
    index, own = own_index(client, settings, tmp_path)
    before, docs = properties(client, index), sources(client, index)
    plan = plan_adoption(client, own, description_for(own), popularity_feature=True)
    assert [a.path for a in plan.additions] == ["q2e", "sales_feature"]
    assert plan.to_fill == len(PRODUCTS)
    assert "run again with --apply" in "\n".join(plan.lines())
    assert properties(client, index) == before and sources(client, index) == docs


def test_adopt_adds_exactly_the_documented_fields_and_fills_the_twin_only(client, settings,
                                                                        tmp_path):
    index, own = own_index(client, settings, tmp_path)
    before, docs = properties(client, index), sources(client, index)
    apply_plan(client, own, plan_adoption(client, own, description_for(own),
                                          popularity_feature=True))
    after = properties(client, index)
    added = {name: spec for name, spec in after.items() if name not in before}
    assert added == DOCUMENTED_ADDITIONS
    assert {name: after[name] for name in before} == before  # no existing field changed
    for doc_id, source in sources(client, index).items():
        twin = source.pop("sales_feature")
        assert source == docs[doc_id]  # partial update of the twin only
        assert math.isclose(twin, math.log1p(docs[doc_id]["sales"]) + 1e-3, rel_tol=1e-6)
    again = plan_adoption(client, own, description_for(own), popularity_feature=True)
    assert again.additions == [] and again.to_fill == 0  # idempotent


def test_adopt_refuses_a_memory_field_name_taken_by_another_type(client, settings, tmp_path):
    index, own = own_index(client, settings, tmp_path)
    client.indices.put_mapping(index=index, body={"properties": {"q2e": {"type": "keyword"}}})
    plan = plan_adoption(client, own, description_for(own))
    assert "memory field 'q2e' exists with type keyword" in plan.problems[0]
    before = properties(client, index)
    with pytest.raises(Exception, match="refused"):
        apply_plan(client, own, plan)
    assert properties(client, index) == before


def test_memory_in_the_own_index_is_written_to_the_document_holding_the_entity_id(
        client, settings, tmp_path):
    index, own = own_index(client, settings, tmp_path)
    apply_plan(client, own, plan_adoption(client, own, description_for(own)))
    docs = sources(client, index)
    learn(client, own, "trail runner", ["SKU-1", "SKU-2"], "SKU-2")
    body = {"query": {"rank_feature": {"field": f"q2e.{key('trail runner')}"}}}
    hits = client.search(index=index, body=body)["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["doc-2"]  # SKU-2 lives in document doc-2
    for doc_id, source in sources(client, index).items():
        source.pop("q2e", None)
        assert source == docs[doc_id]  # only the memory field was written


def test_memory_kept_outside_never_writes_the_users_index_and_is_read_by_key(
        client, settings, tmp_path):
    index, own = own_index(client, settings, tmp_path, store="outside")
    before, docs = properties(client, index), sources(client, index)
    learn(client, own, "trail runner", ["SKU-1", "SKU-2"], "SKU-2")
    assert properties(client, index) == before and sources(client, index) == docs
    remembered = memory_for_key(client, own, key("trail runner"), 10, cache_seconds=0)
    assert [entity for entity, _ in remembered] == ["SKU-2"] and remembered[0][1] > 0


def run(client, settings, query, names):
    """One search through the product path (Pipeline.from_cluster: the description bound
    to the live mapping, the gazetteer read from the described fields), each strategy's
    result by name."""
    from ltrr_opensearch.pipeline import Pipeline

    pipeline = Pipeline.from_cluster(client, settings)
    response = pipeline.search(query, strategies=[(n, 10) for n in names], log=False)
    return {r.strategy: r for r in response.results}


# No vector field is described: knn_vector does not apply.
STRATEGIES = ["bm25_popularity", "structured_qu", "fresh_releases", "long_tail", "q2e_memory"]


@pytest.mark.parametrize("store", ["index", "outside"])
def test_every_strategy_searches_the_own_index_and_the_memory_learns(client, settings,
                                                                     tmp_path, store):
    index, own = own_index(client, settings, tmp_path, store=store)
    if store == "index":
        apply_plan(client, own, plan_adoption(client, own, description_for(own),
                                              popularity_feature=True))
    results = run(client, own, "trail runner", STRATEGIES)
    assert {name: r.error for name, r in results.items() if r.error} == {}
    found = {name: [h.id for h in r.hits] for name, r in results.items()}
    assert set(found["bm25_popularity"][:2]) == {"SKU-1", "SKU-2"}  # entity ids, not _ids
    assert found["q2e_memory"] == []  # nothing learned yet
    learn(client, own, "trail runner", ["SKU-1", "SKU-2"], "SKU-2")
    forget_memory_cache()
    memory = run(client, own, "Trail  Runner!", ["q2e_memory"])["q2e_memory"]
    assert [h.id for h in memory.hits] == ["SKU-2"] and memory.hits[0].score > 0


@pytest.mark.parametrize("store", ["index", "outside"])
def test_seeding_predicts_queries_from_the_described_fields_of_the_own_index(
        client, settings, tmp_path, store):
    from ltrr_opensearch.feedback import seed_memory

    index, own = own_index(client, settings, tmp_path, store=store)
    if store == "index":
        apply_plan(client, own, plan_adoption(client, own, description_for(own)))
    assert seed_memory(client, own) == len(PRODUCTS)
    # "Summit Jacket" by Northwall: its name, and its name with its maker, are predicted.
    for query in ("summit jacket", "summit jacket northwall"):
        remembered = memory_for_key(client, own, key(query), 10, cache_seconds=0)
        assert [entity for entity, _ in remembered] == ["SKU-3"], query
    if store == "index":
        body = {"query": {"rank_feature": {"field": f"q2e.{key('summit jacket')}"}}}
        assert [h["_id"] for h in client.search(index=index, body=body)["hits"]["hits"]] == [
            "doc-3"]


@pytest.mark.parametrize("store", ["index", "outside"])
def test_an_index_whose_entity_id_is_the_document_id_learns_and_recalls_by_id(
        client, settings, tmp_path, store):
    index, own = own_index(client, settings, tmp_path, store=store, id_field="_id")
    if store == "index":
        apply_plan(client, own, plan_adoption(client, own, description_for(own)))
    learn(client, own, "camp mug", ["doc-3", "doc-4"], "doc-4")
    forget_memory_cache()
    memory = run(client, own, "camp mug", ["q2e_memory"])["q2e_memory"]
    assert memory.error is None and [h.id for h in memory.hits] == ["doc-4"]


def test_the_adopt_command_prints_the_plan_and_applies_it_only_when_asked(
        client, settings, tmp_path, capsys):
    from ltrr_opensearch.cli import main

    index, own = own_index(client, settings, tmp_path)
    description = own.section("catalog")["description"]
    args = ["catalog", "adopt", "--description", description, "--popularity-feature"]
    before = properties(client, index)
    assert main([*args, "--url", own.urls[0]]) == 0
    out = capsys.readouterr().out
    assert f"request: PUT {index}/_mapping" in out and "would update 4 document(s)" in out
    assert properties(client, index) == before
    assert main([*args, "--apply", "--url", own.urls[0]]) == 0
    assert "added field q2e" in capsys.readouterr().out
    assert set(properties(client, index)) - set(before) == set(DOCUMENTED_ADDITIONS)
