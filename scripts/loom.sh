#!/usr/bin/env bash
# Model-checks with loom (exhaustive interleavings) the TTL-versus-update race and a
# histogram snapshot racing with observations, a counter's reads racing with threads
# counting in their own rows, and a vec's child getting rows while threads count in it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="--cfg promsdk_loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom_ttl --test loom_histogram --test loom_counter
