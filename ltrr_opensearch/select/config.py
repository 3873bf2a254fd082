"""Bandit configuration: a policy TOML file (``ltrr_opensearch/policies/*.toml``) or ``[bandit]``.

``[bandit]`` in the main config may hold the same keys inline, or ``policy_file = "..."``.
Every key is validated here, so a typo fails at start-up with the list of known keys.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ltrr_opensearch.config import PACKAGE_ROOT, PROJECT_ROOT, Settings
from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.select.budget import Budget
from ltrr_opensearch.select.policy import PolicySpec
from ltrr_opensearch.select.reward import RewardConfig
from ltrr_opensearch.understand.context import ContextSpec

# Policy files ship inside the package (``linucb`` is the serving default).
POLICIES_DIR = PACKAGE_ROOT / "policies"
DEFAULT_ARMS = ("bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases")
_TOP_KEYS = {"name", "arms", "seed", "fit_intercept", "context_version", "policy", "budget",
             "exploration", "reward", "warm_start", "state", "arm_features", "policy_file",
             "cold_start", "clock_features"}
_EXPLORATION_KEYS = {"epsilon", "min_propensity", "propensity_samples"}
_WARM_KEYS = {"min_obs", "quantile"}
_STATE_KEYS = {"settle_seconds", "attribution_seconds", "window"}
_COLD_KEYS = {"min_obs", "epsilon", "prior", "plan", "k"}
COLD_START_PLANS = ("prior", "all")
_ARM_FEATURE_KEYS = {"kind", "entity_types", "vector"}


@dataclass(frozen=True)
class BanditConfig:
    name: str = "default"
    arms: tuple[str, ...] = DEFAULT_ARMS
    policy: PolicySpec = field(default_factory=PolicySpec)
    budget: Budget = field(default_factory=Budget)
    reward: RewardConfig = field(default_factory=RewardConfig)
    epsilon: float = 0.05
    min_propensity: float = 0.01
    propensity_samples: int = 256
    warm_start_min_obs: int = 20
    warm_start_quantile: float = 0.8
    fit_intercept: bool = True
    # The context layout the policy learns on. Read from a file or [bandit], it is the
    # layout this version of ltrr computes (ContextSpec(clock=clock_features).version), so
    # observations of an older layout are kept in the log but not learned from. None
    # (configs built in code): the newest observation's version.
    context_version: str | None = None
    # The hour-of-day and weekend fields in the context (off: a decision must not depend
    # on when the query is typed unless a deployment asks for it).
    clock_features: bool = False
    seed: int = 0
    # Observations younger than this are left for the next sync, so a write that is still
    # in flight (or a worker whose clock lags) is not skipped by the watermark.
    settle_seconds: float = 5.0
    # Feedback for a request counts for this long after it was served; then its reward is final.
    attribution_seconds: float = 600.0
    arm_features: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({}))
    # An experiment variant's own state: the learner reads only observations tagged with
    # this variant label (``query_attributes.variant``). None: every observation (shared).
    # Set by the experiment flags (``bandit-state: variant``), not by policy files.
    variant: str | None = None
    # Cold start ([cold_start]): until every available arm has min_obs observations,
    # plan "all" runs every available arm with cold_start_k candidates each (day-one
    # safety: nothing any single strategy finds is missed); plan "prior" runs the top M by
    # the prior (arm -> score, higher runs first), exploring with cold_start_epsilon.
    prior: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    cold_start_min_obs: int = 0
    cold_start_epsilon: float = 0.0
    cold_start_plan: str = "prior"
    cold_start_k: int | None = None  # None: total_candidates // max_arms
    # [state] window: each arm learns from its newest `window` observations (0: all).
    window: int = 0

    @property
    def context_spec(self) -> ContextSpec:
        """The layout of the contexts this policy reads (the pipeline builds them so)."""
        return ContextSpec(clock=self.clock_features)

    def arm_vectors(self) -> dict[str, list[float]]:
        """Numeric action features per arm for warm start: kind one-hot, entity types
        multi-hot (over the types the arms name: whatever the catalog calls them), then
        any explicit ``vector``. Empty unless every arm has features."""
        if not self.arm_features or any(a not in self.arm_features for a in self.arms):
            return {}
        kinds = sorted({str(f.get("kind", "")) for f in self.arm_features.values()})
        named = sorted({str(t) for f in self.arm_features.values()
                        for t in f.get("entity_types", ())})
        width = max(len(f.get("vector", ())) for f in self.arm_features.values())
        out = {}
        for arm in self.arms:
            feats = self.arm_features[arm]
            vec = [1.0 if str(feats.get("kind", "")) == k else 0.0 for k in kinds]
            types = {str(t) for t in feats.get("entity_types", ())}
            vec += [1.0 if t in types else 0.0 for t in named]
            extra = [float(v) for v in feats.get("vector", ())]
            out[arm] = vec + extra + [0.0] * (width - len(extra))
        return out

    def bandit(self, killed: Sequence[str] = ()):
        """A fresh, unfitted :class:`~ltrr_opensearch.select.bandit.Bandit` for this config."""
        from ltrr_opensearch.select.bandit import Bandit

        return Bandit(self.arms, self.policy, self.budget, epsilon=self.epsilon,
                      min_propensity=self.min_propensity,
                      propensity_samples=self.propensity_samples, killed=killed,
                      arm_features=self.arm_vectors(), warm_start_min_obs=self.warm_start_min_obs,
                      warm_start_quantile=self.warm_start_quantile,
                      fit_intercept=self.fit_intercept, context_version=self.context_version,
                      seed=self.seed, prior=self.prior,
                      cold_start_min_obs=self.cold_start_min_obs,
                      cold_start_epsilon=self.cold_start_epsilon,
                      cold_start_plan=self.cold_start_plan, cold_start_k=self.cold_start_k,
                      window=self.window)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "[bandit]") -> BanditConfig:
        _check(source, raw, _TOP_KEYS)
        values: dict[str, Any] = {}
        try:
            if "name" in raw:
                values["name"] = _name(str(raw["name"]))
            if "arms" in raw:
                arms = raw["arms"]
                if not isinstance(arms, list) or not arms or not all(
                        isinstance(a, str) and a for a in arms) or len(set(arms)) != len(arms):
                    raise ConfigError(f"{source}: arms must be a list of distinct names")
                values["arms"] = tuple(arms)
            for key, cast in (("seed", int), ("fit_intercept", bool)):
                if key in raw:
                    values[key] = cast(raw[key])
            if "clock_features" in raw:
                if not isinstance(raw["clock_features"], bool):
                    raise ConfigError(f"{source}: clock_features must be true or false")
                values["clock_features"] = raw["clock_features"]
            values["context_version"] = _context_version(
                source, raw, ContextSpec(clock=values.get("clock_features", False)))
            if "policy" in raw:
                values["policy"] = PolicySpec.from_mapping(_table(source, raw, "policy"))
            if "budget" in raw:
                values["budget"] = Budget.from_mapping(_table(source, raw, "budget"))
            if "reward" in raw:
                values["reward"] = RewardConfig.from_mapping(_table(source, raw, "reward"))
            exploration = _table(source, raw, "exploration")
            _check(f"{source} [exploration]", exploration, _EXPLORATION_KEYS)
            for key in ("epsilon", "min_propensity"):
                if key in exploration:
                    values[key] = _unit(f"exploration.{key}", exploration[key])
            if "propensity_samples" in exploration:
                values["propensity_samples"] = int(exploration["propensity_samples"])
                if values["propensity_samples"] < 1:
                    raise ConfigError(f"{source}: propensity_samples must be >= 1")
            warm = _table(source, raw, "warm_start")
            _check(f"{source} [warm_start]", warm, _WARM_KEYS)
            if "min_obs" in warm:
                values["warm_start_min_obs"] = int(warm["min_obs"])
            if "quantile" in warm:
                values["warm_start_quantile"] = _unit("warm_start.quantile", warm["quantile"])
            state = _table(source, raw, "state")
            _check(f"{source} [state]", state, _STATE_KEYS)
            if "settle_seconds" in state:
                values["settle_seconds"] = float(state["settle_seconds"])
            if "attribution_seconds" in state:
                values["attribution_seconds"] = float(state["attribution_seconds"])
            if "window" in state:
                values["window"] = int(state["window"])
                if values["window"] < 0:
                    raise ConfigError(f"{source}: [state] window must be >= 0 (0: no window)")
            cold = _table(source, raw, "cold_start")
            _check(f"{source} [cold_start]", cold, _COLD_KEYS)
            if "min_obs" in cold:
                values["cold_start_min_obs"] = int(cold["min_obs"])
                if values["cold_start_min_obs"] < 0:
                    raise ConfigError(f"{source}: [cold_start] min_obs must be >= 0")
            if "epsilon" in cold:
                values["cold_start_epsilon"] = _unit("cold_start.epsilon", cold["epsilon"])
            if "plan" in cold:
                if cold["plan"] not in COLD_START_PLANS:
                    raise ConfigError(f"{source}: [cold_start] plan must be one of "
                                      f"{', '.join(COLD_START_PLANS)}, got {cold['plan']!r}")
                values["cold_start_plan"] = cold["plan"]
            if "k" in cold:
                k = cold["k"]
                if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                    raise ConfigError(f"{source}: [cold_start] k must be a candidate count "
                                      f">= 1, got {k!r}")
                values["cold_start_k"] = k
            prior = cold.get("prior", {})
            if not isinstance(prior, Mapping) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool)
                    for v in prior.values()):
                raise ConfigError(f"{source}: [cold_start] prior must map arms to numbers")
            values["prior"] = MappingProxyType({str(k): float(v) for k, v in prior.items()})
            features = _table(source, raw, "arm_features")
            for arm, feats in features.items():
                if not isinstance(feats, Mapping):
                    raise ConfigError(f"{source}: arm_features.{arm} must be a table")
                _check(f"{source} [arm_features.{arm}]", feats, _ARM_FEATURE_KEYS)
            values["arm_features"] = MappingProxyType({k: dict(v) for k, v in features.items()})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: invalid value ({exc})") from None
        config = cls(**values)
        stray = set(config.arm_features) - set(config.arms)
        if stray:
            raise ConfigError(f"{source}: arm_features for unknown arm(s) {', '.join(sorted(stray))}")
        stray = set(config.budget.always_k) - set(config.arms)
        if stray:
            raise ConfigError(f"{source}: [budget] always names unknown arm(s) "
                              f"{', '.join(sorted(stray))}", hint=f"arms: {', '.join(config.arms)}")
        stray = set(config.prior) - set(config.arms)
        if stray:
            raise ConfigError(f"{source}: [cold_start] prior names unknown arm(s) "
                              f"{', '.join(sorted(stray))}", hint=f"arms: {', '.join(config.arms)}")
        return config


def load_config(path: str | Path) -> BanditConfig:
    """Read a policy file: a path, or a packaged policy by name (``linucb``), also under its
    old source-tree path (``configs/policies/linucb.toml``)."""
    path = _resolve_policy(Path(path))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"policy file {str(path)!r} does not exist",
                          hint="packaged policies: " + ", ".join(
                              sorted(p.stem for p in POLICIES_DIR.glob("*.toml")))) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy file {str(path)!r} is not valid TOML: {exc}") from None
    if "policy_file" in raw:
        raise ConfigError(f"{path}: policy_file is only allowed in the main config's [bandit]")
    return BanditConfig.from_mapping(raw, source=str(path))


def _resolve_policy(path: Path) -> Path:
    if path.is_file() or path.is_absolute():
        return path
    if (PROJECT_ROOT / path).is_file():
        return PROJECT_ROOT / path
    packaged = POLICIES_DIR / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
    if packaged.is_file() and (len(path.parts) == 1 or path.parts[-2] == "policies"):
        return packaged
    return path


def config_from_settings(settings: Settings) -> BanditConfig:
    """The serving policy: ``[bandit] policy_file`` or inline ``[bandit]`` keys, else
    defaults. Next to ``policy_file`` only ``clock_features`` may be given: a deployment's
    choice that overrides the file's."""
    section = dict(settings.section("bandit"))
    if "policy_file" in section:
        extra = set(section) - {"policy_file", "clock_features"}
        if extra:
            raise ConfigError("[bandit] has policy_file and inline keys "
                              f"({', '.join(sorted(extra))}); use one of them",
                              hint="clock_features is the one key allowed next to policy_file")
        config = load_config(str(section["policy_file"]))
        if "clock_features" in section:
            config = with_clock(config, section["clock_features"])
        return config
    return BanditConfig.from_mapping(section)


