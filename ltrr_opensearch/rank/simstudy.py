"""Does a ranker trained on simulated CLICKS beat fusion? The protocol behind
``benchmarks/bench_ranking.py`` and ``tests/test_rank_clicks_beat_fusion.py``.

One run on one simulated world (:func:`run_study`):

1. **Training traffic.** The first ``train`` searches of the world's query stream go through
   the real pipeline with a logging-only ranker (``sltr`` with the feature set, no model): the
   engine logs every candidate's feature vector and the fallback fusion orders them. The
   simulator's cascade click model reacts to the SHOWN top ``k``, so clicks carry position
   bias. Each search becomes an :class:`Impression` keyed by the query's normalised (q2e) key.
2. **Judgments.** PBM (and SDBN, for comparison) are fitted on the impressions; pairs with at
   least ``min_evidence`` (expected) examinations get a grade. Each judged shown doc of each
   search becomes a training row with the feature vector the engine logged for it in that
   search, as ``rank/learn.py`` does from real UBI logs.
3. **Models.** LambdaMART and linear on the PBM rows, LambdaMART on the SDBN rows, and
   LambdaMART on the simulator's TRUE grades of every candidate of the training searches (the
   upper bound: what perfect labels would teach on the same traffic).
4. **Held-out evaluation.** The next ``heldout`` searches of the stream (later in simulated
   time, never clicked on for training) go through the same pipeline; each system orders the
   SAME candidates: plain RRF (``merge_results(margin=None)``), the fallback fusion
   (``merge_results`` default), each trained model and the shipped default model, scored with
   the engine's semantics (``rank/predict.py`` via ``rank/gate.predict``) on the logged
   features. Ties in a model's score keep the fused order. Every order is scored against the
   simulator's TRUE grades: NDCG@10 and MRR@10 per query.

Nothing in the protocol reads the simulator's truth except the true-grade upper bound and the
final scoring.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.evaluate.metrics import ndcg, reciprocal_rank
from ltrr_opensearch.pipeline import Pipeline
from ltrr_opensearch.rank.bootstrap import logging_pipeline
from ltrr_opensearch.rank.clicks import PBM, SDBN
from ltrr_opensearch.rank.features import feature_set_for
from ltrr_opensearch.rank.gate import predict
from ltrr_opensearch.rank.judgments import judgments
from ltrr_opensearch.rank.registry import ModelEntry
from ltrr_opensearch.rank.setup import ensure_feature_set, ensure_store, shipped_default
from ltrr_opensearch.rank.train import TrainingResult, train_lambdamart, train_linear
from ltrr_opensearch.rank.types import Impression
from ltrr_opensearch.rank.ubi import impression_from_events
from ltrr_opensearch.retrieve.merge import merge_results

SHOWN = 10  # the page the simulated user sees and clicks on
METRICS: dict[str, Callable[[Sequence[str], Mapping[str, int]], float]] = {
    "ndcg@10": lambda ranked, grades: ndcg(ranked, grades, k=10),
    "mrr@10": lambda ranked, grades: reciprocal_rank(ranked, grades, k=10),
}
# The systems every held-out search is ordered by, in table order.
SYSTEMS = ("rrf", "fusion", "clicks_lambdamart", "clicks_linear", "sdbn_lambdamart",
           "default", "true_lambdamart")


@dataclass(frozen=True)
class Searched:
    """One search through the pipeline: its simulated query, its key and every candidate
    with the feature vector the engine logged for it."""

    query: Any  # simulate.SimQuery
    key: str  # the normalised query key the click models group impressions by
    fused: tuple[str, ...]  # the fallback fusion's order: what the user is shown
    rrf: tuple[str, ...]  # plain reciprocal-rank fusion of the same candidates
    features: Mapping[str, Mapping[str, float]]  # doc id -> {feature: value}
    errors: int = 0  # strategies whose sub-search failed (their candidates are missing)

    @property
    def search_id(self) -> str:
        return self.query.query_id


def query_key(text: str) -> str:
    """The q2e key production groups clicks by (``rank/learn.py``); the lowered text when
    normalisation leaves nothing."""
    from ltrr_opensearch.feedback.keys import query_key as keys

    try:
        return keys(text)[1]
    except ValueError:
        return text.strip().lower() or "_empty_"


def search_all(pipeline: Pipeline, queries: Sequence[Any],
               progress: Callable[[int], None] | None = None) -> list[Searched]:
    """Every query through the pipeline (its simulated clock as ``now``), nothing logged."""
    names = pipeline.ranker.feature_names
    out = []
    for i, q in enumerate(queries, start=1):
        response = pipeline.search(q.text, k=SHOWN, now=q.timestamp, log=False)
        features = {c.id: dict(zip(names, c.features, strict=True))
                    for c in response.candidates if c.features is not None}
        out.append(Searched(q, query_key(q.text), tuple(c.id for c in response.candidates),
                            tuple(c.id for c in merge_results(response.results, margin=None)),
                            features, sum(1 for r in response.results if r.error)))
        if progress and i % 100 == 0:
            progress(i)
    return out


def impressions(searched: Sequence[Searched], clicks: Any, shown: int = SHOWN) -> list[Impression]:
    """The click model's reaction to each search's shown page, as the UBI path reads it."""
    out = []
    for s in searched:
        page = list(s.fused[:shown])
        if not page:
            continue
        events = clicks.simulate(s.query, page, query_id=s.search_id)
        out.append(impression_from_events(s.key, page, events, query_id=s.search_id))
    return out


@dataclass(frozen=True)
class Labels:
    """Judgments of one click model and the training rows they give."""

    rows: list[dict[str, Any]]
    judged_pairs: int
    shown_pairs: int
    exact: float  # share of judged pairs whose grade equals the simulator's true grade
    spearman: float  # judged grade vs true grade


def click_rows(searched: Sequence[Searched], model: Any, min_evidence: float,
               shown: int = SHOWN) -> Labels:
    """Rows for every judged shown doc of every search, with its logged features."""
    grades = {(j.query_key, j.doc_id): j.grade for j in judgments(model, min_evidence)}
    rows, truth, given = [], [], []
    for s in searched:
        for doc in s.fused[:shown]:
            grade = grades.get((s.key, doc))
            if grade is None or doc not in s.features:
                continue
            rows.append({"query_id": s.search_id, "doc_id": doc, "label": grade,
                         "features": dict(s.features[doc])})
            truth.append(s.query.grade(doc))
            given.append(grade)
    exact = float(np.mean(np.equal(truth, given))) if given else float("nan")
    return Labels(rows, len(grades), len(model.pairs()), exact, _spearman(given, truth))


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def true_rows(searched: Sequence[Searched]) -> list[dict[str, Any]]:
    """Every candidate of every search, labelled with the simulator's true grade."""
    return [{"query_id": s.search_id, "doc_id": doc, "label": s.query.grade(doc),
             "features": dict(values)}
            for s in searched for doc, values in s.features.items()]


