"""The catalog index behind its alias: creation, _meta, atomic swaps, rebuilds, errors."""

from __future__ import annotations

import json
import re
import threading

import pytest

from ltrr_opensearch.catalog.embed import check_compatible, make_embedder
from ltrr_opensearch.catalog.index import (
    alias_targets,
    catalog_embedder,
    catalog_meta,
    create_catalog_index,
    ensure_catalog,
    swap_alias,
)
from ltrr_opensearch.catalog.loader import CatalogValidationError, load_catalog
from ltrr_opensearch.catalog.rebuild import rebuild_catalog
from ltrr_opensearch.cli import main
from ltrr_opensearch.errors import ClusterUnreachable, LtrrError, ValidationError

pytestmark = pytest.mark.integration

TITLES = ["Wonderwall", "Yellow", "Clocks", "Champagne Supernova", "Fix You", "Live Forever",
          "Viva la Vida", "Supersonic", "The Scientist", "Slide Away"]


def catalog_file(path, n=10, prefix="t"):
    rows = [{"id": f"{prefix}{i}", "entity_type": "track",
             "title": f"{TITLES[i % len(TITLES)]} {i}", "artist": ["Oasis", "Coldplay"][i % 2],
             "popularity": i} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def fitted_tfidf(texts=TITLES):
    return make_embedder("tfidf", dimension=4).fit(texts)


def test_ensure_catalog_creates_a_versioned_index_behind_the_alias_once(client, settings):
    embedder = fitted_tfidf()
    name = ensure_catalog(client, settings, embedder)
    assert re.fullmatch(rf"{settings.catalog_alias}-v1-\d{{8}}t\d{{12}}z", name)
    assert ensure_catalog(client, settings, embedder) == name
    assert alias_targets(client, settings) == [name]
    mapping = client.indices.get_mapping(index=name)[name]["mappings"]
    assert mapping["properties"]["embedding"]["dimension"] == embedder.dimension


def test_meta_records_the_embedder_and_restores_a_fitted_tfidf(client, settings):
    embedder = fitted_tfidf()
    ensure_catalog(client, settings, embedder)
    meta = catalog_meta(client, settings)
    assert (meta["embedder"], meta["dimension"], meta["embedder_kind"],
            meta["mapping_version"]) == (embedder.name, embedder.dimension, "tfidf", 1)
    restored = catalog_embedder(client, settings)
    check_compatible(meta, restored)
    assert restored.embed_query("yellow").tolist() == embedder.embed_query("yellow").tolist()
    with pytest.raises(ValidationError, match="was embedded with"):
        check_compatible(meta, fitted_tfidf(["other words entirely", "and more of them"]))


def test_swap_alias_moves_the_alias_in_one_step_keeping_or_deleting_the_old(client, settings):
    embedder = fitted_tfidf()
    first = ensure_catalog(client, settings, embedder)
    second = create_catalog_index(client, settings, embedder)
    assert swap_alias(client, settings, second) == [first]
    assert alias_targets(client, settings) == [second]
    assert client.indices.exists(index=first)  # kept, detached
    third = create_catalog_index(client, settings, embedder)
    assert swap_alias(client, settings, third, delete_old=True, grace_seconds=0) == [second]
    assert alias_targets(client, settings) == [third]
    assert not client.indices.exists(index=second)


def test_rebuild_swaps_while_searches_keep_answering_and_carries_q2e(
        client, settings, tmp_path):
    load_catalog(client, settings, catalog_file(tmp_path / "old.jsonl", 10),
                 embedder=make_embedder("tfidf", dimension=4), quiet=True)
    old = alias_targets(client, settings)
    client.update(index=settings.catalog_alias, id="t3", refresh=True,
                  body={"doc": {"q2e": {"supersonic": 2.0}}})
    client.update(index=settings.catalog_alias, id="t9", refresh=True,
                  body={"doc": {"q2e": {"slide": 1.0}}})

    stop, failures, totals = threading.Event(), [], []

    def search_all_the_time():
        while not stop.is_set():
            try:
                totals.append(client.count(index=settings.catalog_alias)["count"])
            except Exception as exc:  # any failure at all is what this test looks for
                failures.append(repr(exc))

    watcher = threading.Thread(target=search_all_the_time)
    watcher.start()
    try:
        result = rebuild_catalog(client, settings, catalog_file(tmp_path / "new.jsonl", 8),
                                 embedder=make_embedder("tfidf", dimension=4), quiet=True)
    finally:
        stop.set()
        watcher.join()
    assert failures == []
    assert totals and set(totals) <= {10, 8}  # always a whole catalog, old or new
    assert alias_targets(client, settings) == [result.index] and result.old_indices == old
    assert not client.indices.exists(index=old[0])
    assert (result.q2e_carried, result.q2e_dropped) == (1, 1)  # t9 is not in the new file
    assert client.get(index=settings.catalog_alias, id="t3")["_source"]["q2e"] == {
        "supersonic": 2.0}
    check_compatible(catalog_meta(client, settings), catalog_embedder(client, settings))


def test_a_failed_rebuild_leaves_the_live_catalog_and_no_new_index(client, settings, tmp_path):
    load_catalog(client, settings, catalog_file(tmp_path / "old.jsonl", 4),
                 embedder=make_embedder("tfidf", dimension=4), quiet=True)
    before = alias_targets(client, settings)
    bad = catalog_file(tmp_path / "bad.jsonl", 4)
    bad.write_text(bad.read_text() + '{"id": "x", "entity_type": "track"}\n')
    with pytest.raises(CatalogValidationError, match="line 5"):
        rebuild_catalog(client, settings, bad, embedder=make_embedder("tfidf", dimension=4),
                        quiet=True)
    assert alias_targets(client, settings) == before
    names = client.indices.get(index=f"{settings.catalog_alias}-*")
    assert sorted(names) == before


def test_cli_rebuild_keeps_the_old_index_when_asked_and_info_shows_the_swap(
        client, settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    path = catalog_file(tmp_path / "c.jsonl", 6)
    assert main(["catalog", "load", str(path), "--embedder", "tfidf", "-q"]) == 0
    old = alias_targets(client, settings)
    assert main(["catalog", "rebuild", str(path), "--keep-old", "-q"]) == 0
    new = alias_targets(client, settings)
    assert new != old and client.indices.exists(index=old[0])
    assert catalog_meta(client, settings)["embedder_kind"] == "tfidf"  # kind kept
    capsys.readouterr()
    assert main(["catalog", "info"]) == 0
    out = capsys.readouterr().out
    assert f"{settings.catalog_alias} -> {new[0]}  (6 documents)" in out
    assert "track" in out and "tfidf" in out


def test_a_missing_field_type_plugin_points_at_ltrr_doctor(client, settings, monkeypatch):
    from ltrr_opensearch.catalog import index as catalog_index

    generated = catalog_index.managed_properties

    def without_plugin(description, dimension):  # as if the node lacked rank_features
        return {**generated(description, dimension), "q2e": {"type": "rank_features_gone"}}

    monkeypatch.setattr(catalog_index, "managed_properties", without_plugin)
    broken = settings
    with pytest.raises(LtrrError, match=r"No handler for type \[rank_features_gone\]") as caught:
        create_catalog_index(client, broken, fitted_tfidf())
    assert "ltrr doctor" in caught.value.hint
    client.indices.refresh(index=settings.state_index)
    assert client.count(index=settings.state_index)["count"] == 0  # no orphaned TF-IDF state


def test_a_concrete_index_named_like_the_alias_is_a_clear_error(client, settings):
    client.indices.create(index=settings.catalog_alias)
    with pytest.raises(LtrrError, match="is a concrete index, not an alias"):
        ensure_catalog(client, settings, fitted_tfidf())


def test_no_catalog_yet_is_a_clear_error(client, settings):
    with pytest.raises(LtrrError, match="there is no catalog"):
        catalog_meta(client, settings)


def test_an_unreachable_cluster_gives_cannot_reach_without_a_traceback(
        settings, tmp_path, capsys):
    down = settings.with_overrides(url="http://127.0.0.1:1", max_retries=0)
    from ltrr_opensearch.engine.client import make_client

    with pytest.raises(ClusterUnreachable, match="cannot reach"):
        catalog_meta(make_client(down), down)
    path = catalog_file(tmp_path / "c.jsonl", 2)
    for argv in (["catalog", "load", str(path)], ["catalog", "info"],
                 ["catalog", "rebuild", str(path)]):
        assert main([*argv, "--url", "http://127.0.0.1:1"]) != 0
        err = capsys.readouterr().err
        assert "cannot reach" in err and "Traceback" not in err
