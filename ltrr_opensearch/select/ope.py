"""Off-policy evaluation: what would another policy have earned on the logged requests?

Semi-bandit value of a target policy t (each arm that runs is rewarded on its own)::

    V(t) = E_x [ sum_a  t(a|x) * r(x, a) ]        t(a|x) = P(arm a runs | x)

From logged requests i (context x_i, arms S_i that ran with logging propensities
p_i(a) = P(a in S | x_i) and rewards r_ia), with w_ia = t(a|x_i) / p_i(a):

* IPS:   1/n * sum_i sum_{a in S_i} w_ia r_ia
* SNIPS: sum_a [ sum_{i: a in S_i} w_ia r_ia ] / [ sum_{i: a in S_i} 1/p_i(a) ]
         (per-arm self-normalisation: the denominator has expectation n)
* DR:    1/n * sum_i sum_a [ t(a|x_i) q(x_i,a) + 1[a in S_i] w_ia (r_ia - q(x_i,a)) ]
         with q a per-arm ridge regression of reward on context, cross-fitted over folds.

Confidence intervals: percentile bootstrap over requests (q held fixed).
Every estimator needs the logging policy to give each arm the target may run a
propensity > 0 in that context (the exploration floor ensures this).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.types import ContextVector

TargetPolicy = Callable[[ContextVector], Mapping[str, float]]
ESTIMATORS = ("ips", "snips", "dr")


@dataclass(frozen=True)
class LoggedDecision:
    """One logged request: its context, the arms that ran with their propensities, rewards."""

    request_id: str
    context: ContextVector
    propensities: Mapping[str, float]  # arm -> logging propensity, for arms that ran
    rewards: Mapping[str, float]  # arm -> reward; an arm that ran without one gets the default


@dataclass(frozen=True)
class Estimate:
    estimator: str
    value: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    decisions: Sequence[LoggedDecision],
    target: TargetPolicy,
    *,
    missing_reward: float = 0.0,
    bootstrap: int = 500,
    confidence: float = 0.95,
    folds: int = 2,
    seed: int = 0,
) -> dict[str, Estimate]:
    """IPS, SNIPS and DR estimates of ``target``'s value with bootstrap intervals,
    plus ``logged``: the logging policy's own average reward (the baseline)."""
    if not decisions:
        raise ValidationError("no logged decisions to evaluate",
                              hint="widen --since or check that searches log query_attributes")
    arrays = _arrays(decisions, target, missing_reward)
    ran, p0, reward, pt, contexts = arrays
    q = _reward_model(ran, reward, contexts, folds, seed)
    rng = np.random.default_rng(seed)
    n = len(decisions)
    point = _estimators(ran, p0, reward, pt, q, np.arange(n))
    samples = {name: np.empty(bootstrap) for name in point}
    for b in range(bootstrap):
        idx = rng.integers(0, n, n)
        for name, value in _estimators(ran, p0, reward, pt, q, idx).items():
            samples[name][b] = value
    tail = (1 - confidence) / 2 * 100
    out = {}
    for name, value in point.items():
        low, high = np.percentile(samples[name], [tail, 100 - tail]) if bootstrap else (value,) * 2
        out[name] = Estimate(name, float(value), float(low), float(high), n)
    return out


def _arrays(decisions: Sequence[LoggedDecision], target: TargetPolicy, missing: float):
    arms = sorted({a for d in decisions for a in d.propensities})
    index = {a: j for j, a in enumerate(arms)}
    n, k = len(decisions), len(arms)
    ran = np.zeros((n, k), bool)
    p0 = np.ones((n, k))
    reward = np.zeros((n, k))
    pt = np.zeros((n, k))
    width = len(decisions[0].context.values)
    contexts = np.zeros((n, width))
    cache: dict[tuple[str, tuple[float, ...]], Mapping[str, float]] = {}
    for i, d in enumerate(decisions):
        if len(d.context.values) != width:
            raise ValidationError(f"decision {d.request_id} has a context of "
                                  f"{len(d.context.values)} values, others {width}")
        contexts[i] = d.context.values
        for arm, p in d.propensities.items():
            if not isinstance(p, (int, float)) or not 0.0 < p <= 1.0:
                raise ValidationError(f"decision {d.request_id}: propensity of {arm!r} must be "
                                      f"in (0, 1], got {p!r}",
                                      hint="log propensities from the bandit's ArmChoice")
            r = d.rewards.get(arm, missing)
            if not isinstance(r, (int, float)) or not math.isfinite(r):
                raise ValidationError(f"decision {d.request_id}: reward of {arm!r} is not finite")
            ran[i, index[arm]], p0[i, index[arm]], reward[i, index[arm]] = True, p, r
        # The target's propensities are a function of the context: compute once per context.
        key = (d.context.version, tuple(d.context.values))
        if key not in cache:
            cache[key] = target(d.context)
        for arm, p in cache[key].items():
            if arm in index:
                pt[i, index[arm]] = p
    return ran, p0, reward, pt, contexts


