"""Behaviour switches as OpenFeature flags, resolved once per request into a :class:`Variant`.

The targeting key is the user (or client) id, so assignment is sticky per user. Flags
(every one optional; a missing flag means the built-in behaviour):

==================  ========  ==========================================================
key                 type      meaning
==================  ========  ==========================================================
experiments         object    list of experiment flag keys in force
selection-mode      string    ``bandit`` | ``fixed`` (a fixed mix) | ``single``
strategies          object    list of the strategies enabled (default: all)
kill.<strategy>     boolean   true switches that strategy off (a kill switch)
single-strategy     string    the strategy of ``single`` mode
fixed-mix           object    {strategy: k} for ``fixed`` mode (default: every enabled
                              strategy with ``budget``)
budget              integer   candidates per strategy in ``fixed``/``single`` mode
bandit-policy       string    a policy name or file (``linucb``, ``epsilon_greedy`` ...)
bandit-epsilon      float     exploration rate override
bandit-state        string    ``shared`` | ``variant``: the state namespace of the bandit
ranker-model        string    a registry model name, ``deployed`` or ``none`` (fusion)
rescore-window      integer   fused candidates the model reranks (default ``[ranking] window``)
interleave          object    ``{"name": N, "a": SLOT, "b": SLOT}``: serve this user
                              team-draft interleaved results of two ranker slots (see
                              :mod:`~ltrr_opensearch.experiment.interleave`); ``{}``: off
==================  ========  ==========================================================

An **experiment** is an object flag whose variants are objects of overrides of the
keys above (``{"ranker-model": "lr-v2"}``) and whose targeting splits users, usually with
``fractional``. Its assignment is recorded as ``experiment/variant`` on every logged
search. A value that is of the wrong type or out of range never fails a search: it falls
back to the default, is counted in :attr:`FlagSource.problems` and logged once.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode

logger = logging.getLogger(__name__)

MODES = ("bandit", "fixed", "single")
STATE_MODES = ("shared", "variant")
OVERRIDE_KEYS = {"selection-mode", "strategies", "single-strategy", "fixed-mix", "budget",
                 "bandit-policy", "bandit-epsilon", "bandit-state", "ranker-model",
                 "rescore-window"}
_MAX_BUDGET = 1000
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Variant:
    """What the flags say for one request."""

    assignments: tuple[tuple[str, str], ...] = ()  # (experiment, variant) in force
    mode: str | None = None  # None: the pipeline's own default (its selector, or all)
    strategies: tuple[str, ...] = ()  # enabled, kill switches applied
    single: str | None = None
    fixed_mix: tuple[tuple[str, int], ...] = ()
    budget: int | None = None
    policy: str | None = None
    epsilon: float | None = None
    state: str = "shared"
    ranker_model: str = "deployed"
    rescore_window: int | None = None

    @property
    def label(self) -> str | list[str] | None:
        """``experiment/variant`` (a list when several experiments run): the UBI
        ``query_attributes.variant``."""
        names = [f"{e}/{v}" for e, v in self.assignments]
        if not names:
            return None
        return names[0] if len(names) == 1 else names

    def namespace(self) -> str | None:
        """The bandit state namespace: None (shared) or this request's variants."""
        if self.state != "variant" or not self.assignments:
            return None
        return re.sub(r"[^A-Za-z0-9_-]", "_", "-".join(f"{e}_{v}" for e, v in self.assignments))

    def plan(self, available: Sequence[str], default_k: int) -> list[tuple[str, int]] | None:
        """The fixed plan of ``fixed``/``single`` mode (None: the bandit or the default)."""
        enabled = [s for s in self.strategies if s in available] or list(available)
        k = self.budget or default_k
        if self.mode == "single":
            strategy = self.single if self.single in enabled else enabled[0]
            return [(strategy, k)]
        if self.mode == "fixed":
            mix = [(s, n) for s, n in self.fixed_mix if s in enabled]
            return mix or [(s, k) for s in enabled]
        return None


