#!/usr/bin/env bash
# Sets up, builds and runs natter-server on this machine (embedded SQLite, port 3000).
# Extra arguments go to natter-server, e.g. `scripts/run.sh --listen 0.0.0.0:4000`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --locked -p natter-server
exec "${CARGO_TARGET_DIR:-target}/release/natter-server" "$@"
