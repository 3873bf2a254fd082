"""Learning to rank without a node: click models -> judgments -> trainers -> plugin models.

* :mod:`.types` - the frozen records passed between the steps (impressions, judgments, rows);
* :mod:`.clicks` - position-bias-aware click models (SDBN, PBM by EM);
* :mod:`.judgments` - graded labels from a fitted click model, with a minimum evidence;
* :mod:`.dataset` - validated feature matrices and the split by query;
* :mod:`.predict` - what the LTR plugin computes for ``model/linear`` and ``model/xgboost+json``;
* :mod:`.offline` - NDCG/MRR on held-out queries with bootstrap intervals;
* :mod:`.train` - LambdaMART (xgboost) and a pairwise linear ranker, exported for the plugin.

Formulas and measured figures: ``docs/ranking.md``.
"""
