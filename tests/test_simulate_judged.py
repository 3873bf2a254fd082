"""``ltrr simulate judged``: the judged file, the simulated users, and the whole learning
loop on the real node over a judged query set, with production state only read."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from datetime import datetime, timezone
from types import MappingProxyType

import pytest

from ltrr_opensearch import cli
from ltrr_opensearch.errors import ConfigError, ValidationError
from ltrr_opensearch.evaluate.judged import drop_unknown_ids, parse_judged, split_holdout
from ltrr_opensearch.evaluate.learning_curve import CurveOptions, run_curve, untied
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.simulate.judged_traffic import (
    JudgedSessions,
    JudgedUsers,
    click_params,
    event_vocabulary,
)
from ltrr_opensearch.types import Candidate


def judged_line(query, relevant, kind=None, **extra):
    return json.dumps({"query": query, "relevant": relevant, **({"kind": kind} if kind else {}),
                       **extra})


# --------------------------------------------------------------------------- the file


def test_every_bad_line_is_reported_with_its_number_and_good_lines_are_kept():
    lines = [judged_line("blade runner", {"f1": 3}, "known_item", qid="x"),  # extra keys ignored
             "{not json",
             "",  # blank: skipped, still counted
             judged_line("", {"f1": 3}),
             judged_line("alien", {"f2": "high"}),
             judged_line("alien", {"f2": 0}),
             json.dumps(["a list"]),
             judged_line("?!", {"f3": 1}),
             judged_line("heat", {"f4": 2})]
    queries, problems = parse_judged(lines)
    assert [q.line for q in queries] == [1, 9]
    assert queries[0].kind == "known_item" and queries[1].kind == "any"
    assert queries[0].key == "blade_runner" and queries[0].best == "f1"
    assert [p.split(":")[0] for p in problems] == [f"line {n}" for n in (2, 4, 5, 6, 7, 8)]
    assert "grade of 'f2' must be an integer" in problems[2]
    assert "no id with a grade above 0" in problems[3]
    assert "no searchable word" in problems[5]


def test_unknown_ids_are_removed_and_queries_left_with_nothing_relevant_are_dropped():
    queries, _ = parse_judged([judged_line("a b", {"x": 3, "gone": 2}),
                               judged_line("c d", {"gone": 3, "also-gone": 1})])
    kept, unknown = drop_unknown_ids(queries, {"x"})
    assert [dict(q.relevant) for q in kept] == [{"x": 3}]
    assert unknown.ids == ("also-gone", "gone") and unknown.dropped_lines == (2,)
    assert "2 judged id(s) are not in the catalog" in unknown.describe()


def test_holdout_is_per_kind_and_never_splits_a_memory_key():
    lines = [judged_line(f"title {i}", {f"t{i}": 3}, "known_item") for i in range(20)]
    lines += [judged_line(f"Title {i}!", {f"t{i}": 3}, "typo") for i in range(3)]  # same keys
    lines += [judged_line(f"genre {i}", {f"g{i}": 1}, "attribute") for i in range(10)]
    queries, _ = parse_judged(lines)
    train, held = split_holdout(queries, 0.25, seed=3)
    assert not {q.key for q in train} & {q.key for q in held}
    assert Counter(q.kind for q in held)["attribute"] in (2, 3)
    assert len(train) + len(held) == len(queries)
    assert split_holdout(queries, 0.25, seed=3) == (train, held)  # seeded


def test_too_few_queries_for_the_holdout_is_refused():
    queries, _ = parse_judged([judged_line(f"q {i}", {f"d{i}": 1}) for i in range(8)])
    with pytest.raises(ValidationError, match="too few queries for --holdout 0.2"):
        split_holdout(queries, 0.2, seed=0)
    with pytest.raises(ConfigError, match="--holdout must be between 0 and 1"):
        split_holdout(queries, 1.0, seed=0)


# --------------------------------------------------------------------------- the users


def test_sessions_search_head_queries_most_and_only_the_given_queries():
    queries, _ = parse_judged([judged_line(f"q {i}", {f"d{i}": 3}) for i in range(30)])
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    sessions = JudgedSessions(queries[:20], seed=1, start=start, per_day=100).take(2000)
    counts = Counter(s.text for s in sessions)
    assert set(counts) <= {q.query for q in queries[:20]}
    assert counts.most_common(1)[0][1] > 5 * 2000 / 20 / 2  # a head: far above uniform
    stamps = [s.timestamp for s in sessions]
    assert stamps == sorted(stamps) and (stamps[-1] - start).days == 19
    assert len({s.session_id for s in sessions}) == 2000


def test_noise_clicks_irrelevant_results_and_misses_relevant_ones():
    params = click_params(0.2)
    assert params.attractiveness[0] == 0.2
    assert params.attractiveness[3] == pytest.approx(0.85 * 0.8)
    with pytest.raises(ConfigError):
        click_params(1.0)


def test_engagement_speaks_the_products_event_vocabulary():
    assert event_vocabulary(FeedbackConfig()) == {
        "click": "click", "play": "play", "add_to_favorites": "add_to_favorites"}
    shop = FeedbackConfig(actions=("impression", "click", "add_to_cart", "purchase"),
                          weights=MappingProxyType({"click": 0.3, "purchase": 1.0,
                                                    "add_to_cart": 0.6}))
    assert event_vocabulary(shop) == {"click": "click", "play": "purchase",
                                      "add_to_favorites": "add_to_cart"}
    views = FeedbackConfig(actions=("view",), weights=MappingProxyType({"view": 1.0}))
    assert event_vocabulary(views) == {"click": "view", "play": None, "add_to_favorites": None}
    with pytest.raises(ConfigError, match="no action in"):
        event_vocabulary(FeedbackConfig(weights=MappingProxyType({})))

    queries, _ = parse_judged([judged_line("q one", {"a": 3})])
    session = JudgedSessions(queries, seed=0, start=datetime.now(timezone.utc)).take(1)[0]
    users = JudgedUsers(click_params(0.0), event_vocabulary(views), seed=0)
    events = [e for _ in range(50) for e in users.simulate(session, ["a", "b"], query_id="r")]
    assert events and {e["action_name"] for e in events} == {"view"}


def test_equal_scores_are_ordered_by_id_and_nothing_crosses_a_score():
    ranked = [Candidate("z", {}, score=3.0), Candidate("c", {}, score=2.0),
              Candidate("a", {}, score=2.0), Candidate("b", {}, score=1.0),
              Candidate("y", {}, score=None), Candidate("x", {}, score=None)]
    assert untied(ranked) == ["z", "a", "c", "b", "y", "x"]


# --------------------------------------------------------------------------- on the node

OWN_MAPPING = {"properties": {
    "sku": {"type": "keyword"},
    "name": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
    "maker": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
    "category": {"type": "keyword"},
    "sales": {"type": "long"},
    "q2e": {"type": "rank_features"},
}}
CATEGORIES = {"jackets": "jacket", "boots": "boot", "tents": "tent", "stoves": "stove",
              "lamps": "lamp", "packs": "pack"}
ADJECTIVES = ("alpine", "coastal", "desert", "glacier", "harbor", "meadow", "prairie",
              "summit", "tundra", "valley")
DESCRIPTION = """
name = "outdoor"
index = "{index}"

