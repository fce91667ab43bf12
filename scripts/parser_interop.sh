#!/usr/bin/env bash
# Checks our parser against the Python client's (prometheus-client, pinned, in
# target/py-venv as set up by python_interop.sh) on the expositions captured from
# other programs in tests/data/.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/py-venv
if ! "$VENV/bin/python" -c "import prometheus_client" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "prometheus-client==0.26.0"
fi
cargo build --quiet -p promsdk-harness --bin promsdk-harness
HARNESS="${CARGO_TARGET_DIR:-target}/debug/promsdk-harness"
"$VENV/bin/python" scripts/parser_interop.py "$HARNESS" tests/data/*.prom tests/data/*.om.txt
