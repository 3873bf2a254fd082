"""Simulated searches: users with tastes issue queries of five intents over simulated time.

Each intent is built so that a different retrieval strategy is the natural winner (why, in
``docs/simulator.md``):

=============  =========================================================  ===================
intent         query text                                                 favours
=============  =========================================================  ===================
known_item     a title, "artist title" or a partial name, with typos      bm25_popularity
attribute      "90s rock", "chill jazz", "spanish pop", "jazz albums"     structured_qu
topic          synonyms of a description's theme ("slumber music")        knn_vector
head           popular slang with no catalog words ("workout bangers")    q2e_memory
new_release    "new rock releases", targets recent releases               fresh_releases
=============  =========================================================  ===================

The mix drifts linearly from ``mix_start`` to ``mix_end`` over ``days`` of simulated time.
The stream is a pure function of (world, config, seed): iterating twice gives the same queries.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import numpy as np

from ltrr_opensearch.simulate import vocab
from ltrr_opensearch.simulate.config import (
    INTENTS,
    QueryConfig,
    SimConfig,
    UsersConfig,
)
from ltrr_opensearch.simulate.typos import add_typo
from ltrr_opensearch.simulate.users import Population, User
from ltrr_opensearch.simulate.world import (
    ALL_GENRES,
    ENTITY_KINDS,
    KIND_CODE,
    NO_DATE,
    World,
    date_to_day,
    day_to_date,
    decade_of,
)

INTENT_FAVOURS: dict[str, str] = {
    "known_item": "bm25_popularity",
    "attribute": "structured_qu",
    "topic": "knn_vector",
    "head": "q2e_memory",
    "new_release": "fresh_releases",
    # A follow-up naming the target after a failed search (simulate/reformulate.py).
    "reformulation": "bm25_popularity",
}
_QUERY_NAMESPACE = uuid.UUID("6f1c7a52-2d0e-4c59-9a7e-0c3e6d1b8a41")
_STOPWORDS = {"the", "a", "an", "and", "of", "in", "on", "to", "for"}


@dataclass(frozen=True)
class SimQuery:
    """One simulated search with its ground truth.

    ``relevant`` maps acceptable entity ids to grades 1..3; ``target`` is the best of them
    (grade 3). ``attributes`` records what the query was built from (genre, topic, typo
    kinds...), for analysis only: a system under test must not read it.
    """

    query_id: str
    text: str
    intent: str
    target: str
    relevant: Mapping[str, int]
    user_id: str
    session_id: str
    timestamp: datetime
    context: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def favours(self) -> str:
        """The retrieval strategy this intent is designed to reward."""
        return INTENT_FAVOURS[self.intent]

    def grade(self, entity_id: str) -> int:
        return int(self.relevant.get(entity_id, 0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "text": self.text,
            "intent": self.intent,
            "favours": self.favours,
            "target": self.target,
            "relevant": dict(self.relevant),
            "user_id": self.user_id,
            "session_id": self.session_id,
            "timestamp": iso_utc(self.timestamp),
            "context": dict(self.context),
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimQuery:
        return cls(
            query_id=data["query_id"], text=data["text"], intent=data["intent"],
            target=data["target"], relevant={k: int(v) for k, v in data["relevant"].items()},
            user_id=data["user_id"], session_id=data["session_id"],
            timestamp=datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00")),
            context=dict(data.get("context", {})), attributes=dict(data.get("attributes", {})),
        )


def iso_utc(moment: datetime) -> str:
    """``2025-01-01T08:30:00.000Z``: ISO 8601 in UTC with milliseconds."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def _to_ms(moment: datetime) -> datetime:
    """Whole milliseconds, the precision timestamps are written with."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _short_decade(decade: str) -> str:
    """ "1990s" -> "90s" (how people say it); 2000s and later stay whole."""
    return decade[2:] if decade.startswith("19") else decade


class _Pool:
    """Entity indices with popularity-proportional sampling; ``idx`` sorted by popularity."""

    def __init__(self, idx: np.ndarray, popularity: np.ndarray) -> None:
        order = np.argsort(-popularity[idx], kind="stable")
        self.idx = idx[order]
        self.cum = np.cumsum(popularity[self.idx])

    def __len__(self) -> int:
        return len(self.idx)

    def sample(self, rng: np.random.Generator) -> int:
        j = int(np.searchsorted(self.cum, rng.random() * self.cum[-1], side="right"))
        return int(self.idx[min(j, len(self.idx) - 1)])


def _grade_by_rank(ranked: list[int], max_relevant: int) -> dict[int, int]:
    """Most popular matches first: top 3 grade 3, next 7 grade 2, the rest grade 1."""
    return {e: (3 if r < 3 else 2 if r < 10 else 1)
            for r, e in enumerate(ranked[:max_relevant])}


class QueryStream:
    """Searches from a population of users over simulated time.

    ``QueryStream(world, config, seed).take(n)`` gives the first ``n`` queries; iterating the
    stream yields them without end. ``config`` is a :class:`SimConfig` (users and queries
    tables) or just a :class:`QueryConfig`; ``seed`` overrides ``[queries] seed``.
    """

    def __init__(self, world: World, config: SimConfig | QueryConfig | None = None,
                 seed: int | None = None, users: UsersConfig | None = None) -> None:
        if config is None:
            config = SimConfig()
        if isinstance(config, SimConfig):
            users = users or config.users
            config = config.queries
        self.world = world
        self.config = config
        self.seed = config.seed if seed is None else int(seed)
        start = config.start or datetime.combine(world.config.now, time(0), timezone.utc)
        self.start = start
        self.population = Population(users or UsersConfig(), self.seed,
                                     world.genre_weights)
        self._build_pools()

    # -- public -----------------------------------------------------------------------------

    def take(self, n: int) -> list[SimQuery]:
        return list(itertools.islice(iter(self), n))

    def __iter__(self) -> Iterator[SimQuery]:
        rng = np.random.default_rng([self.seed, 1])
        c = self.config
        clock = self.start
        number = 0
        session = 0
        p_more = 1.0 - 1.0 / c.session_length_mean  # geometric session length
        while True:
            clock = _to_ms(clock + timedelta(
                seconds=float(rng.exponential(86400.0 / c.sessions_per_day))))
            user = self.population.pick(rng)
            session_id = str(uuid.uuid5(_QUERY_NAMESPACE, f"s:{self.seed}:{session}"))
            session += 1
            position = 0
            while True:  # sessions run one after another, so timestamps never go back
                yield self._query(rng, user, session_id, clock, position, number)
                number += 1
                position += 1
                if rng.random() >= p_more:
                    break
                clock = _to_ms(clock + timedelta(seconds=float(rng.uniform(15, 120))))

    # -- one query --------------------------------------------------------------------------

    def _query(self, rng: np.random.Generator, user: User, session_id: str, moment: datetime,
               position: int, number: int) -> SimQuery:
        fraction = (moment - self.start).total_seconds() / (self.config.days * 86400.0)
        mix = self.config.mix_at(fraction)
        intent = INTENTS[int(rng.choice(len(INTENTS), p=[mix[k] for k in INTENTS]))]
        made = self._make(intent, rng, user, moment)
        if made is None:  # the world has nothing for this intent (e.g. no recent release)
            intent = "known_item"
            made = self._known_item(rng, user)
        text, relevant, attributes = made
        ranked = sorted(relevant.items(), key=lambda kv: -kv[1])
        target = ranked[0][0]
        return SimQuery(
            query_id=str(uuid.uuid5(_QUERY_NAMESPACE, f"q:{self.seed}:{number}")),
            text=text,
            intent=intent,
            target=self.world.ids[target],
            relevant={self.world.ids[e]: g for e, g in ranked},
            user_id=user.user_id,
            session_id=session_id,
            timestamp=moment,
            context={"hour": moment.hour, "weekday": moment.weekday(), "device": user.device,
                     "language": user.language, "session_position": position},
            attributes=attributes,
        )

    def _make(self, intent: str, rng: np.random.Generator, user: User,
              moment: datetime) -> tuple[str, dict[int, int], dict[str, Any]] | None:
        if intent == "known_item":
            return self._known_item(rng, user)
        if intent == "attribute":
            return self._attribute(rng, user)
        if intent == "topic":
            return self._topic(rng, user, moment)
        if intent == "head":
            return self._head(rng)
        return self._new_release(rng, user, moment)

    def _genre_for(self, rng: np.random.Generator, user: User, allowed: np.ndarray) -> int | None:
        """A genre the user likes among ``allowed`` (bool per genre), or None if none is."""
        weights = user.genre_weights * allowed
        if weights.sum() <= 0:
            return None
        return int(rng.choice(len(weights), p=weights / weights.sum()))

    def _known_item(self, rng: np.random.Generator, user: User
                    ) -> tuple[str, dict[int, int], dict[str, Any]]:
        c = self.config
        kinds = [k for k in c.known_item_types if len(self._kind_pools[k])]
        weights = np.array([c.known_item_types[k] for k in kinds])
        if weights.sum() <= 0:  # only kinds with weight 0 exist: fall back to any of them
            weights = np.ones(len(kinds))
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        pools = self._genre_pools[kind]
        pool = self._kind_pools[kind]
        if rng.random() < c.taste_weight:
            genre = self._genre_for(rng, user, np.array([len(p) > 0 for p in pools]))
            if genre is not None:
                pool = pools[genre]
        target = pool.sample(rng)
        w = self.world
        title = w.titles[target]
        form = "title"
        if kind in ("track", "album"):
            roll = rng.random()
            if roll < c.artist_title_rate:
                form = "artist_title"
            elif roll < c.artist_title_rate + c.partial_rate:
                form = "partial"
        if form == "artist_title":
            text = f"{w.titles[w.artist_of[target]]} {title}"
        elif form == "partial":
            text, form = self._partial(title, rng)
        else:
            text = title
        typo_kinds: list[str] = []
        if rng.random() < c.typo_rate:
            edited: set[int] = set()
            for _ in range(2 if rng.random() < c.double_typo_rate else 1):
                text, kind_of_typo, word = add_typo(text, rng, frozenset(edited))
                if kind_of_typo and word is not None:
                    typo_kinds.append(kind_of_typo)
                    edited.add(word)
        if rng.random() < 0.7:
            text = text.lower()  # most people do not bother with capitals
        return text, {target: 3}, {"entity_type": kind, "form": form, "typos": typo_kinds}

    @staticmethod
    def _partial(title: str, rng: np.random.Generator) -> tuple[str, str]:
        """The start of a name: the first words, or the first letters of a one-word name."""
        words = title.split()
        if len(words) >= 2:
            k = int(rng.integers(1, len(words)))
            while k < len(words) and all(x.lower() in _STOPWORDS for x in words[:k]):
                k += 1
            return " ".join(words[:k]), "partial"
        word = words[0]
        if len(word) >= 6:
            return word[: max(4, math.ceil(len(word) * 0.6))], "partial"
        return title, "title"

    def _attribute(self, rng: np.random.Generator, user: User
                   ) -> tuple[str, dict[int, int], dict[str, Any]] | None:
        w = self.world
        genre = self._genre_for(rng, user, np.array([len(p) > 0 for p in self._attr_pools]))
        if genre is None:
            return None
        pool = self._attr_pools[genre]
        form = ("decade", "mood", "language", "entity_type")[
            int(rng.choice(4, p=[0.35, 0.35, 0.1, 0.2]))]
        candidates = pool.idx
        if form in ("decade", "language"):  # playlists have no decade
            candidates = candidates[w.kind[candidates] != KIND_CODE["playlist"]]
            if not len(candidates):
                form = "mood"
                candidates = pool.idx
        seed_entity = int(candidates[int(rng.integers(len(candidates)))]) if form != "mood" \
            else pool.sample(rng)
        name = ALL_GENRES[genre]
        attributes: dict[str, Any] = {"genre": name, "form": form}
        if form == "decade":
            decade = decade_of(day_to_date(int(w.release[seed_entity])).year)
            match = candidates[self._decade_mask(w.release[candidates], decade)]
            short = _short_decade(decade)
            text = (f"{short} {name}", f"{name} from the {short}", f"{name} {decade}")[
                int(rng.integers(3))]
            attributes["decade"] = decade
        elif form == "mood":
            mood = int(w.mood[seed_entity])
            match = candidates[w.mood[candidates] == mood]
            text = f"{vocab.MOODS[mood]} {name}"
            attributes["mood"] = vocab.MOODS[mood]
        elif form == "language":
            lang = int(w.language[seed_entity])
            match = candidates[w.language[candidates] == lang]
            text = f"{vocab.LANGUAGES[w.languages[lang]]} {name}"
            attributes["language"] = w.languages[lang]
        else:
            kind = int(w.kind[seed_entity])
            match = candidates[w.kind[candidates] == kind]
            plural = {"track": "songs", "album": "albums", "playlist": "playlists"}
            text = f"{name} {plural[ENTITY_KINDS[kind]]}"
            attributes["entity_type"] = ENTITY_KINDS[kind]
        # ``candidates`` is popularity-sorted, so ``match`` is too.
        return text, _grade_by_rank(match.tolist(), self.config.max_relevant), attributes

    def _decade_mask(self, days: np.ndarray, decade: str) -> np.ndarray:
        lo = date_to_day(date(int(decade[:4]), 1, 1))
        hi = date_to_day(date(int(decade[:4]) + 10, 1, 1))
        return (days >= lo) & (days < hi)

    def _topic(self, rng: np.random.Generator, user: User, moment: datetime
               ) -> tuple[str, dict[int, int], dict[str, Any]] | None:
        w = self.world
        available = np.array([len(p) > 0 for p in self._topic_pools], dtype=float)
        # Time of day matters: sleep at night, workouts in the morning and after work.
        boost = np.array([3.0 if moment.hour in t.hours else 1.0 for t in vocab.TOPICS])
        weights = user.topic_weights * available * boost
        if weights.sum() <= 0:
            return None
        t = int(rng.choice(len(weights), p=weights / weights.sum()))
        topic = vocab.TOPICS[t]
        pool = self._topic_pools[t]
        target = pool.sample(rng)
        a, b = rng.choice(len(topic.ask), size=2, replace=False).tolist()
        frames = vocab.PODCAST_TOPIC_FRAMES if topic.kind == "podcast" \
            else vocab.MUSIC_TOPIC_FRAMES
        text = frames[int(rng.integers(len(frames)))].format(a=topic.ask[a], b=topic.ask[b])
        relevant = {target: 3}
        for e in pool.idx.tolist():
            if len(relevant) >= self.config.max_relevant:
                break
            if e != target:
                same = w.kind[e] == w.kind[target] and w.genre[e] == w.genre[target]
                relevant[e] = 2 if same else 1
        return text, relevant, {"topic": topic.name}

    def _head(self, rng: np.random.Generator
              ) -> tuple[str, dict[int, int], dict[str, Any]] | None:
        phrases = [p for p in vocab.HEAD_PHRASES if p in self.world.head_targets]
        if not phrases:
            return None
        weights = 1.0 / np.arange(1, len(phrases) + 1) ** self.config.head_zipf
        phrase = phrases[int(rng.choice(len(phrases), p=weights / weights.sum()))]
        return phrase, dict(self.world.head_targets[phrase]), {"phrase": phrase}

    def _new_release(self, rng: np.random.Generator, user: User, moment: datetime
                     ) -> tuple[str, dict[int, int], dict[str, Any]] | None:
        w = self.world
        today = date_to_day(moment.date())
        first = today - self.config.new_release_days
        ranges = [(int(np.searchsorted(days, first, side="left")),
                   int(np.searchsorted(days, today, side="right"))) for days, _ in self._fresh]
        genre = self._genre_for(rng, user, np.array([hi > lo for lo, hi in ranges]))
        if genre is None:
            return None
        lo, hi = ranges[genre]
        recent = self._fresh[genre][1][lo:hi]
        ranked = recent[np.argsort(-w.popularity[recent], kind="stable")].tolist()
        name = ALL_GENRES[genre]
        frames = vocab.NEW_RELEASE_FRAMES
        text = frames[int(rng.integers(len(frames)))].format(g=name)
        return text, _grade_by_rank(ranked, self.config.max_relevant), {
            "genre": name, "released_after": day_to_date(first).isoformat(),
            "released_by": day_to_date(today).isoformat()}

    # -- indices over the world -------------------------------------------------------------

    def _build_pools(self) -> None:
        w = self.world
        pop = w.popularity
        n_genres = len(vocab.GENRES)
        self._kind_pools: dict[str, _Pool] = {}
        self._genre_pools: dict[str, list[_Pool]] = {}
        for kind in ("track", "artist", "album", "playlist"):
            idx = w.indices(kind)
            self._kind_pools[kind] = _Pool(idx, pop)
            self._genre_pools[kind] = [_Pool(idx[w.genre[idx] == g], pop)
                                       for g in range(n_genres)]
        music = np.concatenate([w.indices(k) for k in ("track", "album", "playlist")])
        self._attr_pools = [_Pool(music[w.genre[music] == g], pop) for g in range(n_genres)]
        self._topic_pools = [_Pool(np.flatnonzero(w.topic == t), pop)
                             for t in range(len(vocab.TOPICS))]
        dated = np.concatenate([w.indices("track"), w.indices("album")])
        dated = dated[w.release[dated] != NO_DATE]
        self._fresh = []
        for g in range(n_genres):
            idx = dated[w.genre[dated] == g]
            order = np.argsort(w.release[idx], kind="stable")
            self._fresh.append((w.release[idx][order], idx[order]))
