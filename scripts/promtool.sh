#!/usr/bin/env bash
# Print the path of a promtool binary (Prometheus's rule checker), fetching it
# once into $MA_CACHE_DIR/bin from Debian's prometheus package: only the binary
# is unpacked (apt-get download + dpkg-deb), nothing is installed or started.
# `go install .../cmd/promtool` would compile the whole Prometheus server and its
# cloud discovery clients, far longer than the test suite.
set -euo pipefail
CACHE="${MA_CACHE_DIR:-$HOME/.cache/media-analysis}/bin"
promtool="$CACHE/promtool"
if [[ -x "$promtool" ]]; then echo "$promtool"; exit 0; fi
if have="$(command -v promtool)"; then echo "$have"; exit 0; fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
  echo "[promtool] needs apt-get and dpkg-deb (Debian/Ubuntu), or promtool on PATH" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download prometheus >/dev/null 2>&1; then
  # No package lists yet (a fresh machine): read them once, as scripts/system-deps.sh does.
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download prometheus >/dev/null 2>&1 || {
    echo "[promtool] apt-get could not download Debian's prometheus package" >&2; exit 1; }
fi
dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
mkdir -p "$CACHE"
mv usr/bin/promtool "$promtool.tmp" && mv "$promtool.tmp" "$promtool"
echo "$promtool"
