#!/usr/bin/env bash
# Runs the whole benchmark and writes BENCHMARKS.md: natter-server and the Node baseline,
# fresh per point, server on core 0, load generator on core 1. `--quick` for a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 1; }
[ -d bench/baseline/node_modules/socket.io ] || npm ci --prefix bench/baseline --no-audit --no-fund --loglevel=error
./scripts/patch-crates.sh
cargo build --release --locked -p natter-server -p natter-bench
# Thousands of sockets on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec taskset -c 1 "$TARGET/release/natter-bench" sweep \
  --natter-bin "$TARGET/release/natter-server" --baseline-dir bench/baseline --out BENCHMARKS.md "$@"
