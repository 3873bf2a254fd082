"""Simulated sessions over a judged query set, and users who click on what they are shown.

* **Which query.** Queries get a popularity by a seeded Zipf law (the query at popularity
  rank ``r`` is searched with weight ``1/(r+1)**skew``): a few head queries come back
  often, most come back seldom, as in real logs.
* **Who.** A pool of users whose activity follows the same kind of law (a few heavy users
  issue many searches), so per-client caps of the memory meet realistic traffic.
* **When.** Sessions are spread evenly over simulated days (``per_day``), from ``start``.
* **What they do.** The cascade click model of :mod:`simulate.clicks` (examination decays
  with rank, clicks by the judged grade, satisfaction stops the scan, some clicks become
  deeper engagement). ``noise`` is the share of examined irrelevant results clicked anyway
  and of relevant ones missed (:func:`click_params`). Its actions are renamed to the
  product's own event vocabulary (:func:`event_vocabulary`), so a catalog whose
  ``[feedback]`` speaks of purchases gets purchases.

Each session is a :class:`simulate.queries.SimQuery` (its grades are the judged ones),
which the replay harness and the click model already take.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.evaluate.judged import JudgedQuery
from ltrr_opensearch.feedback.config import FeedbackConfig
from ltrr_opensearch.simulate.clicks import ClickModel
from ltrr_opensearch.simulate.config import ClickParams
from ltrr_opensearch.simulate.queries import SimQuery

DEEPER = ("play", "add_to_favorites")  # the click model's engagement after a click, weakest last


def zipf_weights(n: int, skew: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=float) ** skew
    return weights / weights.sum()


class JudgedSessions:
    """``JudgedSessions(queries, seed=...).take(n)``: n sessions, deterministic in the seed."""

    def __init__(self, queries: Sequence[JudgedQuery], *, seed: int, start: datetime,
                 per_day: float = 1000.0, skew: float = 1.0, users: int | None = None) -> None:
        if not queries:
            raise ConfigError("no queries to simulate sessions over")
        if per_day <= 0 or skew < 0:
            raise ConfigError("sessions per day must be > 0 and the skew >= 0")
        self.queries = list(queries)
        self.start, self.per_day, self.skew = start, per_day, skew
        self.rng = np.random.default_rng([seed, 11])
        order = self.rng.permutation(len(self.queries))  # popularity rank -> query
        self.by_rank = [self.queries[i] for i in order]
        self.weights = zipf_weights(len(self.queries), skew)
        self.users = users

    def take(self, n: int) -> list[SimQuery]:
        return list(self.stream(n))

    def stream(self, n: int) -> Iterator[SimQuery]:
        users = self.users or max(20, n // 20)
        activity = zipf_weights(users, 1.0)
        picks = self.rng.choice(len(self.by_rank), size=n, p=self.weights)
        who = self.rng.choice(users, size=n, p=activity)
        step = 86_400.0 / self.per_day
        jitter = self.rng.random(n) * step
        for i in range(n):
            q = self.by_rank[int(picks[i])]
            yield SimQuery(
                query_id=f"judged-{i:07d}", text=q.query, intent=q.kind, target=q.best,
                relevant=dict(q.relevant), user_id=f"judged-user-{int(who[i]):05d}",
                session_id=f"judged-session-{i:07d}",
                timestamp=self.start + timedelta(seconds=i * step + float(jitter[i])),
                attributes={"line": q.line})

    def frequency(self) -> dict[int, float]:
        """Line of each query -> its share of the sessions (what the draw aims at)."""
        return {q.line: float(w) for q, w in zip(self.by_rank, self.weights, strict=True)}


def click_params(noise: float, base: ClickParams | None = None) -> ClickParams:
    """The click model with ``noise``: examined irrelevant results are clicked with
    probability ``noise``, and relevant ones are missed ``noise`` more often."""
    if not 0 <= noise < 1:
        raise ConfigError(f"--noise must be in [0, 1), got {noise}")
    base = base or ClickParams()
    _, a1, a2, a3 = base.attractiveness
    kept = 1.0 - noise
    return dataclasses.replace(base, attractiveness=(noise, a1 * kept, a2 * kept, a3 * kept),
                               application="ltrr-simulate-judged")


def event_vocabulary(config: FeedbackConfig) -> dict[str, str | None]:
    """The click model's actions (click, play, add_to_favorites) -> the product's actions.

    A click is ``click`` when the product weighs it, else its weakest engaging action; the
    deeper steps are its strongest other actions, strongest first (None: no such action,
    the step is not sent). Derived ``reformulation`` is never sent by clients."""
    engaging = sorted((a for a in config.actions
                       if config.weight(a) > 0 and a != "reformulation"),
                      key=lambda a: (-config.weight(a), config.actions.index(a)))
    if not engaging:
        raise ConfigError("no action in [feedback] weights has a positive weight: simulated "
                          "users could not teach anything",
                          hint="give click, play... a weight in [feedback] weights")
    click = "click" if "click" in engaging else engaging[-1]
    deeper = [a for a in engaging if a != click]
    return {"click": click, **{step: (deeper[i] if i < len(deeper) else None)
                               for i, step in enumerate(DEEPER)}}


class JudgedUsers:
    """The click model speaking the product's event vocabulary (``simulate(query, ids,
    query_id=..., client_id=...)`` as :class:`ClickModel`)."""

    def __init__(self, params: ClickParams, vocabulary: Mapping[str, str | None],
                 seed: int) -> None:
        self.model = ClickModel(params, seed=seed)
        self.vocabulary = dict(vocabulary)

    def simulate(self, query: SimQuery, ranked_ids: Sequence[str], **ids: Any
                 ) -> list[dict[str, Any]]:
        out = []
        for event in self.model.simulate(query, ranked_ids, **ids):
            action = self.vocabulary.get(event["action_name"])
            if action is not None:
                out.append({**event, "action_name": action})
        return out
