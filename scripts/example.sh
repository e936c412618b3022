#!/usr/bin/env bash
# Runs the example pipeline (examples/hello.py) with the official Python SDK on dirk, starting a
# local engine (dockerd with its embedded BuildKit, and a registry with a busybox image) if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-engine.sh
bash scripts/sdk-env.sh
cargo build --quiet --release
_EXPERIMENTAL_DAGGER_CLI_BIN="$PWD/target/release/dirk" .venv/bin/python examples/hello.py
