"""Cold start: predicted queries for each catalog entity, stored as predicted Q2E scores.

Before anyone has searched, an entity is still likely to be found by its own name, its
name with its creator, its album, or (for lists such as playlists) its genre and mood. The
scores are priors in (0, 1]; ``predicted_scale`` turns them into ``q2e`` values kept
below what a pair earns from real engagement (see docs/feedback.md). Observed evidence
that passes the threshold replaces the predicted value of the same key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.bulk import action, bulk_write, scan
from ltrr_opensearch.config import Settings
from ltrr_opensearch.feedback.config import MemoryConfig
from ltrr_opensearch.feedback.events import format_ts
from ltrr_opensearch.feedback.indices import ensure_feedback_indices, memory_index
from ltrr_opensearch.feedback.keys import query_key
from ltrr_opensearch.feedback.memory import mark_seeded, memory_doc_id, rebuild_entities
from ltrr_opensearch.progress import Progress

MAX_PREDICTED = 20
# Entity types that stand for a set of items, so "chill jazz" is a good query for them.
_LIST_TYPES = {"playlist", "station", "genre"}
_CLAUSE = re.compile(r"[.;:!?()\[\]\u2014\u2013]|,|\s-\s")


def predicted_queries(row: Mapping[str, Any]) -> list[tuple[str, float]]:
    """Queries a user would likely type to find this entity, with a prior score in (0, 1].

    Deterministic; one entry per distinct Q2E key (the highest score wins), strongest first.
    """
    title = _text(row.get("title"))
    artist = _text(row.get("artist"))
    album = _text(row.get("album"))
    kind = row.get("entity_type")
    genres = [g for g in (_text(x) for x in row.get("genres") or []) if g][:3]
    moods = [m for m in (_text(x) for x in row.get("moods") or []) if m][:3]
    decade = _text(row.get("decade"))
    is_list = kind in _LIST_TYPES

    candidates: list[tuple[str, float]] = []
    if title:
        candidates.append((title, 1.0))
    if title and artist and artist != title:
        candidates += [(f"{title} {artist}", 0.95), (f"{artist} {title}", 0.95)]
    if kind == "album" and artist:
        candidates.append((f"{artist} album", 0.6))
    if kind == "track" and album and album != title:
        candidates.append((f"{album} {title}", 0.5))
    if kind == "artist" and title:
        candidates.append((f"{title} songs", 0.7))
    list_weight, item_weight = (0.6, 0.15) if is_list else (0.15, 0.05)
    for genre in genres:
        candidates.append((genre, item_weight * 2 if is_list else item_weight))
        if decade:
            candidates.append((f"{decade} {genre}", list_weight * 0.8))
        for mood in moods:
            candidates.append((f"{mood} {genre}", list_weight))
    for mood in moods:
        candidates.append((mood, item_weight))
    for phrase in _description_phrases(row.get("description")):
        candidates.append((phrase, 0.3 if is_list else 0.2))

    best: dict[str, tuple[str, float]] = {}
    for query, score in candidates:
        try:
            normalized, key = query_key(query)
        except ValueError:
            continue
        if key not in best or score > best[key][1]:
            best[key] = (normalized, score)
    ranked = sorted(best.values(), key=lambda qs: (-qs[1], qs[0]))
    return ranked[:MAX_PREDICTED]


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, str) and value.strip() else ""


def _description_phrases(description: Any) -> list[str]:
    """Short clauses (2 to 5 words) of a description, e.g. "relaxed jazz for late nights"."""
    if not isinstance(description, str):
        return []
    phrases = []
    for clause in _CLAUSE.split(description):
        words = clause.split()
        if 2 <= len(words) <= 5:
            phrases.append(" ".join(words))
    return phrases[:3]


def predicted_docs(row: Mapping[str, Any], config: MemoryConfig, now: datetime
                   ) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for normalized, score in predicted_queries(row):
        _, key = query_key(normalized)
        out.append((memory_doc_id("predicted", key, row["id"]), {
            "key": key, "query": normalized, "entity_id": row["id"], "source": "predicted",
            "predicted_score": score, "value": config.predicted_scale * score,
            "eligible": True, "reason": "predicted at load time", "computed_at": format_ts(now),
        }))
    return out


def seed_memory(client: OpenSearch, settings: Settings, *, quiet: bool = True,
                batch_size: int = 500, config: MemoryConfig | None = None) -> int:
    """Predicted Q2E docs for every entity of the catalog (the described index: the managed
    alias or the user's own), then their memory maps; returns how many entities were
    seeded. Safe to re-run (same ids, same values)."""
    from ltrr_opensearch.catalog.description import ID_FROM_DOCUMENT, description_for

    config = config or MemoryConfig.from_settings(settings)
    description = description_for(settings)
    fields = seed_fields(description)
    index = settings.catalog_index
    ensure_feedback_indices(client, settings)
    now = datetime.now(timezone.utc)
    # Before and after: a memory consumer then re-reads the entity docs it held, whether
    # its run started before, during or after this one.
    mark_seeded(client, settings)
    total = client.count(index=index)["count"]
    by_id = description.id == ID_FROM_DOCUMENT
    seeded = 0
    with Progress("seeding Q2E", total=total, quiet=quiet) as bar:
        batch: list[dict[str, Any]] = []
        for hit in scan(client, index, {"match_all": {}}, () if by_id else (description.id,),
                        source=sorted({f for f in fields.values() if f})):
            row = seed_row(hit, fields)
            if row.get("id"):
                batch.append(row)
            if len(batch) >= batch_size:
                seeded += _seed_batch(client, settings, batch, config, now)
                bar.advance(len(batch))
                batch = []
        if batch:
            seeded += _seed_batch(client, settings, batch, config, now)
            bar.advance(len(batch))
    mark_seeded(client, settings)
    return seeded


def seed_fields(description: Any) -> dict[str, str | None]:
    """The row keys :func:`predicted_queries` reads -> the described field holding each
    (``id`` None: the document ``_id``)."""
    from ltrr_opensearch.catalog.description import ID_FROM_DOCUMENT
    from ltrr_opensearch.catalog.index import field_shapes

    shapes = field_shapes(description)
    texts = [f.name for f in description.text]
    return {
        "id": None if description.id == ID_FROM_DOCUMENT else description.id,
        "entity_type": description.type,
        "title": description.title[0].name,
        "artist": description.creator[0].name if description.creator else None,
        "album": next((n for n in texts if shapes[n] == "name"), None),
        "description": next((n for n in texts if shapes[n] == "prose"), None),
        **{f"{kind}s" if kind != "decade" else kind: description.facets.get(kind)
           for kind in ("genre", "mood", "decade")},
    }


def seed_row(hit: Mapping[str, Any], fields: Mapping[str, str | None]) -> dict[str, Any]:
    """A catalog hit as the row :func:`predicted_queries` reads (music's key names)."""
    source = hit.get("_source", {})

    def value(path: str | None) -> Any:
        current: Any = source
        for part in (path or "").split("."):
            current = current.get(part) if isinstance(current, Mapping) else None
        return current

    row = {key: value(path) for key, path in fields.items() if path}
    row["id"] = str(row["id"]) if fields.get("id") and row.get("id") is not None \
        else (hit["_id"] if not fields.get("id") else None)
    if isinstance(row.get("title"), list):
        row["title"] = row["title"][0] if row["title"] else None
    if isinstance(row.get("artist"), list):
        row["artist"] = row["artist"][0] if row["artist"] else None
    return row


def _seed_batch(client: OpenSearch, settings: Settings, rows: Iterable[dict[str, Any]],
                config: MemoryConfig, now: datetime) -> int:
    rows = list(rows)
    actions = [action("index", memory_index(settings), doc_id, doc)
               for row in rows for doc_id, doc in predicted_docs(row, config, now)]
    if actions:
        bulk_write(client, actions, "predicted Q2E docs", refresh=True)
    rebuild_entities(client, settings, (r["id"] for r in rows), config)
    return len(rows)
