#!/usr/bin/env bash
# A private PostgreSQL cluster from the machine's binaries, without Docker:
# `postgres.sh start|stop|status|url|wipe`.
#   MA_STATE_DIR  state root (default <repo>/.state); the cluster lives in $MA_STATE_DIR/postgres
#                 (data/, run/ for the socket, postgres.log)
#   MA_PG_PORT    port on 127.0.0.1 (default 15432, away from a system cluster's 5432)
#   MA_PG_DB      database to create (default media_analysis)
#   MA_PG_MAX_CONNECTIONS  max_connections (default 100)
#   MA_PG_FAST    1 turns fsync, synchronous_commit and full_page_writes off: a
#                 crash can then corrupt the cluster, so for throwaway test clusters only
#   MA_PG_OPTIONS extra server options, e.g. "-c shared_preload_libraries=pg_stat_statements"
#                 to see which statements a benchmark spends PostgreSQL's time on
# initdb and postgres refuse to run as root: as root they run as the `postgres`
# user, which must be able to reach the data directory. When it cannot (a
# checkout under /root, mode 700, say), the cluster goes to
# /var/lib/media-analysis/<hash of the state dir>/postgres and
# $MA_STATE_DIR/postgres becomes a symbolic link to it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_ROOT="$(realpath -m "${MA_STATE_DIR:-$ROOT/.state}")"
LINK="$STATE_ROOT/postgres"
PORT="${MA_PG_PORT:-15432}"
DB="${MA_PG_DB:-media_analysis}"
FAST="${MA_PG_FAST:-0}"
MAX_CONNECTIONS="${MA_PG_MAX_CONNECTIONS:-100}"
PG_USER=postgres
FALLBACK_ROOT=/var/lib/media-analysis
# The postgres user may not be allowed into the caller's working directory.
cd /

