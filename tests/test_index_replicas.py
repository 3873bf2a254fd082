"""number_of_replicas of the indices ltrr creates: the setting, else decided by the cluster."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ltrr_opensearch.mappings import load_mapping
from ltrr_opensearch.state import ensure_state_index


def _replicas(body: dict) -> int:
    return body["settings"]["index"]["number_of_replicas"]


def test_the_setting_wins_without_asking_a_cluster(base_settings):
    assert _replicas(load_mapping(base_settings.with_overrides(index_replicas=2), "memory")) == 2


def test_without_the_setting_or_a_cluster_to_ask_an_index_gets_no_replica(base_settings):
    assert _replicas(load_mapping(replace(base_settings, index_replicas=None), "catalog")) == 0


@pytest.mark.integration
def test_on_the_test_node_the_default_follows_its_data_nodes(client, settings):
    ensure_state_index(client, settings)
    index = settings.state_index
    got = client.indices.get_settings(index=index)[index]["settings"]["index"]["number_of_replicas"]
    data_nodes = client.cluster.health()["number_of_data_nodes"]
    assert int(got) == (1 if data_nodes > 1 else 0)
