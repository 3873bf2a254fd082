"""Shared fixtures.

Integration tests talk to the real node at ``LTRR_OPENSEARCH_URL`` (``scripts/test.sh``
starts one). They fail, not skip, when no node answers: a green run must mean the
engine was really exercised. Each test gets its own index prefix, and every index it
creates under that prefix is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import cluster_info, make_client


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return Settings.load(env={k: v for k, v in os.environ.items() if k != "LTRR_CONFIG"})


@pytest.fixture(scope="session")
def session_client(base_settings):
    client = make_client(base_settings)
    cluster_info(client, base_settings)  # fails loudly with "cannot reach ..." if no node
    return client


@pytest.fixture()
def settings(base_settings, session_client) -> Settings:
    """Settings with a unique index prefix for this test."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield base_settings.with_overrides(index_prefix=prefix)
    session_client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True,
                                  expand_wildcards="all")


@pytest.fixture()
def client(settings, session_client):
    return session_client


def node_plugins(client) -> set[str]:
    names: set[str] = set()
    for node in client.nodes.info(metric="plugins")["nodes"].values():
        names.update(p["name"] for p in node.get("plugins", []))
        names.update(m["name"] for m in node.get("modules", []))
    return names


@pytest.fixture(scope="session")
def ltr_available(session_client) -> bool:
    """Whether a Learning to Rank API answers (ltrr's own plugin or the official one)."""
    from opensearchpy import exceptions as os_exc

    try:
        session_client.plugins.ltr.list_stores()
    except os_exc.TransportError:
        return False
    return True


@pytest.fixture()
def require_ltr(ltr_available):
    # scripts/test.sh starts a node with ltrr's plugin: a skip here means a cluster of yours
    # without any LTR plugin was named by LTRR_OPENSEARCH_URL.
    if not ltr_available:
        pytest.skip("no Learning to Rank API answers on this cluster (GET /_ltr); "
                    "`ltrr engine up` installs ltrr's plugin")
