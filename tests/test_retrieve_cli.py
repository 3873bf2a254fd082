"""Retrieval with the real query understanding, the real MiniLM embedder and the CLI."""

from __future__ import annotations

import json

import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.retrieve.msearch import run_strategies
from ltrr_opensearch.retrieve.resources import gazetteer_for, query_embedder_for
from ltrr_opensearch.retrieve.templates import TemplateRegistry
from ltrr_opensearch.retrieve.validate import random_unit_vector, validate_templates
from ltrr_opensearch.understand import understand
from tests.test_retrieve import ALL, DOCS, REPO_STRATEGIES, index_docs, write

pytestmark = pytest.mark.integration


@pytest.fixture()
def minilm_catalog(client, settings, tmp_path):
    """DOCS loaded by the catalog loader, embedded from their text by MiniLM."""
    from ltrr_opensearch.catalog.embed import make_embedder
    from ltrr_opensearch.catalog.loader import load_catalog

    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in d.items() if k not in ("embedding", "q2e")})
                            + "\n" for d in DOCS))
    load_catalog(client, settings, path, embedder=make_embedder("minilm"), quiet=True)
    client.indices.refresh(index=settings.catalog_alias)
    return settings


def hits(client, settings, query: str, k: int = 2) -> dict[str, list[str]]:
    u = understand(query, gazetteer_for(client, settings))
    embedder = query_embedder_for(client, settings)
    results = run_strategies(client, settings, TemplateRegistry(REPO_STRATEGIES), u,
                             [(n, k) for n in ALL], embed_query=embedder.embed_query)
    for r in results:
        assert r.error is None, (r.strategy, r.error)
    return {r.strategy: [h.id for h in r.hits] for r in results}


def test_minilm_finds_the_paraphrased_description_that_text_strategies_miss(client,
                                                                            minilm_catalog):
    found = hits(client, minilm_catalog, "songs to fall asleep to")
    assert found["knn_vector"][0] == "lullaby"
    for other in ("bm25_popularity", "structured_qu", "fresh_releases", "long_tail"):
        assert "lullaby" not in found[other], other


def test_real_understanding_turns_a_typo_and_attributes_into_structured_matches(client,
                                                                               minilm_catalog):
    assert hits(client, minilm_catalog, "qeen")["structured_qu"] == ["queen-bohemian"]
    found = hits(client, minilm_catalog, "90s rock")
    assert found["structured_qu"] == ["teen-spirit"]
    assert "teen-spirit" not in found["bm25_popularity"]


@pytest.fixture()
def cli_env(client, settings, monkeypatch):
    """The test catalog (hand-made vectors, no embedder recorded) for in-process CLI runs."""
    index_docs(client, settings)
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("LTRR_OPENSEARCH_URL", settings.urls[0])
    return settings


def test_cli_search_prints_merged_results_with_provenance_and_timing(cli_env, capsys):
    code = main(["search", "qeen", "--explain"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "query: 'qeen' -> normalized 'qeen'"
    assert "vector: unavailable" in lines[3]  # this catalog records no embedder
    assert "queen-bohemian" in lines[4] and "bm25_popularity#1" in lines[4]
    assert any(line.strip().startswith("knn_vector") and "ERROR" in line for line in lines)
    assert "one _msearch:" in out and "took" in out


def test_cli_search_with_chosen_strategies_runs_only_those(cli_env, capsys):
    code = main(["search", "late night drive", "--strategies", "q2e_memory", "--k", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "memory-target" in out and "via q2e_memory#1" in out and "bm25" not in out


def test_cli_search_names_an_unknown_strategy(cli_env, capsys):
    code = main(["search", "love", "--strategies", "nope"])
    captured = capsys.readouterr()
    assert code == 1 and "unknown strategy 'nope'" in captured.out


def test_cli_render_offline_prints_the_body_with_user_text_escaped(capsys):
    code = main(["templates", "render", "bm25_popularity", "--offline", "--query",
                 '"}},{"match_all":{}}'])
    body = json.loads(capsys.readouterr().out)
    assert code == 0
    assert body["query"]["bool"]["must"][0]["bool"]["should"][0]["multi_match"]["query"] \
        == "match all"  # normalised: the punctuation is gone, and it stayed a string anyway


def test_validate_reports_the_broken_template_and_passes_the_rest(client, settings, tmp_path):
    index_docs(client, settings)
    directory = tmp_path / "strategies"
    directory.mkdir()
    for name in ALL:
        (directory / f"{name}.json.j2").write_text(
            (REPO_STRATEGIES / f"{name}.json.j2").read_text())
    write(directory, "wrong_type", '{# description: a date field given text #}\n'
                                   '{"query": {"range": {"release_date": {"gte": {{ query | tojson }}}}}}')
    gazetteer = gazetteer_for(client, settings)
    problems = validate_templates(client, settings, TemplateRegistry(directory),
                                  lambda q: understand(q, gazetteer),
                                  lambda _text: random_unit_vector(8))
    assert {n for n, found in problems.items() if found} == {"wrong_type"}
    assert "failed to parse date field" in problems["wrong_type"][0]
