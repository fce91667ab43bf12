#!/usr/bin/env bash
# Runs the unit tests of the modules with unsafe code under Miri (undefined behaviour,
# leaks, data races; strict provenance): the label set's one allocation
# (src/labels/packed.rs), a metric's state with its label set (and its key, when too
# long to be inline: src/metrics/key.rs) in one allocation (src/metrics/shared.rs;
# vec::typed's tests make and drop vec children too), the
# per-thread shortcut to a vec's caches and tables (src/vec/recent.rs, used by
# src/vec/cache.rs and src/vec/typed.rs), the encoders' writes into a buffer's spare
# capacity (src/encoding/line.rs, `write_plain_line`), the per-thread rows of histograms
# and counters (src/metrics/thread_shards.rs, used by src/metrics/bucket_counts.rs and
# src/metrics/counter.rs). Miri needs a nightly toolchain with its `miri` and
# `rust-src` components: installed through rustup if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri: installing the nightly toolchain's miri and rust-src components (rustup)"
    rustup toolchain install nightly --profile minimal --component miri,rust-src
fi
MIRIFLAGS="-Zmiri-strict-provenance" \
    cargo +nightly miri test -p promsdk --lib -- labels:: metrics::shared:: metrics::bucket_counts:: \
    metrics::thread_shards:: metrics::counter::tests::a_counter_on_its_own \
    metrics::counter::tests::threads_with_and_without_rows metrics::counter::tests::clones_share \
    metrics::counter::tests::a_child_ metrics::counter::tests::threads_taking_turns \
    metrics::sharded_counter:: metrics::key::tests::long_values metrics::key::tests::matches_exactly \
    vec::recent vec::typed encoding::