def _reward_model(ran, reward, contexts, folds: int, seed: int) -> np.ndarray:
    """Cross-fitted per-arm ridge predictions q(x_i, a) (0 where an arm has too little data)."""
    from sklearn.linear_model import Ridge

    n, k = ran.shape
    q = np.zeros((n, k))
    fold_of = np.random.default_rng(seed).integers(0, max(folds, 1), n)
    for f in range(max(folds, 1)):
        train, test = fold_of != f, fold_of == f
        if folds <= 1:
            train = test
        for j in range(k):
            rows = train & ran[:, j]
            if rows.sum() < 2:
                continue
            model = Ridge(alpha=1.0).fit(contexts[rows], reward[rows, j])
            q[test, j] = model.predict(contexts[test])
    return q


def _estimators(ran, p0, reward, pt, q, idx) -> dict[str, float]:
    ran, p0, reward, pt, q = ran[idx], p0[idx], reward[idx], pt[idx], q[idx]
    n = len(idx)
    w = np.where(ran, pt / p0, 0.0)
    ips = float((w * reward).sum() / n)
    numerators = (w * reward).sum(axis=0)
    denominators = np.where(ran, 1.0 / p0, 0.0).sum(axis=0)
    snips = float(np.sum(np.divide(numerators, denominators, out=np.zeros_like(numerators),
                                   where=denominators > 0)))
    dr = float((pt * q + w * (reward - q)).sum() / n)
    logged = float(np.where(ran, reward, 0.0).sum() / n)
    return {"ips": ips, "snips": snips, "dr": dr, "logged": logged}


def read_logged_decisions(client: Any, settings: Any, since_ms: int | None = None,
                          limit: int = 100_000, variant: str | None = None,
                          until_ms: int | None = None) -> list[LoggedDecision]:
    """Logged searches from the UBI queries index (``query_attributes.arms`` with
    propensities and ``query_attributes.context``) joined with the rewards log; only
    those of one experiment variant (``"experiment/variant"``, e.g. the control's
    traffic) when ``variant`` is given, and logged before ``until_ms`` if given."""
    from opensearchpy import exceptions as os_exc

    from ltrr_opensearch.select.store import BanditStore

    index = settings.ubi_queries_index
    filters: list[dict[str, Any]] = [{"exists": {"field": "query_attributes.arms.arm"}}]
    if since_ms is not None or until_ms is not None:
        bounds = {"gte": since_ms, "lt": until_ms}
        filters.append({"range": {"timestamp": {**{k: v for k, v in bounds.items()
                                                   if v is not None},
                                                "format": "epoch_millis"}}})
    if variant is not None:
        filters.append({"term": {"query_attributes.variant": variant}})
    body: dict[str, Any] = {"size": 1000, "query": {"bool": {"filter": filters}},
                            "sort": [{"timestamp": "asc"}, {"query_id": "asc"}],
                            "_source": ["query_id", "query_attributes"]}
    docs: list[dict[str, Any]] = []
    try:
        while True:
            hits = client.search(index=index, body=body)["hits"]["hits"]
            docs.extend(h["_source"] for h in hits)
            if len(docs) > limit:  # evaluating only the oldest part would mislead: say so
                raise ValidationError(
                    f"more than {limit} logged decisions to evaluate in {index!r}",
                    hint="evaluate a shorter window with --since (e.g. --since 7d)")
            if len(hits) < body["size"]:
                break
            body["search_after"] = hits[-1]["sort"]
    except os_exc.NotFoundError:
        raise ValidationError(f"no search log: index {index!r} does not exist",
                              hint="searches are logged by `ltrr search` and `ltrr serve` (POST /search); "
                                   "run some searches first") from None
    except os_exc.ConnectionError:
        from ltrr_opensearch.engine.client import unreachable

        raise unreachable(settings, "reading logged decisions") from None
    rewards = BanditStore(client, settings).rewards_for([d["query_id"] for d in docs])
    out, skipped = [], 0
    for doc in docs:
        attrs = doc.get("query_attributes") or {}
        context = attrs.get("context") or {}
        values = context.get("values")
        if not values or "version" not in context:
            skipped += 1  # logged without a context: nothing a contextual target can use
            continue
        names = context.get("names") or [f"f{i}" for i in range(len(values))]
        out.append(LoggedDecision(
            request_id=doc["query_id"],
            context=ContextVector(str(context["version"]), tuple(names),
                                  tuple(float(v) for v in values)),
            propensities={a["arm"]: a.get("propensity") for a in attrs.get("arms") or []},
            rewards=rewards.get(doc["query_id"], {})))
    return out
