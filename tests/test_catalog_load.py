"""Loading catalog files into the real node: validation, skip/abort, idempotence, q2e, CSV."""

from __future__ import annotations

import hashlib
import json

import pytest

from ltrr_opensearch.catalog.embed import make_embedder
from ltrr_opensearch.catalog.index import alias_targets, catalog_meta
from ltrr_opensearch.catalog.loader import CatalogValidationError, load_catalog
from ltrr_opensearch.cli import main

pytestmark = pytest.mark.integration

ROWS = [
    {"id": "t1", "entity_type": "track", "title": "Wonderwall", "artist": "Oasis",
     "album": "Morning Glory", "genres": ["britpop", "rock"], "decade": "1990s",
     "language": "en", "popularity": 120, "release_date": "1995-10-02"},
    {"id": "t2", "entity_type": "track", "title": "Yellow", "artist": "Coldplay",
     "genres": ["rock"], "decade": "2000s", "popularity": 80},
    {"id": "a1", "entity_type": "artist", "title": "Oasis", "genres": ["britpop"],
     "popularity": 300.5},
    {"id": "p1", "entity_type": "playlist", "title": "Rainy day", "moods": ["calm"],
     "description": "Soft songs for grey afternoons"},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tfidf():
    return make_embedder("tfidf", dimension=4)


def all_sources(client, settings):
    hits = client.search(index=settings.catalog_alias, body={
        "size": 100, "sort": [{"id": "asc"}], "query": {"match_all": {}}})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def content_hash(client, settings):
    blob = json.dumps(all_sources(client, settings), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def test_good_rows_are_indexed_by_id_with_vectors_and_a_popularity_feature(
        client, settings, tmp_path):
    report = load_catalog(client, settings, write_jsonl(tmp_path / "c.jsonl", ROWS),
                          embedder=tfidf(), quiet=True)
    assert (report.read, report.created, report.skipped, report.errors) == (4, 4, 0, [])
    docs = all_sources(client, settings)
    assert sorted(docs) == ["a1", "p1", "t1", "t2"]
    assert len(docs["t1"]["embedding"]) == catalog_meta(client, settings)["dimension"]
    assert docs["p1"]["popularity"] == 0.0 and docs["p1"]["popularity_feature"] > 0
    assert report.rejects_path is None


def test_abort_lists_every_bad_row_by_line_and_writes_nothing(client, settings, tmp_path):
    path = tmp_path / "c.jsonl"
    lines = [json.dumps(ROWS[0]),
             json.dumps({"entity_type": "track", "title": "No id"}),
             json.dumps({**ROWS[1], "popularity": "lots"}),
             "{broken",
             json.dumps({**ROWS[2], "release_date": "2001-13-01"}),
             json.dumps({**ROWS[3], "id": "t1"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogValidationError) as caught:
        load_catalog(client, settings, path, embedder=tfidf(), quiet=True)
    errors = caught.value.errors
    assert [e.line for e in errors] == [2, 3, 4, 5, 6]
    assert "missing required field 'id'" in errors[0].reason
    assert "popularity must be a number" in errors[1].reason
    assert "not valid JSON" in errors[2].reason
    assert "release_date" in errors[3].reason
    assert "duplicate id (first seen on line 1)" in errors[4].reason
    assert "line 2" in str(caught.value)
    assert alias_targets(client, settings) == []  # nothing created, nothing written
    rejected = [json.loads(x) for x in (tmp_path / "c.jsonl.rejects.jsonl").read_text()
                .splitlines()]
    assert [r["line"] for r in rejected] == [2, 3, 4, 5, 6]


def test_skip_loads_the_good_rows_and_writes_bad_ones_with_line_and_reason(
        client, settings, tmp_path):
    rows = [ROWS[0], {**ROWS[1], "entity_type": "feature film"}, ROWS[2]]
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    report = load_catalog(client, settings, path, embedder=tfidf(), on_error="skip",
                          quiet=True)
    assert (report.read, report.indexed, report.skipped) == (3, 2, 1)
    assert sorted(all_sources(client, settings)) == ["a1", "t1"]
    (rejected,) = [json.loads(x) for x in (tmp_path / "c.jsonl.rejects.jsonl").read_text()
                   .splitlines()]
    assert rejected["line"] == 2 and "entity_type" in rejected["reason"]
    assert rejected["row"]["title"] == "Yellow"  # the row itself, so nothing is lost


def test_precomputed_vectors_of_the_wrong_width_are_rejected_by_line(
        client, settings, tmp_path):
    query_model = tfidf().fit([r["title"] + " " + r.get("artist", "") for r in ROWS])
    embedder = make_embedder("precomputed", query_embedder=query_model)
    width = embedder.dimension
    rows = [{**ROWS[0], "embedding": [0.5] * width},
            {**ROWS[1], "embedding": [0.5] * (width + 1)},
            {**ROWS[2]}]
    report = load_catalog(client, settings, write_jsonl(tmp_path / "c.jsonl", rows),
                          embedder=embedder, on_error="skip", quiet=True)
    assert [(e.line, e.id) for e in report.errors] == [(2, "t2"), (3, "a1")]
    assert f"the index expects {width}" in report.errors[0].reason
    assert "no embedding" in report.errors[1].reason
    stored = all_sources(client, settings)["t1"]["embedding"]
    assert stored == pytest.approx([width ** -0.5] * width, abs=1e-5)  # L2-normalised


def test_reloading_the_same_file_changes_nothing(client, settings, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", ROWS)
    load_catalog(client, settings, path, embedder=tfidf(), quiet=True)
    before = content_hash(client, settings)
    # A second run restores the catalog's fitted TF-IDF from the state index, as the CLI does.
    main(["catalog", "load", str(path), "--quiet"])
    report = load_catalog(client, settings, path,
                          embedder=_catalog_embedder(client, settings), quiet=True)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 4)
    assert content_hash(client, settings) == before
    assert client.count(index=settings.catalog_alias)["count"] == 4


def _catalog_embedder(client, settings):
    from ltrr_opensearch.catalog.index import catalog_embedder

    return catalog_embedder(client, settings)


def test_reloading_a_changed_file_updates_fields_but_keeps_q2e(client, settings, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", ROWS)
    load_catalog(client, settings, path, embedder=tfidf(), quiet=True)
    client.update(index=settings.catalog_alias, id="t1", refresh=True,
                  body={"doc": {"q2e": {"wonderwall": 3.0, "oasis": 1.5}}})
    changed = [{**ROWS[0], "title": "Wonderwall (Remastered)", "popularity": 5}, *ROWS[1:]]
    report = load_catalog(client, settings, write_jsonl(path, changed),
                          embedder=_catalog_embedder(client, settings), quiet=True)
    assert (report.updated, report.unchanged) == (1, 3)
    doc = all_sources(client, settings)["t1"]
    assert doc["title"] == "Wonderwall (Remastered)" and doc["popularity"] == 5
    assert doc["q2e"] == {"wonderwall": 3.0, "oasis": 1.5}


def test_loading_without_an_embedder_updates_fields_and_keeps_stored_vectors(
        client, settings, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", ROWS)
    load_catalog(client, settings, path, embedder=tfidf(), quiet=True)
    vector = all_sources(client, settings)["t2"]["embedding"]
    changed = [ROWS[0], {**ROWS[1], "title": "Yellow (Live)"}, *ROWS[2:]]
    report = load_catalog(client, settings, write_jsonl(path, changed), embedder=None,
                          quiet=True)
    assert report.updated == 1
    doc = all_sources(client, settings)["t2"]
    assert doc["title"] == "Yellow (Live)" and doc["embedding"] == vector


def test_a_row_the_node_refuses_is_reported_with_its_line(client, settings, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", ROWS[:2])
    load_catalog(client, settings, path, embedder=tfidf(), quiet=True)
    index = alias_targets(client, settings)[0]
    client.indices.put_settings(index=index, body={"index.blocks.write": True})
    try:
        report = load_catalog(client, settings, write_jsonl(path, ROWS[2:]),
                              embedder=_catalog_embedder(client, settings), on_error="skip",
                              quiet=True)
        with pytest.raises(CatalogValidationError, match="line 1 .*rejected by OpenSearch"):
            load_catalog(client, settings, path, embedder=_catalog_embedder(client, settings),
                         quiet=True)
    finally:
        client.indices.put_settings(index=index, body={"index.blocks.write": False})
    assert [(e.line, e.id) for e in report.errors] == [(1, "a1"), (2, "p1")]
    assert all("blocked" in e.reason for e in report.errors)
    assert report.skipped == 2 and report.indexed == 0


def test_csv_with_a_field_map_from_the_command_line(client, settings, tmp_path, monkeypatch,
                                                    capsys):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    path = tmp_path / "songs.csv"
    path.write_text("key,kind,name,creator,tags,plays,extra\n"
                    "s1,track,Yellow,Coldplay,rock|pop,81,x\n"
                    "s2,track,Clocks,Coldplay,,12.5,y\n", encoding="utf-8")
    code = main(["catalog", "load", str(path), "--embedder", "tfidf", "--quiet",
                 "--map", "id=key,entity_type=kind,title=name,artist=creator,genres=tags,"
                          "popularity=plays"])
    assert code == 0, capsys.readouterr().err
    docs = all_sources(client, settings)
    assert docs["s1"]["genres"] == ["rock", "pop"] and docs["s1"]["popularity"] == 81.0
    assert docs["s2"]["artist"] == "Coldplay" and docs["s2"]["genres"] == []
    captured = capsys.readouterr()
    assert "indexed 2" in captured.out
    assert "ignored: extra" in captured.err  # an unused column is named, not lost silently


def test_csv_field_map_from_the_toml_config(client, settings, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LTRR_INDEX_PREFIX", raising=False)
    config = tmp_path / "ltrr.toml"
    config.write_text(f'[indices]\nprefix = "{settings.index_prefix}"\n'
                      '[catalog]\nembedder = "tfidf"\n'
                      '[catalog.map]\ntitle = "name"\n', encoding="utf-8")
    path = tmp_path / "c.csv"
    path.write_text("id,entity_type,name\nx1,album,Parachutes\nx2,album,\nx3,album,X&Y\n",
                    encoding="utf-8")
    code = main(["catalog", "load", str(path), "--config", str(config), "--on-error", "skip"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "line 3" in captured.err and "missing required field 'title'" in captured.err
    assert all_sources(client, settings)["x1"]["title"] == "Parachutes"
    assert catalog_meta(client, settings)["embedder_kind"] == "tfidf"


def test_a_file_too_small_to_fit_tfidf_is_a_clear_error(client, settings, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    path = write_jsonl(tmp_path / "one.jsonl", [{"id": "x", "entity_type": "genre",
                                                  "title": "Jazz"}])
    assert main(["catalog", "load", str(path), "--embedder", "tfidf", "-q"]) == 1
    err = capsys.readouterr().err
    assert "cannot fit the tfidf embedder on the 1 valid row(s)" in err
    assert "Traceback" not in err and alias_targets(client, settings) == []


def test_the_cli_refuses_to_mix_embedders_in_one_catalog(client, settings, tmp_path,
                                                         monkeypatch, capsys):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    path = write_jsonl(tmp_path / "c.jsonl", ROWS)
    assert main(["catalog", "load", str(path), "--embedder", "tfidf", "-q"]) == 0
    assert main(["catalog", "load", str(path), "--embedder", "minilm", "-q"]) == 2
    assert "would mix two vector spaces" in capsys.readouterr().err


def test_minilm_vectors_are_loaded_and_recorded(client, settings, tmp_path):
    embedder = make_embedder("minilm")
    load_catalog(client, settings, write_jsonl(tmp_path / "c.jsonl", ROWS[:2]),
                 embedder=embedder, quiet=True)
    meta = catalog_meta(client, settings)
    assert (meta["embedder"], meta["dimension"], meta["embedder_kind"]) == (
        embedder.name, 384, "minilm")
    assert len(all_sources(client, settings)["t2"]["embedding"]) == 384


def test_a_loaded_catalog_is_ranked_from_its_first_query(client, settings, tmp_path, monkeypatch,
                                                         capsys):
    from ltrr_opensearch.rank.registry import deployment

    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    path = write_jsonl(tmp_path / "c.jsonl", ROWS)
    assert main(["catalog", "load", str(path), "--embedder", "tfidf", "-q", "--no-ranker"]) == 0
    assert deployment(client, settings).model is None  # --no-ranker: fusion orders searches
    assert main(["catalog", "load", str(path), "--embedder", "tfidf", "-q"]) == 0
    deployed = deployment(client, settings).model
    assert deployed is not None and deployed.startswith("ltrr_default_")
    assert f"ranker: deployed the shipped default model {deployed}" in capsys.readouterr().err
