#!/usr/bin/env bash
# A private PostgreSQL cluster from the machine's binaries, without Docker:
# `postgres.sh start|stop|status|url|wipe`.
#   MA_STATE_DIR  state root (default <repo>/.state); the cluster lives in $MA_STATE_DIR/postgres
#   MA_PG_PORT    port on 127.0.0.1 (default 55432, away from a system cluster's 5432)
#   MA_PG_DB      database to create (default media_analysis)
#   MA_PG_FAST    1 turns fsync, synchronous_commit and full_page_writes off (tests only)
# initdb and postgres refuse to run as root: they run as the `postgres` user.
# When that user cannot reach the state folder (a checkout under /root, say),
# the cluster goes to /var/lib/media-analysis/<hash>/ and $MA_STATE_DIR/postgres
# becomes a link to it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_ROOT="${MA_STATE_DIR:-$ROOT/.state}"
LINK="$STATE_ROOT/postgres"
PORT="${MA_PG_PORT:-55432}"
DB="${MA_PG_DB:-media_analysis}"
FAST="${MA_PG_FAST:-0}"
PG_USER=postgres

say() { printf '[postgres] %s\n' "$*"; }
die() { printf '[postgres] error: %s\n' "$*" >&2; exit 1; }

bindir() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" ]] && { echo "$dir"; return; }
  done
  die "PostgreSQL server binaries not found; run scripts/system-deps.sh"
}
BIN="$(bindir)"

as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

# Where the cluster lives: the state folder, or a reachable place linked from it.
home() {
  if [[ -L "$LINK" ]]; then readlink -f "$LINK"; return; fi
  if [[ -d "$LINK" ]]; then echo "$LINK"; return; fi
  mkdir -p "$STATE_ROOT"
  if [[ "$(id -u)" != 0 ]] || runuser -u "$PG_USER" -- test -x "$STATE_ROOT"; then
    mkdir -p "$LINK"; echo "$LINK"; return
  fi
  local hash; hash="$(printf '%s' "$STATE_ROOT" | sha256sum | cut -c1-12)"
  local elsewhere="/var/lib/media-analysis/$hash/postgres"
  mkdir -p "$elsewhere"
  ln -sfn "$elsewhere" "$LINK"
  say "the postgres user cannot reach $STATE_ROOT; the cluster lives in $elsewhere" >&2
  echo "$elsewhere"
}

HOME_DIR="$(home)"
DATA="$HOME_DIR/data"
SOCK="$HOME_DIR/run"
LOG="$HOME_DIR/postgres.log"

running() { [[ -f "$DATA/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  if running; then say "already running on 127.0.0.1:$PORT"; else
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
      mkdir -p "$DATA" "$SOCK"
      [[ "$(id -u)" == 0 ]] && chown -R "$PG_USER:" "$HOME_DIR"
      as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >"$HOME_DIR/initdb.log" 2>&1 \
        || { tail -n 20 "$HOME_DIR/initdb.log" >&2; die "initdb failed"; }
    fi
    mkdir -p "$SOCK"; [[ "$(id -u)" == 0 ]] && chown "$PG_USER:" "$SOCK" "$HOME_DIR"
    local opts="-p $PORT -k $SOCK -c listen_addresses=127.0.0.1"
    [[ "$FAST" == 1 ]] && opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if ! as_pg "$BIN/pg_ctl" -D "$DATA" -o "$opts" -l "$LOG" -w -t 60 start >/dev/null; then
      tail -n 30 "$LOG" >&2; die "PostgreSQL did not start (port $PORT taken? set MA_PG_PORT)"
    fi
    say "started on 127.0.0.1:$PORT (data: $DATA, log: $LOG)"
  fi
  if ! as_pg psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_pg psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$DB\"" \
      || die "could not create database $DB"
    say "database $DB created"
  fi
}

stop() {
  running || return 0
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  say "stopped"
}

status() {
  if running; then say "running on 127.0.0.1:$PORT (data: $DATA)"; else say "stopped"; return 1; fi
}

wipe() {
  stop
  rm -rf "$HOME_DIR"
  if [[ -L "$LINK" ]]; then rm -f "$LINK"; rmdir "$(dirname "$HOME_DIR")" 2>/dev/null || true; fi
  return 0
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "postgresql+asyncpg://postgres@127.0.0.1:$PORT/$DB" ;;
  wipe) wipe ;;
  *) echo "usage: $0 start|stop|status|url|wipe" >&2; exit 2 ;;
esac
