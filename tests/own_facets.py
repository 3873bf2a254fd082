"""A small index of the user's own with two facets (``state``, ``degree``), searched
through a description file alone: the fixture for tests of facet vocabulary (synonyms,
learned phrases) and of anything else that needs a catalog's own facets, such as ranker
features per facet kind.

    @pytest.fixture()
    def institutions(client, settings, tmp_path, monkeypatch):
        return make_institutions(client, settings, tmp_path, monkeypatch)

    def test_x(client, institutions):
        settings = institutions.configure(synonyms={"degree": {"universities": "bachelor"}})
        pipeline = Pipeline.from_cluster(client, settings)

``configure`` writes the description (with optional ``[synonyms]`` and extra TOML), points
``LTRR_CONFIG`` at it and returns the settings, under the test's own index prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltrr_opensearch.config import Settings

MAPPING = {"properties": {
    "unitid": {"type": "keyword"},
    "name": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    "city": {"type": "text"},
    "state": {"type": "keyword"},
    "degree": {"type": "keyword"},
    "enrollment": {"type": "long"},
}}

INSTITUTIONS = [
    ("i1", "Columbus State Community College", "Columbus", "Ohio", "associate", 40000),
    ("i2", "Ohio State University", "Columbus", "Ohio", "bachelor", 60000),
    ("i3", "Cuyahoga Community College", "Cleveland", "Ohio", "associate", 30000),
    ("i4", "Ohio Technical Institute", "Cleveland", "Ohio", "certificate", 2000),
    ("i5", "University of Virginia", "Charlottesville", "Virginia", "bachelor", 25000),
    ("i6", "Northern Virginia Community College", "Annandale", "Virginia", "associate", 50000),
    ("i7", "Virginia Trade Academy", "Richmond", "Virginia", "certificate", 900),
    ("i8", "Springfield College in Illinois", "Springfield", "Illinois", "associate", 700),
    ("i9", "North American Trade Schools", "Baltimore", "Maryland", "certificate", 500),
    ("i10", "Dunwoody College of Technology", "Minneapolis", "Minnesota", "certificate", 1200),
    ("i11", "University of Minnesota", "Minneapolis", "Minnesota", "bachelor", 50000),
]
FIELDS = ("unitid", "name", "city", "state", "degree", "enrollment")


def description_toml(index: str, synonyms: Mapping[str, Mapping[str, str]] | None = None,
                     extra: str = "") -> str:
    lines = ['name = "institutions"', f'index = "{index}"', "[fields]", 'id = "unitid"',
             'title = ["name^2"]', 'text = ["city"]', 'popularity = "enrollment"',
             "[facets]", 'state = "state"', 'degree = "degree"', "[memory]",
             'store = "outside"']
    for kind, table in (synonyms or {}).items():
        lines.append(f"[synonyms.{kind}]")
        lines.extend(f"{json.dumps(phrase)} = {json.dumps(value)}"
                     for phrase, value in table.items())
    return "\n".join(lines) + "\n" + extra


@dataclass
class OwnFacetIndex:
    index: str
    prefix: str
    url: str
    folder: Path
    monkeypatch: Any
    versions: int = 0

    def configure(self, synonyms: Mapping[str, Mapping[str, str]] | None = None,
                  extra: str = "", config: str = "") -> Settings:
        """Describe the index (``extra``: more description TOML; ``config``: more config
        TOML) and make it the catalog in force for the CLI and for the returned settings."""
        # A new file each time: descriptions are cached per process by their path.
        self.versions += 1
        path = self.folder / f"institutions-{self.versions}.toml"
        path.write_text(description_toml(self.index, synonyms, extra))
        config_file = self.folder / "ltrr.toml"
        config_file.write_text(f'[catalog]\ndescription = "{path}"\n{config}')
        self.monkeypatch.setenv("LTRR_CONFIG", str(config_file))
        return Settings.load(config_file=config_file).with_overrides(index_prefix=self.prefix)


def make_institutions(client: Any, settings: Settings, folder: Path,
                      monkeypatch: Any) -> OwnFacetIndex:
    """The institutions index under the test's prefix (deleted with it), with the CLI's
    environment pointing at the test's cluster and prefix."""
    index = f"{settings.index_prefix}-institutions"
    client.indices.create(index=index, body={"mappings": MAPPING})
    lines: list[dict[str, Any]] = []
    for row in INSTITUTIONS:
        lines += [{"index": {"_index": index, "_id": row[0]}}, dict(zip(FIELDS, row, strict=True))]
    assert not client.bulk(body=lines, refresh=True)["errors"]
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("LTRR_OPENSEARCH_URL", settings.urls[0])
    return OwnFacetIndex(index, settings.index_prefix, settings.urls[0], folder, monkeypatch)
