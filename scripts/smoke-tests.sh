#!/usr/bin/env bash
# The PRD's smoke test: the quick start's curl flow against a running stack.
#   BASE_URL   the API (default http://127.0.0.1:8000)
#   MEDIA_URL  media to analyse (default: the sample `make up` serves)
# Exits non-zero on the first deviation.
set -euo pipefail
BASE_URL="${BASE_URL:-http://127.0.0.1:8000}"
MEDIA_URL="${MEDIA_URL:-http://127.0.0.1:8090/sample.mp4}"
TIMEOUT="${SMOKE_TIMEOUT:-90}"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$tmp" "$1"; }
expect() {  # expect CODE METHOD PATH [BODY]
  local want="$1" method="$2" path="$3" body="${4:-}" got
  if [[ -n "$body" ]]; then
    got="$(curl -sS -o "$tmp" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' -d "$body" "$BASE_URL$path")"
  else
    got="$(curl -sS -o "$tmp" -w '%{http_code}' -X "$method" "$BASE_URL$path")"
  fi
  [[ "$got" == "$want" ]] || fail "$method $path answered $got, expected $want: $(cat "$tmp")"
  echo "smoke: $method $path -> $got"
}

expect 200 GET /healthz
expect 200 GET /readyz
expect 202 POST /api/media/analyze \
  "{\"prompt\": \"What is in this clip?\", \"media_url\": \"$MEDIA_URL\", \"media_type\": \"video\"}"
id="$(json 'd["analysis_id"]')"
[[ "$(json 'd["status"]')" == "pending" ]] || fail "POST did not answer pending"

status=""
for _ in $(seq 1 $((TIMEOUT * 2))); do
  expect 200 GET "/api/media/status/$id" >/dev/null
  status="$(json 'd["status"]')"
  [[ "$status" == "completed" || "$status" == "failed" ]] && break
  sleep 0.5
done
[[ "$status" == "completed" ]] || fail "analysis $id ended '$status': $(cat "$tmp")"
[[ "$(json 'd["progress"]')" == "100" ]] || fail "progress is not 100"
echo "smoke: analysis $id completed, duration $(json 'd["results"]["probe"]["duration"]') s"

expect 200 GET "/api/media/history?page=1&per_page=100"
[[ "$(json "any(i['analysis_id'] == '$id' for i in d['data'])")" == "True" ]] || fail "history lacks $id"
expect 204 DELETE "/api/media/$id"
expect 410 GET "/api/media/status/$id"
expect 410 DELETE "/api/media/$id"
expect 400 GET /api/media/status/not-a-uuid
expect 404 GET "/api/media/status/00000000-0000-4000-8000-000000000000"
echo "smoke tests passed"
