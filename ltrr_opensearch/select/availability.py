"""Which strategies cannot return anything for this request, checked cheaply before selection.

The bandit never chooses such an arm (``Bandit.select(..., unavailable=...)``) and the
explanation names the reason. Checks, per strategy template:

* it needs a query vector (``needs: vector``) and the pipeline has no query embedder;
* it reads the Q2E memory (its source uses ``q2e_key``) and the request has no key, or the
  key is absent from the memory's eligible keys (:class:`MemoryKeys`: a set held in memory
  and re-read in the background, mostly as a delta: no request waits for it);
* it needs the catalog's date (``needs: date``, e.g. ``fresh_releases``) or vector field and
  the catalog description has none (docs/catalog-description.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opensearchpy import exceptions as os_exc

logger = logging.getLogger(__name__)

_KEYS_PAGE = 10_000
# A delta read re-reads this many sequence numbers below the watermark: a write whose lower
# _seq_no became searchable after a higher one's (concurrent bulk requests) is not missed.
_SEQ_NO_MARGIN = 1_000


class MemoryKeys:
    """The Q2E memory's eligible keys, served from memory and re-read off the request path.

    * **Stale-while-revalidate.** Once a first set exists no request waits for a read: a
      request that finds the set older than ``refresh_seconds`` uses it and starts one
      background read (a daemon thread, at most one in flight). A failed background read
      keeps the set, is logged once per failing streak and is retried ``refresh_seconds``
      later; it never raises into a request. The first read is synchronous unless
      :meth:`warm` started it earlier (``Pipeline.from_cluster`` does, for a bandit).
      :meth:`refresh` reads now, for callers that need the new set at once (the replay
      harness after each feedback cycle); it raises what the engine raised.
    * **Delta reads.** A full read (one composite aggregation page per ``page_size`` keys)
      also asks the engine for the highest ``_seq_no`` among the eligible docs (``max``
      aggregation, same request). Later reads ask only for eligible docs whose ``_seq_no``
      is at least that watermark minus a small margin, and add their keys. ``_seq_no`` is
      the shard's own write order, not a writer's clock: ``computed_at`` would not do,
      because writers stamp it with their own ``now`` (the replay's feedback cycles with
      *simulated* time, months before the wall-clock stamp of the seeded predicted docs,
      so every learned key would sit below a ``computed_at`` watermark).
    * **Full reads** drop keys that stopped being eligible (a delta read only adds): every
      ``full_every_seconds`` (10 minutes: a stale "available" key only costs a sub-search
      that returns nothing, and a full read costs ~2 s of engine time at 310k keys), and
      whenever the delta cannot be trusted: the index was recreated (its uuid changed) or it
      has more than one shard (``_seq_no`` is per shard; our memory index has one).
    """

    def __init__(self, client: Any, index: str, refresh_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, *,
                 full_every_seconds: float = 600.0, page_size: int = _KEYS_PAGE,
                 seq_no_margin: int = _SEQ_NO_MARGIN) -> None:
        self.client, self.index = client, index
        self.refresh_seconds, self.clock = refresh_seconds, clock
        self.full_every_seconds, self.page_size = full_every_seconds, page_size
        self.seq_no_margin = seq_no_margin
        self._base: frozenset[str] | None = None  # the last full read's keys; None: no read yet
        self._added: frozenset[str] = frozenset()  # keys delta reads found since
        self._read_at = self._full_at = 0.0
        self._watermark: int | None = None  # highest _seq_no the last reads reported
        self._uuid: str | None = None
        self._state = threading.Lock()  # guards the fields above and the thread
        self._reading = threading.Lock()  # one read at a time (background or refresh())
        self._thread: threading.Thread | None = None
        self._failing = False
        # Reads done: full, delta, composite pages fetched, failed background reads.
        self.reads = {"full": 0, "delta": 0, "pages": 0, "errors": 0}

    def __contains__(self, key: object) -> bool:
        base, added = self._current()
        return key in base or key in added

    def keys(self) -> frozenset[str]:
        base, added = self._current()
        return base | added if added else base

    def warm(self) -> None:
        """Start the first read in the background, so that no request pays it."""
        with self._state:
            if self._base is None:
                self._start_locked()

    def refresh(self, *, full: bool = False) -> frozenset[str]:
        """Read now (a delta read unless ``full`` or a full read is due) and return the set;
        engine errors raise."""
        with self._reading:
            self._read(full=full)
        return self.keys()

    def invalidate(self) -> None:
        """Mark the set stale: the next lookup starts a background read (and still uses the
        current set). Use :meth:`refresh` to wait for the new set."""
        with self._state:
            self._read_at = float("-inf")

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background read in flight, if any."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _current(self) -> tuple[frozenset[str], frozenset[str]]:
        with self._state:
            base, added = self._base, self._added
            if base is not None:
                if self.clock() - self._read_at >= self.refresh_seconds:
                    self._start_locked()
                return base, added
        with self._reading:  # no set yet: read it now, or wait for warm()'s read
            if self._base is None:
                try:
                    self._read()
                except Exception as exc:  # noqa: BLE001 - a request never fails on this
                    self._failed(exc)
        with self._state:
            return self._base or frozenset(), self._added

    def _start_locked(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._background, daemon=True,
                                        name=f"memory-keys:{self.index}")
        self._thread.start()

    def _background(self) -> None:
        try:
            with self._reading:
                self._read()
        except Exception as exc:  # noqa: BLE001 - logged, retried after refresh_seconds
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        with self._state:
            self.reads["errors"] += 1
            if self._base is None:
                self._base = frozenset()  # no set yet: nothing available until a read works
            self._read_at = self.clock()  # keep the set; retry after refresh_seconds
            first, self._failing = not self._failing, True
        if first:
            logger.warning("cannot re-read the memory's keys from %s (keeping %d keys; "
                           "retrying every %.0f s): %r", self.index, len(self.keys()),
                           self.refresh_seconds, exc)

    def _read(self, full: bool = False) -> None:
        """One read; the caller holds ``_reading``."""
        started = self.clock()
        try:
            described = self.client.indices.get_settings(
                index=self.index, name="index.uuid,index.number_of_shards")
        except os_exc.NotFoundError:
            self._install(frozenset(), None, None, started, full=True)  # nothing remembered
            return
        index_settings = next(iter(described.values()))["settings"]["index"]
        uuid, shards = index_settings["uuid"], int(index_settings["number_of_shards"])
        if len(described) != 1:
            shards = 0  # an alias over several indices: one watermark cannot cover them
        with self._state:
            watermark = self._watermark
            full = (full or self._base is None or watermark is None or uuid != self._uuid
                    or shards != 1 or started - self._full_at >= self.full_every_seconds)
            since = None if full or watermark is None else max(0, watermark - self.seq_no_margin)
        try:
            keys, mark = self._scan(since)
        except os_exc.NotFoundError:
            keys, mark, full = set(), None, True  # deleted since: nothing remembered
        self._install(frozenset(keys), mark, uuid, started, full=full)

    def _scan(self, since: int | None) -> tuple[set[str], int | None]:
        """The keys of the eligible docs (with ``_seq_no >= since``), and the highest
        ``_seq_no`` among them as the first page saw it."""
        query: dict[str, Any] = {"term": {"eligible": True}}
        if since is not None:
            query = {"bool": {"filter": [query, {"range": {"_seq_no": {"gte": since}}}]}}
        keys: set[str] = set()
        after: dict[str, Any] | None = None
        mark: int | None = None
        while True:
            composite: dict[str, Any] = {"size": self.page_size,
                                         "sources": [{"key": {"terms": {"field": "key"}}}]}
            aggs: dict[str, Any] = {"keys": {"composite": composite}}
            if after is None:
                aggs["mark"] = {"max": {"field": "_seq_no"}}
            else:
                composite["after"] = after
            body = {"size": 0, "track_total_hits": False, "query": query, "aggs": aggs}
            response = self.client.search(index=self.index, body=body)["aggregations"]
            with self._state:
                self.reads["pages"] += 1
            if "mark" in response and response["mark"].get("value") is not None:
                mark = int(response["mark"]["value"])
            agg = response["keys"]
            keys.update(str(b["key"]["key"]) for b in agg["buckets"])
            after = agg.get("after_key")
            if len(agg["buckets"]) < self.page_size or after is None:
                return keys, mark  # a short page is the last one

    def _install(self, keys: frozenset[str], mark: int | None, uuid: str | None,
                 started: float, *, full: bool) -> None:
        with self._state:
            if full:
                self._base, self._added = keys, frozenset()
                self._watermark, self._full_at = mark, started
            else:
                fresh = keys - self._base - self._added if self._base is not None else keys
                if fresh:
                    self._added = self._added | fresh
                if mark is not None:
                    self._watermark = max(mark, self._watermark or 0)
            self._uuid, self._read_at = uuid, started
            self.reads["full" if full else "delta"] += 1
            recovered, self._failing = self._failing, False
        if recovered:
            logger.info("the memory's keys are read again from %s", self.index)


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
