#!/usr/bin/env bash
# Make sure the machine has what the local stack and the tests need: ffmpeg and
# ffprobe, Java 17+ and Maven (the Kafka broker, scripts/kafka.sh), the
# PostgreSQL server binaries and psql (scripts/postgres.sh), espeak-ng (speech
# for the transcription tests), fonts-dejavu-core (contact-sheet timestamps), curl,
# docker-compose (to validate docker-compose.yml offline), and with the argument
# `test` (`make test`) chromium and chromium-driver too (the web console's
# browser tests). Installs what is
# missing from Debian's packages (apt-get update only then, once); prints
# nothing when everything is there.
set -euo pipefail

say() { printf '[deps] %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
java_ok() {
  have java || return 1
  local v
  v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
  [[ -n "$v" && "$v" -ge 17 ]]
}
pg_ok() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && have psql; }

missing=()
if ! have ffmpeg || ! have ffprobe; then missing+=(ffmpeg); fi
if ! java_ok; then missing+=(openjdk-17-jre-headless); fi
if ! have mvn; then missing+=(maven); fi
if ! pg_ok; then missing+=(postgresql); fi
if ! have espeak-ng; then missing+=(espeak-ng); fi
if ! have curl; then missing+=(curl); fi
if ! have docker-compose; then missing+=(docker-compose); fi
if [[ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then missing+=(fonts-dejavu-core); fi
if [[ "${1:-}" == test ]]; then
  if [[ ! -x /usr/bin/chromium ]]; then missing+=(chromium); fi
  if [[ ! -x /usr/bin/chromedriver ]]; then missing+=(chromium-driver); fi
fi

[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "$(id -u)" != 0 ]] || ! have apt-get; then
  {
    say "missing: ${missing[*]}."
    say "This script installs them only as root on Debian or Ubuntu (apt-get); install"
    say "them yourself, e.g.: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    say "(elsewhere: ffmpeg, a Java 17+ runtime, Maven, PostgreSQL 15 server and client,"
    say "espeak-ng, curl, docker-compose, Chromium and its chromedriver from your package"
    say "manager), then run make again."
  } >&2
  exit 1
fi

say "installing from Debian's packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! apt-get update -qq >"$log" 2>&1; then
  tail -n 20 "$log" >&2; say "apt-get update failed; is a package mirror reachable?" >&2; exit 1
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  tail -n 20 "$log" >&2; say "apt-get could not install: ${missing[*]}" >&2; exit 1
fi
# Debian's postgresql package may start a system cluster on 5432; ours use
# their own ports and data directories (scripts/postgres.sh), so it does not matter.
say "done"
