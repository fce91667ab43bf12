#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). Installs what the tests need
# (Debian's prometheus package, a Python venv with the official client's parser) and
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== system tools the tests need (Debian's prometheus: server and promtool)"
./scripts/install-deps.sh
echo "== unit, integration and doc tests"
cargo test --all-features
echo "== exposition-format conformance suite (../shared/conformance)"
./scripts/conformance.sh
echo "== an independent parser (PyPI prometheus-client) reads our output"
./scripts/python_interop.sh
echo "== our parser against the Python client's on captured expositions (tests/data)"
./scripts/parser_interop.sh
echo "== loom models: the TTL/update race, a histogram snapshot racing with observations"
./scripts/loom.sh
