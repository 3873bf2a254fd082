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
    per kind K that the event's query does not already name (a slot of kind K explains
    that engagement, so it is no evidence about the phrase):
      total[K]      sum of w over the counted events
      E[K][v]       sum of w over the counted events whose engaged item has K = v
    best            the (K, v) with the largest share E[K][v] / total[K], then E
    eligible        E >= min_engagement, clients >= min_clients, share >= min_share,
                    no other value as strong (a tie learns nothing), and the phrase is not
                    always part of a longer candidate (that one is learned instead)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from ltrr_opensearch.feedback.config import MemoryConfig, VocabConfig
from ltrr_opensearch.feedback.events import format_ts
from ltrr_opensearch.feedback.scoring import PairEvent, counted_events, decay
from ltrr_opensearch.understand.gazetteer import STOPWORDS, LearnedPhrase

_TIE = 1e-9  # shares this close are equal


@dataclass(frozen=True)
class EngagedEvent(PairEvent):
    """One weighted event of a query, with the engaged item's values per kind."""

    values: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class QueryEvidence:
    """A logged query (by memory key) with its engaged events, as ``feedback/vocab.py``
    stores it: its candidate phrases and the kinds its slots already name."""

    key: str
    query: str
    phrases: tuple[str, ...]
    named_kinds: frozenset[str]
    events: tuple[EngagedEvent, ...]


@dataclass(frozen=True)
class PhraseDecision:
    """What the evidence says about one phrase (stored, and shown by `ltrr vocab show`)."""

    phrase: str
    kind: str | None  # the strongest value's kind and value, learned or not
    value: str | None
    engagement: float  # E of that value
    total: float  # the phrase's engagement on that kind
    share: float
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
                "share": self.share, "clients": self.clients, "runner_up": self.runner_up,
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
           config: VocabConfig, now: datetime) -> PhraseDecision:
    """The phrase's decision from every stored query that contains it (see the module
    docstring for the rule)."""
    named: dict[int, frozenset[str]] = {}
    events: list[EngagedEvent] = []
    for query in queries:
        for event in query.events:
            if weights.get(event.action, 0.0) > 0 and event.timestamp <= now:
                named[id(event)] = query.named_kinds
                events.append(event)
    cap = MemoryConfig(per_client_cap=config.per_client_cap,
                       cap_window_hours=config.cap_window_hours)
    kept = cast(list[EngagedEvent], counted_events(events, weights, cap)[0])
    capped = len(events) - len(kept)
    totals: dict[str, float] = {}
    by_value: dict[tuple[str, str], float] = {}
    clients: dict[tuple[str, str], set[str]] = {}
    kinds = sorted({kind for e in kept for kind in e.values})
    for event in kept:
        w = weights[event.action] * decay((now - event.timestamp).total_seconds(),
                                          config.half_life_days)
        for kind in kinds:
            if kind in named[id(event)]:
                continue
            totals[kind] = totals.get(kind, 0.0) + w
            for value in set(event.values.get(kind, ())):
                by_value[(kind, value)] = by_value.get((kind, value), 0.0) + w
                clients.setdefault((kind, value), set()).add(event.client_id)

    def strength(kv: tuple[str, str]) -> tuple[float, float, str, str]:
        return (-by_value[kv] / totals[kv[0]], -by_value[kv], kv[0], kv[1])

    ranked = sorted(by_value, key=strength)
    base: dict[str, Any] = {"phrase": phrase, "queries": len(queries), "events": len(events),
                            "events_capped": capped, "half_life_days": config.half_life_days,
                            "computed_at": format_ts(now)}
    if not ranked:
        return PhraseDecision(kind=None, value=None, engagement=0.0, total=0.0, share=0.0,
                              clients=0, runner_up=None, runner_up_engagement=0.0,
                              eligible=False, reason="no engagement on a value to learn",
                              **base)
    best = ranked[0]
    engagement, total = by_value[best], totals[best[0]]
    share = engagement / total if total > 0 else 0.0
    second = ranked[1] if len(ranked) > 1 else None
    second_e = by_value[second] if second else 0.0
    # As concentrated on another value (of this kind or another): no reading is better.
    tied = second is not None and by_value[second] / totals[second[0]] >= share - _TIE
    n_clients = len(clients[best])
    if engagement < config.min_engagement:
        eligible, reason = False, (f"engagement {engagement:.3g} < min "
                                   f"{config.min_engagement:g}")
    elif n_clients < config.min_clients:
        eligible, reason = False, f"{n_clients} client(s) < min {config.min_clients}"
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
                          share=share, clients=n_clients,
                          runner_up=f"{second[0]}={second[1]}" if second else None,
                          runner_up_engagement=second_e, eligible=eligible, reason=reason,
                          **base)
