#!/usr/bin/env bash
# Runs the side-by-side benchmarks (package promsdk-bench in benches/, a release build)
# and prints, per comparison, the median time of promsdk and of each peer, the fastest
# peer, and promsdk's median divided by the fastest peer's (below 1: promsdk is faster).
# Extra arguments go to criterion, e.g. `scripts/bench.sh counter_inc` runs one group.
#
# BENCH_RUNS=N (default 1) runs the whole set N times and reports, per comparison and
# library, the lowest of the N medians. On a shared or virtual machine other load only ever
# adds time, and it comes and goes during a run: a library measured while the machine was
# busy gets its ratio distorted, and taking each one's best run keeps that out of the table.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${BENCH_RUNS:-1}"
stamp=$(mktemp)
results=$(mktemp)
trap 'rm -f "$stamp" "$results"' EXIT

dir="${CARGO_TARGET_DIR:-target}/criterion"
peers="prometheus prometheus-client metrics measured fastmetrics prometheus-parse"

# One comparison per line: its name, the criterion group, promsdk's function id in it,
# and the variant of the peers compared with it: a peer's function id is the peer's
# name, or NAME/VARIANT unless VARIANT is "-". A peer without that function shows "-".
comparisons="
counter_inc                      counter_inc             promsdk                 -
gauge_set                        gauge_set               promsdk                 -
histogram_observe                histogram_observe       promsdk                 -
labeled_inc_2                    labeled_inc_2           promsdk                 -
labeled_inc_2/reused-buffers     labeled_inc_2           promsdk/reused-buffers  reused-buffers
labeled_inc_2/fixed-values       labeled_inc_2           promsdk                 fixed-values
labeled_inc_1000                 labeled_inc_1000        promsdk                 -
labeled_inc_1000/reused-buffers  labeled_inc_1000        promsdk/reused-buffers  reused-buffers
labeled_inc_1000/fixed-values    labeled_inc_1000        promsdk                 fixed-values
labeled_typed                    labeled_typed           promsdk                 -
labeled_typed/strings            labeled_typed           promsdk/strings         -
contended_inc_2threads           contended_inc_2threads  promsdk                 -
contended_inc_2threads/sharded   contended_inc_2threads  promsdk/sharded         -
contended_observe_2threads       contended_observe_2threads promsdk              -
encode_text_10k                  encode_text_10k         promsdk                 -
mt_high_cardinality              mt_high_cardinality     promsdk                 -
split/inserts                    high_cardinality_split  promsdk/inserts         inserts
split/first-gather               high_cardinality_split  promsdk/first-gather    first-gather
split/second-gather              high_cardinality_split  promsdk/second-gather   second-gather
split/drop                       high_cardinality_split  promsdk/drop            drop
mt_fixed_cardinality             mt_fixed_cardinality    promsdk                 -
churn                            churn                   promsdk                 -
churn/ttl                        churn                   promsdk/ttl             -
parse_text                       parse_text              promsdk                 -
"

# Median in nanoseconds from criterion's estimates.json, or "-" when this run did not
# measure it (results older than the run are ignored). Criterion names a function's
# directory after its id with "/" replaced by "_".
median() {
    local file="$dir/$1/${2//\//_}/new/estimates.json"
    if [[ -f "$file" && "$file" -nt "$stamp" ]]; then
        sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([^,]*),.*/\1/' "$file"
    else
        echo "-"
    fi
}

for _ in $(seq "$runs"); do
    touch "$stamp"
    cargo bench -p promsdk-bench --bench compare -- "$@"
    while read -r name group ours variant; do
        [[ -z "$name" ]] && continue
        row="$name $(median "$group" "$ours")"
        for peer in $peers; do
            id="$peer"
            [[ "$variant" != "-" ]] && id="$peer/$variant"
            row="$row $(median "$group" "$id")"
        done
        echo "$row"
    done <<< "$comparisons" >> "$results"
done

echo
# Per comparison and library, the lowest median of the runs ("-" if never measured).
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
    }' "$results" | awk -v peers="$peers" '
    function human(ns) {
        if (ns == "-") return "-"
        if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
        if (ns >= 1e3) return sprintf("%.2f µs", ns / 1e3)
        return sprintf("%.2f ns", ns)
    }
    BEGIN {
        n = split(peers, peer, " ")
        printf "%-32s %10s", "median", "promsdk"
        for (i = 1; i <= n; i++) printf " %17s", peer[i]
        printf " %17s %10s\n", "fastest peer", "ours/peer"
    }
    {
        measured = 0
        for (i = 2; i <= n + 2; i++) if ($i != "-") measured = 1
        if (!measured) next
        printf "%-32s %10s", $1, human($2)
        best = ""
        for (i = 3; i <= n + 2; i++) {
            printf " %17s", human($i)
            if ($i != "-" && (best == "" || $i + 0 < best + 0)) { best = $i; fastest = peer[i - 2] }
        }
        if (best == "") printf " %17s %10s\n", "-", "-"
        else if ($2 == "-") printf " %17s %10s\n", fastest, "-"
        else printf " %17s %9.2fx\n", fastest, $2 / best
    }'
