#!/usr/bin/env bash
# The whole test suite: format and lint gates, unit and hermetic tests, e2e tests through real
# BuildKit, and the official Python and Node SDKs driving dirk. Sets up what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-engine.sh
bash scripts/sdk-env.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo build --quiet
cargo test --quiet
(cd tests/sdk/python && ../../../.venv/bin/python -m pytest -q -p no:cacheprovider)
(cd tests/sdk/node && node --test)
