#!/usr/bin/env bash
# The demo command: sets up everything on a fresh machine, starts (or reuses) a local
# OpenSearch node, and runs `ltrr demo` end to end. The node keeps running afterwards so
# you can try `ltrr search "..." --explain`; stop it with `ltrr engine down`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

if [ -z "${LTRR_OPENSEARCH_URL:-}" ]; then
  export LTRR_ENGINE_PORT="${LTRR_ENGINE_PORT:-9200}"
  export LTRR_OPENSEARCH_URL="http://127.0.0.1:$LTRR_ENGINE_PORT"
  ltrr engine up
fi
ltrr demo "$@"
echo "the node is still running at $LTRR_OPENSEARCH_URL (stop it with: .venv/bin/ltrr engine down)"
