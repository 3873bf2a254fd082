"""On the real node: the simulated catalog fits the strict catalog mapping, and its
query-only words (topic synonyms, slang head phrases) find nothing by BM25 through the real
English analyzer, while the words descriptions use do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opensearchpy import helpers

from ltrr_opensearch.simulate import vocab
from ltrr_opensearch.simulate.world import World

ROOT = Path(__file__).resolve().parent.parent
TEXT_FIELDS = ["title", "title.words", "artist", "album", "description", "contributors"]

pytestmark = pytest.mark.integration


@pytest.fixture()
def indexed(client, settings):
    body = json.loads((ROOT / "ltrr_opensearch" / "mappings" / "catalog.v1.json").read_text())
    body.pop("_comment", None)
    index = f"{settings.index_prefix}-simworld"
    client.indices.create(index=index, body=body)
    world = World.generate(ROOT / "configs" / "worlds" / "small.toml")
    actions = ({"_index": index, "_id": row["id"],
                "_source": {k: v for k, v in row.items() if k != "embedding"}}
               for row in world.rows())
    ok, errors = helpers.bulk(client, actions, raise_on_error=False, refresh=True)
    assert not errors, errors[:3]
    return index, ok


def hits(client, index, text):
    body = {"query": {"multi_match": {"query": text, "fields": TEXT_FIELDS}}, "size": 0}
    return client.search(index=index, body=body)["hits"]["total"]["value"]


def test_every_simulated_row_is_accepted_by_the_strict_mapping(indexed):
    _, ok = indexed
    assert ok == 1000


def test_topic_synonyms_and_head_slang_find_nothing_by_bm25(client, indexed):
    index, _ = indexed
    asked = " ".join(w for t in vocab.TOPICS for w in t.ask)
    assert hits(client, index, asked) == 0
    # Frame words too, bar stopwords ("x and y" titles match "and" on the unstemmed .words).
    frames = {w for f in vocab.MUSIC_TOPIC_FRAMES + vocab.PODCAST_TOPIC_FRAMES
              for w in f.split() if not w.startswith("{")} - {"and", "to", "for"}
    assert hits(client, index, " ".join(sorted(frames))) == 0
    assert hits(client, index, " ".join(vocab.HEAD_PHRASES)) == 0


def test_description_words_of_a_topic_do_find_entities(client, indexed):
    index, _ = indexed
    assert hits(client, index, " ".join(vocab.TOPICS[0].describe)) > 0
