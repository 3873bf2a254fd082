"""Which words of a query could name a facet value, and whether engagement says they do.

Pure functions over evidence already read from the logs (``feedback/vocab.py`` does the
reading and writing):

* :func:`candidate_phrases`: the query's words that the catalog's vocabulary (values,
  aliases, synonyms) does not cover, as phrases of up to ``max_phrase_tokens`` words that
  neither start nor end with a stopword ("community colleges", not "colleges in");
* :func:`decide`: whether the engagement of every query containing a phrase concentrates
  on one value, with the memory's evidence rules (``feedback/scoring.py``)::

    counted events  per client and cap window at most per_client_cap, the strongest kept
    w(event)        weight(action) * 0.5 ** (age_days / half_life_days)
    per kind K:
      total[K]      sum of w over the counted events
      E[K][v]       sum of w over the counted events whose engaged item has K = v, except
                    events of queries with a slot of kind K: that slot explains their value
                    ("community colleges ohio" says nothing about the phrase's state), and
                    their engagement still shows the phrase does not single one value out
                    ("tearjerkers from the 2000s" speaks against "tearjerkers" -> 1990s)
    share           E[K][v] / total[K]
    informative     the share's Wilson lower bound (95%, one-sided, over the n events
                    counted for K) >= max(shown share, catalog share) + min_margin: the
                    value's part of what the phrase's searches showed (each shown item
                    weighs 1 / log2(rank + 2)) and of the catalog's items. Engagement that
                    only follows what was shown says nothing about the phrase: clicks on
                    the popular 1990s films a search put first, the one type of a films
                    catalog, the results of a phrase already learned
    best            the informative (K, v) with the largest share, then E
    (a query whose engagement goes known_item_share (0.8) or more to one item, over 3+
    events, searches for that item by name and is left out: "mizuho bank" says nothing
    about what "bank" means)
    eligible        E >= min_engagement, clients >= min_clients, the engaged items with
                    the value >= min_items, counted as (sum w)^2 / sum w^2 over items
                    (engagement mostly on one item is a query -> item link: the memory's,
                    and would make all its values look concentrated), share >= min_share,
                    no other informative value as concentrated (a tie learns nothing),
                    and the phrase is not always part of a longer candidate (that one is
                    learned instead)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ltrr_opensearch.feedback.config import MemoryConfig, VocabConfig
from ltrr_opensearch.feedback.events import format_ts
from ltrr_opensearch.feedback.scoring import counted_events, decay
from ltrr_opensearch.understand.gazetteer import STOPWORDS, LearnedPhrase

_TIE = 1e-9  # shares this close are equal
_Z = 1.645  # one-sided 95%


@dataclass(frozen=True)
class EngagedEvent:
    """One weighted event of a query, with the engaged item's values per kind (what the
    memory's per-client cap reads, as a PairEvent has, plus the values)."""

    client_id: str
    action: str
    timestamp: datetime
    values: Mapping[str, tuple[str, ...]]
    entity_id: str = ""


@dataclass(frozen=True)
class QueryEvidence:
    """A logged query (by memory key) with its engaged events, as ``feedback/vocab.py``
    stores it: its candidate phrases and the kinds its slots already name."""

    key: str
    query: str
    phrases: tuple[str, ...]
    named_kinds: frozenset[str]
    events: tuple[EngagedEvent, ...]
    # What its searches showed: kind -> value -> weight (position-weighted, decayed), and
    # the weight of everything shown (feedback/vocab.py: shown_values).
    shown: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    shown_mass: float = 0.0


@dataclass(frozen=True)
class PhraseDecision:
    """What the evidence says about one phrase (stored, and shown by `ltrr vocab show`)."""

    phrase: str
    kind: str | None  # the strongest value's kind and value, learned or not
    value: str | None
    engagement: float  # E of that value
    total: float  # the phrase's engagement on that kind
    share: float
    shown_share: float  # the value's part of what the phrase's searches showed
    rate: float  # the share of the catalog's items with that value
    clients: int  # distinct clients among the counted events on that value
    runner_up: str | None  # "kind=value" of the next strongest
    runner_up_engagement: float
    queries: int
    events: int
    events_capped: int
    eligible: bool
    reason: str
    half_life_days: float
    computed_at: str

    def doc(self) -> dict[str, Any]:
        return {"record": "phrase", "phrase": self.phrase, "kind": self.kind,
                "value": self.value, "engagement": self.engagement, "total": self.total,
                "share": self.share, "shown_share": self.shown_share, "rate": self.rate,
                "clients": self.clients, "runner_up": self.runner_up,
                "runner_up_engagement": self.runner_up_engagement, "queries": self.queries,
                "event_count": self.events, "events_capped": self.events_capped,
                "eligible": self.eligible, "reason": self.reason,
                "half_life_days": self.half_life_days, "computed_at": self.computed_at}

    def learned(self) -> LearnedPhrase:
        if not self.eligible or self.kind is None or self.value is None:
            raise ValueError(f"phrase {self.phrase!r} was not learned: {self.reason}")
        return LearnedPhrase(self.phrase, self.kind, self.value, self.share, self.engagement,
                             self.clients)


