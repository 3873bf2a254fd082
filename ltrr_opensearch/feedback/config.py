"""Knobs of the feedback loop, read from the ``[feedback]`` and ``[q2e]`` TOML sections.

Every value has a default, so an empty config works; unknown keys and bad values raise a
:class:`ConfigError` naming the key, because a typo in a weight would silently change rewards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError

# "reformulation" is derived, never sent by clients: engagement credited to an earlier,
# failed search of the same session (see feedback/sessions.py).
DEFAULT_WEIGHTS = MappingProxyType({"play": 1.0, "add_to_favorites": 0.8, "click": 0.5,
                                    "reformulation": 0.4})
DEFAULT_ACTIONS = (
    "impression", "click", "play", "add_to_favorites", "add_to_playlist", "share", "skip",
    "purchase", "reformulation",
)


@dataclass(frozen=True)
class FeedbackConfig:
    """Event validation, ingestion batching and the reward rule."""

    actions: tuple[str, ...] = DEFAULT_ACTIONS
    # Engagement weight per action; actions not listed weigh 0 (no reward, no Q2E evidence).
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    max_event_bytes: int = 16 * 1024
    batch_size: int = 2000  # events per bulk: each bulk waits for one refresh (~1 s)
    # Consumers only read events ingested at least this long ago, so a bulk still being
    # refreshed can never fall behind a checkpoint (see docs/feedback.md, "Checkpoints").
    settle_seconds: float = 5.0
    # Engagement credits earlier searches of the same session this recent (0 disables).
    reformulation_window_seconds: float = 300.0
    # Log docs a consumer applies at once: a key touched several times in a batch is
    # recomputed and written once, and the checkpoint moves once per batch.
    consumer_batch_size: int = 50_000
    # Keys (requests, query/entity pairs) whose log docs each consumer keeps folded in
    # memory between runs, so a touched key is not read again from the log
    # (feedback/cache.py); 0 reads every touched key from the log each time.
    consumer_cache_keys: int = 200_000

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackConfig:
        raw = dict(settings.section("feedback"))
        _reject_unknown("feedback", raw, cls)
        values: dict[str, Any] = {}
        if "actions" in raw:
            actions = raw["actions"]
            if not isinstance(actions, list) or not all(isinstance(a, str) and a for a in actions):
                raise ConfigError("[feedback] actions must be a list of action names")
            values["actions"] = tuple(actions)
        if "weights" in raw:
            weights = raw["weights"]
            if not isinstance(weights, Mapping):
                raise ConfigError("[feedback] weights must be a table such as {play = 1.0}")
            values["weights"] = MappingProxyType(
                {str(k): _number(f"[feedback] weights.{k}", v, low=0.0, high=1.0)
                 for k, v in weights.items()})
        if "max_event_bytes" in raw:
            values["max_event_bytes"] = int(_number("[feedback] max_event_bytes",
                                                    raw["max_event_bytes"], low=256))
        if "batch_size" in raw:
            values["batch_size"] = int(_number("[feedback] batch_size", raw["batch_size"], low=1))
        if "settle_seconds" in raw:
            values["settle_seconds"] = _number("[feedback] settle_seconds",
                                               raw["settle_seconds"], low=0.0)
        if "consumer_batch_size" in raw:
            values["consumer_batch_size"] = int(_number("[feedback] consumer_batch_size",
                                                        raw["consumer_batch_size"], low=1))
        if "consumer_cache_keys" in raw:
            values["consumer_cache_keys"] = int(_number("[feedback] consumer_cache_keys",
                                                        raw["consumer_cache_keys"], low=0))
        if "reformulation_window_seconds" in raw:
            values["reformulation_window_seconds"] = _number(
                "[feedback] reformulation_window_seconds", raw["reformulation_window_seconds"],
                low=0.0)
        config = cls(**values)
        unknown = set(config.weights) - set(config.actions)
        if unknown:
            raise ConfigError(
                f"[feedback] weights name unknown action(s): {', '.join(sorted(unknown))}",
                hint="add them to [feedback] actions or remove the weight")
        return config

    def weight(self, action: str) -> float:
        return float(self.weights.get(action, 0.0))


@dataclass(frozen=True)
class MemoryConfig:
    """The Q2E score: Beta prior, time decay, guards and scaling into ``rank_features``."""

    half_life_days: float = 14.0
    prior_alpha: float = 1.0  # prior engagements ...
    prior_beta: float = 9.0  # ... and prior non-engagements: prior mean 0.1 per impression
    per_client_cap: int = 3  # a client's events count at most this many per pair per window
    cap_window_hours: float = 24.0
    # Weighted, capped, decayed engagement before a pair is used: one fresh play (1.0) or two
    # clicks pass, one click does not; a lone play decays below it after ~6 days.
    min_engagement: float = 0.75
    min_clients: int = 1
    max_pairs_per_entity: int = 50
    scale: float = 100.0  # observed value = scale * posterior mean, in (0, scale]
    predicted_scale: float = 5.0  # predicted value = predicted_scale * predicted score
    max_events_per_pair: int = 5000  # newest events read when a pair is recomputed

    @classmethod
    def from_settings(cls, settings: Settings) -> MemoryConfig:
        raw = dict(settings.section("q2e"))
        _reject_unknown("q2e", raw, cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in raw:
                low = 0.0 if f.name in ("min_engagement",) else 1e-9
                value = _number(f"[q2e] {f.name}", raw[f.name], low=low)
                values[f.name] = int(value) if f.type == "int" else value
        return cls(**values)


@dataclass(frozen=True)
class VocabConfig:
    """Phrases learned from engagement (``feedback/vocab.py``): the memory's evidence rules
    (per-client cap, decay, a minimum of engagement and of clients, bounded) plus a
    concentration rule. A phrase speaks for every query that contains it, so it needs more
    evidence than one (query, entity) pair of the memory."""

    learn: bool = True  # false: nothing is learned and nothing learned is used
    half_life_days: float = 14.0
    per_client_cap: int = 3  # a client's events count at most this many per phrase per window
    cap_window_hours: float = 24.0
    # Decayed, capped, weighted engagement on the value: two fresh plays or four clicks.
    min_engagement: float = 2.0
    min_clients: int = 2
    # Items the engagement on the value is spread over, (sum w)^2 / sum w^2: engagement on
    # one item links the query to it (the memory's job) and makes all its values look
    # concentrated.
    min_items: int = 3
    # A query whose engagement, over 3+ events, goes this much to one item searches for that
    # item ("mizuho bank"): its words name the item, not a value, so it is no evidence for
    # a phrase ("bank" -> country=Japan from the clicks on Japanese banks by name). 1: off.
    known_item_share: float = 0.8
    # The value's part of the phrase's engagement (on items with or without a value of that
    # kind); the slot's confidence. Under 0.8 the structured strategy boosts, not filters.
    min_share: float = 0.6
    # The share's lower confidence bound must exceed, by this much, the value's share of
    # what the phrase's searches showed (position-weighted) and of the catalog's items:
    # engagement that only follows what was shown (the popular 1990s films first on the
    # page, every film a movie) says nothing. -1 switches the comparison off.
    min_margin: float = 0.15
    max_phrase_tokens: int = 3  # longest phrase learned
    max_phrases: int = 5000  # learned phrases understanding reads, most engaged first
    max_events_per_query: int = 1000  # newest events read when a query is recomputed
    max_searches_per_query: int = 20  # newest searches whose results are the baseline
    max_queries_per_phrase: int = 2000  # queries read when a phrase is recomputed

    @classmethod
    def from_settings(cls, settings: Settings) -> VocabConfig:
        raw = dict(settings.section("vocab"))
        _reject_unknown("vocab", raw, cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            if f.name == "learn":
                if not isinstance(raw[f.name], bool):
                    raise ConfigError(f"[vocab] learn must be true or false, got {raw[f.name]!r}")
                values[f.name] = raw[f.name]
            elif f.name == "min_share":
                values[f.name] = _number("[vocab] min_share", raw[f.name], low=0.5, high=1.0)
            elif f.name == "known_item_share":
                values[f.name] = _number("[vocab] known_item_share", raw[f.name], low=0.5,
                                         high=1.0)
            elif f.name == "min_margin":
                values[f.name] = _number("[vocab] min_margin", raw[f.name], low=-1.0, high=1.0)
            elif f.type == "int":
                values[f.name] = int(_number(f"[vocab] {f.name}", raw[f.name], low=1))
            else:
                values[f.name] = _number(f"[vocab] {f.name}", raw[f.name],
                                         low=0.0 if f.name == "min_engagement" else 1e-9)
        if values.get("max_phrases", 1) > 10_000:
            raise ConfigError("[vocab] max_phrases must be at most 10000 (one search reads "
                              "them)")
        if values.get("max_phrase_tokens", 1) > 5:
            raise ConfigError("[vocab] max_phrase_tokens must be at most 5, the longest span "
                              "query understanding tries")
        return cls(**values)


def _reject_unknown(section: str, raw: Mapping[str, Any], cls: type) -> None:
    unknown = set(raw) - {f.name for f in fields(cls)}
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [{section}]: {', '.join(sorted(unknown))}",
            hint=f"known keys: {', '.join(f.name for f in fields(cls))}")


def _number(name: str, raw: Any, low: float | None = None, high: float | None = None) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ConfigError(f"{name} must be a number, got {raw!r}")
    if (low is not None and raw < low) or (high is not None and raw > high):
        raise ConfigError(f"{name} must be between {low} and {high}, got {raw!r}")
    return float(raw)
