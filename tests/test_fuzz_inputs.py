"""Property-based fuzzing of what users and operators hand the product, against the real node
where one is involved: catalog rows through the loader, flag files, LTR models sent to the
plugin. Each target counts its cases; none may crash (an exception that is not an
``LtrrError`` naming the problem) and none may get a 5xx from the engine. Template parameters
and the HTTP API are fuzzed in tests/test_templates.py and tests/test_service_fuzz.py.
"""

from __future__ import annotations

import json

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.errors import ConfigError, LtrrError
from tests.ltr_support import delete_quietly, ensure_default_store, feature, unique

pytestmark = pytest.mark.integration



def fuzz(cases: int) -> hypothesis.settings:
    return hypothesis.settings(max_examples=cases, deadline=None, database=None,
                               phases=[Phase.explicit, Phase.generate],
                               suppress_health_check=list(HealthCheck))


NASTY_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(['"}]}', "{{#x}}{{/x}}", "\\u0000", "\x00", "'; DROP", "<script>",
                     "ctx._source.x = 1", "{\"script\": \"1\"}", "../../etc/passwd", "ℌ𝔢𝔩𝔩𝔬",
                     "a" * 5000, "\ud7ff", "*", "?", "_all", ".ltrstore", "-", "%00"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), NASTY_TEXT)
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)


# ------------------------------------------------------------------ catalog rows

ROW_FIELDS = ["id", "entity_type", "title", "artist", "album", "genres", "moods", "decade",
              "language", "popularity", "release_date", "description", "embedding", "q2e",
              "_id", "_index", "_source", "script", "__proto__", "id "]
VALID = {"id": "e1", "entity_type": "track", "title": "Love Song", "artist": "Ann",
         "genres": ["pop"], "popularity": 1.5, "release_date": "2001-02-03"}
ROWS = st.lists(st.one_of(
    st.builds(lambda extra: {**VALID, **extra},
              st.dictionaries(st.sampled_from(ROW_FIELDS) | st.text(max_size=12), JSONISH,
                              max_size=6)),
    st.dictionaries(st.sampled_from(ROW_FIELDS), JSONISH, max_size=8),
    NASTY_TEXT.map(lambda text: {"__raw__": text})), min_size=1, max_size=8)


