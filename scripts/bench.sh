#!/usr/bin/env bash
# Runs the side-by-side benchmarks (package promsdk-bench in benches/, a release build)
# and prints the median time per group and library, then the ratio of the fastest peer's
# median to promsdk's (above 1: promsdk is faster). Extra arguments go to criterion,
# e.g. `scripts/bench.sh counter_inc` runs one group.
#
# BENCH_RUNS=N (default 1) runs the whole set N times and reports, per group and library,
# the lowest of the N medians. On a shared or virtual machine other load only ever adds
# time, and it comes and goes during a run: a library measured while the machine was busy
# gets its ratio distorted, and taking each one's best run keeps that out of the table.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${BENCH_RUNS:-1}"
stamp=$(mktemp)
results=$(mktemp)
trap 'rm -f "$stamp" "$results"' EXIT

dir="${CARGO_TARGET_DIR:-target}/criterion"
groups="counter_inc gauge_set histogram_observe labeled_inc_2 labeled_inc_1000 contended_inc_2threads encode_text_10k parse_text"
libraries="promsdk prometheus prometheus-client metrics prometheus-parse"

# Median in nanoseconds from criterion's estimates.json, or "-" when this run did not
# measure it (results older than the run are ignored).
median() {
    local file="$dir/$1/$2/new/estimates.json"
    if [[ -f "$file" && "$file" -nt "$stamp" ]]; then
        sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([^,]*),.*/\1/' "$file"
    else
        echo "-"
    fi
}

for _ in $(seq "$runs"); do
    touch "$stamp"
    cargo bench -p promsdk-bench --bench compare -- "$@"
    for group in $groups; do
        row="$group"
        for library in $libraries; do
            row="$row $(median "$group" "$library")"
        done
        echo "$row"
    done >> "$results"
done

echo
# Per group and library, the lowest median of the runs ("-" if never measured).
awk '
    !($1 in seen) { seen[$1] = 1; order[++n] = $1 }
    {
        for (i = 2; i <= NF; i++) {
            k = $1 SUBSEP i
            if (!(k in best) || (best[k] == "-" && $i != "-") || ($i != "-" && $i + 0 < best[k] + 0)) best[k] = $i
        }
        if (NF > width) width = NF
    }
    END {
        for (g = 1; g <= n; g++) {
            row = order[g]
            for (i = 2; i <= width; i++) row = row " " best[order[g] SUBSEP i]
            print row
        }
    }' "$results" | awk -v libs="$libraries" '
    function human(ns) {
        if (ns == "-") return "-"
        if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
        if (ns >= 1e3) return sprintf("%.2f µs", ns / 1e3)
        return sprintf("%.2f ns", ns)
    }
    BEGIN {
        n = split(libs, lib, " ")
        printf "%-24s", "median"
        for (i = 1; i <= n; i++) printf " %18s", lib[i]
        printf " %18s\n", "fastest peer/ours"
    }
    {
        printf "%-24s", $1
        best = ""
        for (i = 2; i <= n + 1; i++) {
            printf " %18s", human($i)
            if (i > 2 && $i != "-" && (best == "" || $i + 0 < best + 0)) best = $i
        }
        if ($2 == "-" || best == "") printf " %18s\n", "-"
        else printf " %17.2fx\n", best / $2
    }'