def model_order(entry: Any, s: Searched) -> list[str]:
    """The search's candidates by the model's score on their logged features, as the engine
    computes it; ties (and a candidate without features, last) keep the fused order."""
    docs = [d for d in s.fused if d in s.features]
    scores = predict(entry, [s.features[d] for d in docs]) if docs else []
    ranked = sorted(range(len(docs)), key=lambda i: -scores[i])
    return [docs[i] for i in ranked] + [d for d in s.fused if d not in s.features]


def as_entry(name: str, result: TrainingResult) -> ModelEntry:
    """A trained result in the registry's shape, so it is scored exactly as deployed ones."""
    return ModelEntry(name=name, type=result.model_type, definition=result.definition,
                      feature_set="", feature_names=tuple(result.feature_names), params=(),
                      source="simstudy", feature_normalizers=result.feature_normalizers)


def scores(searched: Sequence[Searched], orders: Mapping[str, Callable[[Searched], Sequence[str]]]
           ) -> dict[str, dict[str, list[float]]]:
    """system -> metric -> per-search value (searches in ``searched`` order)."""
    out: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in orders}
    for s in searched:
        grades = dict(s.query.relevant)
        for name, order in orders.items():
            ranked = list(order(s))
            for metric, fn in METRICS.items():
                out[name][metric].append(fn(ranked, grades))
    return {name: dict(m) for name, m in out.items()}