def _jsonl(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        if "__raw__" in row and len(row) == 1:
            lines.append(row["__raw__"].replace("\n", " ").replace("\r", " "))
        else:
            lines.append(json.dumps(row, allow_nan=True))
    return "\n".join(lines) + "\n"


def test_no_catalog_row_crashes_the_loader_or_the_node(client, settings, tmp_path):
    from ltrr_opensearch.catalog.embed import make_embedder
    from ltrr_opensearch.catalog.loader import load_catalog

    cases: list[str] = []
    totals = {"indexed": 0, "skipped": 0}
    path, rejects = tmp_path / "rows.jsonl", tmp_path / "rejects.jsonl"
    from tests.test_retrieve import DOCS

    path.write_text("".join(json.dumps({k: v for k, v in d.items() if k != "embedding"}) + "\n"
                            for d in DOCS))  # the catalog (TF-IDF) the fuzzed rows go into
    load_catalog(client, settings, path, embedder=make_embedder("tfidf"), quiet=True)

    @fuzz(80)
    @given(rows=ROWS)
    def load(rows: list[dict]) -> None:
        path.write_text(_jsonl(rows), encoding="utf-8", errors="surrogatepass")
        try:
            report = load_catalog(client, settings, path, embedder=None, on_error="skip",
                                  quiet=True, rejects_path=rejects)
        except LtrrError as exc:  # the whole file refused: it must say why
            assert exc.message.strip()
            cases.append("refused")
            return
        assert report.indexed + report.skipped == report.read, report
        assert len(report.errors) == report.skipped
        assert all(e.reason for e in report.errors)
        cases.append("loaded")
        totals["indexed"] += report.indexed
        totals["skipped"] += report.skipped

    load()
    assert len(cases) >= 70, len(cases)
    health = client.cluster.health()
    assert health["status"] in ("green", "yellow")
    if client.indices.exists_alias(name=settings.catalog_alias):
        client.indices.refresh(index=settings.catalog_alias)
        assert client.count(index=settings.catalog_alias)["count"] >= 0
    print(f"fuzz catalog rows: {len(cases)} cases "
          f"({cases.count('loaded')} loaded: {totals['indexed']} rows stored, {totals['skipped']}"
          f" rejected with a reason; {cases.count('refused')} files refused whole), 0 crashes")


# ------------------------------------------------------------------ flag files

FLAG = st.fixed_dictionaries({
    "state": st.sampled_from(["ENABLED", "DISABLED", "ON", ""]) | NASTY_TEXT,
    "variants": st.dictionaries(st.text(max_size=8), JSONISH, max_size=4) | JSONISH,
    "defaultVariant": st.text(max_size=8) | JSONISH,
}, optional={"targeting": st.one_of(
    JSONISH,
    st.builds(lambda pairs: {"fractional": pairs},
              st.lists(st.lists(SCALARS, max_size=3), max_size=4)),
    st.builds(lambda op, args: {op: args},
              st.sampled_from(["if", "in", "var", "==", "fractional", "cat", "shuffle"]),
              st.lists(JSONISH, max_size=3)))})
NAMES = st.text(min_size=1, max_size=6)
FLAG_KEYS = ["experiments", "interleave", "exp-a", "selection-mode", "strategies",
             "single-strategy", "fixed-mix", "budget", "bandit-policy", "bandit-epsilon",
             "bandit-state", "ranker-model", "rescore-window"]  # experiment/flags.py
OVERRIDES = st.dictionaries(st.sampled_from(FLAG_KEYS[3:]) | st.text(max_size=6), JSONISH,
                            max_size=3)


def _near_valid(variants: dict, weights: list, rule: str) -> dict:
    names = list(variants)
    flag: dict = {"state": "ENABLED", "variants": variants, "defaultVariant": names[0]}
    if rule == "fractional":
        flag["targeting"] = {"fractional": [[n, w] for n, w in zip(names, weights, strict=False)]}
    elif rule == "if":
        flag["targeting"] = {"if": [{"in": [{"var": "targetingKey"}, ["a", "b"]]}, names[-1],
                                    None]}
    return flag


NEAR_VALID = st.builds(
    _near_valid,
    st.one_of(st.dictionaries(NAMES, st.integers(-10, 1000), min_size=1, max_size=3),
              st.dictionaries(NAMES, NASTY_TEXT, min_size=1, max_size=3),
              st.dictionaries(NAMES, st.booleans(), min_size=1, max_size=2),
              st.dictionaries(NAMES, OVERRIDES, min_size=1, max_size=3),
              st.dictionaries(NAMES, st.lists(st.sampled_from(FLAG_KEYS) | NAMES, max_size=3),
                              min_size=1, max_size=2)),
    st.lists(st.one_of(st.integers(-5, 100), st.floats(allow_nan=True)), max_size=3),
    st.sampled_from(["none", "fractional", "if"]))
FLAG_FILES = st.one_of(
    st.dictionaries(st.sampled_from(FLAG_KEYS) | NAMES, NEAR_VALID, min_size=1,
                    max_size=5).map(
        lambda flags: json.dumps({"flags": flags}, allow_nan=True)),
    NASTY_TEXT,
    JSONISH.map(lambda v: json.dumps(v, allow_nan=True)),
    st.dictionaries(st.sampled_from(["experiments", "selection-mode", "strategies", "k",
                                     "interleave", "kill"]) | st.text(max_size=10),
                    FLAG, max_size=4).map(lambda flags: json.dumps({"flags": flags},
                                                                   allow_nan=True)))


def test_no_flag_file_crashes_parsing_or_a_request(tmp_path):
    from ltrr_opensearch.experiment.flagd import parse_flags
    from ltrr_opensearch.experiment.flags import FlagSource

    outcomes: list[str] = []
    path = tmp_path / "flags.json"

    @fuzz(400)
    @given(text=FLAG_FILES, key=st.text(max_size=20) | st.none())
    def parse(text: str, key: str | None) -> None:
        try:
            parse_flags(text)
        except ConfigError as exc:
            assert exc.message.strip()
            outcomes.append("rejected")
            return
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        source = FlagSource.from_file(str(path), ("bm25_popularity", "knn_vector"))
        variant = source.resolve(key)
        variant.plan(["bm25_popularity", "knn_vector"], 10)
        source.interleaving(key)
        outcomes.append("served")

    parse()
    assert len(outcomes) >= 350, len(outcomes)
    print(f"fuzz flag files: {len(outcomes)} cases ({outcomes.count('served')} parsed and "
          f"resolved, {outcomes.count('rejected')} rejected with a reason), 0 crashes")


# ------------------------------------------------------------------ LTR models to the plugin

MODEL_TYPES = st.sampled_from(["model/linear", "model/xgboost+json", "model/ranklib",
                               "model/xgboost", "model/../x", ""]) | NASTY_TEXT
DEFINITIONS = st.one_of(
    st.dictionaries(st.sampled_from(["f1", "f2", "nope", ""]) | st.text(max_size=8),
                    SCALARS, max_size=4),
    JSONISH,
    st.lists(st.fixed_dictionaries({"nodeid": SCALARS, "split": SCALARS,
                                    "split_condition": SCALARS, "yes": SCALARS,
                                    "no": SCALARS, "leaf": SCALARS,
                                    "children": JSONISH}), max_size=3)
    .map(lambda trees: json.dumps(trees, allow_nan=True)),
    st.text(max_size=300).map(lambda t: "## LambdaMART\n" + t))


NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2**64, 2**64)


