"""A seeded synthetic music catalog: artists, albums, tracks, playlists and podcasts.

Everything is drawn column-wise with numpy (one array per attribute over all entities), so a
100k-entity world takes seconds; catalog rows are only built as dicts when :meth:`World.rows`
streams them. The same :class:`WorldConfig` (seed included) always yields the same world.

How attributes are drawn (details in ``docs/simulator.md``):
popularity is Pareto for artists, playlists and podcasts; albums and tracks inherit their
artist's popularity times a log-normal factor, so a few artists own most of the plays. Release
dates lean towards recent years, and a share of albums is released in a window around "now"
(a stream of new releases over the simulated period).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ltrr_opensearch.simulate import vocab
from ltrr_opensearch.simulate.config import (
    ENTITY_KINDS,
    SimConfig,
    WorldConfig,
    load_sim_config,
)

KIND_CODE = {kind: code for code, kind in enumerate(ENTITY_KINDS)}
ALL_GENRES = vocab.GENRES + vocab.PODCAST_GENRES
PODCAST_GENRE_OF_TOPIC = {"crime": "true crime", "science": "science", "money": "business",
                          "wellness": "health", "past": "history"}
_EPOCH = date(1970, 1, 1)
NO_DATE = -(10**6)  # "no release date" sentinel in the day-number column


def genre_title(genre: str) -> str:
    special = {"r&b": "R&B", "k-pop": "K-Pop"}
    return special.get(genre, genre.title())


def decade_of(year: int) -> str:
    return f"{year // 10 * 10}s"


def day_to_date(day: int) -> date:
    return _EPOCH + timedelta(days=int(day))


def date_to_day(value: date) -> int:
    return (value - _EPOCH).days


def _a(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


class World:
    """The generated catalog, held as columns; ``row(i)`` builds the catalog record of entity i.

    Entities are numbered 0..n-1 in the order artists, albums, tracks, playlists, podcasts.
    """

    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        self.now_day = date_to_day(config.now)
        rng = np.random.default_rng(config.seed)
        self._counts = self._split_counts(config)
        n = sum(self._counts.values())
        self.n = n
        self.kind = np.concatenate([np.full(c, KIND_CODE[k], dtype=np.int8)
                                    for k, c in self._counts.items()])
        self.offset = {}
        start = 0
        for kind, count in self._counts.items():
            self.offset[kind] = start
            start += count
        self.genre = np.zeros(n, dtype=np.int16)
        self.mood = np.full(n, -1, dtype=np.int16)
        self.topic = np.full(n, -1, dtype=np.int16)
        self.language = np.zeros(n, dtype=np.int16)
        self.release = np.full(n, NO_DATE, dtype=np.int32)
        self.popularity = np.zeros(n, dtype=np.float64)
        self.artist_of = np.full(n, -1, dtype=np.int64)  # global index of the creator artist
        self.album_of = np.full(n, -1, dtype=np.int64)
        self.person = np.full((n, 2), -1, dtype=np.int32)  # composers / podcast host
        self.variant = rng.integers(0, 3, size=n).astype(np.int8)  # description wording
        self.titles: list[str] = [""] * n
        self.languages = list(vocab.LANGUAGES)
        self.genre_weights = self._zipf(len(vocab.GENRES), config.genre_zipf)

        self._make_artists(rng)
        self._make_albums(rng)
        self._make_tracks(rng)
        self._make_playlists(rng)
        self._make_podcasts(rng)
        self.popularity = np.round(self.popularity, 3)
        self._index_relations()
        self.head_targets = self._pick_head_targets(rng)
        self.ids = [f"{config.id_prefix}-{ENTITY_KINDS[k]}-{i - self.offset[ENTITY_KINDS[k]]}"
                    for i, k in enumerate(self.kind.tolist())]
        self.index_of = {entity_id: i for i, entity_id in enumerate(self.ids)}

    # -- public API -------------------------------------------------------------------------

    @classmethod
    def generate(cls, config: WorldConfig | SimConfig | str | Path | None = None) -> World:
        """Build the world a config describes (a path to a world TOML is read first)."""
        if config is None:
            config = WorldConfig()
        if isinstance(config, (str, Path)):
            config = load_sim_config(config)
        if isinstance(config, SimConfig):
            config = config.world
        return cls(config)

    def __len__(self) -> int:
        return self.n

    def count(self, kind: str) -> int:
        return self._counts[kind]

    def indices(self, kind: str) -> np.ndarray:
        start = self.offset[kind]
        return np.arange(start, start + self._counts[kind])

    def rows(self, released_by: date | None = None) -> Iterator[dict[str, Any]]:
        """Catalog records in id order; with ``released_by``, skip items released later."""
        limit = None if released_by is None else date_to_day(released_by)
        for i in range(self.n):
            if limit is not None and self.release[i] > limit:
                continue
            yield self.row(i)

    def row(self, i: int) -> dict[str, Any]:
        kind = ENTITY_KINDS[self.kind[i]]
        day = int(self.release[i])
        release = day_to_date(day) if day != NO_DATE else None
        artist_i = int(self.artist_of[i])
        album_i = int(self.album_of[i])
        mood = int(self.mood[i])
        return {
            "id": self.ids[i],
            "entity_type": kind,
            "title": self.titles[i],
            "artist": self._creator(i, kind, artist_i),
            "album": self.titles[album_i] if album_i >= 0 else None,
            "contributors": self._contributors(i),
            "description": self.description(i),
            "genres": [ALL_GENRES[self.genre[i]]],
            "moods": [vocab.MOODS[mood]] if mood >= 0 else [],
            "decade": decade_of(release.year) if release and kind != "podcast" else None,
            "language": self.languages[self.language[i]],
            "popularity": float(self.popularity[i]),
            "release_date": release.isoformat() if release else None,
            "related_ids": [self.ids[j] for j in self.related(i)],
            "embedding": None,
        }

    def related(self, i: int) -> list[int]:
        """Linked entities: a track's album and artist, an album's artist and tracks, an
        artist's albums, a playlist's tracks."""
        kind = ENTITY_KINDS[self.kind[i]]
        if kind == "track":
            return [int(self.album_of[i]), int(self.artist_of[i])]
        if kind in ("album", "artist", "playlist"):
            lo, hi = self._rel_ptr[i], self._rel_ptr[i + 1]
            head = [int(self.artist_of[i])] if kind == "album" else []
            return head + self._rel_idx[lo:hi].tolist()
        return []

    def topic_of(self, i: int) -> vocab.Topic | None:
        t = int(self.topic[i])
        return vocab.TOPICS[t] if t >= 0 else None

    def description(self, i: int) -> str:
        kind = ENTITY_KINDS[self.kind[i]]
        genre = ALL_GENRES[self.genre[i]]
        mood = vocab.MOODS[self.mood[i]] if self.mood[i] >= 0 else ""
        day = int(self.release[i])
        year = day_to_date(day).year if day != NO_DATE else None
        v = int(self.variant[i])
        lead_word = mood or genre
        if kind == "track":
            artist = self.titles[self.artist_of[i]]
            album = self.titles[self.album_of[i]]
            text = (f"{_a(lead_word)} {mood} {genre} track by {artist} from the album "
                    f"{album}, released in {year}.")
        elif kind == "album":
            artist = self.titles[self.artist_of[i]]
            n_tracks = self._rel_ptr[i + 1] - self._rel_ptr[i]
            text = (f"{_a(lead_word)} {mood} {genre} album by {artist}, released in {year}, "
                    f"with {n_tracks} tracks.")
        elif kind == "artist":
            n_albums = self._rel_ptr[i + 1] - self._rel_ptr[i]
            role = "singer-songwriter" if self.person[i, 0] >= 0 else "band"
            text = f"{genre_title(genre)} {role} with {n_albums} albums"
            text += f", active since {year}." if year else "."
        elif kind == "playlist":
            n_tracks = self._rel_ptr[i + 1] - self._rel_ptr[i]
            text = f"{_a(lead_word)} {mood} {genre} playlist of {n_tracks} tracks."
        else:  # podcast
            host = self._person_name(int(self.person[i, 0]))
            topic = self.topic_of(i)
            assert topic is not None
            d = topic.describe
            if v == 0:
                return f"Weekly series hosted by {host} on {d[0]}, {d[1]} and {d[2]}."
            if v == 1:
                return f"Conversations on {d[0]} and {d[1]}, hosted by {host}."
            return f"{host} explores {d[2]}, {d[1]} and {d[0]} in weekly episodes."
        text = " ".join(text.split())  # drop the double space left by an empty mood
        topic = self.topic_of(i)
        if topic is not None:
            d = topic.describe
            sentence = (f"Perfect for {d[0]} and {d[1]}.", f"Made for {d[1]}, {d[2]} and {d[0]}.",
                        f"A soundtrack for {d[2]} and {d[0]}.")[v]
            text = f"{text} {sentence}"
        return text

    def head_phrase_targets(self) -> dict[str, dict[str, int]]:
        """Each head phrase -> graded entity ids (the playlist it stands for, grade 3)."""
        return {phrase: {self.ids[j]: g for j, g in targets.items()}
                for phrase, targets in self.head_targets.items()}

    # -- generation -------------------------------------------------------------------------

    @staticmethod
    def _split_counts(config: WorldConfig) -> dict[str, int]:
        n = config.entities
        counts = {k: int(np.floor(n * config.type_mix[k])) for k in ENTITY_KINDS}
        counts["track"] += n - sum(counts.values())
        # Tracks and albums need a creator: keep at least one artist and album behind them.
        if counts["track"] and not counts["album"]:
            counts["album"], counts["track"] = 1, counts["track"] - 1
        if counts["album"] and not counts["artist"]:
            counts["artist"] = 1
            biggest = max(("track", "album"), key=lambda k: counts[k])
            counts[biggest] -= 1
        return counts

    @staticmethod
    def _zipf(n: int, s: float) -> np.ndarray:
        w = 1.0 / np.arange(1, n + 1) ** s
        return w / w.sum()

    def _pareto(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return (rng.pareto(self.config.popularity_alpha, size) + 1.0) * 10.0

    def _release_days(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Back-catalog dates leaning recent (density grows with time), plus new releases."""
        c = self.config
        first = date_to_day(date(c.start_year, 1, 1))
        last = self.now_day - c.new_release_lookback_days
        u = rng.random(size) ** (1.0 / c.recency_skew)
        days = first + np.floor(u * (last - first)).astype(np.int64)
        fresh = rng.random(size) < c.new_release_share
        lo, hi = self.now_day - c.new_release_lookback_days, self.now_day + c.horizon_days
        days[fresh] = rng.integers(lo, hi + 1, size=int(fresh.sum()))
        return days

    def _languages_for(self, rng: np.random.Generator, genres: np.ndarray) -> np.ndarray:
        weights = np.array([self.config.language_weights[k] for k in self.languages])
        langs = rng.choice(len(weights), size=len(genres), p=weights)
        for genre, lang in vocab.GENRE_LANGUAGE.items():
            langs[genres == vocab.GENRES.index(genre)] = self.languages.index(lang)
        return langs

    def _person_name(self, p: int) -> str:
        first, last = divmod(p, len(vocab.LAST_NAMES))
        return f"{vocab.FIRST_NAMES[first]} {vocab.LAST_NAMES[last]}"

    def _random_people(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.integers(0, len(vocab.FIRST_NAMES) * len(vocab.LAST_NAMES), size=size)

    def _make_artists(self, rng: np.random.Generator) -> None:
        idx = self.indices("artist")
        n = len(idx)
        if not n:
            return
        genres = rng.choice(len(vocab.GENRES), size=n, p=self.genre_weights)
        self.genre[idx] = genres
        self.language[idx] = self._languages_for(rng, genres)
        self.popularity[idx] = self._pareto(rng, n)
        pattern = rng.integers(0, 5, size=n).tolist()
        adj = rng.integers(0, len(vocab.ADJECTIVES), size=n).tolist()
        plural = rng.integers(0, len(vocab.PLURAL_NOUNS), size=n).tolist()
        noun = rng.integers(0, len(vocab.NOUNS), size=n).tolist()
        people = self._random_people(rng, n)
        solo = np.array(pattern) == 1
        self.person[idx[solo], 0] = people[solo]
        first = [vocab.FIRST_NAMES[p // len(vocab.LAST_NAMES)] for p in people.tolist()]
        a, p, o = vocab.ADJECTIVES, vocab.PLURAL_NOUNS, vocab.NOUNS
        for j, i in enumerate(idx.tolist()):
            kind = pattern[j]
            if kind == 0:
                name = f"The {a[adj[j]]} {p[plural[j]]}"
            elif kind == 1:
                name = self._person_name(int(people[j]))
            elif kind == 2:
                name = f"{a[adj[j]]} {p[plural[j]]}"
            elif kind == 3:
                name = f"{first[j]} and the {p[plural[j]]}"
            else:
                name = f"{o[noun[j]]} {a[adj[j]]}"
            self.titles[i] = name

    def _make_albums(self, rng: np.random.Generator) -> None:
        idx = self.indices("album")
        n = len(idx)
        if not n:
            return
        c = self.config
        artists = self.indices("artist")
        weights = self.popularity[artists] ** 0.5
        owner = artists[rng.choice(len(artists), size=n, p=weights / weights.sum())]
        # Every artist gets at least one album when there are enough albums to go round.
        first = min(n, len(artists))
        owner[:first] = rng.permutation(artists)[:first]
        self.artist_of[idx] = owner
        genres = self.genre[owner].copy()
        swap = rng.random(n) < 0.1  # some albums stray from the artist's main genre
        genres[swap] = rng.choice(len(vocab.GENRES), size=int(swap.sum()), p=self.genre_weights)
        self.genre[idx] = genres
        self.language[idx] = self.language[owner]
        self.mood[idx] = rng.integers(0, len(vocab.MOODS), size=n)
        self.release[idx] = self._release_days(rng, n)
        self.popularity[idx] = self.popularity[owner] * rng.lognormal(0, c.popularity_spread, n)
        has_topic = rng.random(n) < c.topic_share
        topics = rng.integers(0, len(vocab.MUSIC_TOPICS), size=n)
        self.topic[idx[has_topic]] = topics[has_topic]  # music topics lead TOPICS
        self._titles(rng, idx, album=True)

    def _make_tracks(self, rng: np.random.Generator) -> None:
        idx = self.indices("track")
        n = len(idx)
        if not n:
            return
        c = self.config
        albums = self.indices("album")
        weights = self.popularity[albums] ** 0.3
        album = albums[rng.choice(len(albums), size=n, p=weights / weights.sum())]
        self.album_of[idx] = album
        self.artist_of[idx] = self.artist_of[album]
        for column in (self.genre, self.language, self.release):
            column[idx] = column[album]
        mood = self.mood[album].copy()
        stray = rng.random(n) < 0.3
        mood[stray] = rng.integers(0, len(vocab.MOODS), size=int(stray.sum()))
        self.mood[idx] = mood
        topic = self.topic[album].copy()
        own = (topic < 0) & (rng.random(n) < c.topic_share * 0.5)
        topic[own] = rng.integers(0, len(vocab.MUSIC_TOPICS), size=int(own.sum()))
        self.topic[idx] = topic
        self.popularity[idx] = self.popularity[album] * rng.lognormal(0, c.popularity_spread, n)
        # Composers: the singer for solo artists, otherwise one or two random people.
        people = self._random_people(rng, 2 * n).reshape(n, 2)
        people[rng.random(n) < 0.6, 1] = -1
        solo = self.person[self.artist_of[idx], 0]
        people[solo >= 0, 0] = solo[solo >= 0]
        self.person[idx] = people
        self._titles(rng, idx, album=False)

    def _titles(self, rng: np.random.Generator, idx: np.ndarray, album: bool) -> None:
        n = len(idx)
        pattern = rng.integers(0, 6, size=n).tolist()
        adj = rng.integers(0, len(vocab.ADJECTIVES), size=n).tolist()
        noun = rng.integers(0, len(vocab.NOUNS), size=(n, 2)).tolist()
        verb = rng.integers(0, len(vocab.VERBS), size=n).tolist()
        plural = rng.integers(0, len(vocab.PLURAL_NOUNS), size=n).tolist()
        a, o, v, p = vocab.ADJECTIVES, vocab.NOUNS, vocab.VERBS, vocab.PLURAL_NOUNS
        for j, i in enumerate(idx.tolist()):
            k = pattern[j]
            n1, n2 = noun[j]
            if k == 0:
                title = f"{a[adj[j]]} {o[n1]}"
            elif k == 1:
                title = f"{v[verb[j]]} the {o[n1]}"
            elif k == 2:
                title = f"{o[n1]} in the {o[n2]}"
            elif k == 3:
                title = f"The {a[adj[j]]} {p[plural[j]]}" if album else f"{o[n1]}"
            elif k == 4:
                title = f"{o[n1]} and {o[n2]}" if album else f"{a[adj[j]]} {o[n1]} {o[n2]}"
            else:
                title = f"Tales of the {o[n1]}" if album else f"{v[verb[j]]} {a[adj[j]]} {o[n1]}"
            self.titles[i] = title

    def _make_playlists(self, rng: np.random.Generator) -> None:
        idx = self.indices("playlist")
        n = len(idx)
        if not n:
            return
        c = self.config
        genres = rng.choice(len(vocab.GENRES), size=n, p=self.genre_weights)
        self.genre[idx] = genres
        self.language[idx] = self._languages_for(rng, genres)
        self.mood[idx] = rng.integers(0, len(vocab.MOODS), size=n)
        self.popularity[idx] = self._pareto(rng, n) * 3.0  # playlists aggregate many plays
        has_topic = rng.random(n) < c.playlist_topic_share
        topics = rng.integers(0, len(vocab.MUSIC_TOPICS), size=n)
        self.topic[idx[has_topic]] = topics[has_topic]
        word = rng.integers(0, 3, size=n).tolist()
        suffix = rng.integers(0, len(vocab.PLAYLIST_SUFFIXES), size=n).tolist()
        for j, i in enumerate(idx.tolist()):
            g = genre_title(vocab.GENRES[genres[j]])
            t = int(self.topic[i])
            if t >= 0:
                self.titles[i] = f"{vocab.TOPICS[t].describe[word[j]].title()} {g}"
            else:
                self.titles[i] = (f"{vocab.MOODS[self.mood[i]].title()} {g} "
                                  f"{vocab.PLAYLIST_SUFFIXES[suffix[j]]}")
        self._playlist_members(rng, idx)

    def _playlist_members(self, rng: np.random.Generator, idx: np.ndarray) -> None:
        """Each playlist holds tracks of its genre, drawn by popularity (vectorised)."""
        c = self.config
        tracks = self.indices("track")
        sizes = rng.integers(c.playlist_size_min, c.playlist_size_max + 1, size=len(idx))
        if not len(tracks):
            self._members = (np.zeros(len(idx) + 1, dtype=np.int64), np.zeros(0, np.int64))
            return
        order = tracks[np.lexsort((tracks, self.genre[tracks]))]
        cum = np.cumsum(self.popularity[order])
        bounds = np.searchsorted(self.genre[order], np.arange(len(vocab.GENRES) + 1))
        lo_g, hi_g = bounds[:-1], bounds[1:]
        genre = self.genre[idx].astype(np.int64)
        lo, hi = lo_g[genre], hi_g[genre]
        empty = hi == lo  # no track of that genre: draw from the whole catalog
        lo[empty], hi[empty] = 0, len(order)
        base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
        span = cum[hi - 1] - base
        owner = np.repeat(np.arange(len(idx)), sizes)
        u = base[owner] + rng.random(len(owner)) * span[owner]
        pick = np.searchsorted(cum, u, side="right")
        pick = np.clip(pick, lo[owner], hi[owner] - 1)
        members = order[pick]
        ptr = np.concatenate([[0], np.cumsum(sizes)])
        # Drop repeats inside one playlist, keeping the first draw.
        keep = np.ones(len(members), dtype=bool)
        for p in range(len(idx)):
            chunk = members[ptr[p]:ptr[p + 1]]
            _, first = np.unique(chunk, return_index=True)
            mask = np.zeros(len(chunk), dtype=bool)
            mask[first] = True
            keep[ptr[p]:ptr[p + 1]] = mask
        kept = np.add.reduceat(keep, ptr[:-1]) if len(keep) else np.zeros(len(idx), np.int64)
        self._members = (np.concatenate([[0], np.cumsum(kept)]), members[keep])

    def _make_podcasts(self, rng: np.random.Generator) -> None:
        idx = self.indices("podcast")
        n = len(idx)
        if not n:
            return
        first_podcast_topic = len(vocab.MUSIC_TOPICS)
        topics = first_podcast_topic + rng.integers(0, len(vocab.PODCAST_TOPICS), size=n)
        self.topic[idx] = topics
        self.genre[idx] = [ALL_GENRES.index(PODCAST_GENRE_OF_TOPIC[vocab.TOPICS[t].name])
                           for t in topics.tolist()]
        weights = np.array([self.config.language_weights[k] for k in self.languages])
        self.language[idx] = rng.choice(len(weights), size=n, p=weights)
        self.popularity[idx] = self._pareto(rng, n)
        self.release[idx] = self._release_days(rng, n)
        self.person[idx, 0] = self._random_people(rng, n)
        adj = rng.integers(0, len(vocab.ADJECTIVES), size=n).tolist()
        noun = rng.integers(0, len(vocab.NOUNS), size=n).tolist()
        suffix = rng.integers(0, len(vocab.PODCAST_SUFFIXES), size=n).tolist()
        for j, i in enumerate(idx.tolist()):
            self.titles[i] = (f"The {vocab.ADJECTIVES[adj[j]]} {vocab.NOUNS[noun[j]]} "
                              f"{vocab.PODCAST_SUFFIXES[suffix[j]]}")

    def _index_relations(self) -> None:
        """CSR lists: album -> tracks, artist -> albums, playlist -> tracks."""
        n = self.n
        ptr = np.zeros(n + 1, dtype=np.int64)
        parts: list[tuple[np.ndarray, np.ndarray]] = []  # (owner, member) pairs
        tracks, albums = self.indices("track"), self.indices("album")
        parts.append((self.album_of[tracks], tracks))
        parts.append((self.artist_of[albums], albums))
        playlists = self.indices("playlist")
        if len(playlists):
            mptr, members = self._members
            parts.append((np.repeat(playlists, np.diff(mptr)), members))
        owners = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        members = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        order = np.lexsort((members, owners))
        owners, members = owners[order], members[order]
        np.add.at(ptr, owners + 1, 1)
        self._rel_ptr = np.cumsum(ptr)
        self._rel_idx = members
        # An artist's debut year is its first album's.
        if len(albums):
            first = np.full(n, np.iinfo(np.int32).max, dtype=np.int64)
            np.minimum.at(first, self.artist_of[albums], self.release[albums])
            artists = self.indices("artist")
            has = first[artists] != np.iinfo(np.int32).max
            self.release[artists[has]] = first[artists[has]]

    def _pick_head_targets(self, rng: np.random.Generator) -> dict[str, dict[int, int]]:
        """Tie each slang head phrase to one popular playlist (grade 3) and two of its tracks
        (grade 2). Their words appear nowhere in the catalog, so only click memory finds them."""
        pool = self.indices("playlist")
        if not len(pool):
            pool = self.indices("track")
        if not len(pool):
            return {}
        weights = self.popularity[pool] / self.popularity[pool].sum()
        size = min(len(vocab.HEAD_PHRASES), len(pool))
        chosen = rng.choice(pool, size=size, replace=False, p=weights)
        targets: dict[str, dict[int, int]] = {}
        for phrase, entity in zip(vocab.HEAD_PHRASES, chosen.tolist(), strict=False):
            graded = {entity: 3}
            lo, hi = self._rel_ptr[entity], self._rel_ptr[entity + 1]
            members = self._rel_idx[lo:hi]
            if len(members):
                for m in rng.choice(members, size=min(2, len(members)), replace=False).tolist():
                    graded[m] = 2
            targets[phrase] = graded
        return targets

    def _creator(self, i: int, kind: str, artist_i: int) -> str | None:
        if kind in ("track", "album"):
            return self.titles[artist_i]
        if kind == "podcast":
            return self._person_name(int(self.person[i, 0]))
        return None

    def _contributors(self, i: int) -> list[str]:
        if ENTITY_KINDS[self.kind[i]] != "track":
            return []
        return [self._person_name(int(p)) for p in self.person[i] if p >= 0]
