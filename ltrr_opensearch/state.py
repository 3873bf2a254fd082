"""The shared state index (``<prefix>-state``): one mapping, one creator.

The feedback consumers (checkpoints, reward docs), the bandit (observations, snapshots,
kill switch) and the catalog (fitted embedder state) all keep documents here. Its mapping
lives in ``ltrr_opensearch/mappings/state.v1.json`` and every subsystem calls :func:`ensure_state_index`,
so whichever runs first creates the same index.
"""

from __future__ import annotations

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.mappings import load_mapping


def ensure_state_index(client: OpenSearch, settings: Settings) -> None:
    """Create the state index if missing; on an existing one, add any missing fields."""
    body = load_mapping(settings, "state")
    index = settings.state_index
    try:
        if not client.indices.exists(index=index):
            try:
                client.indices.create(index=index,
                                      body=load_mapping(settings, "state", client=client))
                return
            except os_exc.RequestError as exc:
                if exc.error != "resource_already_exists_exception":  # a lost race is fine
                    raise
        client.indices.put_mapping(index=index, body={"properties": body["mappings"]["properties"]})
    except os_exc.RequestError as exc:
        raise LtrrError(f"the state index {index} cannot take ltrr's state mapping: {exc.error}",
                        hint="it was created by something else; choose another LTRR_INDEX_PREFIX "
                             "or delete it") from None
