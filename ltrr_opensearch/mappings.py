"""Index bodies from the versioned JSON files in ``ltrr_opensearch/mappings/`` (the one reader of them).

Replicas are set here, not in the JSON files: ``number_of_replicas`` is the ``index_replicas``
setting (``[indices] replicas`` / ``LTRR_INDEX_REPLICAS``) when given, else decided when the
index is created from the cluster's ``number_of_data_nodes``: 0 on one data node (a replica
could never be assigned), 1 on several (every shard survives the loss of one node).
"""

from __future__ import annotations

import json
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import ConfigError, LtrrError


def load_mapping(settings: Settings, name: str, version: int = 1,
                 client: OpenSearch | None = None) -> dict[str, Any]:
    """``ltrr_opensearch/mappings/<name>.v<version>.json`` without its ``_comment`` (documentation for humans;
    OpenSearch rejects unknown keys), with ``number_of_replicas`` from :func:`index_replicas`
    (0 when neither the setting nor a ``client`` to ask is given)."""
    path = settings.mappings_dir / f"{name}.v{version}.json"
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read mapping {path}: {exc}") from None
    body.pop("_comment", None)
    replicas = index_replicas(settings, client) if client is not None else settings.index_replicas
    body.setdefault("settings", {}).setdefault("index", {})["number_of_replicas"] = replicas or 0
    return body


def index_replicas(settings: Settings, client: OpenSearch) -> int:
    """The setting when given, else 1 on a cluster of several data nodes and 0 on one."""
    if settings.index_replicas is not None:
        return settings.index_replicas
    try:
        data_nodes = int(client.cluster.health()["number_of_data_nodes"])
    except os_exc.TransportError as exc:
        raise LtrrError(f"cannot read the cluster's data nodes to choose index replicas: "
                        f"{exc.error}", hint="set [indices] replicas or LTRR_INDEX_REPLICAS") from None
    return 1 if data_nodes > 1 else 0
