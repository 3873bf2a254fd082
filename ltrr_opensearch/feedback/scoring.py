"""The Q2E score of one (query, entity) pair, as a pure function of its evidence.

    counted events  = per client and cap window, the strongest ``per_client_cap`` events
    decay(t)        = 0.5 ** (age_days(t) / half_life_days)
    E (engagement)  = sum over counted events of weight(action) * decay(event time)
    I (impressions) = sum over served queries that showed the entity of decay(query time)
    posterior       = (alpha + E) / (alpha + beta + max(I, E))      (Beta prior, mean a/(a+b))
    value           = scale * posterior                             (in (0, scale])
    eligible        = E >= min_engagement and distinct counted clients >= min_clients

Decaying both E and I pulls a stale pair back towards the prior mean and, once E falls
under ``min_engagement``, out of the index.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from ltrr_opensearch.feedback.config import MemoryConfig
from ltrr_opensearch.feedback.events import format_ts

DAY_SECONDS = 86400.0


class PairEvent(NamedTuple):
    """One weighted event of a pair (a tuple: the memory consumer keeps many of them)."""

    client_id: str
    action: str
    timestamp: datetime


@dataclass(frozen=True)
class Evidence:
    key: str
    query: str
    entity_id: str
    impressions: float
    impressions_raw: int
    engagement: float
    engagement_undecayed: float
    events: int
    events_capped: int
    clients: int
    actions: dict[str, int]
    posterior: float
    value: float
    eligible: bool
    reason: str
    half_life_days: float
    last_event_at: str | None
    computed_at: str

    def doc(self) -> dict[str, Any]:
        # vars, not dataclasses.asdict: the same dict without a deep copy of every field
        # (asdict took more time than scoring on a batch of 12,500 pairs).
        return {"source": "observed", **vars(self), "actions": dict(self.actions)}


def decay(age_seconds: float, half_life_days: float) -> float:
    return 0.5 ** (max(age_seconds, 0.0) / (half_life_days * DAY_SECONDS))


class TimedEvent(Protocol):
    """What the per-client cap reads of an event (a PairEvent, or a richer event)."""

    @property
    def client_id(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def timestamp(self) -> datetime: ...


Event = TypeVar("Event", bound=TimedEvent)


def counted_events(events: Iterable[Event], weights: Mapping[str, float],
                   config: MemoryConfig) -> tuple[list[Event], int]:
    """The events that count after the per-client cap, and how many were capped away."""
    window = config.cap_window_hours * 3600.0
    groups: dict[tuple[str, int], list[Event]] = defaultdict(list)
    for event in events:
        groups[(event.client_id, int(event.timestamp.timestamp() // window))].append(event)
    kept: list[Event] = []
    capped = 0
    for group in groups.values():
        if len(group) > config.per_client_cap:  # (most groups are one event: nothing to cut)
            group.sort(key=lambda e: (-weights.get(e.action, 0.0), e.timestamp))
            capped += len(group) - config.per_client_cap
        kept.extend(group[: config.per_client_cap])
    return kept, capped


def score_pair(key: str, query: str, entity_id: str, events: Iterable[PairEvent],
               impressions: float, impressions_raw: int, weights: Mapping[str, float],
               config: MemoryConfig, now: datetime) -> Evidence:
    events = [e for e in events if weights.get(e.action, 0.0) > 0]
    kept, capped = counted_events(events, weights, config)
    # fsum: exactly rounded, so the score does not depend on the order events were read in.
    engagement = math.fsum(weights[e.action] * decay((now - e.timestamp).total_seconds(),
                                                     config.half_life_days) for e in kept)
    undecayed = math.fsum(weights[e.action] for e in kept)
    clients = len({e.client_id for e in kept})
    denominator = config.prior_alpha + config.prior_beta + max(impressions, engagement)
    posterior = (config.prior_alpha + engagement) / denominator
    if engagement < config.min_engagement:
        eligible, reason = False, f"engagement {engagement:.3g} < min {config.min_engagement:g}"
    elif clients < config.min_clients:
        eligible, reason = False, f"{clients} client(s) < min {config.min_clients}"
    else:
        eligible, reason = True, "eligible"
    last = max((e.timestamp for e in events), default=None)
    return Evidence(
        key=key, query=query, entity_id=entity_id, impressions=impressions,
        impressions_raw=impressions_raw, engagement=engagement,
        engagement_undecayed=undecayed, events=len(events), events_capped=capped,
        clients=clients, actions=dict(Counter(e.action for e in events)),
        posterior=posterior, value=config.scale * posterior, eligible=eligible, reason=reason,
        half_life_days=config.half_life_days,
        last_event_at=format_ts(last) if last else None, computed_at=format_ts(now))


def merge_q2e(docs: Iterable[Mapping[str, Any]], max_pairs: int) -> dict[str, float]:
    """An entity's ``q2e`` map from its memory docs: an eligible observed value replaces the
    predicted one for the same key; the strongest ``max_pairs`` keys are kept."""
    predicted: dict[str, float] = {}
    observed: dict[str, float] = {}
    for doc in docs:
        value = float(doc["value"])
        if not value > 0 or value == float("inf"):
            continue  # rank_features accept only positive finite values
        if doc["source"] == "observed":
            if doc.get("eligible"):
                observed[doc["key"]] = value
        else:
            predicted[doc["key"]] = max(value, predicted.get(doc["key"], 0.0))
    merged = {**predicted, **observed}
    top = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:max_pairs]
    return dict(top)