def candidate_phrases(tokens: Sequence[str], covered: Collection[int],
                      max_tokens: int) -> tuple[str, ...]:
    """Phrases of the uncovered tokens (``covered``: indices of tokens a catalog phrase
    matched), longest first within each run, without duplicates."""
    runs: list[list[str]] = [[]]
    for i, token in enumerate(tokens):
        if i in covered:
            runs.append([])
        else:
            runs[-1].append(token)
    found: dict[str, None] = {}
    for run in runs:
        for length in range(min(max_tokens, len(run)), 0, -1):
            for start in range(len(run) - length + 1):
                words = run[start:start + length]
                if words[0] in STOPWORDS or words[-1] in STOPWORDS:
                    continue
                if all(w.isdigit() for w in words) or len(" ".join(words)) < 3:
                    continue
                found[" ".join(words)] = None
    return tuple(found)


def wilson_lower(share: float, n: int, z: float = _Z) -> float:
    """The lower bound of the Wilson score interval of a proportion ``share`` seen over
    ``n`` events: small samples are trusted less (4 of 4 -> 0.60, 40 of 40 -> 0.94)."""
    if n <= 0:
        return 0.0
    z2 = z * z
    centre = share + z2 / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return (centre - spread) / (1 + z2 / n)


KNOWN_ITEM_MIN_EVENTS = 3  # engagement a query needs before it counts as a search for one item


def names_one_item(query: QueryEvidence, weights: Mapping[str, float],
                   config: VocabConfig) -> bool:
    """Whether the query's engagement (3+ weighted events) goes ``known_item_share`` or
    more to one item: a search for that item, whose words say nothing about a value."""
    per_item: dict[str, float] = {}
    count = 0
    for event in query.events:
        if weights.get(event.action, 0.0) > 0:
            per_item[event.entity_id] = per_item.get(event.entity_id, 0.0) + weights[event.action]
            count += 1
    if count < KNOWN_ITEM_MIN_EVENTS or config.known_item_share >= 1.0:
        return False
    return max(per_item.values()) >= config.known_item_share * sum(per_item.values()) - _TIE


def effective_items(weights: Iterable[float]) -> float:
    """How many items engagement is spread over (inverse Simpson: four equal items -> 4,
    one item with 80% of it and four with 5% each -> 1.5)."""
    values = list(weights)
    squares = sum(w * w for w in values)
    return sum(values) ** 2 / squares if squares > 0 else 0.0


def subsumed_by(phrase: str, phrase_lists: Sequence[Sequence[str]]) -> str | None:
    """The longest candidate that contains ``phrase`` and appears in every query that has
    ``phrase``: then both have the same evidence, and the longer one says more."""
    if not phrase_lists:
        return None
    common = set(phrase_lists[0]).intersection(*phrase_lists[1:])
    inner = f" {phrase} "
    longer = [p for p in common if p != phrase and inner in f" {p} "]
    return min(longer, key=lambda p: (-len(p.split()), p)) if longer else None


