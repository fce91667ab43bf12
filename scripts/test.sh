#!/usr/bin/env bash
# The project's test command (README: "Run the tests"). Installs what the tests need
# (Debian's prometheus, chromium and chromium-driver packages, a Python venv with the
# official client's parser) and
# runs every test.
#   ./scripts/test.sh           every step, in order
#   ./scripts/test.sh STEP...   only these steps (deps, cargo, conformance, python,
#                               parser, loom, miri)
# The conformance step needs third-party data that does not ship with the repository; where
# it is missing the step says so, and how to get it, and the other steps still run.
set -euo pipefail
cd "$(dirname "$0")/.."

deps() {
    echo "== system tools the tests need (Debian's prometheus, chromium and chromium-driver)"
    ./scripts/install-deps.sh
}
cargo_tests() {
    echo "== unit, integration and doc tests"
    cargo test --all-features
}
conformance() {
    local dir="${PROMSDK_CONFORMANCE_DIR:-../shared/conformance}"
    echo "== exposition-format conformance suite ($dir)"
    if [ ! -d "$dir/openmetrics" ] || [ ! -d "$dir/prom" ]; then
        echo "conformance: SKIPPED: $dir does not hold openmetrics/ and prom/ (third-party data, not shipped with promsdk). To run it: put the OpenMetrics parser test suite (prometheus/OpenMetrics, tests/testdata/parsers, plus a manifest.jsonl of verdicts) in DIR/openmetrics and Prometheus's parser inputs (prometheus/prometheus, model/textparse/testdata, with the Python client's .expected.json parses) in DIR/prom, then run PROMSDK_CONFORMANCE_DIR=DIR ./scripts/test.sh conformance"
        return 0
    fi
    ./scripts/conformance.sh "$dir"
}
python() {
    echo "== an independent parser (PyPI prometheus-client) reads our output"
    ./scripts/python_interop.sh
}
parser() {
    echo "== our parser against the Python client's on captured expositions (tests/data)"
    ./scripts/parser_interop.sh
}
loom() {
    echo "== loom models: the TTL/update race, a histogram snapshot racing with observations, a counter read while threads count"
    ./scripts/loom.sh
}
miri() {
    echo "== Miri: the unsafe code's unit tests (label set allocation, per-thread shortcut, encoders' spare-capacity writes, per-thread rows of histograms and counters)"
    ./scripts/miri.sh
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(deps cargo conformance python parser loom miri)
for step in "${steps[@]}"; do
    case "$step" in
        deps | conformance | python | parser | loom | miri) "$step" ;;
        cargo) cargo_tests ;;
        *)
            echo "test.sh: unknown step '$step' (steps: deps cargo conformance python parser loom miri)" >&2
            exit 2
            ;;
    esac
done
