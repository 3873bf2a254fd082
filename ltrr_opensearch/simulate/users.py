"""Simulated users: taste profiles over genres, moods and topics, a language, a device and an
activity level (a few heavy users issue most searches, as in real logs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ltrr_opensearch.simulate import vocab
from ltrr_opensearch.simulate.config import UsersConfig


@dataclass(frozen=True)
class User:
    user_id: str
    genre_weights: np.ndarray  # over vocab.GENRES, sums to 1
    mood_weights: np.ndarray  # over vocab.MOODS
    topic_weights: np.ndarray  # over vocab.TOPICS
    language: str
    device: str
    activity: float

    def favourite_genres(self, k: int = 3) -> list[str]:
        order = np.argsort(-self.genre_weights)[:k]
        return [vocab.GENRES[i] for i in order]


class Population:
    """All users, drawn at once from a seed; ``pick(rng)`` samples one by activity."""

    def __init__(self, config: UsersConfig, seed: int, genre_prior: np.ndarray) -> None:
        rng = np.random.default_rng(seed)
        n = config.count
        # Dirichlet around the catalog's genre mix: small concentration = peaked tastes.
        genre_alpha = np.maximum(genre_prior * len(genre_prior) * config.genre_concentration,
                                 1e-3)
        genres = rng.dirichlet(genre_alpha, size=n)
        moods = rng.dirichlet(np.full(len(vocab.MOODS), config.mood_concentration), size=n)
        topics = rng.dirichlet(np.full(len(vocab.TOPICS), config.topic_concentration), size=n)
        languages = list(vocab.LANGUAGES)
        lang = rng.choice(len(languages), size=n, p=[0.7] + [0.3 / (len(languages) - 1)]
                          * (len(languages) - 1))
        device = rng.choice(len(vocab.DEVICES), size=n, p=[0.6, 0.25, 0.1, 0.05])
        activity = rng.pareto(config.activity_alpha, size=n) + 1.0
        self.users = [
            User(f"u{i:06d}", genres[i], moods[i], topics[i], languages[lang[i]],
                 vocab.DEVICES[device[i]], float(activity[i]))
            for i in range(n)
        ]
        self._cum = np.cumsum(activity) / activity.sum()

    def __len__(self) -> int:
        return len(self.users)

    def pick(self, rng: np.random.Generator) -> User:
        i = int(np.searchsorted(self._cum, rng.random(), side="right"))
        return self.users[min(i, len(self.users) - 1)]