def decide(phrase: str, queries: Sequence[QueryEvidence], weights: Mapping[str, float],
           config: VocabConfig, now: datetime,
           rates: Mapping[tuple[str, str], float] | None = None) -> PhraseDecision:
    """The phrase's decision from every stored query that contains it (see the module
    docstring for the rule). ``rates``: the share of the catalog's items that have each
    ``(kind, value)`` (missing: 0)."""
    named: dict[int, frozenset[str]] = {}
    events: list[EngagedEvent] = []
    searched_items = 0  # queries left out: each searches for one item by name
    for query in queries:
        if names_one_item(query, weights, config):
            searched_items += 1
            continue
        for event in query.events:
            if weights.get(event.action, 0.0) > 0 and event.timestamp <= now:
                named[id(event)] = query.named_kinds
                events.append(event)
    cap = MemoryConfig(per_client_cap=config.per_client_cap,
                       cap_window_hours=config.cap_window_hours)
    kept = counted_events(events, weights, cap)[0]
    capped = len(events) - len(kept)
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}  # events counted per kind: the sample size of its shares
    by_value: dict[tuple[str, str], float] = {}
    clients: dict[tuple[str, str], set[str]] = {}
    items: dict[tuple[str, str], dict[str, float]] = {}  # engagement per engaged item
    kinds = sorted({kind for e in kept for kind in e.values})
    for event in kept:
        w = weights[event.action] * decay((now - event.timestamp).total_seconds(),
                                          config.half_life_days)
        for kind in kinds:
            totals[kind] = totals.get(kind, 0.0) + w
            counts[kind] = counts.get(kind, 0) + 1
            if kind in named[id(event)]:
                continue  # the query's own slot explains this value, not the phrase
            for value in set(event.values.get(kind, ())):
                by_value[(kind, value)] = by_value.get((kind, value), 0.0) + w
                clients.setdefault((kind, value), set()).add(event.client_id)
                held = items.setdefault((kind, value), {})
                held[event.entity_id] = held.get(event.entity_id, 0.0) + w

    rates = rates or {}
    shown_mass = sum(q.shown_mass for q in queries)
    shown: dict[tuple[str, str], float] = {}
    for q in queries:
        for kind, found in q.shown.items():
            for value, weight in found.items():
                shown[(kind, value)] = shown.get((kind, value), 0.0) + weight

    def share_of(kv: tuple[str, str]) -> float:
        return by_value[kv] / totals[kv[0]]

    def shown_share(kv: tuple[str, str]) -> float:
        return shown.get(kv, 0.0) / shown_mass if shown_mass > 0 else 0.0

    def baseline(kv: tuple[str, str]) -> float:
        return max(shown_share(kv), rates.get(kv, 0.0))

    def informative(kv: tuple[str, str]) -> bool:
        bound = wilson_lower(share_of(kv), counts[kv[0]])
        return bound >= baseline(kv) + config.min_margin

    def strength(kv: tuple[str, str]) -> tuple[float, float, str, str]:
        # Rounded: sums of the same events in another order differ in their last bits.
        return (-round(share_of(kv), 9), -round(by_value[kv], 9), kv[0], kv[1])

    ranked = sorted((kv for kv in by_value if informative(kv)), key=strength)
    base: dict[str, Any] = {"phrase": phrase, "queries": len(queries), "events": len(events),
                            "events_capped": capped, "half_life_days": config.half_life_days,
                            "computed_at": format_ts(now)}
    if not by_value:
        return PhraseDecision(kind=None, value=None, engagement=0.0, total=0.0, share=0.0,
                              shown_share=0.0, rate=0.0, clients=0, runner_up=None,
                              runner_up_engagement=0.0, eligible=False,
                              reason="no engagement on a value to learn" + (
                                  f" ({searched_items} of {len(queries)} queries search "
                                  "for one item by name)" if searched_items else ""), **base)
    if not ranked:  # reported: the strongest value, and why it says nothing
        best = min(by_value, key=strength)
        return PhraseDecision(
            kind=best[0], value=best[1], engagement=by_value[best], total=totals[best[0]],
            share=share_of(best), shown_share=shown_share(best), rate=rates.get(best, 0.0),
            clients=len(clients[best]), runner_up=None, runner_up_engagement=0.0,
            eligible=False,
            reason=(f"no value stands out from what was shown and the catalog by "
                    f"{config.min_margin:g} ({best[0]}={best[1]}: share {share_of(best):.2f}"
                    f" of {counts[best[0]]} events, shown {shown_share(best):.2f}, catalog "
                    f"{rates.get(best, 0.0):.2f})"),
            **base)
    best = ranked[0]
    engagement, total, share = by_value[best], totals[best[0]], share_of(best)
    # As concentrated on another informative value (of this kind or another): no reading
    # is better. The runner-up shown is otherwise the next strongest value of any kind.
    tied = len(ranked) > 1 and share_of(ranked[1]) >= share - _TIE
    second = ranked[1] if tied else next(
        (kv for kv in sorted(by_value, key=strength) if kv != best), None)
    second_e = by_value[second] if second else 0.0
    n_clients = len(clients[best])
    if engagement < config.min_engagement:
        eligible, reason = False, (f"engagement {engagement:.3g} < min "
                                   f"{config.min_engagement:g}")
    elif n_clients < config.min_clients:
        eligible, reason = False, f"{n_clients} client(s) < min {config.min_clients}"
    elif (spread := effective_items(items[best].values())) < config.min_items - _TIE:
        eligible, reason = False, (f"engagement on {spread:.1f} item(s) < min "
                                   f"{config.min_items}: so few items are the memory's to learn")
    elif tied and second is not None:
        eligible, reason = False, (f"tied: {best[0]}={best[1]} and {second[0]}={second[1]} "
                                   "have the same share")
    elif share < config.min_share:
        eligible, reason = False, f"share {share:.2f} < min {config.min_share:g}"
    else:
        longer = subsumed_by(phrase, [q.phrases for q in queries])
        if longer is not None:
            eligible, reason = False, f"always part of {longer!r}"
        else:
            eligible, reason = True, "eligible"
    return PhraseDecision(kind=best[0], value=best[1], engagement=engagement, total=total,
                          share=share, shown_share=shown_share(best),
                          rate=rates.get(best, 0.0), clients=n_clients,
                          runner_up=f"{second[0]}={second[1]}" if second else None,
                          runner_up_engagement=second_e, eligible=eligible, reason=reason,
                          **base)
