"""`ltrr engine up --nodes N`: what is refused before any node starts (no engine needed)."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from ltrr_opensearch.cli import main


@pytest.fixture()
def scratch_home():
    home = Path(tempfile.mkdtemp(prefix="ltrr-cluster-home-", dir="/var/tmp"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("nodes", ["0", "10"])
def test_a_node_count_out_of_range_is_refused(nodes, scratch_home, capsys):
    assert main(["engine", "up", "--nodes", nodes, "--home", str(scratch_home)]) != 0
    assert "--nodes must be from 1 to 9" in capsys.readouterr().err


def test_a_heap_that_is_not_a_jvm_size_is_refused(scratch_home, capsys):
    assert main(["engine", "up", "--nodes", "3", "--heap", "half", "--home", str(scratch_home)]) != 0
    assert "--heap must be a JVM size such as 512m or 1g, got 'half'" in capsys.readouterr().err


def test_a_busy_transport_port_is_named_and_nothing_is_started(scratch_home, capsys):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        transport = squatter.getsockname()[1]
        base = transport - 101  # the transport port of the cluster's second node
        code = main(["engine", "up", "--nodes", "3", "--port", str(base),
                     "--home", str(scratch_home)])
    assert code != 0
    assert f"{transport} (transport, node ltrr-{base + 1})" in capsys.readouterr().err
    assert not (scratch_home / "dist").exists() and not (scratch_home / "clusters").exists()
