#!/usr/bin/env bash
# Builds natter-server and packs it as a .deb that installs the binary, a systemd unit
# (its own `natter` user, data in /var/lib/natter-server, hardened) and /etc/default/natter-server.
# No network needed: dpkg-deb only. Prints the package's path.
#
#   scripts/package-server.sh && sudo apt install ./target/natter-server_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -p natter-server >&2

version=$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

install -Dm755 "$TARGET/release/natter-server" "$root/usr/bin/natter-server"
install -Dm644 packaging/server/natter-server.service "$root/lib/systemd/system/natter-server.service"
install -Dm644 packaging/server/default "$root/etc/default/natter-server"
install -d "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: natter-server
Version: $version
Architecture: $arch
Maintainer: Natter developers <natter@localhost>
Section: net
Priority: optional
Depends: libc6, passwd
Description: Natter LAN messenger server
 Private messaging for everyone on a LAN: the socket.io "private messaging" protocol over
 TLS, accounts, history in an embedded SQLite file, optional Redis cluster mode.
CONTROL
echo /etc/default/natter-server > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd natter >/dev/null; then
    useradd --system --home-dir /var/lib/natter-server --no-create-home \
      --shell /usr/sbin/nologin --user-group natter
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    echo "natter-server installed: sudo systemctl enable --now natter-server"
  fi
fi
POSTINST
cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop natter-server || true
fi
PRERM
cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
POSTRM
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
out="$TARGET/natter-server_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$out" >&2
echo "$out"
