#!/usr/bin/env bash
# The test command: sets up everything on a fresh machine, starts a real local OpenSearch
# node (unless LTRR_OPENSEARCH_URL names a cluster to use instead), runs ruff and pytest, and
# stops the node it started. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# The plugin's Java unit tests (Maven Surefire); the zip they build is the one the node gets.
ltrr plugin build --test >/dev/null

started=0
if [ -n "${LTRR_OPENSEARCH_URL:-}" ]; then
  unset LTRR_ENGINE_PORT  # an existing cluster: the launcher's own tests do not apply
else
  export LTRR_ENGINE_PORT="${LTRR_ENGINE_PORT:-9250}"
  export LTRR_OPENSEARCH_URL="http://127.0.0.1:$LTRR_ENGINE_PORT"
  if ! ltrr engine status -q >/dev/null 2>&1; then
    ltrr engine up --fresh --heap "${LTRR_ENGINE_HEAP:-1g}"
    started=1
  fi
fi
cleanup() { if [ "$started" = 1 ]; then ltrr engine down; fi; }
trap cleanup EXIT

ruff check .
mypy  # [tool.mypy] in pyproject.toml: the package, clean
# tests/test_multinode.py starts (and stops) its own 3-node cluster on free ports from 9400,
# never this node's; pass -m "not multinode" to skip it.
pytest "$@"
