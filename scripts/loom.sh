#!/usr/bin/env bash
# Model-checks the TTL-versus-update race with loom (exhaustive interleavings).
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="--cfg promsdk_loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom_ttl
