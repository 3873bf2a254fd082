"""Bandit state in OpenSearch, shared by every service worker.

Three kinds of documents live in ``settings.state_index`` (shapes in docs/bandit.md):

* ``observation`` - append-only reward log, ``_id = "obs:<request_id>:<arm>"`` written with
  ``op_type=create``: recording the same (request, arm) twice is a no-op, so workers that
  see overlapping feedback never double count.
* ``snapshot`` - one per policy name: a version number, the watermark (the last applied
  observation in the canonical order ``(logged_at, obs_id)``) and how many observations
  it covers. Advanced with optimistic concurrency (``if_seq_no``/``if_primary_term``).
* ``killswitch`` - arms forced off, shared by all policies.

The fitted policy is never serialised: it is a deterministic function of the observations
up to the watermark, refitted on load (no pickle, nothing to trust).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opensearchpy import exceptions as os_exc

from ltrr_opensearch.bulk import action, bulk_outcomes, scan, stored
from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import unreachable
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.select.bandit import Observation
from ltrr_opensearch.state import ensure_state_index

Watermark = tuple[int, str]  # (logged_at ms, obs_id)
KILLSWITCH_ID = "killswitch"
_PAGE = 1000



def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Snapshot:
    policy: str
    version: int
    watermark: Watermark | None
    applied: int
    counts: dict[str, int] = field(default_factory=dict)
    updated_at: int = 0
    variant: str | None = None  # an experiment variant's own state (None: shared)
    # The fitted model's arrays at this watermark (select/modelstate.py; not indexed):
    # loading them is independent of the log's length. None: rebuilt from the log.
    model: dict[str, Any] | None = None

    def to_doc(self) -> dict[str, Any]:
        wm = None if self.watermark is None else {"logged_at": self.watermark[0],
                                                  "obs_id": self.watermark[1]}
        doc = {"kind": "snapshot", "policy": self.policy, "version": self.version,
               "watermark": wm, "applied": self.applied, "counts": self.counts,
               "updated_at": self.updated_at, "variant": self.variant}
        if self.model is not None:
            doc["model"] = self.model
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Snapshot:
        wm = doc.get("watermark")
        return cls(policy=doc["policy"], version=int(doc["version"]),
                   watermark=None if wm is None else (int(wm["logged_at"]), str(wm["obs_id"])),
                   applied=int(doc["applied"]), counts=dict(doc.get("counts") or {}),
                   updated_at=int(doc.get("updated_at", 0)), variant=doc.get("variant"),
                   model=doc.get("model"))


@dataclass(frozen=True)
class RecordResult:
    created: int
    duplicates: int


class BanditStore:
    """Reads and writes bandit documents in the state index."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.state_index
        self._ready = False

    def ensure_index(self) -> None:
        """Create the shared state index, or add our fields to it if another subsystem made it."""
        if self._ready:
            return

        self._call(lambda: ensure_state_index(self.client, self.settings),
                   "prepare the state index")
        self._ready = True

    def rewards_for(self, request_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """request id -> arm -> reward, from our observations and, where we have none, the
        feedback loop's ``kind: reward`` docs (same request_id/arm/reward fields)."""
        out: dict[str, dict[str, float]] = {}
        if not request_ids or not self._exists():
            return out
        ids = list(request_ids)
        for start in range(0, len(ids), _PAGE):
            chunk = ids[start:start + _PAGE]
            query = {"bool": {"filter": [{"terms": {"kind": ["observation", "reward"]}},
                                         {"terms": {"request_id": chunk}}]}}
            # Every doc of these requests (one per arm and kind, however many arms a policy has).
            hits = self._call(lambda q=query: list(scan(
                self.client, self.index, q, source=["kind", "request_id", "arm", "reward"])),
                "read rewards")
            for h in sorted(hits, key=lambda h: h["_source"]["kind"] != "observation"):
                src = h["_source"]
                out.setdefault(src["request_id"], {}).setdefault(src["arm"], float(src["reward"]))
        return out

    # ------------------------------------------------------------ observations
    def record(self, observations: Sequence[Observation], refresh: bool | str = False
               ) -> RecordResult:
        """Append observations; ones already logged (same request and arm) are duplicates."""
        if not observations:
            return RecordResult(0, 0)
        self.ensure_index()
        actions = [action("create", self.index, f"obs:{o.key}", observation_doc(o))
                   for o in observations]
        outcomes = self._call(lambda: bulk_outcomes(self.client, actions, refresh=refresh),
                              "record bandit observations")
        created = duplicates = 0
        failures = []
        for (_index, doc_id), result in outcomes.items():
            if result.get("status") == 409:
                duplicates += 1
            elif not stored(result):
                error = result.get("error")
                reason = error.get("reason", error) if isinstance(error, dict) else error
                failures.append(f"{doc_id}: {reason}")
            else:
                created += 1
        if failures:
            raise LtrrError(f"{len(failures)} observation(s) were not recorded: {failures[0]}",
                            hint="recording is idempotent; retry the same feedback")
        return RecordResult(created, duplicates)

    def fetch(self, after: Watermark | None = None, upto: Watermark | None = None,
              until_ms: int | None = None, variant: str | None = None) -> list[Observation]:
        """Observations in canonical order, strictly after ``after`` and at most ``upto``
        (or logged at or before ``until_ms``); only ``variant``'s, if given."""
        if not self._exists():
            return []
        self.ensure_index()
        filters: list[dict[str, Any]] = [{"term": {"kind": "observation"}}]
        if variant is not None:
            filters.append({"term": {"variant": variant}})
        if upto is not None:
            filters.append(_at_most(upto))
        if until_ms is not None:
            filters.append({"range": {"logged_at": {"lte": until_ms}}})
        if after is not None:  # lets the engine skip the log before the watermark
            filters.append({"range": {"logged_at": {"gte": after[0]}}})
        out: list[Observation] = []
        cursor = list(after) if after is not None else None
        while True:
            body: dict[str, Any] = {
                "size": _PAGE, "query": {"bool": {"filter": filters}},
                "sort": [{"logged_at": "asc"}, {"obs_id": "asc"}], "track_total_hits": False,
            }
            if cursor is not None:
                body["search_after"] = cursor
            hits = self._call(lambda b=body: self.client.search(index=self.index, body=b),
                              "read bandit observations")["hits"]["hits"]
            out.extend(observation_from_doc(h["_source"]) for h in hits)
            if len(hits) < _PAGE:
                return out
            cursor = hits[-1]["sort"]

    def newest(self, arm: str, n: int, upto: Watermark, variant: str | None = None,
               context_version: str | None = None, since_ms: int | None = None
               ) -> list[Observation]:
        """``arm``'s newest ``n`` observations at or before ``upto`` (and logged at or after
        ``since_ms``: the window's start, so the engine reads a bounded range), in
        canonical order: a windowed model's data."""
        if n <= 0 or not self._exists():
            return []
        filters: list[dict[str, Any]] = [{"term": {"kind": "observation"}},
                                         {"term": {"arm": arm}}, _at_most(upto)]
        if since_ms is not None:
            filters.append({"range": {"logged_at": {"gte": since_ms}}})
        if variant is not None:
            filters.append({"term": {"variant": variant}})
        if context_version is not None:
            filters.append({"term": {"context_version": context_version}})
        out: list[Observation] = []
        cursor: list[Any] | None = None
        while len(out) < n:
            body: dict[str, Any] = {
                "size": min(_PAGE, n - len(out)), "query": {"bool": {"filter": filters}},
                "sort": [{"logged_at": "desc"}, {"obs_id": "desc"}], "track_total_hits": False}
            if cursor is not None:
                body["search_after"] = cursor
            hits = self._call(lambda b=body: self.client.search(index=self.index, body=b),
                              "read an arm's newest observations")["hits"]["hits"]
            out.extend(observation_from_doc(h["_source"]) for h in hits)
            if len(hits) < body["size"]:
                break
            cursor = hits[-1]["sort"]
        out.reverse()
        return out

    def count(self, upto: Watermark, variant: str | None = None) -> int:
        if not self._exists():
            return 0
        self.ensure_index()
        filters = [{"term": {"kind": "observation"}}, _at_most(upto)]
        if variant is not None:
            filters.append({"term": {"variant": variant}})
        body = {"query": {"bool": {"filter": filters}}}
        return int(self._call(lambda: self.client.count(index=self.index, body=body),
                              "count bandit observations")["count"])

    def closed_rewards(self, after_ms: int | None, until_ms: int) -> list[Observation]:
        """The feedback loop's ``kind: reward`` docs of requests logged in
        ``(after_ms, until_ms]``, as observations, in logging order (see docs/bandit.md)."""
        if not self._exists():
            return []
        window: dict[str, Any] = {"lte": until_ms}
        if after_ms is not None:
            window["gt"] = after_ms
        filters = [{"term": {"kind": "reward"}}, {"range": {"logged_at": window}}]
        out: list[Observation] = []
        cursor: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": _PAGE, "query": {"bool": {"filter": filters}},
                "sort": [{"logged_at": "asc"}, {"request_id": "asc"}, {"arm": "asc"}],
                "track_total_hits": False}
            if cursor is not None:
                body["search_after"] = cursor
            hits = self._call(lambda b=body: self.client.search(index=self.index, body=b),
                              "read closed rewards")["hits"]["hits"]
            for hit in hits:
                doc = hit["_source"]
                if doc.get("context") and doc.get("context_version"):  # searches without a
                    out.append(observation_from_doc(doc))  # context teach no contextual policy
            if len(hits) < _PAGE:
                return out
            cursor = hits[-1]["sort"]

    def refresh(self) -> None:
        if self._exists():
            self._call(lambda: self.client.indices.refresh(index=self.index), "refresh state")

    def get_marker(self, name: str) -> int | None:
        doc = self._get(f"marker:{name}")
        return int(doc["_source"]["value"]) if doc else None

    def put_marker(self, name: str, value: int) -> None:
        self.ensure_index()
        self._call(lambda: self.client.index(
            index=self.index, id=f"marker:{name}", refresh=True,
            body={"kind": "marker", "value": value, "updated_at": now_ms()}), "write a marker")

    # ---------------------------------------------------------------- snapshot
    def get_snapshot(self, policy: str) -> tuple[Snapshot | None, int | None, int | None]:
        """The snapshot and its ``(seq_no, primary_term)`` for a conditional write."""
        doc = self._get(f"snapshot:{policy}")
        if doc is None:
            return None, None, None
        return Snapshot.from_doc(doc["_source"]), doc["_seq_no"], doc["_primary_term"]

    def put_snapshot(self, snapshot: Snapshot, seq_no: int | None, primary_term: int | None
                     ) -> bool:
        """Write if nobody else did since ``(seq_no, primary_term)``; False on a lost race."""
        self.ensure_index()
        kwargs: dict[str, Any] = {"op_type": "create"} if seq_no is None else {
            "if_seq_no": seq_no, "if_primary_term": primary_term}
        try:
            self._call(lambda: self.client.index(index=self.index, id=f"snapshot:{snapshot.policy}",
                                                 body=snapshot.to_doc(), refresh=True, **kwargs),
                       "write the bandit snapshot")
        except os_exc.ConflictError:
            return False
        return True

    def variant_snapshots(self) -> list[Snapshot]:
        """Every experiment variant's own snapshot (the worker syncs these bandits too)."""
        if not self._exists():
            return []
        body = {"size": 1000, "query": {"bool": {"filter": [
            {"term": {"kind": "snapshot"}}, {"exists": {"field": "variant"}}]}}}
        hits = self._call(lambda: self.client.search(index=self.index, body=body),
                          "read variant snapshots")["hits"]["hits"]
        return [Snapshot.from_doc(h["_source"]) for h in hits]

    # ------------------------------------------------------------ kill switch
    def killed(self) -> set[str]:
        doc = self._get(KILLSWITCH_ID)
        return set(doc["_source"].get("killed", [])) if doc else set()

    def set_killed(self, arm: str, killed: bool, attempts: int = 5) -> set[str]:
        """Kill or revive ``arm`` (read-modify-write with optimistic concurrency)."""
        self.ensure_index()
        for _ in range(attempts):
            doc = self._get(KILLSWITCH_ID)
            current = set(doc["_source"].get("killed", [])) if doc else set()
            wanted = current | {arm} if killed else current - {arm}
            kwargs: dict[str, Any] = {"op_type": "create"} if doc is None else {
                "if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
            body = {"kind": "killswitch", "killed": sorted(wanted), "updated_at": now_ms()}
            try:
                self._call(lambda b=body, kw=kwargs: self.client.index(
                    index=self.index, id=KILLSWITCH_ID, body=b, refresh=True, **kw),
                    "update the kill switch")
                return wanted
            except os_exc.ConflictError:
                continue
        raise LtrrError("the kill switch is being changed concurrently; try again")

    # ---------------------------------------------------------------- helpers
    def _exists(self) -> bool:
        return bool(self._call(lambda: self.client.indices.exists(index=self.index),
                               "check the state index"))

    def _get(self, doc_id: str) -> dict[str, Any] | None:
        try:
            return self._call(lambda: self.client.get(index=self.index, id=doc_id),
                              "read bandit state")
        except os_exc.NotFoundError:
            return None

    def _call(self, fn: Any, what: str) -> Any:
        try:
            return fn()
        except os_exc.ConnectionError:
            raise unreachable(self.settings, f"trying to {what}") from None
        except (os_exc.ConflictError, os_exc.NotFoundError):
            raise
        except os_exc.TransportError as exc:
            raise LtrrError(f"OpenSearch refused to {what} in {self.index!r}: "
                            f"{exc.status_code} {exc.error}") from None


def observation_doc(o: Observation) -> dict[str, Any]:
    return {"kind": "observation", "obs_id": o.key, "request_id": o.request_id, "arm": o.arm,
            "reward": o.reward, "context_version": o.context_version,
            "context": list(o.context), "logged_at": o.logged_at, "k": o.k,
            "propensity": o.propensity, "took_ms": o.took_ms, "variant": o.variant}


def observation_from_doc(doc: dict[str, Any]) -> Observation:
    return Observation(request_id=str(doc["request_id"]), arm=str(doc["arm"]),
                       reward=float(doc["reward"]), context_version=str(doc["context_version"]),
                       context=tuple(float(v) for v in doc["context"]),
                       logged_at=int(doc["logged_at"]), k=doc.get("k"),
                       propensity=doc.get("propensity"), took_ms=doc.get("took_ms"),
                       variant=variant_label(doc.get("variant")))


def variant_label(raw: Any) -> str | None:
    """One string for ``query_attributes.variant`` (a list when several experiments ran)."""
    if raw is None or raw == []:
        return None
    return ",".join(str(v) for v in raw) if isinstance(raw, list) else str(raw)


def counts_of(observations: Iterable[Observation]) -> dict[str, int]:
    return dict(Counter(o.arm for o in observations))


def _at_most(wm: Watermark) -> dict[str, Any]:
    """(logged_at, obs_id) <= wm in the canonical order."""
    t, oid = wm
    return {"bool": {"should": [
        {"range": {"logged_at": {"lt": t}}},
        {"bool": {"filter": [{"term": {"logged_at": t}}, {"range": {"obs_id": {"lte": oid}}}]}},
    ], "minimum_should_match": 1}}