[fields]
id = "sku"
title = ["name^3"]
creator = ["maker^2"]
popularity = "sales"

[facets]
category = "category"

[memory]
store = "index"
"""


@pytest.fixture()
def outdoor(client, settings, tmp_path, require_ltr):
    """A user's own index of 60 products (memory field present and holding a learned value
    the simulation must never touch) and a judged file over it."""
    from ltrr_opensearch.catalog.description import forget
    from ltrr_opensearch.retrieve import resources

    index = f"{settings.index_prefix}-outdoor"
    client.indices.create(index=index, body={"mappings": OWN_MAPPING})
    ops, lines = [], []
    for c, (category, noun) in enumerate(CATEGORIES.items()):
        for a, adjective in enumerate(ADJECTIVES):
            sku = f"SKU-{c}{a}"
            doc = {"sku": sku, "name": f"{adjective.title()} {noun.title()}",
                   "maker": ("Northwall", "Fleetfoot")[a % 2], "category": category,
                   "sales": 10 * (a + 1) * (c + 1)}
            if sku == "SKU-00":
                doc["q2e"] = {"production_key": 42.0}
            ops += [{"index": {"_index": index, "_id": f"doc-{sku}"}}, doc]
            lines.append(judged_line(doc["name"], {sku: 3}, "known_item"))
        ranked = sorted(range(10), key=lambda a: -a)
        lines.append(judged_line(category, {f"SKU-{c}{a}": 3 if i < 3 else 1
                                            for i, a in enumerate(ranked)}, "attribute"))
    client.bulk(body=ops, refresh=True)
    lines.append(judged_line("ghost item", {"SKU-404": 3}, "known_item"))  # not in the catalog
    path = tmp_path / "outdoor.toml"
    path.write_text(DESCRIPTION.format(index=index), encoding="utf-8")
    judged = tmp_path / "judged.jsonl"
    judged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    own = settings.with_overrides(sections=MappingProxyType(
        {**settings.sections, "catalog": MappingProxyType({"description": str(path)})}))
    forget()
    resources.clear()
    yield index, own, judged
    resources.clear()


def snapshot(client, index):
    mapping = client.indices.get_mapping(index=index)[index]["mappings"]
    docs = client.search(index=index, body={"size": 100, "sort": ["sku"]})["hits"]["hits"]
    return mapping, [(h["_id"], h["_source"]) for h in docs]


def production_memory(client, index, doc_id):
    # Read by search, not GET: a GET rebuilds the k-NN vector of the document from the vector
    # files ("derived source"), which this node's k-NN sometimes fails after a segment merge
    # (k-NN #3458); searches are not affected.
    hits = client.search(index=index, body={"query": {"ids": {"values": [doc_id]}},
                                            "_source": ["q2e"]})["hits"]["hits"]
    return hits[0]["_source"].get("q2e")


def indices_under(client, prefix):
    return sorted(client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))


@pytest.fixture()
def day_one_model(client, monkeypatch):
    """``use(settings)``: a linear model over the features bound to those settings stands in
    for the shipped default, so the run has a ranker to retrain whatever default_ranker.json
    holds. The models ``ltr_init`` made from it are deleted from the LTR store afterwards."""
    from ltrr_opensearch.rank import setup
    from ltrr_opensearch.rank.features import feature_set_for
    from ltrr_opensearch.rank.registry import ModelEntry

    made: list[str] = []

    def use(own):
        bound = feature_set_for(client, own)
        weights = {n: 1.0 for n in bound.names if n.startswith("title")}
        weights |= {"popularity": 0.2} if "popularity" in bound.names else {}
        shipped = ModelEntry(name="judged-test-default", type="model/linear",
                             definition=weights, feature_set=bound.store_name,
                             feature_names=tuple(bound.names), params=tuple(sorted(bound.params)),
                             source="shipped default")
        real = setup.default_for

        def default_for(entry, feature_set):
            created = real(entry, feature_set)
            if created is not None:
                made.append(created.name)
            return created

        monkeypatch.setattr(setup, "shipped_default", lambda: shipped)
        monkeypatch.setattr(setup, "default_for", default_for)
    yield use
    for name in made:
        with contextlib.suppress(Exception):
            client.plugins.ltr.delete_model(id=name)


def test_the_whole_loop_learns_on_an_own_index_and_leaves_production_untouched(
        client, settings, outdoor, day_one_model):
    index, own, judged = outdoor
    day_one_model(own)
    before = snapshot(client, index)
    existing = indices_under(client, settings.index_prefix)
    said: list[str] = []
    options = CurveOptions(sessions=240, holdout=0.25, seed=2, per_day=1000,
                           worker_minutes=86.4, retrain_hours=2.0, min_evidence=3,
                           checkpoints=2)
    result = run_curve(client, own, judged, options, say=said.append)

    # What the file held: the unknown id counted, the query left empty dropped.
    assert result.unknown.ids == ("SKU-404",) and len(result.unknown.dropped_lines) == 1
    assert len(result.heldout) == 15 + 2 and len(result.train) == 45 + 4
    # Events went through ingestion, worker cycles ran, the bandit and the memory learned.
    learning = result.learning
    assert learning["events_ingested"] > 100
    assert sum(learning["events_by_action"].values()) == learning["events_ingested"]
    assert learning["searches_logged"] == 240  # sessions only: evaluations log nothing
    assert learning["cycles"] == 240 // options.cycle_sessions
    assert learning["bandit_observations"] > 0 and learning["memory_pairs"] > 0
    assert learning["heldout_keys_with_memory"] == 0  # never searched, never learned
    # The ranker was retrained through the gate, which said what it decided.
    assert len(result.retrains) == 2
    for retrain in result.retrains:
        assert retrain["trained"] and retrain["reason"], retrain
    # Held-out queries evaluated on day one and at each checkpoint.
    assert [e.sessions for e in result.checkpoints] == [0, 120, 240]
    assert all(set(e.ndcg) == {q.line for q in result.heldout} for e in result.checkpoints)
    assert said[2].startswith("day one: NDCG@10 ") and "known_item" in said[2]
    assert said[-1].startswith("after 240 sessions: NDCG@10 ")
    # Production: the user's index is as it was (its memory value included), and nothing
    # the run made is left (scratch indices, trained models in the LTR store).
    assert snapshot(client, index) == before
    assert indices_under(client, settings.index_prefix) == existing
    for retrain in result.retrains:
        with pytest.raises(Exception, match="NotFound|not found|404"):
            client.plugins.ltr.get_model(id=retrain["trained"])


def test_a_managed_catalog_is_copied_without_its_memory_and_never_written(
        client, settings, tmp_path, require_ltr):
    from ltrr_opensearch.catalog.loader import load_catalog, make_fresh_embedder
    from ltrr_opensearch.retrieve import resources

    rows, lines = [], []
    for i, adjective in enumerate(ADJECTIVES * 3):
        title = f"{adjective} song {i}"
        rows.append({"id": f"t{i}", "entity_type": "track", "title": title,
                     "artist": f"artist {i % 4}", "genres": ["rock" if i % 2 else "jazz"],
                     "popularity": float(i)})
        lines.append(judged_line(title, {f"t{i}": 3}, "known_item"))
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    judged = tmp_path / "judged.jsonl"
    judged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    resources.clear()
    load_catalog(client, settings, catalog, embedder=make_fresh_embedder("tfidf"), quiet=True)
    client.update(index=settings.catalog_alias, id="t0", refresh=True,
                  body={"doc": {"q2e": {"learned_in_production": 50.0}}})
    count = client.count(index=settings.catalog_alias)["count"]
    existing = indices_under(client, settings.index_prefix)

    said: list[str] = []
    options = CurveOptions(sessions=60, holdout=0.2, per_day=500, worker_minutes=86.4,
                           retrain_hours=0, checkpoints=1, keep=True)
    result = run_curve(client, settings, judged, options, say=said.append)
    scratch = result.scratch
    try:
        copy = client.get(index=f"{scratch}-catalog", id="t0")["_source"]
        assert "q2e" not in copy  # the copy starts with nothing learned
        assert client.count(index=f"{scratch}-catalog")["count"] == count
        assert result.learning["events_ingested"] > 0 and result.learning["cycles"] == 2
        assert said[-1].startswith("after 60 sessions: ")
    finally:
        client.indices.delete(index=f"{scratch}-*", expand_wildcards="all")
    assert production_memory(client, settings.catalog_alias, "t0") == {
        "learned_in_production": 50.0}
    assert client.count(index=settings.catalog_alias)["count"] == count
    assert indices_under(client, settings.index_prefix) == existing  # no production logs


# --------------------------------------------------------------------------- the command


@pytest.fixture()
def ltrr(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("ltrr_opensearch.cli.simulate",))
    return lambda *argv: cli.main(list(argv))


def test_a_malformed_judged_file_stops_the_command_before_any_request(ltrr, tmp_path, capsys):
    judged = tmp_path / "judged.jsonl"
    judged.write_text(judged_line("ok", {"a": 1}) + "\n{broken\n", encoding="utf-8")
    # An unreachable URL: the file's error comes first, so no request was even tried.
    code = ltrr("simulate", "judged", "--queries", str(judged), "--sessions", "10",
                "--url", "http://127.0.0.1:1")
    err = capsys.readouterr().err
    assert code == 1 and "1 bad line(s): line 2: not JSON" in err


def test_an_unreachable_cluster_is_one_clear_error(ltrr, tmp_path, capsys):
    judged = tmp_path / "judged.jsonl"
    judged.write_text(judged_line("ok", {"a": 1}) + "\n", encoding="utf-8")
    code = ltrr("simulate", "judged", "--queries", str(judged), "--sessions", "10",
                "--url", "http://127.0.0.1:1")
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach OpenSearch at http://127.0.0.1:1" in err


def test_bad_options_are_refused_before_anything_runs(ltrr, tmp_path, capsys):
    judged = tmp_path / "judged.jsonl"
    judged.write_text(judged_line("ok", {"a": 1}) + "\n", encoding="utf-8")
    code = ltrr("simulate", "judged", "--queries", str(judged), "--sessions", "0",
                "--noise", "1.5", "--url", "http://127.0.0.1:1")
    err = capsys.readouterr().err
    assert code == 2 and "--sessions must be >= 1" in err and "--noise must be in [0, 1)" in err
