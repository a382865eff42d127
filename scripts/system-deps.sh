#!/usr/bin/env bash
# Make sure the machine has what the local stack and the tests run: ffmpeg,
# espeak-ng and fonts-dejavu-core (contact sheets, speech for the tests),
# Java 17+, Maven, the PostgreSQL server binaries, curl and docker-compose
# (to validate the compose file offline). Installs what is missing from
# Debian's packages; quiet when everything is there.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
java_ok() {
  have java || return 1
  local v; v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
  [[ -n "$v" && "$v" -ge 17 ]]
}
pg_ok() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }

have ffmpeg && have ffprobe || missing+=(ffmpeg)
java_ok || missing+=(openjdk-17-jre-headless)
have mvn || missing+=(maven)
pg_ok && have psql || missing+=(postgresql)
have curl || missing+=(curl)
have docker-compose || missing+=(docker-compose)
have espeak-ng || missing+=(espeak-ng)  # speech for the transcription tests
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)  # contact-sheet timestamps

[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "$(id -u)" != 0 ]] || ! have apt-get; then
  cat >&2 <<MSG
[deps] missing: ${missing[*]}
[deps] This machine needs them and this script can install them only as root on
[deps] Debian/Ubuntu (apt-get). Install them yourself, for example:
[deps]   sudo apt-get update && sudo apt-get install -y ${missing[*]}
MSG
  exit 1
fi

echo "[deps] installing from Debian's packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || { echo "[deps] apt-get update failed; is a package mirror reachable?" >&2; exit 1; }
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "[deps] apt-get could not install: ${missing[*]}" >&2
  exit 1
fi
# Debian's postgresql package starts a system cluster on 5432; ours use their own port.
echo "[deps] done"
