#!/usr/bin/env bash
# Prepares the dependencies Natter builds with a patch of its own: each crate exactly as
# published on crates.io, unpacked under target/patched/ and patched with patches/<crate>.patch.
# Cargo.toml's [patch.crates-io] points there, so this runs before any cargo command reads the
# workspace (scripts/setup.sh does it first). Idempotent: a crate already patched with the
# same patch is left alone. Why each patch exists, and what retires it: ARCHITECTURE.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PATCHED="$PWD/target/patched"
REGISTRY_CACHE="${CARGO_HOME:-$HOME/.cargo}/registry/cache"

# prepare CRATE VERSION: target/patched/CRATE-VERSION = the published crate + our patch.
prepare() {
  local crate=$1 version=$2
  local patch="$PWD/patches/$crate-$version.patch"
  local dest="$PATCHED/$crate-$version"
  local stamp
  stamp=$(sha256sum "$patch" | cut -d' ' -f1)
  if [ -f "$dest/.natter-patch" ] && [ "$(cat "$dest/.natter-patch")" = "$stamp" ]; then
    return
  fi
  local archive
  archive=$(ls "$REGISTRY_CACHE"/*/"$crate-$version.crate" 2>/dev/null | head -n1 || true)
  if [ -z "$archive" ]; then
    # Let cargo download (and check against the registry's checksum) exactly that version.
    local scratch
    scratch=$(mktemp -d)
    mkdir -p "$scratch/src"
    printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
      "$crate" "$crate" "$version" > "$scratch/Cargo.toml"
    : > "$scratch/src/lib.rs"
    (cd "$scratch" && cargo fetch --quiet)
    rm -rf "$scratch"
    archive=$(ls "$REGISTRY_CACHE"/*/"$crate-$version.crate" | head -n1)
  fi
  printf '==> patching %s %s\n' "$crate" "$version"
  rm -rf "$dest"
  mkdir -p "$PATCHED"
  tar -xzf "$archive" -C "$PATCHED"
  patch --quiet -p1 -d "$dest" < "$patch"
  echo "$stamp" > "$dest/.natter-patch"
}

prepare tungstenite 0.30.0
