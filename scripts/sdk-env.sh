#!/usr/bin/env bash
# Installs the official SDKs the acceptance tests drive: the Python SDK (dagger-io 0.6.4 and the
# dependency pins it needs today) into .venv, and the Node SDK (@dagger.io/dagger 0.6.4, locked in
# tests/sdk/node/package-lock.json) into tests/sdk/node/node_modules.
#
#   scripts/sdk-env.sh          both SDKs
#   scripts/sdk-env.sh python   the Python SDK only (what the quick start uses)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-all}
case "$MODE" in all|python) ;; *) echo "usage: $0 [all|python]" >&2; exit 2 ;; esac
PINS="dagger-io==0.6.4 gql==3.4.1 graphql-core==3.2.3 httpx==0.24.1 anyio==3.7.1 beartype==0.14.1 cattrs==23.1.2 pytest==8.3.3"
if ! .venv/bin/python -c "import dagger, pytest" >/dev/null 2>&1; then
  echo "[setup] installing the Python SDK into .venv" >&2
  if ! python3 -m venv --help >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
  fi
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check $PINS >&2
fi
[ "$MODE" = python ] && exit 0
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "[setup] installing Node.js and npm from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null
fi
if [ ! -f tests/sdk/node/node_modules/@dagger.io/dagger/package.json ]; then
  echo "[setup] installing the Node SDK into tests/sdk/node" >&2
  (cd tests/sdk/node && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
