#!/usr/bin/env bash
# dirk's main job, end to end: starts a local engine if none is running (dockerd with its embedded
# BuildKit, and a registry serving a busybox image), then runs the example pipeline twice: as a plan
# with `dirk up` (no SDK), and as a Python script with the official SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-engine.sh
bash scripts/sdk-env.sh
cargo build --quiet --release
echo "== dirk up examples/project/dirk.graphql" >&2
target/release/dirk up --workdir examples/project
echo "== python3 examples/hello.py (dagger-io 0.6.4)" >&2
_EXPERIMENTAL_DAGGER_CLI_BIN="$PWD/target/release/dirk" .venv/bin/python examples/hello.py
