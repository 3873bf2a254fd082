"""Dry-run every strategy template: render it for sample queries (nasty ones included) and
run each rendering with ``size: 0`` against the cluster, reporting errors per template."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings
from ltrr_opensearch.retrieve.catalog import catalog_context
from ltrr_opensearch.retrieve.msearch import execute, prepare_searches
from ltrr_opensearch.retrieve.templates import TemplateRegistry
from ltrr_opensearch.types import ContextVector, Slot, Understanding

SAMPLE_QUERIES = (
    "queen",
    "90s rock",
    "songs to fall asleep to",
    "",
    '"}},{"match_all":{}}',
    "{{ size }} {% if true %}x{% endif %}",
    "back\\slash \"quoted\" 'single'",
    "Motörhead — 東京 🎵",
    "tab\there\x00nul\x1fctl",
    "word " * 200,
)


def rich_understanding() -> Understanding:
    """A query with a slot of every kind (sure and unsure) and an intent: every branch."""
    slots = (Slot("artist", "queen", "queen", 1.0), Slot("genre", "rock", "rock", 1.0),
             Slot("mood", "calm", "calm", 0.5), Slot("decade", "1990s", "90s", 1.0),
             Slot("language", "en", "english", 0.5), Slot("album", "nevermind", "nevermind", 0.9),
             Slot("title", "yesterday", "yesterday", 0.6),
             Slot("entity_type", "track", "songs", 1.0))
    return Understanding(raw="queen rock calm 90s english nevermind yesterday songs",
                         normalized="queen rock calm 90s english nevermind yesterday songs",
                         tokens=(), slots=slots, keywords=("live",), intent="track",
                         intent_confidence=1.0, context=ContextVector("validate", (), ()))


def validate_templates(
    client: OpenSearch,
    settings: Settings,
    registry: TemplateRegistry,
    understand: Callable[[str], Understanding],
    embed_query: Callable[[str], Sequence[float]] | None,
    queries: Sequence[str] = SAMPLE_QUERIES,
    catalog: Mapping[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Template name -> distinct problems found (empty list: it rendered and ran every time),
    for the enabled strategies this catalog can serve: one needing a role the description
    gives no field (a vector, a date) is not run (:func:`unavailable_strategies` says why).
    ``catalog``: the templates' ``catalog`` variable (default: read from the cluster)."""
    if catalog is None:
        catalog = catalog_context(client, settings)
    unavailable = unavailable_strategies(registry, catalog)
    names = [name for name in registry.names if name not in unavailable]
    problems: dict[str, list[str]] = {name: [] for name in names}
    seen: dict[str, set[str]] = {name: set() for name in names}
    samples = [understand(q) for q in queries] + [rich_understanding()]
    for u in samples:
        prepared = prepare_searches(registry, u, [(n, 10) for n in names],
                                    embed_query=embed_query, catalog=catalog)
        # size 0: the engine parses and runs the query but fetches nothing.
        sized = [replace(p, body={**p.body, "size": 0}) if p.body is not None else p
                 for p in prepared]
        for result in execute(client, settings, sized):
            if result.error and result.error not in seen[result.strategy]:
                seen[result.strategy].add(result.error)
                problems[result.strategy].append(f"{result.error} (query {u.raw[:40]!r})")
    return problems


def unavailable_strategies(registry: TemplateRegistry,
                           catalog: Mapping[str, Any] | None) -> dict[str, str]:
    """Enabled strategies this catalog can never serve, with the reason (``knn_vector`` on
    a catalog described without a vector field)."""
    from ltrr_opensearch.select.availability import missing_roles

    missing = missing_roles(registry, catalog)
    return {name: missing[name] for name in registry.names if name in missing}


def random_unit_vector(dimension: int, seed: int = 7) -> list[float]:
    """Stand-in query vector when only the query's shape matters."""
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimension)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]
