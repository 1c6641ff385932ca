#!/usr/bin/env bash
# Sets up, builds and runs Natter on this machine: natter-server (embedded SQLite, port 3000)
# and the desktop app. Closing the app stops the server too.
# Extra arguments go to natter-server, e.g. `scripts/run.sh --listen 0.0.0.0:4000`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
eval "$(./scripts/setup.sh --env)"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

cargo build --release --locked -p natter-server
./node_modules/.bin/tauri build --no-bundle

"$TARGET/release/natter-server" "$@" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT
"$TARGET/release/natter"