def summarize(searched: Sequence[Searched], per_query: Mapping[str, Mapping[str, list[float]]]
              ) -> dict[str, dict[str, dict[str, float]]]:
    """intent ("all" first) -> system -> metric -> mean, plus ``queries`` per intent."""
    groups: dict[str, list[int]] = {"all": list(range(len(searched)))}
    for i, s in enumerate(searched):
        groups.setdefault(s.query.intent, []).append(i)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for intent, idx in groups.items():
        out[intent] = {name: {metric: float(np.mean([values[i] for i in idx]))
                              for metric, values in metrics.items()}
                       for name, metrics in per_query.items()}
        out[intent]["_queries"] = {"n": float(len(idx))}
    return out


@dataclass
class StudyConfig:
    train: int = 3000
    heldout: int = 600
    # PBM's evidence is an expected number of examinations. The simulator's queries repeat
    # little (known-item queries with typos almost never), so 2+ keeps mostly the head,
    # attribute and new-release queries and starves the model of known-item ones; 0.5 keeps
    # every pair more likely examined than not (docs/ranking.md measures 0.5..3).
    min_evidence: float = 0.5
    candidates: int = 50  # per strategy (the pipeline's default_k)
    rounds: int = 100
    max_depth: int = 4
    embedder: str = "tfidf"
    nthread: int = 2
    systems: tuple[str, ...] = SYSTEMS
    timings: dict[str, float] = field(default_factory=dict)


def seeded(sim: Any, seed: int) -> Any:
    """The world file's config with world, query and click seeds all moved by ``seed``."""
    return sim.replace(world=replace(sim.world, seed=sim.world.seed + seed),
                       queries=replace(sim.queries, seed=sim.queries.seed + seed))


@dataclass(frozen=True)
class Traffic:
    """One seeded world's searches: training traffic and held-out searches."""

    seed: int
    sim: Any  # the seeded SimConfig
    entities: int
    feature_names: tuple[str, ...]
    train: list[Searched]
    heldout: list[Searched]
    timings: dict[str, float]


def collect(client: OpenSearch, base: Settings, sim: Any, seed: int, config: StudyConfig,
            say: Callable[[str], None] = lambda _m: None) -> Traffic:
    """Generate and load the seeded world, run the training and held-out searches through
    the real pipeline with a logging-only ranker. The indices live under a fresh prefix
    derived from ``base.index_prefix`` and are deleted before this returns."""
    from ltrr_opensearch.evaluate.experiment import (
        embed_world,
        prepare_policy_indices,
        scratch_folder,
    )
    from ltrr_opensearch.simulate import QueryStream, World

    started = time.perf_counter()
    sim = seeded(sim, seed)
    world = World.generate(sim)
    folder = scratch_folder()
    prefix = f"{base.index_prefix}-study{seed}-{uuid.uuid4().hex[:6]}"
    settings = base.with_overrides(index_prefix=prefix)
    try:
        data = embed_world(list(world.rows()), config.embedder, folder)
        prepare_policy_indices(client, settings, data)
        feature_set = feature_set_for(client, settings)
        ensure_store(client)
        ensure_feature_set(client, feature_set)
        pipeline = replace(logging_pipeline(Pipeline.from_cluster(client, settings), feature_set),
                           default_k=config.candidates)
        loaded = time.perf_counter()
        stream = QueryStream(world, sim).take(config.train + config.heldout)
        train_q, heldout_q = stream[:config.train], stream[config.train:]
        train = search_all(pipeline, train_q,
                           lambda i: say(f"  seed {seed}: train {i}/{len(train_q)}"))
        heldout = search_all(pipeline, heldout_q,
                             lambda i: say(f"  seed {seed}: held-out {i}/{len(heldout_q)}"))
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                              expand_wildcards="all")
        shutil.rmtree(folder, ignore_errors=True)
    done = time.perf_counter()
    return Traffic(seed, sim, data.rows, tuple(feature_set.names), train, heldout,
                   {"load": round(loaded - started, 2), "search": round(done - loaded, 2)})


