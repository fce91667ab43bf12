#!/usr/bin/env bash
# The PromQL benchmark of issue 13, the harness's engine beside Prometheus 2.42 on the
# same data: `rate(x[5m])` and `sum by (a) (rate(x[5m]))` over 10,000 counter series
# holding 1 h of 15 s samples, as an instant query and as a 1 h range query at a 15 s
# step.
#
# 1. The bench binary (benches/benches/promql.rs, where the data are defined) writes the
#    samples as OpenMetrics text, their last sample 3 h ago, with
#    PROMQL_BENCH_WRITE; promtool backfills them into a temporary TSDB.
# 2. Prometheus (listening on 127.0.0.1 only) runs each query PROMQL_BENCH_RUNS times
#    (default 20) after 3 warm-ups with stats=all; the median of
#    data.stats.timings.evalTotalTime (parsing, selection, evaluation and sorting; not
#    the queue wait or JSON) and of execTotalTime is kept. The harness's answer to the
#    instant `sum by (a)` query is compared with Prometheus's, value for value.
# 3. Prometheus is stopped, `cargo bench -p promsdk-bench --bench promql` measures the
#    harness's engine (Engine::instant / Engine::range, the calls behind the API), and
#    one table puts the medians side by side: the last column is Prometheus's time over
#    the harness's (above 1: the harness is faster).
#
# Needs prometheus, promtool, curl and jq (installed by scripts/install-deps.sh --bench). Everything runs on
# this machine; the temporary TSDB (about 20 MB, from a 100 MB text file) is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --bench
runs="${PROMQL_BENCH_RUNS:-20}"
warmups=3
for tool in prometheus promtool curl jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench_promql: $tool is missing after scripts/install-deps.sh --bench" >&2
        exit 1
    fi
done

