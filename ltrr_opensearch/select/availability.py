"""Which strategies cannot return anything for this request, checked cheaply before selection.

The bandit never chooses such an arm (``Bandit.select(..., unavailable=...)``) and the
explanation names the reason. Checks, per strategy template:

* it needs a query vector (``needs: vector``) and the pipeline has no query embedder;
* it reads the Q2E memory (its source uses ``q2e_key``) and the request has no key, or the
  key is absent from the memory's eligible keys (a cached set, one aggregation per
  ``refresh_seconds`` per memory index: no request pays a round trip for it);
* it ranks by a date (``distance_feature`` on a field) that the catalog mapping lacks.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from opensearchpy import exceptions as os_exc

_DATE_FIELD = re.compile(r'"distance_feature"\s*:\s*\{\s*"field"\s*:\s*"([^"]+)"')
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
                 memory_keys: MemoryKeys | None = None) -> None:
        from ltrr_opensearch.feedback.indices import memory_index

        self.registry = registry
        self.has_vector, self.vector_problem = has_vector, vector_problem
        self.memory_keys = memory_keys or MemoryKeys(client, memory_index(settings))
        self._missing_fields = _missing_date_fields(client, settings, registry)

    def unavailable(self, understanding: Any) -> dict[str, str]:
        from ltrr_opensearch.retrieve.msearch import default_q2e_key

        out: dict[str, str] = {}
        for name in self.registry.names:
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
                out[name] = f"the catalog has no date field {self._missing_fields[name]!r}"
        return out


def _missing_date_fields(client: Any, settings: Any, registry: Any) -> dict[str, str]:
    """Strategy -> the date field it ranks by that the catalog mapping lacks."""
    wanted = {n: m.group(1) for n in registry.names
              if (m := _DATE_FIELD.search(registry.get(n).source))}
    if not wanted:
        return {}
    try:
        mappings = client.indices.get_mapping(index=settings.catalog_alias)
    except os_exc.NotFoundError:
        return {}  # no catalog: every strategy fails alike, with its own error
    fields: set[str] = set()
    for body in mappings.values():
        fields.update(_field_names(body.get("mappings", {}).get("properties", {})))
    return {n: f for n, f in wanted.items() if f not in fields}


def _field_names(properties: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for name, spec in properties.items():
        out.add(prefix + name)
        out |= _field_names(spec.get("properties", {}), f"{prefix}{name}.")
    return out
