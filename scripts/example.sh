#!/usr/bin/env bash
# dirk's main job, end to end: starts a local engine if none is running (dockerd with its embedded
# BuildKit, and a registry serving a busybox image), then runs the example pipeline twice: as a plan
# with `dirk up` (no SDK), and as a Python script with the official SDK. Only the pipelines'
# results go to standard output; set-up and progress go to standard error.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-engine.sh example
bash scripts/sdk-env.sh python
cargo build --quiet --bin dirk >&2
echo "== dirk up examples/project/dirk.graphql" >&2
target/debug/dirk up --workdir examples/project
echo "== python3 examples/hello.py (dagger-io 0.6.4)" >&2
_EXPERIMENTAL_DAGGER_CLI_BIN="$PWD/target/debug/dirk" .venv/bin/python examples/hello.py
