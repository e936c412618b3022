#!/usr/bin/env bash
# Creates .venv with the official Python SDK (dagger-io 0.6.4 and the dependency pins it needs today).
set -euo pipefail
cd "$(dirname "$0")/.."
PINS="dagger-io==0.6.4 gql==3.4.1 graphql-core==3.2.3 httpx==0.24.1 anyio==3.7.1 beartype==0.14.1 cattrs==23.1.2 pytest==8.3.3"
if ! .venv/bin/python -c "import dagger, pytest" >/dev/null 2>&1; then
  echo "[setup] installing the Python SDK into .venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check $PINS
fi
