#!/usr/bin/env bash
# The whole test suite: format and lint gates, unit and hermetic tests, then e2e tests through real
# BuildKit and the official Python and Node SDKs driving dirk, once per BuildKit generation
# (v0.8 in bookworm's dockerd 20.10, v0.13 in trixie's dockerd 26.1, v0.25 in sid's dockerd 28.5
# with the containerd image store). Sets up what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-engine.sh
bash scripts/sdk-env.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo build --quiet

suite() {
  echo "== e2e on $1" >&2
  cargo test --quiet
  (cd tests/sdk/python && ../../../.venv/bin/python -m pytest -q -p no:cacheprovider)
  (cd tests/sdk/node && node --test)
}
suite "BuildKit v0.8 (dockerd 20.10, /var/run/docker.sock)"
DOCKER_HOST="unix://${DIRK_DOCKER26_SOCK:-/run/dirk-test/docker26.sock}" \
  suite "BuildKit v0.13 (dockerd 26.1, ${DIRK_DOCKER26_SOCK:-/run/dirk-test/docker26.sock})"
DOCKER_HOST="unix://${DIRK_DOCKER28_SOCK:-/run/dirk-test/docker28.sock}" \
  suite "BuildKit v0.25 (dockerd 28.5, containerd image store, ${DIRK_DOCKER28_SOCK:-/run/dirk-test/docker28.sock})"