def context_spec_of(selector: Any) -> ContextSpec:
    """The context layout a selector reads: its config's (a Learner, a served copy of
    one), else the default layout (a bare Bandit, or no selector)."""
    spec = getattr(selector, "context_spec", None)
    return spec if isinstance(spec, ContextSpec) else ContextSpec()


def _context_version(source: str, raw: Mapping[str, Any], spec: ContextSpec) -> str:
    """The layout a config learns on: this ltrr's, for its clock setting. An explicit
    ``context_version`` must name it: a policy pinned to a layout this version no longer
    computes would refuse every request."""
    given = raw.get("context_version")
    if given is not None and str(given) != spec.version:
        raise ConfigError(
            f"{source}: context_version {str(given)!r} is not the context this version of "
            f"ltrr computes ({spec.version!r})",
            hint="remove context_version: the policy then learns on the current context "
                 "(observations of the old one stay in the log, unused); see "
                 "docs/context-vector.md")
    return spec.version


def with_clock(config: BanditConfig, clock: Any) -> BanditConfig:
    """``config`` reading contexts with (or without) the clock fields."""
    from dataclasses import replace

    if not isinstance(clock, bool):
        raise ConfigError("[bandit] clock_features must be true or false")
    return replace(config, clock_features=clock,
                   context_version=ContextSpec(clock=clock).version)


def _check(where: str, given: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(given) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}",
                          hint=f"known keys: {', '.join(sorted(allowed))}")


def _table(source: str, raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [{key}] must be a table")
    return value


def _unit(name: str, value: Any) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be within [0, 1], got {value}")
    return value


def _name(text: str) -> str:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ConfigError(f"policy name {text!r} must be letters, digits, '-' or '_'")
    return text
