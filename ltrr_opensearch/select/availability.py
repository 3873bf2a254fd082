"""Which strategies cannot return anything for this request, checked cheaply before selection.

The bandit never chooses such an arm (``Bandit.select(..., unavailable=...)``) and the
explanation names the reason. Checks, per strategy template:

* it needs a query vector (``needs: vector``) and the pipeline has no query embedder;
* it reads the Q2E memory (its source uses ``q2e_key``) and the request has no key, or the
  key is absent from the memory's eligible keys (a cached set, one aggregation per
  ``refresh_seconds`` per memory index: no request pays a round trip for it);
* it needs the catalog's date (``needs: date``, e.g. ``fresh_releases``) or vector field and
  the catalog description has none (docs/catalog-description.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opensearchpy import exceptions as os_exc

_KEYS_PAGE = 10_000


class MemoryKeys:
    """The Q2E memory's eligible keys, re-read at most every ``refresh_seconds``."""

    def __init__(self, client: Any, index: str, refresh_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.index = client, index
        self.refresh_seconds, self.clock = refresh_seconds, clock
        self._keys: frozenset[str] = frozenset()
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def keys(self) -> frozenset[str]:
        with self._lock:
            if self._read_at is None or self.clock() - self._read_at >= self.refresh_seconds:
                self._keys = self._read()
                self._read_at = self.clock()
            return self._keys

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = None

    def _read(self) -> frozenset[str]:
        keys: set[str] = set()
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": _KEYS_PAGE,
                                         "sources": [{"key": {"terms": {"field": "key"}}}]}
            if after is not None:
                composite["after"] = after
            body = {"size": 0, "query": {"term": {"eligible": True}},
                    "aggs": {"keys": {"composite": composite}}}
            try:
                agg = self.client.search(index=self.index, body=body)["aggregations"]["keys"]
            except os_exc.NotFoundError:
                return frozenset()  # no memory yet: nothing remembered
            keys.update(str(b["key"]["key"]) for b in agg["buckets"])
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return frozenset(keys)


class Availability:
    """``unavailable(understanding)`` -> {strategy: reason} for one pipeline's strategies."""

    def __init__(self, client: Any, settings: Any, registry: Any, *,
                 has_vector: bool, vector_problem: str | None = None,
                 memory_keys: MemoryKeys | None = None,
                 catalog: Mapping[str, Any] | None = None) -> None:
        from ltrr_opensearch.feedback.indices import memory_index

        self.registry = registry
        self.has_vector, self.vector_problem = has_vector, vector_problem
        self.memory_keys = memory_keys or MemoryKeys(client, memory_index(settings))
        self._missing_fields = missing_roles(registry, _catalog(client, settings, catalog))

    @property
    def missing_fields(self) -> Mapping[str, str]:
        """Strategies this catalog can never serve (a role they need has no field)."""
        return self._missing_fields

    def unavailable(self, understanding: Any) -> dict[str, str]:
        from ltrr_opensearch.retrieve.msearch import default_q2e_key

        out: dict[str, str] = {}
        # Every template, enabled or not: a bandit's arms may include one that is off by
        # default in the plain plan (the policy names its arms).
        for name in _templates(self.registry):
            template = self.registry.get(name)
            if "vector" in template.needs and not self.has_vector:
                out[name] = f"no query vector ({self.vector_problem or 'no query embedder'})"
            elif "q2e_key" in template.source:
                key = default_q2e_key(understanding.normalized)
                if key is None:
                    out[name] = "no memory key for this query"
                elif key not in self.memory_keys:
                    out[name] = f"the memory has nothing for key {key!r}"
            elif name in self._missing_fields:
                out[name] = self._missing_fields[name]
        return out


# A template's needs -> the catalog role it reads.
_ROLE_OF_NEED = {"date": "date_field", "vector": "vector_field"}


def missing_roles(registry: Any, catalog: Mapping[str, Any] | None) -> dict[str, str]:
    """Strategy -> why it cannot answer on this catalog: it needs a role (``needs: date``,
    ``needs: vector``) the catalog description does not give a field."""
    if catalog is None:
        return {}  # the description does not fit: every strategy fails alike, with the reason
    out: dict[str, str] = {}
    for name in _templates(registry):
        if name in registry.broken:
            continue
        for need in sorted(registry.get(name).needs):
            role = _ROLE_OF_NEED.get(need)
            if role and not catalog.get(role):
                out[name] = (f"the catalog description {catalog.get('name', '')!r} has no "
                             f"{need} field")
                break
            if role and need == "date" and catalog.get("dated") is False:
                out[name] = f"no document of the catalog has a {catalog[role]!r} date"
                break
    return out


def _templates(registry: Any) -> list[str]:
    return list(getattr(registry, "available", registry.names))


def _catalog(client: Any, settings: Any,
             catalog: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if catalog is not None:
        return catalog
    from ltrr_opensearch.errors import ValidationError
    from ltrr_opensearch.retrieve.catalog import catalog_context

    try:
        return catalog_context(client, settings)
    except ValidationError:
        return None
