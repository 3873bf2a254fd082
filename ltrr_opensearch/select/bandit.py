"""The contextual bandit that chooses retrieval strategies and their candidate budgets.

``Bandit`` is a small scikit-learn-like facade over MABWiser (all parameters in
``__init__``; ``fit``/``partial_fit``/``select``). It hides MABWiser's quirks: contexts
are single ``ContextVector`` objects (made 2-D here), unknown arms and bad rewards are
rejected instead of silently ignored, and an unfitted bandit still answers (uniform
scores) instead of raising.

Selecting a subset is a semi-bandit: every arm is scored for the context, the top M run
(or, with probability epsilon, a uniform random M-subset), and each arm that ran is its
own observation. See docs/bandit.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.select.budget import Budget, allocate
from ltrr_opensearch.select.modelstate import ArmStats, ModelState, arm_stats, newest_per_arm
from ltrr_opensearch.select.policy import CONTEXTUAL, PolicySpec
from ltrr_opensearch.select.propensity import (
    exact_top_m,
    mix_uniform,
    sampled_top_m,
    top_m,
)
from ltrr_opensearch.types import ArmChoice, ContextVector

_UPPER_QUANTILE = 0.95  # the "bound" reported for sampled policies


@dataclass(frozen=True)
class Observation:
    """One arm that ran for one request, with its reward (the unit the bandit learns from)."""

    request_id: str
    arm: str
    reward: float
    context_version: str
    context: tuple[float, ...]
    logged_at: int = 0  # epoch milliseconds, set by whoever records it
    k: int | None = None
    propensity: float | None = None
    took_ms: float | None = None  # the arm's engine time for this request (cost_per_ms)
    variant: str | None = None  # the experiment variant(s) served (per-variant bandit state)

    @property
    def key(self) -> str:
        return f"{self.request_id}:{self.arm}"


@dataclass(frozen=True)
class ArmExplanation:
    arm: str
    score: float | None  # what the policy ranked by (UCB bound, sampled value, mean...)
    expected_reward: float | None
    bound: float | None
    propensity: float
    chosen: bool
    k: int
    killed: bool
    unavailable: str | None = None  # why this arm cannot return anything for this request
    # Why an arm ran regardless of the policy's choice ([budget] always): it runs whenever
    # it is available, so its propensity is 1.
    always: str | None = None


@dataclass(frozen=True)
class Explanation:
    """Why a request got the strategies it got."""

    policy: str
    context_version: str
    context: dict[str, float]
    propensity_method: str  # "exact" or "monte_carlo(S)"
    epsilon: float
    explored: bool
    observations: int
    arms: tuple[ArmExplanation, ...]
    # Too little evidence yet (fewer than cold_start_min_obs observations for some available
    # arm): "all", every available arm ran (day-one safety), or "prior", the policy's prior
    # plan decided; "learned": the fitted policy did.
    plan: str = "learned"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    choices: list[ArmChoice]
    explanation: Explanation


@dataclass(frozen=True)
class _Decision:
    eligible: list[str]
    scores: np.ndarray
    means: np.ndarray
    bounds: np.ndarray
    propensities: np.ndarray
    chosen: list[int]
    explored: bool
    epsilon: float
    method: str
    unavailable: Mapping[str, str]
    plan: str
    blocked: frozenset[str] = frozenset()  # every arm the caller named unavailable

    @property
    def chosen_arms(self) -> set[str]:
        return {self.eligible[i] for i in self.chosen}


class Bandit:
    """Chooses up to ``budget.max_arms`` of ``arms`` per context and splits the candidates.

    ``epsilon`` / ``min_propensity`` set the exploration floor; ``killed`` arms are never
    chosen; ``arm_features`` (numeric vectors per arm) warm-start arms with fewer than
    ``warm_start_min_obs`` observations from the nearest arm (MABWiser ``warm_start``).
    """

    def __init__(
        self,
        arms: Sequence[str],
        policy: PolicySpec | None = None,
        budget: Budget | None = None,
        *,
        epsilon: float = 0.0,
        min_propensity: float = 0.0,
        propensity_samples: int = 256,
        killed: Iterable[str] = (),
        arm_features: Mapping[str, Sequence[float]] | None = None,
        warm_start_min_obs: int = 20,
        warm_start_quantile: float = 0.8,
        fit_intercept: bool = True,
        context_version: str | None = None,
        context_names: Sequence[str] | None = None,
        seed: int = 0,
        prior: Mapping[str, float] | None = None,
        cold_start_min_obs: int = 0,
        cold_start_epsilon: float = 0.0,
        cold_start_plan: str = "prior",
        cold_start_k: int | None = None,
        window: int = 0,
    ) -> None:
        arms = [str(a) for a in arms]
        if not arms or len(set(arms)) != len(arms) or not all(arms):
            raise ValidationError(f"arms must be distinct non-empty names, got {arms!r}")
        if not 0.0 <= epsilon <= 1.0 or not 0.0 <= min_propensity <= 1.0:
            raise ValidationError("epsilon and min_propensity must be within [0, 1]")
        if propensity_samples < 1:
            raise ValidationError("propensity_samples must be >= 1")
        self.arms: tuple[str, ...] = tuple(arms)
        self.policy = policy or PolicySpec()
        self.budget = budget or Budget()
        self.epsilon = float(epsilon)
        self.min_propensity = float(min_propensity)
        self.propensity_samples = int(propensity_samples)
        self.killed: frozenset[str] = frozenset()
        self.set_killed(killed)
        self.arm_features = {k: [float(v) for v in vs] for k, vs in (arm_features or {}).items()}
        self.warm_start_min_obs = int(warm_start_min_obs)
        self.warm_start_quantile = float(warm_start_quantile)
        self.fit_intercept = fit_intercept
        self.context_version = context_version
        self.context_names = tuple(context_names) if context_names is not None else None
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)
        # Cold start: until every available arm has cold_start_min_obs observations, arms
        # are ranked by ``prior`` (higher first; arms it omits rank last) instead of the
        # fitted policy, with exploration raised to cold_start_epsilon (docs/bandit.md).
        self.prior = {str(a): float(v) for a, v in (prior or {}).items()}
        self.cold_start_min_obs = int(cold_start_min_obs)
        if not 0.0 <= cold_start_epsilon <= 1.0:
            raise ValidationError("cold_start_epsilon must be within [0, 1]")
        self.cold_start_epsilon = float(cold_start_epsilon)
        # Plan "all": during cold start every available arm runs, cold_start_k candidates
        # each (default: as deep as a chosen arm gets when K is split evenly), so the first
        # searches miss nothing any single strategy would have found.
        if cold_start_plan not in ("prior", "all"):
            raise ValidationError(f"cold_start_plan must be 'prior' or 'all', got "
                                  f"{cold_start_plan!r}")
        self.cold_start_plan = cold_start_plan
        self.cold_start_k = int(cold_start_k if cold_start_k is not None
                                else max(1, self.budget.total_candidates // self.budget.max_arms))
        if self.cold_start_k < 1:
            raise ValidationError("cold_start_k must be >= 1")
        # Sliding window: each arm's model is fitted on its newest ``window`` observations
        # only (0: all), so an arm whose quality changed is re-ranked within that many.
        if window < 0:
            raise ValidationError("window must be >= 0 (0 keeps every observation)")
        self.window = int(window)
        self._arm_counts: Counter[str] = Counter()
        self._history: list[Observation] = []  # everything accepted, incl. arms since removed
        self._seen: set[str] = set()
        self._width: int | None = len(self.context_names) if self.context_names else None
        self._mab: Any = None
        self._from_state = False  # loaded from a snapshot's arrays: no observations kept

    # ----------------------------------------------------------------- learning
    def fit(self, observations: Iterable[Observation], strict: bool = True) -> Bandit:
        """Forget everything and learn from ``observations`` in the given order.

        ``strict=False`` (replaying a log) keeps observations of arms not configured now
        (so re-adding an arm restores its history) and skips other context versions;
        ``strict=True`` rejects them. Either way nothing changes if validation fails.
        """
        accepted, width, version = self._validate(list(observations), strict, fresh=True)
        self._width, self.context_version = width, version
        self._history = accepted
        self._from_state = False
        self._seen = {o.key for o in accepted}
        self._arm_counts = Counter(o.arm for o in accepted)
        self._refit()
        return self

    def partial_fit(self, observations: Iterable[Observation], strict: bool = True) -> Bandit:
        """Learn from new observations; a (request, arm) already learned is skipped."""
        self._needs_history("partial_fit")
        new, width, version = self._validate(list(observations), strict, fresh=False)
        self._width, self.context_version = width, version
        if not new:
            return self
        self._history.extend(new)
        self._seen.update(o.key for o in new)
        self._arm_counts.update(o.arm for o in new)
        active = [o for o in new if o.arm in self.arms]
        if self._mab is None or self.window:  # a window drops old observations: refit
            self._refit()
        elif active:
            self._mab_fit(self._mab.partial_fit, active)
        return self

    # ------------------------------------------------- bounded state (snapshots)
    def state_from(self, observations: Iterable[Observation], key: str) -> ModelState:
        """The model state of ``fit(observations, strict=False)``, as arrays per arm (no
        MABWiser object): what a snapshot stores instead of the log."""
        accepted, width, version = Bandit(
            self.arms, self.policy, fit_intercept=self.fit_intercept,
            context_version=self.context_version)._validate(list(observations), False, True)
        counts = Counter(o.arm for o in accepted if o.arm in self.arms)
        data = [o for o in accepted if o.arm in self.arms]
        if self.window:
            data = newest_per_arm(data, self.window)
        if width is None:
            return ModelState(key, version, None, dict(counts), {})
        row_width = width + (1 if self.fit_intercept else 0)
        arms = {a: arm_stats([o for o in data if o.arm == a], row_width, self.fit_intercept,
                             bool(self.window))
                for a in self.arms if counts.get(a)}
        return ModelState(key, version, row_width, dict(counts), arms)

    def extend_state(self, state: ModelState, new: Sequence[Observation],
                     newest: Callable[[str, str, int | None], list[Observation]]
                     ) -> ModelState | None:
        """``state`` plus ``new`` observations (canonical order, all after the state's).
        ``newest(arm, context_version, since_ms)`` returns the arm's newest ``window``
        observations including the new ones, reading only those logged at or after
        ``since_ms`` when given (only called with a window). None: the newest observation
        has another context version, so the model must be rebuilt from the log."""
        if not new:
            return state
        version = state.context_version
        if version is None or state.width is None:
            return None
        # A bandit pinned to its layout skips other layouts' observations (a rebuild would
        # too); an unpinned one follows the newest observation's layout, so rebuilds.
        if new[-1].context_version != version and self.context_version != version:
            return None
        accepted = [o for o in new if o.context_version == version]
        width = state.width - (1 if self.fit_intercept else 0)
        for o in accepted:
            if len(o.context) != width or not all(math.isfinite(v) for v in o.context):
                raise ValidationError(f"context of {o.key} must be {width} finite numbers, "
                                      f"got {len(o.context)}")
            if not math.isfinite(o.reward):
                raise ValidationError(f"reward for {o.key} is not a finite number: {o.reward!r}")
        counts = Counter(state.counts)
        arms = dict(state.arms)
        for arm in self.arms:
            mine = [o for o in accepted if o.arm == arm]
            if not mine:
                continue
            counts[arm] += len(mine)
            if self.window:
                since = arms[arm].since if arm in arms else None
                arms[arm] = arm_stats(newest(arm, version, since), state.width,
                                      self.fit_intercept, True)
            else:
                arms[arm] = arms.get(arm, ArmStats.zeros(state.width)).plus(
                    arm_stats(mine, state.width, self.fit_intercept))
        return ModelState(state.key, version, state.width, dict(counts), arms)

    def load_state(self, state: ModelState) -> Bandit:
        """Become the bandit whose fitted model is ``state`` (a linear policy's arrays):
        the same predictions as fitting the observations the state was made from."""
        if self.policy.neighborhood is not None or self.policy.learning not in CONTEXTUAL:
            raise LtrrError(f"{self.policy.name} keeps no array state; fit it from the log")
        if state.context_version is not None:
            self.context_version = state.context_version
        if state.width is not None:
            self._width = state.width - (1 if self.fit_intercept else 0)
        self._arm_counts = Counter(state.counts)
        self._history, self._seen = [], set()
        self._from_state = True
        self._mab = self._assemble(state)
        return self

    def _assemble(self, state: ModelState) -> Any:
        """A fitted MABWiser object from per-arm arrays, doing what ``_refit`` does: plain
        ridge fits, or (young arms) warm start from the nearest established arm and then
        the young arm's own data on top."""
        stats = {a: s for a, s in state.arms.items() if a in self.arms and s.n > 0}
        if not stats or state.width is None:
            return None
        young = {a for a in self.arms if a not in stats or stats[a].n < self.warm_start_min_obs}
        established = [a for a in self.arms if a in stats and a not in young]
        can_warm = bool(established and young and self.policy.neighborhood is None
                        and all(a in self.arm_features for a in self.arms))
        base = established if can_warm else [a for a in self.arms if a in stats]
        mab = self.policy.build(list(self.arms), self.seed)
        # One all-zero row per base arm: every model starts at A = l2_lambda I, X'y = 0
        # (a zero row adds nothing) and those arms count as trained for warm start.
        mab.fit(base, np.zeros(len(base)), np.zeros((len(base), state.width)))
        models = mab._imp.arm_to_model
        for arm in base:
            _add_arrays(models[arm], stats[arm])
        if can_warm:
            mab.warm_start({a: self.arm_features[a] for a in self.arms},
                           self.warm_start_quantile)
            for arm in self.arms:
                if arm in young and arm in stats:
                    _add_arrays(models[arm], stats[arm])
        return mab

    def _needs_history(self, what: str) -> None:
        if self._from_state:
            raise LtrrError(f"{what} needs the observations, and this bandit was loaded from a "
                            "snapshot's arrays", hint="fit() it from the log first, or change "
                            "the policy config and let Learner.sync rebuild the state")

    @property
    def counts(self) -> dict[str, int]:
        """Observations learned per configured arm."""
        return {arm: self._arm_counts.get(arm, 0) for arm in self.arms}

    @property
    def observations(self) -> int:
        return sum(self.counts.values())

    def set_killed(self, killed: Iterable[str]) -> None:
        """Arms forced off (kill switch); they keep what they learned."""
        self.killed = frozenset(str(a) for a in killed)

    def add_arm(self, arm: str, features: Sequence[float] | None = None) -> None:
        """Add an arm (warm-started from the nearest arm if features are known)."""
        self._needs_history("add_arm")
        if arm in self.arms:
            raise ValidationError(f"arm {arm!r} already exists")
        self.arms = (*self.arms, arm)
        if features is not None:
            self.arm_features[arm] = [float(v) for v in features]
        self._refit()

    def remove_arm(self, arm: str) -> None:
        """Remove an arm; the others keep what they learned (its history is kept aside)."""
        self._needs_history("remove_arm")
        if arm not in self.arms:
            raise ValidationError(f"unknown arm {arm!r}", hint=f"arms: {', '.join(self.arms)}")
        if len(self.arms) == 1:
            raise ValidationError("cannot remove the last arm")
        self.arms = tuple(a for a in self.arms if a != arm)
        self._refit()

    # ---------------------------------------------------------------- deciding
    def select(self, context: ContextVector, seed: int | None = None,
               unavailable: Mapping[str, str] | None = None) -> Selection:
        """The arms to run for ``context``, their candidate counts and propensities.
        ``unavailable`` (arm -> reason) are arms that cannot return anything for this
        request: never chosen (unless no other arm is live), named in the explanation."""
        decision = self._decide(context, seed, unavailable)
        chosen = [decision.eligible[i] for i in decision.chosen]
        if decision.plan == "all":  # every available arm, each as deep as cold_start_k
            ks = dict.fromkeys(chosen, self.cold_start_k)
        else:
            ks = allocate({decision.eligible[i]: decision.means[i] for i in decision.chosen},
                          self.budget)
        always = self._always(decision)
        choices = [
            ArmChoice(arm=arm, k=ks[arm],
                      propensity=1.0 if arm in always else float(decision.propensities[i]),
                      expected_reward=_num(decision.means[i]), bound=_num(decision.bounds[i]))
            for arm, i in zip(chosen, decision.chosen, strict=True)
        ]
        # [budget] always: on top of the M chosen arms (once, if the policy chose it too).
        by_arm = {a: i for i, a in enumerate(decision.eligible)}
        for arm, k in always.items():
            if arm not in ks:
                i = by_arm[arm]
                ks[arm] = k
                choices.append(ArmChoice(arm=arm, k=k, propensity=1.0,
                                         expected_reward=_num(decision.means[i]),
                                         bound=_num(decision.bounds[i])))
        return Selection(choices, self._explain(context, decision, ks, always))

    def propensities(self, context: ContextVector, seed: int | None = None,
                     unavailable: Mapping[str, str] | None = None) -> dict[str, float]:
        """P(arm runs | context) for every configured arm (0 for killed arms; 1 for an
        ``always`` arm available for the request, 0 for one that is not)."""
        decision = self._decide(context, seed, unavailable)
        probs = dict.fromkeys(self.arms, 0.0)
        probs.update({a: float(p) for a, p in zip(decision.eligible, decision.propensities, strict=True)})
        probs.update(dict.fromkeys(self._always(decision), 1.0))
        return probs

    def _always(self, decision: _Decision) -> dict[str, int]:
        """The ``[budget] always`` arms that run for this decision: live and available.
        (When every live arm is unavailable the policy still runs some; an always arm does
        not join them: it can return nothing.)"""
        if not self.budget.always:
            return {}
        eligible = set(decision.eligible)
        return {arm: k for arm, k in self.budget.always
                if arm in eligible and arm not in decision.blocked}

    def explain(self, context: ContextVector, seed: int | None = None) -> Explanation:
        return self.select(context, seed).explanation

    def effective_epsilon(self, n_eligible: int) -> float:
        """Exploration rate: the larger of the policy's, the floor, and what min_propensity needs."""
        m = min(self.budget.max_arms, n_eligible)
        needed = self.min_propensity * n_eligible / m if m else 0.0
        return min(1.0, max(self.policy.epsilon, self.epsilon, needed))

    # ---------------------------------------------------------------- internals
    def _decide(self, context: ContextVector, seed: int | None,
                unavailable: Mapping[str, str] | None = None) -> _Decision:
        x = self._context_row(context)
        live = [a for a in self.arms if a not in self.killed]
        if not live:
            raise LtrrError("every arm is killed; no strategy can run",
                            hint="revive one with `ltrr bandit arm --revive NAME`")
        unavailable = {a: r for a, r in (unavailable or {}).items() if a in live}
        blocked = frozenset(unavailable)
        eligible = [a for a in live if a not in unavailable] or live
        if len(eligible) == len(live):
            unavailable = {}
        rng = np.random.default_rng(seed if seed is not None else self._rng.integers(2**63))
        n, m = len(eligible), min(self.budget.max_arms, len(eligible))
        eps = self.effective_epsilon(n)
        if self._cold(eligible) and self.cold_start_plan == "all":
            return self._every_arm(x, eligible, unavailable, blocked)
        if self._cold(eligible):
            eps = max(eps, self.cold_start_epsilon)
            scores = np.array([self.prior.get(a, -1.0) for a in eligible], dtype=float)
            explored = bool(rng.random() < eps)
            picked = ([int(i) for i in rng.choice(n, size=m, replace=False)] if explored
                      else top_m(scores, m, rng))
            picked.sort(key=lambda i: -scores[i])
            # The plan follows the prior, but the explanation shows what the policy has
            # learned so far, so evidence visibly accumulates during cold start.
            learned = self._means(x, eligible) if self._mab is not None else None
            means = np.clip(scores, 0.0, None) if learned is None else learned
            return _Decision(eligible, scores, means, scores,
                             mix_uniform(exact_top_m(scores, m), m, eps), picked, explored,
                             eps, "exact", unavailable, "prior", blocked)
        if self._mab is not None:
            # MABWiser keeps one shared RNG; reseeding it makes a decision a function of
            # (fitted state, context, seed), so a reloaded worker decides identically.
            self._mab._rng.rng = np.random.default_rng(int(rng.integers(2**31 - 1)))
        if self.policy.stochastic and self._mab is not None:
            samples = self._predict(x, eligible, self.propensity_samples)
            scores = samples[0]
            policy_probs = sampled_top_m(samples, m, rng)
            method = f"monte_carlo({self.propensity_samples})"
            means = self._means(x, eligible)
            if means is None:
                means = np.nanmean(samples, axis=0) if np.isfinite(samples).any() else scores
            bounds = np.nanquantile(samples, _UPPER_QUANTILE, axis=0) \
                if np.isfinite(samples).any() else scores
        else:
            scores = self._predict(x, eligible, 1)[0] if self._mab is not None else np.zeros(n)
            policy_probs = exact_top_m(scores, m)
            method = "exact"
            means = self._means(x, eligible)
            means = scores if means is None else means
            bounds = scores
        explored = bool(rng.random() < eps)
        if explored:
            picked = [int(i) for i in rng.choice(n, size=m, replace=False)]
            picked.sort(key=lambda i: -_finite_or(float(scores[i]), -math.inf))
        else:
            picked = top_m(scores, m, rng)
        return _Decision(eligible, np.asarray(scores, float), np.asarray(means, float),
                         np.asarray(bounds, float), mix_uniform(policy_probs, m, eps),
                         picked, explored, eps, method, unavailable, "learned", blocked)

    def _every_arm(self, x: np.ndarray, eligible: list[str], unavailable: Mapping[str, str],
                   blocked: frozenset[str]) -> _Decision:
        """Cold start, plan "all": every available arm runs; nothing to explore, every
        propensity is 1. Ordered by the prior (then configuration order) only so that
        explanations read the same way every time."""
        scores = np.array([self.prior.get(a, 0.0) for a in eligible], dtype=float)
        picked = sorted(range(len(eligible)), key=lambda i: -scores[i])
        learned = self._means(x, eligible) if self._mab is not None else None
        means = np.zeros(len(eligible)) if learned is None else learned
        return _Decision(eligible, scores, means, scores, np.ones(len(eligible)), picked,
                         False, 0.0, "exact", unavailable, "all", blocked)

    def _cold(self, eligible: Sequence[str]) -> bool:
        """Too little evidence for the fitted policy: some available arm has fewer than
        ``cold_start_min_obs`` observations (and a cold-start plan exists: every arm, or
        a prior)."""
        planned = self.cold_start_plan == "all" or bool(self.prior)
        return planned and self.cold_start_min_obs > 0 and any(
            self._arm_counts.get(a, 0) < self.cold_start_min_obs for a in eligible)

    def _predict(self, x: np.ndarray, eligible: list[str], size: int) -> np.ndarray:
        """(size, len(eligible)) scores from MABWiser's predict_expectations."""
        contexts = np.repeat(x[None, :], size, axis=0)
        result = self._mab.predict_expectations(contexts)
        rows = [result] if isinstance(result, dict) else list(result)
        return np.array([[float(r.get(a, np.nan)) for a in eligible] for r in rows], dtype=float)

    def _means(self, x: np.ndarray, eligible: list[str]) -> np.ndarray | None:
        """Posterior mean reward where MABWiser exposes it without randomness."""
        if self._mab is None:
            return np.zeros(len(eligible))
        imp = self._mab._imp
        if self.policy.neighborhood is None and self.policy.learning in CONTEXTUAL:
            from mabwiser.linear import _RidgeRegression

            return np.array([float(_RidgeRegression.predict(imp.arm_to_model[a], x[None, :])[0])
                             for a in eligible])
        if self.policy.neighborhood is None and hasattr(imp, "arm_to_mean"):
            return np.array([float(imp.arm_to_mean.get(a, 0.0)) for a in eligible])
        if self.policy.neighborhood is None and self.policy.learning == "ThompsonSampling":
            s, f = imp.arm_to_success_count, imp.arm_to_fail_count
            return np.array([s[a] / (s[a] + f[a]) for a in eligible])
        return None

    def _refit(self) -> None:
        data = [o for o in self._history if o.arm in self.arms]
        if self.window:
            data = newest_per_arm(data, self.window)
        if not data:
            self._mab = None
            return
        mab = self.policy.build(list(self.arms), self.seed)
        counts = Counter(o.arm for o in data)
        young = {a for a in self.arms if counts.get(a, 0) < self.warm_start_min_obs}
        established = [o for o in data if o.arm not in young]
        can_warm = (established and young and self.policy.neighborhood is None
                    and all(a in self.arm_features for a in self.arms))
        if can_warm:
            # Young arms start from the nearest established arm's model, then learn their
            # own data on top: deterministic for a given log, so every worker agrees.
            self._mab_fit(mab.fit, established)
            mab.warm_start({a: self.arm_features[a] for a in self.arms},
                           self.warm_start_quantile)
            rest = [o for o in data if o.arm in young]
            if rest:
                self._mab_fit(mab.partial_fit, rest)
        else:
            self._mab_fit(mab.fit, data)
        self._mab = mab

    def _mab_fit(self, method: Any, data: list[Observation]) -> None:
        decisions = [o.arm for o in data]
        rewards = np.array([o.reward for o in data], dtype=float)
        if self.policy.contextual:
            method(decisions, rewards, np.array([self._row(o.context) for o in data]))
        else:
            method(decisions, rewards)

    def validate(self, observations: Iterable[Observation]) -> list[Observation]:
        """Check feedback (known arms, finite rewards, context version and width) without
        learning it; raises :class:`ValidationError` on the first problem."""
        return self._validate(list(observations), strict=True, fresh=True)[0]

    def _validate(self, data: list[Observation], strict: bool,
                  fresh: bool) -> tuple[list[Observation], int | None, str | None]:
        seen = set() if fresh else set(self._seen)
        width, version = self._width, self.context_version
        if version is None and not strict and data and isinstance(data[-1], Observation):
            version = data[-1].context_version  # replaying a log: the newest schema wins
        accepted: list[Observation] = []
        for o in data:
            if not isinstance(o, Observation):
                raise ValidationError(f"expected an Observation, got {type(o).__name__}")
            if not isinstance(o.reward, (int, float)) or not math.isfinite(o.reward):
                raise ValidationError(f"reward for {o.key} is not a finite number: {o.reward!r}")
            if o.arm not in self.arms and strict:
                raise ValidationError(f"feedback names unknown arm {o.arm!r} ({o.key})",
                                      hint=f"configured arms: {', '.join(self.arms)}")
            if version is None:
                version = o.context_version
            if o.context_version != version:
                if strict:
                    raise ValidationError(
                        f"context version {o.context_version!r} of {o.key} differs from the "
                        f"bandit's {version!r}", hint="the context schema changed; reset the bandit")
                continue
            if width is None:
                width = len(o.context)
            if len(o.context) != width or not all(math.isfinite(v) for v in o.context):
                raise ValidationError(f"context of {o.key} must be {width} finite numbers, "
                                      f"got {len(o.context)}")
            if o.key in seen:
                continue  # idempotent: one observation per (request, arm)
            seen.add(o.key)
            accepted.append(o)
        return accepted, width, version

    def _context_row(self, context: ContextVector) -> np.ndarray:
        if not isinstance(context, ContextVector):
            raise ValidationError(f"expected a ContextVector, got {type(context).__name__}")
        if self.context_version is not None and context.version != self.context_version:
            raise ValidationError(
                f"context version {context.version!r} differs from the bandit's "
                f"{self.context_version!r}", hint="the context schema changed; reset the bandit")
        width = self._width if self._width is not None else len(context.values)
        if len(context.values) != width:
            raise ValidationError(f"context has {len(context.values)} values, the bandit "
                                  f"expects {width}", hint=f"version {context.version!r}")
        if self.context_names is not None and tuple(context.names) != self.context_names:
            raise ValidationError("context feature names differ from the bandit's",
                                  hint="same version must mean same features")
        if not all(math.isfinite(v) for v in context.values):
            raise ValidationError("context has NaN or infinite values")
        self.context_version, self._width = context.version, width
        if self.context_names is None:
            self.context_names = tuple(context.names)
        return self._row(context.values)

    def _row(self, values: Sequence[float]) -> np.ndarray:
        row = np.asarray(values, dtype=float)
        return np.append(row, 1.0) if self.fit_intercept else row

    def _explain(self, context: ContextVector, d: _Decision, ks: Mapping[str, int],
                 always: Mapping[str, int] | None = None) -> Explanation:
        always = always or {}
        by_arm = {a: i for i, a in enumerate(d.eligible)}
        arms = []
        for arm in self.arms:
            i = by_arm.get(arm)
            if i is None:
                arms.append(ArmExplanation(arm, None, None, None, 0.0, False, 0,
                                           arm in self.killed, d.unavailable.get(arm)))
                continue
            why = None
            if arm in always:
                why = (f"runs whenever available ([budget] always, k={always[arm]})"
                       + ("; the policy chose it too" if arm in d.chosen_arms else ""))
            arms.append(ArmExplanation(
                arm=arm, score=_num(d.scores[i]), expected_reward=_num(d.means[i]),
                bound=_num(d.bounds[i]),
                propensity=1.0 if arm in always else float(d.propensities[i]),
                chosen=arm in ks, k=ks.get(arm, 0), killed=False, always=why))
        return Explanation(
            policy=self.policy.name, context_version=context.version,
            context=dict(zip(context.names, (float(v) for v in context.values), strict=True)),
            propensity_method=d.method, epsilon=d.epsilon, explored=d.explored,
            observations=self.observations, arms=tuple(arms), plan=d.plan)


def _add_arrays(model: Any, stats: ArmStats) -> None:
    """MABWiser's ridge update (``_RidgeRegression.fit``) from sufficient statistics."""
    model.A = model.A + stats.xtx
    model.A_inv = np.linalg.inv(model.A)
    model.Xty = model.Xty + stats.xty
    model.beta = np.dot(model.A_inv, model.Xty)


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _finite_or(value: float, default: float) -> float:
    return float(value) if math.isfinite(value) else default