say() { printf '[postgres] %s\n' "$*"; }
die() { printf '[postgres] error: %s\n' "$*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "MA_PG_PORT is not a port number: $PORT"
[[ "$DB" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "MA_PG_DB must be a plain identifier: $DB"
[[ "$FAST" == 0 || "$FAST" == 1 ]] || die "MA_PG_FAST must be 0 or 1: $FAST"
[[ "$MAX_CONNECTIONS" =~ ^[0-9]+$ ]] || die "MA_PG_MAX_CONNECTIONS must be a number: $MAX_CONNECTIONS"

is_root() { [[ "$(id -u)" == 0 ]]; }

bindir() {  # Debian keeps the server binaries off the PATH; prefer 15, else the newest
  local dir
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then echo /usr/lib/postgresql/15/bin; return; fi
  dir="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [[ -x "$dir/initdb" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; run scripts/system-deps.sh"
  echo "$dir"
}

as_pg() { if is_root; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi; }

hash_of_state() { printf '%s' "$STATE_ROOT" | sha256sum | cut -c1-12; }

# Where the cluster lives, without creating anything (empty when there is none).
locate() {
  if [[ -L "$LINK" ]]; then readlink -m "$LINK"
  elif [[ -d "$LINK" ]]; then echo "$LINK"
  fi
}

# Where the cluster lives, created when missing: in the state folder, or in a
# place the postgres user can reach, linked from the state folder.
prepare_home() {
  local home; home="$(locate)"
  if [[ -z "$home" ]]; then
    mkdir -p "$STATE_ROOT"
    if ! is_root || runuser -u "$PG_USER" -- test -x "$STATE_ROOT" 2>/dev/null; then
      home="$LINK"
    else
      home="$FALLBACK_ROOT/$(hash_of_state)/postgres"
      ln -sfn "$home" "$LINK"
      say "the postgres user cannot reach $STATE_ROOT; the cluster lives in $home (linked from $LINK)" >&2
    fi
  fi
  mkdir -p "$home"
  if [[ "$home" == "$FALLBACK_ROOT"/* ]]; then
    chmod 755 "$FALLBACK_ROOT" "$(dirname "$home")"   # traversable whatever the umask
  fi
  if is_root; then
    runuser -u "$PG_USER" -- test -x "$home" 2>/dev/null \
      || die "the postgres user cannot reach $home; make its parent directories traversable (chmod o+x)"
    chown "$PG_USER:" "$home"
  fi
  echo "$home"
}

HOME_DIR="" DATA="" SOCK="" LOG=""
paths() {  # paths HOME : the cluster's files
  HOME_DIR="$1" DATA="$1/data" LOG="$1/postgres.log" SOCK="$1/run"
  # A Unix socket path holds at most 107 bytes; a deep checkout gets a short one.
  if (( ${#SOCK} + ${#PORT} + 10 > 107 )); then SOCK="/tmp/media-analysis-pg-$(hash_of_state)"; fi
}

running() { [[ -f "$DATA/postmaster.pid" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
live_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

psql_pg() { as_pg "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

fail() {  # fail MESSAGE : the log's end, the commonest cause explained, exit 1
  if [[ -f "$LOG" ]]; then tail -n 30 "$LOG" >&2; fi
  if [[ -f "$LOG" ]] && grep -q "Address already in use" < <(tail -n 30 "$LOG"); then
    say "port $PORT is in use; a client connection's ephemeral port can hold it too" \
      "(range $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)): set MA_PG_PORT outside it" >&2
  fi
  die "$1"
}

start() {
  if is_root; then id -u "$PG_USER" >/dev/null 2>&1 || die "no '$PG_USER' user; install PostgreSQL (scripts/system-deps.sh)"; fi
  local home; home="$(prepare_home)"
  paths "$home"
  if running; then
    say "already running on 127.0.0.1:$(live_port) (data: $DATA)"
    [[ "$(live_port)" == "$PORT" ]] || die "it listens on $(live_port), not MA_PG_PORT=$PORT; stop it first"
  else
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
      say "creating a cluster in $DATA"
      rm -rf "$DATA"; mkdir -p "$DATA"
      if is_root; then chown "$PG_USER:" "$DATA"; fi
      chmod 700 "$DATA"
      as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >"$HOME_DIR/initdb.log" 2>&1 \
        || { tail -n 20 "$HOME_DIR/initdb.log" >&2; die "initdb failed (full output: $HOME_DIR/initdb.log)"; }
    fi
    mkdir -p "$SOCK"
    if is_root; then chown "$PG_USER:" "$SOCK"; fi
    if port_open "$PORT"; then die "127.0.0.1:$PORT is taken by another process; set MA_PG_PORT"; fi
    local opts="-p $PORT -k '$SOCK' -c listen_addresses=127.0.0.1 -c max_connections=$MAX_CONNECTIONS"
    if [[ "$FAST" == 1 ]]; then opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
    if [[ -n "${MA_PG_OPTIONS:-}" ]]; then opts+=" $MA_PG_OPTIONS"; fi
    if ! as_pg "$BIN/pg_ctl" -D "$DATA" -o "$opts" -l "$LOG" -w -t 60 start >/dev/null 2>&1; then
      fail "PostgreSQL did not start (log: $LOG)"
    fi
    say "started on 127.0.0.1:$PORT$([[ "$FAST" == 1 ]] && echo ' (fsync off)') (data: $DATA, log: $LOG)"
  fi
  if [[ "$(psql_pg -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]]; then
    psql_pg -d postgres -c "CREATE DATABASE \"$DB\"" || die "could not create database $DB"
    say "database $DB created"
  fi
}

stop() {
  local home; home="$(locate)"
  if [[ -z "$home" ]]; then say "not running"; return 0; fi
  paths "$home"
  if ! running; then say "not running"; return 0; fi
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || fail "pg_ctl stop failed"
  say "stopped"
}

status() {
  local home; home="$(locate)"
  if [[ -n "$home" ]]; then
    paths "$home"
    if running; then say "running on 127.0.0.1:$(live_port) (data: $DATA)"; return 0; fi
  fi
  say "stopped"; return 1
}

wipe() {  # stop and delete the cluster (and its link and fallback folder)
  local home; home="$(locate)"
  stop
  [[ -n "$home" ]] || return 0
  paths "$home"
  if [[ "$SOCK" == /tmp/media-analysis-pg-* ]]; then rm -rf "$SOCK"; fi
  rm -rf "$home"
  if [[ -L "$LINK" ]]; then
    rm -f "$LINK"
    if [[ "$home" == "$FALLBACK_ROOT"/* ]]; then
      rmdir "$(dirname "$home")" "$FALLBACK_ROOT" 2>/dev/null || true
    fi
  fi
  say "wiped"
}

case "${1:-}" in
  url) echo "postgresql+asyncpg://postgres@127.0.0.1:$PORT/$DB"; exit 0 ;;
  start|stop|status|wipe) ;;
  *) echo "usage: $0 start|stop|status|url|wipe" >&2; exit 2 ;;
esac
BIN="$(bindir)"
PSQL="$BIN/psql"; [[ -x "$PSQL" ]] || PSQL="$(command -v psql)" || die "psql not found; run scripts/system-deps.sh"
"$1"
