"""Per-process caches of what searching needs from the catalog: the gazetteer for query
understanding and the query embedder matching the catalog's stored vectors.

Both are read from the cluster once per (cluster, catalog alias) and kept for the life of
the process; call :func:`clear` after the catalog is rebuilt.
"""

from __future__ import annotations

import threading
from typing import Any

from opensearchpy import OpenSearch

from ltrr_opensearch.config import Settings

_lock = threading.Lock()
_gazetteers: dict[tuple[tuple[str, ...], str, str, str], Any] = {}
_embedders: dict[tuple[tuple[str, ...], str], Any] = {}


def _key(settings: Settings) -> tuple[tuple[str, ...], str]:
    return settings.urls, settings.catalog_alias


def gazetteer_for(client: OpenSearch, settings: Settings) -> Any:
    """The catalog's :class:`~ltrr_opensearch.understand.Gazetteer`, built once per process
    and per catalog description (its vocabularies come from the described fields of the
    index the description names)."""
    from ltrr_opensearch.catalog.description import description_for
    from ltrr_opensearch.understand import Gazetteer

    description = description_for(settings)
    synonyms = repr(sorted((k, sorted(v.items())) for k, v in description.synonyms.items()))
    with _lock:
        key = (settings.urls, description.target(settings), description.digest, synonyms)
        if key not in _gazetteers:
            _gazetteers[key] = Gazetteer.from_index(client, settings)
        return _gazetteers[key]


def query_embedder_for(client: OpenSearch, settings: Settings) -> Any:
    """The embedder that made the catalog's vectors, ready to embed queries.

    The catalog index records its embedder in ``_meta`` (a fitted TF-IDF embedder's state
    sits in the state index). Raises an :class:`LtrrError` when the catalog has no usable
    vectors; callers then fail only the strategies that need a vector.
    """
    from ltrr_opensearch.catalog.embed import check_compatible
    from ltrr_opensearch.catalog.index import catalog_embedder, catalog_meta

    with _lock:
        key = _key(settings)
        if key not in _embedders:
            meta = catalog_meta(client, settings)
            embedder = catalog_embedder(client, settings, meta)
            check_compatible(meta, embedder)
            _embedders[key] = embedder
        return _embedders[key]


def clear() -> None:
    """Forget everything cached about the catalog (e.g. after a catalog rebuild or a mapping
    change): gazetteers, embedders, the description bound to the mapping, date statistics."""
    from ltrr_opensearch.catalog import description
    from ltrr_opensearch.retrieve import catalog

    with _lock:
        _gazetteers.clear()
        _embedders.clear()
    description.forget()
    catalog.forget()
