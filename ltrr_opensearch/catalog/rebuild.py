"""Rebuild the catalog beside the live index and swap it in with no downtime.

A new concrete index is created and loaded while the alias keeps serving the old one; the
document count is verified, the Q2E memory values (``q2e``, written by the feedback loop,
not by the file) are carried over for ids present in both, and one atomic ``_aliases``
request moves the alias. Anything failing before the swap deletes the new index and leaves
the live catalog untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc
from opensearchpy.helpers import scan, streaming_bulk

from ltrr_opensearch.catalog import index as catalog_index
from ltrr_opensearch.catalog.loader import LoadReport, load_rows
from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError


@dataclass
class RebuildResult:
    index: str
    report: LoadReport
    old_indices: list[str] = field(default_factory=list)
    deleted_old: bool = False
    q2e_carried: int = 0
    q2e_dropped: int = 0  # entities with q2e values that the new file no longer has

    def summary(self) -> str:
        old = ", ".join(self.old_indices) or "none"
        fate = "deleted" if self.deleted_old else "kept"
        return (f"alias now -> {self.index} ({self.report.indexed} documents); previous "
                f"index {old} {fate if self.old_indices else ''}".rstrip()
                + f"; q2e carried for {self.q2e_carried}, dropped for {self.q2e_dropped}")


def rebuild_catalog(
    client: OpenSearch,
    settings: Settings,
    path: str | Path,
    *,
    embedder: Any,
    on_error: str = "abort",
    field_map: Mapping[str, str] | None = None,
    quiet: bool = False,
    fmt: str | None = None,
    rejects_path: str | Path | None = None,
    delete_old: bool = True,
    carry_q2e: bool = True,
) -> RebuildResult:
    """Load ``path`` into a new index and atomically point the catalog alias at it.

    ``embedder`` must not be ``None`` (a new index needs a vector width); an unfitted
    TF-IDF embedder is fitted on the file. ``delete_old`` removes the previous index (and
    its stored embedder state) a short grace period after the swap, once searches routed to
    it have finished; otherwise it is kept, detached from the alias.
    """
    if embedder is None:
        raise LtrrError("a rebuild needs an embedder to size the new index's vectors",
                        hint="choose --embedder minilm, tfidf or precomputed")
    created: list[str] = []

    def new_index(fitted: Any) -> str:
        created.append(catalog_index.create_catalog_index(client, settings, fitted))
        return created[-1]

    try:
        report = load_rows(client, settings, path, new_index, embedder=embedder,
                           on_error=on_error, field_map=field_map, quiet=quiet, fmt=fmt,
                           rejects_path=rejects_path)
        name = report.index
        _verify_count(client, settings, name, report.indexed)
        old = [i for i in catalog_index.alias_targets(client, settings) if i != name]
        carried = dropped = 0
        for old_name in old if carry_q2e else []:
            copied, gone = _carry_q2e(client, settings, old_name, name)
            carried, dropped = carried + copied, dropped + gone
    except BaseException:
        for half_built in created:  # never leave a half-built index behind
            _delete_index(client, settings, half_built)
        raise
    catalog_index.swap_alias(client, settings, name, delete_old=delete_old)
    if delete_old:
        for old_name in old:
            _delete_state(client, settings, old_name)
    return RebuildResult(name, report, old, delete_old, carried, dropped)


def _verify_count(client: OpenSearch, settings: Settings, index: str, expected: int) -> None:
    with catalog_index.opensearch_errors(settings, f"counting {index}"):
        count = client.count(index=index)["count"]
    if count != expected:
        raise LtrrError(f"the new index {index} holds {count} documents, expected {expected}; "
                        "the alias was not moved",
                        hint="run the rebuild again; if it repeats, check the node's logs")


def _carry_q2e(client: OpenSearch, settings: Settings, old: str, new: str) -> tuple[int, int]:
    """Copy ``q2e`` from ``old`` to the same ids in ``new``; ``(carried, dropped)``.

    Values the feedback loop writes to ``old`` after this copy are not carried: it is
    the memory updater's job to rewrite them (it rebuilds ``q2e`` from its evidence).
    """
    from ltrr_opensearch.catalog.description import description_for

    field = description_for(settings).memory_field  # the described [memory] field

    def actions() -> Iterator[dict[str, Any]]:
        # rank_features fields cannot answer an `exists` query: read every doc's map.
        hits = scan(client, index=old, _source=[field], size=1000,
                    query={"query": {"match_all": {}}})
        for hit in hits:
            q2e = hit.get("_source", {}).get(field)
            if q2e:
                yield {"_op_type": "update", "_index": new, "_id": hit["_id"],
                       "doc": {field: q2e}}

    carried = dropped = 0
    with catalog_index.opensearch_errors(settings, f"carrying q2e from {old} to {new}"):
        for ok, item in streaming_bulk(client, actions(), raise_on_error=False,
                                       max_retries=3):
            result = item["update"]
            if ok:
                carried += 1
            elif result.get("status") == 404:  # the entity is gone from the new file
                dropped += 1
            else:
                raise LtrrError(f"cannot carry q2e of {result.get('_id')!r} to {new}: "
                                f"{result.get('error')}")
        client.indices.refresh(index=new)
    return carried, dropped


def _delete_index(client: OpenSearch, settings: Settings, name: str) -> None:
    # Best effort while another error is on its way to the user.
    with suppress(os_exc.TransportError):
        client.indices.delete(index=name, ignore_unavailable=True)
    _delete_state(client, settings, name)


def _delete_state(client: OpenSearch, settings: Settings, index_name: str) -> None:
    """Remove the stored embedder state of a deleted index (if it had one)."""
    # Tidying only (not found included): a leftover state doc harms nothing.
    with suppress(os_exc.TransportError):
        client.delete(index=settings.state_index, id=catalog_index.state_doc_id(index_name))
