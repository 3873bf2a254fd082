"""Simulated searches over the real Chinook catalog, for the demo.

Four kinds of users, each written down here: known-item seekers (a track title, sometimes
with its artist, often with a typo), artist fans, genre browsers, and people using a few
nicknames for playlists that no text in the catalog contains ("headbanging" for Heavy Metal
Classic): only memory of past engagement can serve those, and it learns them from users
who retype the playlist's name after a failed search (:class:`ChinookReformulator`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from ltrr_opensearch.simulate.queries import SimQuery
from ltrr_opensearch.simulate.typos import add_typo

# nickname -> playlist title in Chinook
NICKNAMES = {
    "headbanging": "Heavy Metal Classic",
    "nineties hits": "90’s Music",
    "seattle sound": "Grunge",
    "bossa nova vibes": "Brazilian Music",
    "symphony time": "Classical",
}
MIX = {"known_item": 0.45, "artist": 0.2, "attribute": 0.15, "head": 0.2}
FAVOURS = {"known_item": "bm25_popularity", "artist": "structured_qu",
           "attribute": "structured_qu", "head": "q2e_memory"}
_NS = uuid.UUID("0b4f3a52-77d1-4f0e-9a3c-5c2f6f0e4d10")


class ChinookTraffic:
    """``ChinookTraffic(rows, seed).take(n)`` -> SimQuery list, reproducible by seed."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], seed: int = 0,
                 start: datetime | None = None) -> None:
        self.rows = {r["id"]: r for r in rows}
        self.seed = seed
        self.start = start or datetime.now(timezone.utc) - timedelta(days=1)
        by_type: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            by_type[row["entity_type"]].append(row)
        self.tracks = by_type["track"]
        self.artists = by_type["artist"]
        self.genres = by_type["genre"]
        playlists = {r["title"]: r for r in by_type["playlist"]}
        self.nicknames = {nick: playlists[title]["id"] for nick, title in NICKNAMES.items()
                          if title in playlists}
        self.tracks_by_genre: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for track in sorted(self.tracks, key=lambda r: -r.get("popularity", 0)):
            for genre in track.get("genres", []):
                self.tracks_by_genre[genre].append(track)

    def take(self, n: int) -> list[SimQuery]:
        out: list[SimQuery] = []
        for query in self:
            out.append(query)
            if len(out) >= n:
                return out
        return out

    def __iter__(self) -> Iterator[SimQuery]:
        rng = np.random.default_rng([self.seed, 5])
        kinds = list(MIX)
        weights = np.array([MIX[k] for k in kinds])
        clock = self.start
        number = 0
        while True:
            user = f"chinook-user-{int(rng.integers(300))}"
            session = str(uuid.uuid5(_NS, f"s:{self.seed}:{number}"))
            for _ in range(1 + int(rng.integers(3))):
                clock += timedelta(seconds=float(rng.uniform(5, 90)))
                kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
                text, relevant = getattr(self, f"_{kind}")(rng)
                yield SimQuery(
                    query_id=str(uuid.uuid5(_NS, f"q:{self.seed}:{number}")), text=text,
                    intent=kind if kind != "artist" else "attribute", target=next(iter(relevant)),
                    relevant=relevant, user_id=user, session_id=session, timestamp=clock,
                    attributes={"kind": kind})
                number += 1

    def _pick(self, rng: np.random.Generator, rows: Sequence[Mapping[str, Any]]
              ) -> Mapping[str, Any]:
        weights = np.array([float(r.get("popularity") or 0.0) + 1.0 for r in rows])
        return rows[int(rng.choice(len(rows), p=weights / weights.sum()))]

    def _known_item(self, rng: np.random.Generator) -> tuple[str, dict[str, int]]:
        track = self._pick(rng, self.tracks)
        text = track["title"]
        if track.get("artist") and rng.random() < 0.5:
            text = f"{track['artist']} {text}"
        if rng.random() < 0.5:
            text, _, _ = add_typo(text, rng)
        return text.lower(), {track["id"]: 3}

    def _artist(self, rng: np.random.Generator) -> tuple[str, dict[str, int]]:
        artist = self._pick(rng, self.artists)
        text = artist["title"]
        if rng.random() < 0.3:
            text, _, _ = add_typo(text, rng)
        return text.lower(), {artist["id"]: 3}

    def _attribute(self, rng: np.random.Generator) -> tuple[str, dict[str, int]]:
        genre = self._pick(rng, self.genres)
        name = genre["title"].lower()
        relevant = {genre["id"]: 3}
        for track in self.tracks_by_genre.get(name, [])[:10]:
            relevant[track["id"]] = 2
        text = name if rng.random() < 0.6 else f"{name} songs"
        return text, relevant

    def _head(self, rng: np.random.Generator) -> tuple[str, dict[str, int]]:
        nicks = sorted(self.nicknames)
        nick = nicks[int(rng.integers(len(nicks)))]
        return nick, {self.nicknames[nick]: 3}


class ChinookReformulator:
    """After a search without engagement, some users type the exact name of what they
    wanted (always for nicknames, sometimes otherwise), in the same session."""

    def __init__(self, traffic: ChinookTraffic, seed: int = 0,
                 probability: Mapping[str, float] | None = None) -> None:
        self.traffic = traffic
        self.probability = probability or {"head": 0.9, "known_item": 0.3, "attribute": 0.2}
        self._rng = np.random.default_rng([seed, 9])

    def __call__(self, query: SimQuery) -> SimQuery | None:
        if query.intent == "reformulation":
            return None
        if self._rng.random() >= self.probability.get(query.intent, 0.0):
            return None
        title = self.traffic.rows[query.target]["title"].lower()
        return replace(query, query_id=f"{query.query_id}-r", text=title, intent="reformulation",
                       timestamp=query.timestamp + timedelta(seconds=15))
