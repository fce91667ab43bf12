#!/usr/bin/env bash
# Runs the side-by-side benchmarks (package promsdk-bench in benches/, a release build)
# and prints the median time per group and library, then the ratio of the fastest peer's
# median to promsdk's (above 1: promsdk is faster). Extra arguments go to criterion,
# e.g. `scripts/bench.sh counter_inc` runs one group.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
cargo bench -p promsdk-bench --bench compare -- "$@"

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

echo
for group in $groups; do
    row="$group"
    for library in $libraries; do
        row="$row $(median "$group" "$library")"
    done
    echo "$row"
done | awk -v libs="$libraries" '
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