def run_study(client: OpenSearch, base: Settings, sim: Any, seed: int, config: StudyConfig,
              say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """:func:`collect` then :func:`analyse`."""
    return analyse(collect(client, base, sim, seed, config, say), config, say)


def analyse(traffic: Traffic, config: StudyConfig,
            say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Clicks on the training traffic, judgments, models, and every system's held-out scores."""
    from ltrr_opensearch.simulate import ClickModel

    timings = dict(traffic.timings)
    mark = time.perf_counter()

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        return now

    sim, seed, train, heldout = traffic.sim, traffic.seed, traffic.train, traffic.heldout
    train_keys = {s.key for s in train}
    shown = impressions(train, ClickModel(sim, seed=sim.queries.seed + 1000 * (seed + 1)))
    names = list(traffic.feature_names)
    labels = {"pbm": click_rows(train, PBM().fit(shown), config.min_evidence),
              "sdbn": click_rows(train, SDBN().fit(shown), config.min_evidence)}
    mark = lap("click_models", mark)
    lm: dict[str, Any] = dict(rounds=config.rounds, max_depth=config.max_depth, seed=seed,
              nthread=config.nthread, validation_fraction=0.1)
    models: dict[str, Any] = {}
    wanted = set(config.systems)
    if "clicks_lambdamart" in wanted:
        models["clicks_lambdamart"] = as_entry(
            "clicks_lambdamart", train_lambdamart(labels["pbm"].rows, names, **lm))
    if "clicks_linear" in wanted:
        models["clicks_linear"] = as_entry(
            "clicks_linear", train_linear(labels["pbm"].rows, names, seed=seed,
                                          validation_fraction=0.1))
    if "sdbn_lambdamart" in wanted:
        models["sdbn_lambdamart"] = as_entry(
            "sdbn_lambdamart", train_lambdamart(labels["sdbn"].rows, names, **lm))
    if "true_lambdamart" in wanted:
        models["true_lambdamart"] = as_entry(
            "true_lambdamart", train_lambdamart(true_rows(train), names, **lm))
    if "default" in wanted:
        default = shipped_default()
        if default is not None and tuple(default.feature_names) == tuple(names):
            models["default"] = default
        else:
            say("the shipped default model does not match the current feature set: skipped")
    mark = lap("train", mark)

    orders: dict[str, Callable[[Searched], Sequence[str]]] = {}
    if "rrf" in wanted:
        orders["rrf"] = lambda s: s.rrf
    if "fusion" in wanted:
        orders["fusion"] = lambda s: s.fused
    for name in config.systems:
        if name in models:
            orders[name] = partial(model_order, models[name])
    per_query = scores(heldout, orders)
    lap("evaluate", mark)
    timings["total"] = round(sum(timings.values()), 2)
    return {
        "seed": seed, "world_seed": sim.world.seed, "query_seed": sim.queries.seed,
        "entities": traffic.entities, "train_searches": len(train), "heldout_searches": len(heldout),
        "distinct_train_keys": len(train_keys),
        "heldout_keys_seen_in_train": float(np.mean(
            [s.key in train_keys for s in heldout])) if heldout else 0.0,
        "mean_candidates": float(np.mean([len(s.fused) for s in heldout])) if heldout else 0.0,
        "searches_with_failed_strategies": sum(1 for s in train + heldout if s.errors),
        "clicked_impressions": sum(1 for i in shown if any(i.clicked)),
        "labels": {name: {"rows": len(lab.rows), "queries": len({r["query_id"] for r in lab.rows}),
                          "judged_pairs": lab.judged_pairs, "shown_pairs": lab.shown_pairs,
                          "grade_exact": lab.exact, "grade_spearman": lab.spearman}
                   for name, lab in labels.items()},
        "summary": summarize(heldout, per_query),
        "per_query": per_query,
        "timings_s": timings,
    }
