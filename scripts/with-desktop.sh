#!/usr/bin/env bash
# Runs a command in a desktop session for the real-window tests: run this under xvfb-run and
# dbus-run-session. It starts a window manager first (openbox), so windows get the focus and
# can be closed the way a person closes them.
set -euo pipefail
openbox --sm-disable >/dev/null 2>&1 &
wm=$!
trap 'kill "$wm" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  wmctrl -m >/dev/null 2>&1 && break
  sleep 0.1
done
"$@"
