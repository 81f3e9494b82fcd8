#!/usr/bin/env bash
# Builds Freshet and runs the Nexmark hot-items example on embedded defaults (local files):
# 2,000,000 bid events, parallelism 2, checkpoints every second, into out/hot-items.
# Extra flags are passed to `freshet example hot-items` (e.g. --state-backend rocksdb).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -p freshet-cli
exec "$CARGO_TARGET_DIR/release/freshet" example hot-items \
  --events 2000000 --parallelism 2 \
  --out out/hot-items --checkpoint-dir out/checkpoints --checkpoint-interval 1s "$@"
