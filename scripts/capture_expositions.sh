#!/usr/bin/env bash
# Captures real expositions written by others into tests/data/ (run once; the files
# are committed): Debian's prometheus-node-exporter and prometheus (their own
# /metrics), and PyPI prometheus-client, each asked for the text format and for
# OpenMetrics (an OpenMetrics capture is kept only when the server answers with it).
# Installs prometheus-node-exporter with apt-get if it is missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=tests/data

if ! command -v prometheus-node-exporter >/dev/null; then
    apt-get install -y --no-install-recommends prometheus-node-exporter >/dev/null
fi
VENV=target/py-venv
[ -x "$VENV/bin/python" ] || ./scripts/python_interop.sh >/dev/null

OM='Accept: application/openmetrics-text; version=1.0.0'
TEXT='Accept: text/plain; version=0.0.4'
TMP="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

wait_for() { for _ in $(seq 50); do curl -fs "$1" >/dev/null && return 0; sleep 0.2; done; return 1; }

prometheus-node-exporter --web.listen-address=127.0.0.1:19100 >"$TMP/ne.log" 2>&1 &
PIDS+=($!)
prometheus --config.file=/dev/null --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address=127.0.0.1:19090 >"$TMP/prom.log" 2>&1 &
PIDS+=($!)
"$VENV/bin/python" - >"$TMP/py.log" 2>&1 <<'PY' &
import time
from prometheus_client import Counter, Enum, Gauge, Histogram, Info, Summary, start_http_server
c = Counter("capture_requests", "Requests handled.", ["method", "path"])
c.labels("GET", "/").inc(3)
c.labels("POST", '/a"b\\c').inc()
g = Gauge("capture_temperature_celsius", "Temperature.", unit="celsius")
g.set(-3.5)
h = Histogram("capture_latency_seconds", "Latency.", buckets=(0.1, 0.5, 1.0))
for v in (0.05, 0.3, 0.7, 2.0):
    h.observe(v)
s = Summary("capture_payload_bytes", "Payload sizes.")
s.observe(512)
Info("capture_build", "Build facts.").info({"version": "1.2.3", "commit": "abc"})
Enum("capture_state", "State.", states=["starting", "running"]).state("running")
start_http_server(19200, addr="127.0.0.1")
time.sleep(60)
PY
PIDS+=($!)

for target in node_exporter:19100 prometheus:19090 python_client:19200; do
    name="${target%%:*}"
    url="http://127.0.0.1:${target##*:}/metrics"
    wait_for "$url"
    curl -fs -H "$TEXT" "$url" >"$OUT/$name.prom"
    curl -fs -H "$OM" "$url" >"$TMP/$name.om.txt"
    # Keep the OpenMetrics capture only if the server negotiated it (node_exporter
    # 1.5 and prometheus 2.42 as packaged in Debian 12 answer with text).
    if [ "$(tail -n1 "$TMP/$name.om.txt")" = "# EOF" ]; then
        cp "$TMP/$name.om.txt" "$OUT/$name.om.txt"
    else
        echo "$name did not negotiate OpenMetrics: text capture only"
    fi
done
ls -l "$OUT"
