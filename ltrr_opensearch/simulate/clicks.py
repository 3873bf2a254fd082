"""A position-biased cascade click model with graded actions, emitting UBI-shaped events.

The user scans the ranked list top-down. At 0-based rank ``r`` she

1. examines the result with probability ``e(r) = 1/(1+r)**eta`` (or ``examine[r]``), zero
   from ``max_rank`` on;
2. if examined, clicks with ``a(g)``, the attractiveness of its relevance grade ``g``
   (``a(0)`` is the rate of noise clicks on irrelevant results);
3. after a click, plays it with ``play[g]`` and, after a play, adds it to favorites with
   ``favorite[g]``;
4. after a click, is satisfied with ``s(g)`` and stops; otherwise goes on to ``r + 1``.

So ``P(click at r) = e(r) * a(g_r) * prod_{j<r} (1 - e(j) * a(g_j) * s(g_j))``, which
:meth:`ClickModel.click_probabilities` computes exactly (the tests hold the sampler to it).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ltrr_opensearch.simulate.config import ClickParams, SimConfig
from ltrr_opensearch.simulate.queries import SimQuery, iso_utc

_EVENT_NAMESPACE = uuid.UUID("2b9f3f0e-7c64-4b8e-9d4f-51d1a8e0c7b3")
MESSAGE_TYPES = {"click": "CLICK_THROUGH", "play": "CONVERSION", "add_to_favorites": "CONVERSION"}


class ClickModel:
    """``ClickModel(params, seed).simulate(sim_query, ranked_ids)`` -> UBI event dicts.

    One generator is consumed call after call: the same seed and the same sequence of calls
    give the same events.
    """

    def __init__(self, params: ClickParams | SimConfig | None = None, seed: int = 0) -> None:
        if isinstance(params, SimConfig):
            params = params.clicks
        self.params = params or ClickParams()
        self.seed = seed
        self._rng = np.random.default_rng([seed, 2])

    def click_probabilities(self, grades: Sequence[int]) -> list[float]:
        """Exact P(click at each rank) for a list whose results have these grades."""
        p = self.params
        reach = 1.0
        out = []
        for rank, grade in enumerate(grades):
            g = _clip_grade(grade)
            click = reach * p.examination(rank) * p.attractiveness[g]
            out.append(click)
            reach *= 1.0 - p.examination(rank) * p.attractiveness[g] * p.satisfaction[g]
        return out

    def simulate(self, query: SimQuery, ranked_ids: Sequence[str], *,
                 query_id: str | None = None, client_id: str | None = None
                 ) -> list[dict[str, Any]]:
        """Events for one impression of ``ranked_ids`` (best first) shown for ``query``.

        ``query_id``/``client_id`` default to the simulated query's id and user; pass the ids
        the search system logged so the events join its UBI query records.
        """
        p = self.params
        rng = self._rng
        qid = query_id or query.query_id
        cid = client_id or query.user_id
        events: list[dict[str, Any]] = []
        for rank, object_id in enumerate(ranked_ids[: p.max_rank]):
            g = _clip_grade(query.grade(object_id))
            if rng.random() >= p.examination(rank):
                continue
            if rng.random() >= p.attractiveness[g]:
                continue
            seen_at = query.timestamp + timedelta(seconds=p.seconds_per_rank * (rank + 1))
            events.append(self._event("click", qid, cid, query, object_id, rank, seen_at))
            if rng.random() < p.play[g]:
                played = seen_at + timedelta(seconds=1)
                events.append(self._event("play", qid, cid, query, object_id, rank, played))
                if rng.random() < p.favorite[g]:
                    events.append(self._event("add_to_favorites", qid, cid, query, object_id,
                                              rank, played + timedelta(seconds=30)))
            if rng.random() < p.satisfaction[g]:
                break
        return events

    def _event(self, action: str, query_id: str, client_id: str, query: SimQuery,
               object_id: str, rank: int, moment: datetime) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid5(_EVENT_NAMESPACE, f"{query_id}:{action}:{rank}")),
            "application": self.params.application,
            "action_name": action,
            "client_id": client_id,
            "query_id": query_id,
            "message_type": MESSAGE_TYPES[action],
            "timestamp": iso_utc(moment),
            "event_attributes": {
                "object": {"object_id": object_id, "object_id_field": "id"},
                "position": {"ordinal": rank},
                "session_id": query.session_id,
            },
        }


def _clip_grade(grade: int) -> int:
    return min(max(int(grade), 0), 3)
