#!/usr/bin/env bash
# Installs what Natter needs on Debian/Ubuntu, skipping whatever is already there.
# Safe to run again. Used by scripts/run.sh, scripts/test.sh and .ci/run.
#
# Cargo tools go to $NATTER_TOOLS (default ~/.cache/natter/tools), outside the checkout, so
# later runs reuse them. Source this file's exports with: eval "$(scripts/setup.sh --env)".
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${NATTER_TOOLS:-$HOME/.cache/natter/tools}"
if [ "${1:-}" = "--env" ]; then
  echo "export PATH=\"$TOOLS/bin:\$HOME/.cargo/bin:\$PATH\""
  exit 0
fi
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"

log() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------------------
APT_PACKAGES=(
  build-essential pkg-config file curl ca-certificates
  # Tauri on Linux
  libwebkit2gtk-4.1-dev libssl-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev
  # real-window tests and several-node tests
  xvfb xauth webkit2gtk-driver imagemagick redis-server openssl
  # reactions and emoji as a desktop shows them (the .deb recommends it too)
  fonts-noto-color-emoji
  # notifications and the tray under a test session bus; mDNS tests in a network namespace
  dbus dbus-daemon python3-dbus python3-gi iproute2 openbox wmctrl xdotool
  # the server package and its unit check
  systemd
  # a real directory for the directory sign-in tests (run from a temp dir, never as a service)
  slapd ldap-utils
)
# Node may come from elsewhere (nodesource, nvm): only ask apt for it when there is none.
command -v node >/dev/null && command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  # slapd unconfigured: no system directory is made or started; the tests run their own.
  echo "slapd slapd/no_configuration boolean true" | as_root debconf-set-selections
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends "${missing[@]}"
fi

# --- Rust ------------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
# Before any cargo command reads the workspace: its [patch.crates-io] points there.
./scripts/patch-crates.sh
if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  log "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

# cargo_tool CRATE VERSION [cargo install flags...]: install once into $TOOLS.
cargo_tool() {
  local crate=$1 version=$2; shift 2
  if cargo install --list --root "$TOOLS" 2>/dev/null | grep -q "^$crate v${version#=}:"; then
    return
  fi
  log "installing $crate $version (one-time, several minutes)"
  cargo install "$crate" --version "$version" --root "$TOOLS" "$@"
}
# trunk 0.22 needs a newer rustc than this machine has.
cargo_tool trunk 0.21.14 --locked
# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly; its own lockfile names
# a crate version the registry lacks, hence no --locked.
WASM_BINDGEN=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
cargo_tool wasm-bindgen-cli "$WASM_BINDGEN"
TAURI_DRIVER=2.1.0
cargo_tool tauri-driver "$TAURI_DRIVER" --locked

# --- npm packages ----------------------------------------------------------------------
if [ ! -x node_modules/.bin/tauri ]; then
  log "installing the Tauri CLI"
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -d tests/js/node_modules/socket.io-client ]; then
  log "installing the official socket.io client for the tests"
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
fi