def _tree(depth: int, split, cond, leaf, feature_id) -> dict:
    if depth == 0:
        return {"nodeid": feature_id, "leaf": leaf}
    return {"nodeid": feature_id, "depth": depth, "split": split, "split_condition": cond,
            "yes": 1, "no": 2, "missing": 1,
            "children": [_tree(depth - 1, split, cond, leaf, 1),
                         _tree(depth - 1, split, cond, leaf, 2)]}


NEAR_VALID_MODELS = st.one_of(
    st.tuples(st.just("model/linear"),
              st.dictionaries(st.sampled_from(["f1", "f2"]) | st.text(max_size=4), NUMBERS,
                              max_size=3)),
    st.tuples(st.just("model/xgboost+json"),
              st.builds(lambda trees: json.dumps(trees, allow_nan=True),
                        st.lists(st.builds(_tree, st.integers(0, 3),
                                           st.sampled_from(["f1", "f2", "f9", ""]), NUMBERS,
                                           NUMBERS, st.integers(-1, 5)), max_size=3))),
    st.tuples(st.just("model/ranklib"),
              st.builds(lambda w1, w2: f"## Linear Regression\n0:{w1} 1:{w2} 2:{w1}\n",
                        NUMBERS, NUMBERS)))


def test_no_model_sent_to_the_plugin_gets_a_5xx_or_hurts_the_node(session_client,
                                                                    require_ltr):
    client = session_client
    ensure_default_store(client)
    featureset = unique("h16fz")
    client.plugins.ltr.create_featureset(id=featureset, body={"featureset": {
        "name": featureset, "features": [feature("f1"), feature("f2", "artist")]}})
    statuses: list[int] = []
    server_errors: list[str] = []
    try:
        @fuzz(150)
        @given(model_=st.one_of(NEAR_VALID_MODELS, st.tuples(MODEL_TYPES, DEFINITIONS)),
               name=st.text(min_size=1, max_size=30) | st.just("ok"))
        def send(model_: tuple, name: str) -> None:
            kind, definition = model_
            model = unique("h16m") if name == "ok" else name
            body = {"model": {"name": model, "model": {"type": kind,
                                                       "definition": definition}}}
            try:
                text = json.dumps(body, allow_nan=True)
            except ValueError:
                return
            try:
                client.transport.perform_request(
                    "POST", f"/_ltr/_featureset/{featureset}/_createmodel", body=text,
                    headers={"content-type": "application/json"})
                statuses.append(201)
                delete_quietly(client, "model", model)
            except os_exc.TransportError as exc:
                status = exc.status_code if isinstance(exc.status_code, int) else 599
                statuses.append(status)
                if status >= 500:
                    server_errors.append(f"{status} for {text[:200]}: {str(exc.info)[:200]}")

        send()
    finally:
        delete_quietly(client, "featureset", featureset)
    assert not server_errors, "\n".join(server_errors[:5])
    assert len(statuses) >= 130, len(statuses)
    assert client.cluster.health()["status"] in ("green", "yellow")
    accepted = sum(1 for s in statuses if s < 300)
    print(f"fuzz LTR models: {len(statuses)} cases ({accepted} stored, "
          f"{len(statuses) - accepted} refused with a 4xx), 0 5xx")
