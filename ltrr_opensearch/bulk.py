"""Bulk writes and full reads through opensearch-py's helpers, with the checks we rely on.

* :func:`bulk_outcomes` sends actions with ``helpers.streaming_bulk`` (items refused with
  429 are retried with backoff) and returns every item's outcome keyed by ``(index, id)``:
  a retried item comes back after the others, so callers never match results by position.
* :func:`bulk_write` is the common case: every item must be stored (statuses in ``ok``
  also count), else an :class:`LtrrError` naming the first refused doc.
* :func:`scan` reads every doc of a query with ``helpers.scan`` (scroll), in ``sort``
  order when one is given, and fails on shard failures instead of returning a partial set.

Acknowledged means stored: an outcome is only "stored" when its own status is 2xx.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from opensearchpy import OpenSearch, helpers

from ltrr_opensearch.errors import LtrrError

logger = logging.getLogger(__name__)

# One request per call at the sizes our callers batch (a feedback batch is 2000 events): each
# request may wait for a refresh, so splitting a batch would multiply the waits.
CHUNK_SIZE = 10_000
MAX_CHUNK_BYTES = 100 * 1024 * 1024
MAX_RETRIES = 3  # retries of items refused with 429 (the node's write queue is full)
INITIAL_BACKOFF = 1  # seconds before the first retry, doubled each time

Action = Mapping[str, Any]


def action(op: str, index: str, doc_id: str, source: Mapping[str, Any] | None = None
           ) -> dict[str, Any]:
    """One helper action: ``op`` (index/create/update/delete) of ``doc_id`` in ``index``."""
    out: dict[str, Any] = {"_op_type": op, "_index": index, "_id": doc_id}
    if source is not None:
        out["_source"] = source
    return out


def bulk_outcomes(client: OpenSearch, actions: Iterable[Action], *,
                  refresh: bool | str = False, chunk_size: int = CHUNK_SIZE,
                  max_retries: int = MAX_RETRIES) -> dict[tuple[str, str], dict[str, Any]]:
    """``(index, id)`` -> the item's result (``status``, ``error``...) for every action.

    Every action needs an ``_id``. Transport errors (node unreachable, request refused as a
    whole) propagate as opensearch-py exceptions.
    """
    kwargs: dict[str, Any] = {"refresh": refresh} if refresh else {}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for _ok, item in helpers.streaming_bulk(
            client, actions, chunk_size=chunk_size, max_chunk_bytes=MAX_CHUNK_BYTES,
            raise_on_error=False, raise_on_exception=True, max_retries=max_retries,
            initial_backoff=INITIAL_BACKOFF, yield_ok=True, **kwargs):
        result = next(iter(item.values()))
        out[(result.get("_index", ""), str(result.get("_id")))] = result
    return out


def stored(result: Mapping[str, Any]) -> bool:
    return 200 <= int(result.get("status", 0)) < 300


def bulk_write(client: OpenSearch, actions: Iterable[Action], what: str, *,
               refresh: bool | str = False, ok: Sequence[int] = (),
               chunk_size: int = CHUNK_SIZE) -> int:
    """Write every action; returns how many were stored (2xx). A status in ``ok`` (such as
    409 for ``create`` of a doc already there) is accepted but not counted. Anything else
    raises :class:`LtrrError` naming the first refused doc and how many were refused."""
    outcomes = bulk_outcomes(client, actions, refresh=refresh, chunk_size=chunk_size)
    refused = [(key, r) for key, r in outcomes.items()
               if not stored(r) and int(r.get("status", 0)) not in ok]
    if refused:
        (index, doc_id), first = refused[0]
        error = first.get("error")
        reason = (f"{error.get('type')}: {error.get('reason')}" if isinstance(error, Mapping)
                  else str(error))
        raise LtrrError(f"OpenSearch refused {len(refused)} of {len(outcomes)} {what}; first "
                        f"{index}/{doc_id} (status {first.get('status')}): {reason}")
    written = sum(1 for r in outcomes.values() if stored(r))
    logger.debug("bulk wrote %d %s (%d accepted as already there)", written, what,
                 len(outcomes) - written)
    return written


def scan(client: OpenSearch, index: str, query: Mapping[str, Any],
         sort: Sequence[str | Mapping[str, Any]] = (), source: list[str] | None = None, page_size: int = 1000,
         scroll: str = "2m") -> Iterator[dict[str, Any]]:
    """Every hit of ``query`` (a query clause) in ``index``, in ``sort`` order when given
    (field names ascend; a mapping such as ``{"value": "desc"}`` is used as written), else
    in index order. Shard failures raise rather than truncate the result."""
    body: dict[str, Any] = {"query": dict(query)}
    if sort:
        body["sort"] = [{f: "asc"} if isinstance(f, str) else dict(f) for f in sort]
    if source is not None:
        body["_source"] = source
    yield from helpers.scan(client, query=body, index=index, size=page_size, scroll=scroll,
                            preserve_order=bool(sort), raise_on_error=True)
