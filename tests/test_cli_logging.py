"""`ltrr --debug`: debug logs of ltrr_opensearch on stderr, never a secret; quiet without it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SECRET = "hunter2-do-not-log"


def ltrr(*args: str) -> subprocess.CompletedProcess:
    url = os.environ.get("LTRR_OPENSEARCH_URL", "http://127.0.0.1:9200").split(",")[0]
    with_credentials = url.replace("://", f"://someone:{SECRET}-url@", 1)
    env = {**os.environ, "LTRR_OPENSEARCH_USER": "someone", "LTRR_OPENSEARCH_PASSWORD": SECRET}
    return subprocess.run([sys.executable, "-m", "ltrr_opensearch.cli", *args,
                           "--url", with_credentials], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_debug_logs_ltrr_to_stderr_without_secrets(where):
    args = ("--debug", "doctor", "--json") if where == "before the command" else (
        "doctor", "--json", "--debug")
    done = ltrr(*args)
    assert "DEBUG ltrr_opensearch.engine.client: OpenSearch client for" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_without_debug_nothing_is_logged():
    assert "DEBUG" not in ltrr("doctor", "--json").stderr
