#!/usr/bin/env bash
# Runs the exposition-format conformance suite through our parsers:
#   scripts/conformance.sh [DIR]   (DIR defaults to ../shared/conformance beside the repo)
# Cases: DIR/openmetrics/<case> (verdict from test.json, cross-checked with
# manifest.jsonl) and DIR/prom/{text,openmetrics}/* (Prometheus's parser inputs; these
# carry no verdict, so a file counts as valid exactly when the reference parser wrote a
# .expected.json for it; the three OpenMetrics files without one break the spec:
# omtestdata.txt has a _sum beside negative buckets and negative quantiles,
# ct.bench.om.txt mixes samples with and without timestamps in one MetricPoint,
# alltypes.bench.om.txt names an info sample without _info).
# Every case must get its verdict, and every valid case must parse to the samples of
# its .expected.json (names, labels, values incl. NaN/Inf, timestamps, exemplars).
# Prints one FAIL line per failing case and exits non-zero if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${1:-${PROMSDK_CONFORMANCE_DIR:-../shared/conformance}}"
if [ ! -d "$DIR/openmetrics" ] || [ ! -d "$DIR/prom" ]; then
    echo "conformance: $DIR does not hold openmetrics/ and prom/" >&2
    exit 2
fi
DIR="$(cd "$DIR" && pwd)"
PROMSDK_CONFORMANCE_DIR="$DIR" cargo test --quiet --test conformance -- --nocapture
