#!/usr/bin/env bash
# Load test (not part of CI): wrk hammers /metrics of examples/http_server (10,000
# series, an updater thread) with 256 connections for 20 s, then the same against the
# `prometheus` crate's text encoder behind the same hyper setup (tools/load-peer).
# Prints requests/s, latency percentiles and error counts for both.
#   SERIES=10000 CONNECTIONS=256 DURATION=20s ./scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES="${SERIES:-10000}"
CONNECTIONS="${CONNECTIONS:-256}"
DURATION="${DURATION:-20s}"
THREADS="${THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

./scripts/install-deps.sh --load
cargo build --quiet --release --example http_server
cargo build --quiet --release --manifest-path tools/load-peer/Cargo.toml

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_ready() {
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null "http://127.0.0.1:$1/metrics" && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    return 1
}

run() {
    local name="$1" port="$2"
    wait_ready "$port"
    local lines
    lines=$(curl -fs "http://127.0.0.1:$port/metrics" | grep -vc '^#')
    echo "== $name: $lines samples per scrape, $CONNECTIONS connections, $DURATION"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency "http://127.0.0.1:$port/metrics"
}

PORT=$(free_port)
"$CARGO_TARGET_DIR/release/examples/http_server" --listen "127.0.0.1:$PORT" --series "$SERIES" --update-threads 1 2>/dev/null &
PIDS+=($!)
run "promsdk (examples/http_server)" "$PORT"
kill -INT "${PIDS[0]}"; wait "${PIDS[0]}" || true

PORT=$(free_port)
"$CARGO_TARGET_DIR/release/load-peer" "127.0.0.1:$PORT" "$SERIES" 2>/dev/null &
PIDS+=($!)
run "prometheus crate (tools/load-peer)" "$PORT"
