"""``ltrr search`` goes through ``Pipeline.search``: logged unless --no-log, --json is the API."""

from __future__ import annotations

import json

import pytest

from ltrr_opensearch.cli import main
from tests.test_retrieve import index_docs

pytestmark = pytest.mark.integration


@pytest.fixture()
def cli_env(client, settings, monkeypatch):
    index_docs(client, settings)
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("LTRR_OPENSEARCH_URL", settings.urls[0])
    return settings


def logged(client, settings) -> list[dict]:
    if not client.indices.exists(index=settings.ubi_queries_index):
        return []
    client.indices.refresh(index=settings.ubi_queries_index)
    hits = client.search(index=settings.ubi_queries_index, body={"size": 10})["hits"]["hits"]
    return [h["_source"] for h in hits]


def test_json_prints_the_api_response_and_the_search_is_logged_under_its_request_id(
        cli_env, client, capsys):
    code = main(["search", "love", "--json", "--k", "2", "--client-id", "u1"])
    body = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(body["results"]) == 2
    [doc] = logged(client, cli_env)
    assert doc["query_id"] == body["request_id"] and doc["client_id"] == "u1"
    assert doc["query_response_hit_ids"] == [r["id"] for r in body["results"]]


def test_no_log_leaves_no_query_record(cli_env, client, capsys):
    assert main(["search", "qeen", "--no-log"]) == 0
    assert logged(client, cli_env) == []


def test_k_is_the_page_size_and_per_strategy_the_budget(cli_env, capsys):
    code = main(["search", "love", "--json", "--k", "1", "--per-strategy", "3",
                 "--strategies", "bm25_popularity"])
    body = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(body["results"]) == 1
    assert body["strategies"] == [{"arm": "bm25_popularity", "k": 3, "propensity": 1.0}]
