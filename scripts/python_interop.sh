#!/usr/bin/env bash
# Checks our text and OpenMetrics output with the Python client's parsers
# (prometheus-client, pinned). Creates target/py-venv if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/py-venv
PIN="prometheus-client==0.26.0"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -m pip show prometheus-client 2>/dev/null | grep -qx "Version: 0.26.0"; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PIN"
fi

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
cargo run --quiet --example encode_fixture -- "$OUT"
"$VENV/bin/python" scripts/python_interop.py "$OUT"
