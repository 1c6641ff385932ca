#!/usr/bin/env bash
# Installs what Natter needs on Debian/Ubuntu, skipping whatever is already there.
# Safe to run again. Used by scripts/run.sh, scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- Debian packages -------------------------------------------------------------------
APT_PACKAGES=(build-essential pkg-config)
# Node may come from elsewhere (nodesource, nvm): only ask apt for it when there is none.
command -v node >/dev/null && command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y --no-install-recommends "${missing[@]}"
fi

# --- Rust ------------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
    exit 1
  fi
fi

# --- npm packages for the tests ----------------------------------------------------------
if [ ! -d tests/js/node_modules/socket.io-client ]; then
  log "installing the official socket.io client for the tests"
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
fi
