"""Query reformulation: what a user does after a search that gave them nothing.

Real users whose slang or vague query fails often retype what they meant ("workout
bangers" -> "Gym Power Hour"). The follow-up lands in the same session a few seconds
later, and its engagement is the only evidence that links the failed query to the entity
they wanted: a session-aware memory learns exactly that link (see docs/feedback.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

import numpy as np

from ltrr_opensearch.simulate.queries import SimQuery
from ltrr_opensearch.simulate.world import World

# Probability of a follow-up after a search without engagement, per intent. Slang (head)
# and paraphrases (topic) fail most visibly to the user, who then names the thing.
DEFAULT_PROBABILITY: Mapping[str, float] = {
    "head": 0.8, "topic": 0.5, "attribute": 0.2, "known_item": 0.3, "new_release": 0.2}
REFORMULATION = "reformulation"


class Reformulator:
    """``Reformulator(world, probability, seed)(query) -> SimQuery | None``."""

    def __init__(self, world: World, probability: Mapping[str, float] | None = None,
                 seed: int = 0) -> None:
        self.world = world
        self.probability = dict(DEFAULT_PROBABILITY if probability is None else probability)
        for intent, p in self.probability.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"reformulation probability for {intent!r} must be in [0, 1]")
        self._rng = np.random.default_rng([seed, 7])

    def __call__(self, query: SimQuery) -> SimQuery | None:
        if query.intent == REFORMULATION:
            return None  # one follow-up per failed search
        if self._rng.random() >= self.probability.get(query.intent, 0.0):
            return None
        row = self.world.row(self.world.index_of[query.target])
        text = row["title"]
        if row.get("artist") and row["entity_type"] in ("track", "album"):
            text = f"{row['artist']} {text}"
        delay = timedelta(seconds=float(self._rng.uniform(10, 40)))
        return replace(query, query_id=f"{query.query_id}-r", text=text.lower(),
                       intent=REFORMULATION, timestamp=query.timestamp + delay,
                       attributes={**query.attributes, "reformulates": query.query_id})