@dataclass
class FlagSource:
    """Resolves a :class:`Variant` per request through an OpenFeature client."""

    provider: Any  # an OpenFeature provider (FileFlagProvider by default)
    strategies: tuple[str, ...] = ()  # the strategies that exist (the template registry)
    domain: str = field(default_factory=lambda: f"ltrr-{uuid.uuid4().hex[:8]}")
    problems: Counter = field(default_factory=Counter)  # (flag, reason) -> count
    # BanditConfig fields set on every learner a variant loads (a replay sets the settle
    # and attribution delays to 0, as evaluate.harness does for its own bandit).
    learner_overrides: dict = field(default_factory=dict)
    learners: dict = field(default_factory=dict)  # (policy, epsilon, namespace) -> Learner
    rankers: dict = field(default_factory=dict)  # model name -> Ranker (None: unservable)
    _seen: set = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        api.set_provider(self.provider, self.domain)
        self.client = api.get_client(self.domain)

    @classmethod
    def from_file(cls, path: str, strategies: Sequence[str] = (), check_seconds: float = 1.0
                  ) -> FlagSource:
        from ltrr_opensearch.experiment.provider import FileFlagProvider

        return cls(FileFlagProvider(path, check_seconds=check_seconds), tuple(strategies))

    @property
    def problem(self) -> str | None:
        """Why the provider's newest flag file was rejected (None: in force)."""
        return getattr(self.provider, "problem", None)

    @property
    def provider_name(self) -> str:
        try:
            return str(self.provider.get_metadata().name)
        except Exception:
            return type(self.provider).__name__

    @property
    def status(self) -> str:
        """The provider's OpenFeature status (READY, NOT_READY, ERROR, STALE, FATAL)."""
        status = self.client.get_provider_status()
        return str(getattr(status, "value", status))

    def selector(self, variant: Variant, default: Any, client: Any, settings: Any) -> Any:
        """The bandit for ``variant``: ``default`` unless the variant names another policy,
        exploration rate or its own state namespace; those learners are loaded once and
        kept (:attr:`learners`) so the feedback path can sync them."""
        if variant.policy is None and variant.epsilon is None and variant.namespace() is None:
            return default
        key = (variant.policy, variant.epsilon, variant.namespace())
        with self._lock:
            found = self.learners.get(key)
        if found is not None:
            return found
        from dataclasses import replace

        from ltrr_opensearch.select.config import (
            config_from_settings,
            context_spec_of,
            load_config,
            with_clock,
        )
        from ltrr_opensearch.select.learner import Learner

        try:
            config = (load_config(variant.policy) if variant.policy
                      else getattr(getattr(default, "learner", default), "config", None)
                      or config_from_settings(settings))
            # One context per request, in the serving policy's layout: a variant reads it too.
            config = with_clock(config, context_spec_of(default).clock)
            if variant.epsilon is not None:
                config = replace(config, epsilon=variant.epsilon)
            if variant.namespace():
                # Its own snapshot, and it learns only from its own variant's traffic.
                from ltrr_opensearch.select.store import variant_label

                config = replace(config, name=f"{config.name}-{variant.namespace()}",
                                 variant=variant_label(variant.label))
            learner = Learner.load(client, settings, replace(config, **self.learner_overrides))
        except Exception as exc:  # a bad policy name falls back to the serving bandit
            self._problem("bandit-policy", f"cannot load policy {variant.policy!r}: {exc}")
            return default
        with self._lock:
            self.learners[key] = learner
        return learner

    def ranker(self, variant: Variant, deployed: Any, client: Any, settings: Any) -> Any:
        """The ranker of the variant's model slot (``deployed``, ``none`` or a name)."""
        name = variant.ranker_model
        if name == "deployed":
            return deployed
        if name == "none":
            return None
        with self._lock:
            if name in self.rankers:
                return self.rankers[name] or deployed
        ranker, problem = slot_ranker(name, deployed, client, settings)
        if problem:
            self._problem("ranker-model", problem)
        with self._lock:
            self.rankers[name] = ranker if not problem else None
        return ranker or deployed


    # ------------------------------------------------------------- evaluation
    def _get(self, key: str, default: Any, ctx: EvaluationContext, kind: str) -> Any:
        getters: dict[str, Callable[..., Any]] = {
            "bool": self.client.get_boolean_details, "str": self.client.get_string_details,
            "int": self.client.get_integer_details, "float": self.client.get_float_details,
            "obj": self.client.get_object_details}
        details = getters[kind](key, default, ctx)
        if details.error_code and details.error_code != ErrorCode.FLAG_NOT_FOUND:
            self._problem(key, details.error_message or str(details.error_code))
        return details

    def _problem(self, key: str, reason: str) -> None:
        with self._lock:
            self.problems[(key, reason)] += 1
            first = (key, reason) not in self._seen
            self._seen.add((key, reason))
        if first:
            logger.warning("flag %r: %s; the default is used", key, reason)

    def assign(self, targeting_key: str | None) -> tuple[tuple[tuple[str, str], ...],
                                                          dict[str, Any]]:
        """The experiments' (name, variant) for this key and their merged overrides."""
        ctx = EvaluationContext(targeting_key=targeting_key or "")
        names = self._get("experiments", [], ctx, "obj").value
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self._problem("experiments", "must be a list of experiment flag keys")
            names = []
        assignments: list[tuple[str, str]] = []
        overrides: dict[str, Any] = {}
        for name in names:
            details = self._get(name, {}, ctx, "obj")
            if details.error_code or details.variant is None:
                if details.error_code == ErrorCode.FLAG_NOT_FOUND:
                    self._problem(name, "experiment flag does not exist")
                continue
            value = details.value
            if not isinstance(value, Mapping):
                self._problem(name, f"variant {details.variant!r} must be an object of overrides")
                continue
            assignments.append((name, details.variant))
            for key, v in value.items():
                if key not in OVERRIDE_KEYS:
                    self._problem(name, f"variant {details.variant!r} overrides unknown key {key!r}")
                elif key not in overrides:  # the first experiment listed wins a conflict
                    overrides[key] = v
        return tuple(assignments), overrides

    def resolve(self, targeting_key: str | None, experiments: bool = True) -> Variant:
        """Never raises because of a flag: bad values fall back to defaults (counted).
        ``experiments=False``: the flags alone, no experiment's overrides (an interleaved
        search is in no A/B experiment)."""
        try:
            return self._resolve(targeting_key, experiments)
        except Exception as exc:  # a provider's own failure must not fail the search
            self._problem("*", f"flag evaluation failed: {type(exc).__name__}: {exc}")
            return Variant(strategies=self.strategies)

    def interleaving(self, targeting_key: str | None) -> tuple[str, str, str] | None:
        """(name, slot a, slot b) when the ``interleave`` flag gives this user an
        interleaving experiment; None when it is off, absent or invalid (counted)."""
        try:
            ctx = EvaluationContext(targeting_key=targeting_key or "")
            value = self._get("interleave", {}, ctx, "obj").value
        except Exception as exc:
            self._problem("interleave", f"flag evaluation failed: {type(exc).__name__}: {exc}")
            return None
        if not value:
            return None
        if not isinstance(value, Mapping) or set(value) - {"name", "a", "b"}:
            self._problem("interleave", 'must be {"name": N, "a": SLOT, "b": SLOT} or {}')
            return None
        name, a, b = value.get("name", "interleave"), value.get("a"), value.get("b")
        if not isinstance(name, str) or not _NAME.match(name):
            self._problem("interleave", f"name {name!r} must be 1-64 letters, digits, . _ -")
            return None
        if not all(isinstance(x, str) and x for x in (a, b)) or a == b:
            self._problem("interleave", f"a and b must be two different ranker slots "
                                        f"(model names, 'deployed' or 'none'), got {a!r}, {b!r}")
            return None
        return name, str(a), str(b)

    def _resolve(self, targeting_key: str | None, experiments: bool = True) -> Variant:
        ctx = EvaluationContext(targeting_key=targeting_key or "")
        assignments, overrides = self.assign(targeting_key) if experiments else ((), {})

        def value(key: str, default: Any, kind: str) -> Any:
            if key in overrides:
                return overrides[key]
            return self._get(key, default, ctx, kind).value

        mode = value("selection-mode", "", "str") or None
        if mode is not None and mode not in MODES:
            self._problem("selection-mode", f"unknown mode {mode!r} (known: {', '.join(MODES)})")
            mode = None
        enabled = self._strategies(value("strategies", list(self.strategies), "obj"))
        killed = {s for s in enabled if self._get(f"kill.{s}", False, ctx, "bool").value is True}
        enabled = tuple(s for s in enabled if s not in killed)
        single = value("single-strategy", "", "str") or None
        if single is not None and self.strategies and single not in self.strategies:
            self._problem("single-strategy", f"unknown strategy {single!r}")
            single = None
        budget = self._int("budget", value("budget", 0, "int"), 1, _MAX_BUDGET)
        mix = self._mix(value("fixed-mix", {}, "obj"))
        policy = value("bandit-policy", "", "str") or None
        if policy is not None and not isinstance(policy, str):
            self._problem("bandit-policy", "must be a string")
            policy = None
        epsilon = value("bandit-epsilon", -1.0, "float")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) \
                or not 0.0 <= epsilon <= 1.0:
            if epsilon != -1.0:
                self._problem("bandit-epsilon", f"{epsilon!r} is not a number in [0, 1]")
            epsilon = None
        state = value("bandit-state", "shared", "str")
        if state not in STATE_MODES:
            self._problem("bandit-state", f"unknown state mode {state!r} (known: shared, variant)")
            state = "shared"
        model = value("ranker-model", "deployed", "str")
        if not isinstance(model, str) or not model:
            self._problem("ranker-model", f"{model!r} is not a model name")
            model = "deployed"
        window = self._int("rescore-window", value("rescore-window", 0, "int"), 1, 10_000)
        return Variant(assignments, mode, enabled, single, mix, budget, policy,
                       float(epsilon) if epsilon is not None else None, state, model, window)

    def _strategies(self, raw: Any) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            self._problem("strategies", "must be a list of strategy names")
            return self.strategies
        unknown = [s for s in raw if self.strategies and s not in self.strategies]
        if unknown:
            self._problem("strategies", f"unknown strategies {', '.join(unknown)}")
        known = tuple(s for s in raw if not self.strategies or s in self.strategies)
        return known or self.strategies

    def _int(self, key: str, raw: Any, low: int, high: int) -> int | None:
        if raw in (0, None):
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self._problem(key, f"{raw!r} is not an integer in [{low}, {high}]")
            return None
        return raw

    def _mix(self, raw: Any) -> tuple[tuple[str, int], ...]:
        if not isinstance(raw, Mapping):
            self._problem("fixed-mix", "must be an object of strategy -> k")
            return ()
        out = []
        for s, k in raw.items():
            if self.strategies and s not in self.strategies:
                self._problem("fixed-mix", f"unknown strategy {s!r}")
            elif isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= _MAX_BUDGET:
                self._problem("fixed-mix", f"k of {s!r} must be an integer in [1, {_MAX_BUDGET}]")
            else:
                out.append((s, k))
        return tuple(out)


def slot_ranker(slot: str, deployed: Any, client: Any, settings: Any) -> tuple[Any, str | None]:
    """(the ranker of a model slot, why it cannot be served or None). A slot is a registry
    model name, ``deployed`` (``deployed`` is returned) or ``none`` (fusion: None)."""
    if slot == "deployed":
        return deployed, None
    if slot == "none":
        return None, None
    from ltrr_opensearch.rank.registry import get_entry

    try:
        return get_entry(client, settings, slot).ranker(), None
    except Exception as exc:
        return None, f"model {slot!r} cannot be served: {getattr(exc, 'message', exc)}"