work=$(mktemp -d)
stamp="$work/stamp"
prom_pid=""
cleanup() {
    if [[ -n "$prom_pid" ]]; then
        kill "$prom_pid" 2>/dev/null || true
        wait "$prom_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
touch "$stamp"

# The last sample 3 h ago (a whole minute): backfilled blocks must lie before the head,
# and within the 30 d retention.
end=$(( ($(date +%s) - 3 * 3600) / 60 * 60 ))
start=$(( end - 3600 ))
step=15
export PROMQL_BENCH_END="$end"

echo "== writing the data (10,000 series x 241 samples, last at $(date -u -d "@$end" +%FT%TZ))"
PROMQL_BENCH_WRITE="$work/data.om" cargo bench -q -p promsdk-bench --bench promql
echo "== backfilling with promtool"
promtool tsdb create-blocks-from openmetrics "$work/data.om" "$work/tsdb" >"$work/promtool.log" 2>&1 ||
    { cat "$work/promtool.log" >&2; exit 1; }
rm -f "$work/data.om"

# A free loopback port: nothing answers on it.
port=""
for _ in $(seq 50); do
    candidate=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port=$candidate
        break
    fi
done
[[ -n "$port" ]] || { echo "bench_promql: no free port found" >&2; exit 1; }
base="http://127.0.0.1:$port"

printf 'global:\n  scrape_interval: 15s\n' >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --storage.tsdb.retention.time=30d --web.listen-address="127.0.0.1:$port" \
    >"$work/prometheus.log" 2>&1 &
prom_pid=$!
echo "== Prometheus 2.42 on $base"
for i in $(seq 120); do
    if curl -sf "$base/-/ready" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$prom_pid" 2>/dev/null || [[ $i -eq 120 ]]; then
        echo "bench_promql: Prometheus did not become ready:" >&2
        tail -20 "$work/prometheus.log" >&2
        exit 1
    fi
    sleep 0.5
done

# prom NAME ENDPOINT QUERY WANT_SERIES: runs the query, checks the number of series in
# the answer, prints "NAME EVAL_MEDIAN_S EXEC_MEDIAN_S".
prom() {
    local name=$1 endpoint=$2 query=$3 want=$4 args got
    if [[ $endpoint == query ]]; then
        args=(--data-urlencode "time=$end")
    else
        args=(--data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode "step=$step")
    fi
    : >"$work/times"
    for i in $(seq $((warmups + runs))); do
        curl -sf -o "$work/body" "$base/api/v1/$endpoint" --data-urlencode "query=$query" \
            "${args[@]}" --data-urlencode stats=all
        if [[ $i -eq 1 ]]; then
            got=$(jq '.data.result | length' "$work/body")
            if [[ "$got" != "$want" ]]; then
                echo "bench_promql: $name: Prometheus returned $got series, expected $want" >&2
                exit 1
            fi
        fi
        # The range answers run to 70 MB: read the timings without parsing it all.
        if [[ $i -gt $warmups ]]; then
            grep -o '"timings":{[^}]*}' "$work/body" | sed -E \
                's/.*"evalTotalTime":([^,}]*).*"execTotalTime":([^,}]*).*/\1 \2/' >>"$work/times"
        fi
    done
    echo "$name $(cut -d' ' -f1 "$work/times" | median) $(cut -d' ' -f2 "$work/times" | median)"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Same data, same answers: the harness's `sum by (a)` at the last sample against
# Prometheus's, every value as the API writes it.
answer='[.data.result[] | [.metric.a, .value[1]]] | sort'
curl -sf "$base/api/v1/query" --data-urlencode "query=sum by (a) (rate(x[5m]))" \
    --data-urlencode "time=$end" | jq -c "$answer" >"$work/prometheus.answer"
jq -c "$answer" "$work/data.om.sum_rate.json" >"$work/harness.answer"
if cmp -s "$work/prometheus.answer" "$work/harness.answer"; then
    echo "== answers agree: sum by (a) (rate(x[5m])) gives the same 100 values on both"
else
    echo "bench_promql: the harness and Prometheus disagree on sum by (a) (rate(x[5m])):" >&2
    diff <(jq -c '.[]' "$work/harness.answer") <(jq -c '.[]' "$work/prometheus.answer") | head -10 >&2
    exit 1
fi

echo "== timing Prometheus ($warmups warm-ups, then $runs runs per query)"
{
    prom rate_instant query "rate(x[5m])" 10000
    prom sum_rate_instant query "sum by (a) (rate(x[5m]))" 100
    prom rate_range_1h_15s query_range "rate(x[5m])" 10000
    prom sum_rate_range_1h_15s query_range "sum by (a) (rate(x[5m]))" 100
} >"$work/prometheus.times"
kill "$prom_pid"
wait "$prom_pid" 2>/dev/null || true
prom_pid=""

echo "== timing the harness (criterion)"
cargo bench -p promsdk-bench --bench promql -- "$@"

# Median in seconds from criterion's estimates.json, or "-" when this run did not
# measure it.
harness_median() {
    local file="${CARGO_TARGET_DIR:-target}/criterion/promql/$1/new/estimates.json"
    if [[ -f "$file" && "$file" -nt "$stamp" ]]; then
        sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([^,]*),.*/\1/' "$file" |
            awk '{ print $1 / 1e9 }'
    else
        echo "-"
    fi
}

echo
while read -r name eval exec; do
    echo "$name $(harness_median "$name") $eval $exec"
done <"$work/prometheus.times" | awk '
    function human(s) {
        if (s == "-") return "-"
        if (s >= 1) return sprintf("%.3f s", s)
        return sprintf("%.2f ms", s * 1e3)
    }
    BEGIN {
        printf "%-24s %18s %22s %22s %20s\n", "query", "promsdk-harness", "Prometheus 2.42 eval", "Prometheus 2.42 exec", "Prometheus/harness"
    }
    {
        ratio = ($2 == "-") ? "-" : sprintf("%.2fx", $3 / $2)
        printf "%-24s %18s %22s %22s %20s\n", $1, human($2), human($3), human($4), ratio
    }'
