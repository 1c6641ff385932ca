#!/usr/bin/env bash
# Sets up everything the tests need, then runs the whole test suite: formatting, lints, unit
# and end-to-end tests (servers, official JS client, the desktop app in a real window).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
eval "$(./scripts/setup.sh --env)"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

echo "==> formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> unit and integration tests"
cargo test --workspace --locked

echo "==> desktop app in a real window"
./node_modules/.bin/tauri build --debug --no-bundle
# `cargo test` rebuilds target/debug/natter without the bundled UI: test a copy.
mkdir -p "$TARGET/e2e"
cp "$TARGET/debug/natter" "$TARGET/e2e/natter"
# One window at a time: the tests share the display, its focus and the session bus. Bounded:
# a WebDriver call to a window that went away can wait forever; a failure must end the run.
NATTER_APP_BIN="$TARGET/e2e/natter" NATTER_SCREENSHOT="$TARGET/e2e/screenshot.png" \
  timeout --kill-after=30 900 xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- ./scripts/with-desktop.sh \
  cargo test --locked -p natter-tests --test desktop --test desktop_everyday --test desktop_directory --test desktop_deployed -- --ignored --test-threads=1

echo "==> server package"
deb=$(./scripts/package-server.sh)
NATTER_SERVER_DEB="$deb" cargo test --locked -p natter-tests --test packaging -- --ignored
