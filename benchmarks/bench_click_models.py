"""How well click models recover the simulator's true relevance from position-biased clicks.

    python benchmarks/bench_click_models.py [--queries 300] [--impressions 30000] [--seed 7]

Each simulated query gets a fixed candidate list (up to 5 of its relevant docs, the rest
irrelevant) and ``--rankings`` fixed noisy orders of it (weight * true grade + Gaussian noise), so
relevant docs appear at varied positions (``--served-weight -1``: a ranker that prefers
irrelevant docs, where position bias misleads CTR most); every impression shows one of those orders to the
simulator's cascade click model (``simulate/clicks.py``). Per model it prints the rank
correlation of estimated relevance with the true grades over all pairs, NDCG@10 of each
query's list sorted by the estimate, and for the judgments (``--min-evidence``) coverage and
exact-grade agreement. No node, no network.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from scipy import stats

from ltrr_opensearch.evaluate.metrics import ndcg
from ltrr_opensearch.rank.clicks import CTR, PBM, SDBN
from ltrr_opensearch.rank.judgments import DEFAULT_THRESHOLDS, judgments
from ltrr_opensearch.rank.ubi import impression_from_events
from ltrr_opensearch.simulate.clicks import ClickModel
from ltrr_opensearch.simulate.config import ClickParams, SimConfig, WorldConfig
from ltrr_opensearch.simulate.queries import QueryStream
from ltrr_opensearch.simulate.world import World


def build_lists(world, queries, size, rng):
    """query -> candidate doc ids: up to 5 relevant ones and irrelevant fillers."""
    lists = {}
    for q in queries:
        relevant = list(q.relevant)
        rng.shuffle(relevant)
        docs = relevant[:5]
        while len(docs) < size:
            doc = world.ids[int(rng.integers(len(world.ids)))]
            if doc not in docs and q.grade(doc) == 0:
                docs.append(doc)
        lists[q.query_id] = docs
    return lists


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--impressions", type=int, default=30000)
    parser.add_argument("--size", type=int, default=10, help="results per list")
    parser.add_argument("--rankings", type=int, default=4, help="fixed noisy orders per query")
    parser.add_argument("--noise", type=float, default=1.5, help="sd of the order noise, in grades")
    parser.add_argument("--served-weight", type=float, default=1.0,
                        help="weight of the true grade in the served order (-1: a bad ranker)")
    parser.add_argument("--eta", type=float, default=1.0, help="examination 1/(1+rank)**eta")
    parser.add_argument("--min-evidence", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sdbn-prior", type=float, nargs=2, default=(1.0, 1.0), metavar=("A", "B"))
    parser.add_argument("--pbm-prior", type=float, nargs=2, default=(1.0, 1.0), metavar=("A", "B"))
    args = parser.parse_args()

    config = SimConfig(world=WorldConfig(entities=args.entities), clicks=ClickParams(eta=args.eta))
    world = World.generate(config)
    queries = [q for q in QueryStream(world, config).take(args.queries * 3) if q.relevant]
    queries = queries[: args.queries]
    rng = np.random.default_rng(args.seed)
    lists = build_lists(world, queries, args.size, rng)
    orders = {}
    for q in queries:
        docs = lists[q.query_id]
        grades = np.array([q.grade(d) for d in docs], dtype=float)
        served = [args.served_weight * grades + rng.normal(0, args.noise, len(docs))
                  for _ in range(args.rankings)]
        orders[q.query_id] = [[docs[i] for i in np.argsort(-score)] for score in served]
    clicker = ClickModel(config.clicks, seed=args.seed)
    impressions = []
    for n in range(args.impressions):
        q = queries[n % len(queries)]
        shown = orders[q.query_id][int(rng.integers(args.rankings))]
        events = clicker.simulate(q, shown)
        impressions.append(impression_from_events(q.query_id, shown, events))
    truth = {(q.query_id, d): q.grade(d) for q in queries for d in lists[q.query_id]}

    print(f"{len(queries)} queries x {args.size} docs, {len(impressions)} impressions, "
          f"{sum(sum(i.clicked) for i in impressions)} clicks, eta={args.eta}, "
          f"noise={args.noise}, served_weight={args.served_weight}, "
          f"min_evidence={args.min_evidence}, thresholds={DEFAULT_THRESHOLDS}, "
          f"priors sdbn={tuple(args.sdbn_prior)} pbm={tuple(args.pbm_prior)}")
    print(f"{'model':<6} {'spearman':>8} {'kendall':>8} {'q-kendall':>9} {'ndcg@10':>8} "
          f"{'coverage':>8} {'j-spearman':>10} {'grade=':>7} {'|grade-true|':>12}")
    ideal = statistics.mean(
        ndcg(sorted(lists[q.query_id], key=lambda d, q=q: -q.grade(d)),
             {d: q.grade(d) for d in lists[q.query_id]}) for q in queries)
    shown_ndcg = statistics.mean(
        ndcg(order, {d: q.grade(d) for d in order}) for q in queries for order in orders[q.query_id])
    for model in (CTR(), SDBN(tuple(args.sdbn_prior)), PBM(tuple(args.pbm_prior))):
        model.fit(impressions)
        pairs = list(truth)
        est = np.array([model.relevance(*p) for p in pairs])
        true = np.array([truth[p] for p in pairs])
        rho = stats.spearmanr(est, true).statistic
        tau = stats.kendalltau(est, true).statistic
        per_q, ndcgs = [], []
        for q in queries:
            docs = lists[q.query_id]
            e = [model.relevance(q.query_id, d) for d in docs]
            g = [q.grade(d) for d in docs]
            if len(set(g)) > 1:
                per_q.append(stats.kendalltau(e, g).statistic)
            ranked = [d for _, d in sorted(zip(e, docs, strict=True), key=lambda x: -x[0])]
            ndcgs.append(ndcg(ranked, dict(zip(docs, g, strict=True))))
        judged = judgments(model, min_evidence=args.min_evidence)
        coverage = len(judged) / len(pairs)
        jg = np.array([j.grade for j in judged])
        jt = np.array([truth[(j.query_key, j.doc_id)] for j in judged])
        j_rho = stats.spearmanr(jg, jt).statistic if len(judged) > 2 else float("nan")
        exact = float(np.mean(jg == jt)) if len(judged) else float("nan")
        off = float(np.mean(np.abs(jg - jt))) if len(judged) else float("nan")
        print(f"{model.name:<6} {rho:>8.3f} {tau:>8.3f} {np.nanmean(per_q):>9.3f} "
              f"{statistics.mean(ndcgs):>8.3f} {coverage:>8.3f} {j_rho:>10.3f} {exact:>7.3f} "
              f"{off:>12.3f}")
        if isinstance(model, PBM):
            print(f"       pbm theta[0..4] = {np.round(model.theta[:5], 3).tolist()} "
                  f"(simulator: {[round(config.clicks.examination(r), 3) for r in range(5)]}, "
                  f"before its cascade stops), {model.iterations} EM iterations")
    print(f"ndcg@10 of the true-grade order {ideal:.3f}, of the shown (noisy) orders {shown_ndcg:.3f}")


if __name__ == "__main__":
    main()
