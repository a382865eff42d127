#!/usr/bin/env bash
# The PRD's endpoint checks (sections 5.1-5.4, appendix B) against any deployment:
#   scripts/verify-endpoints.sh [BASE_URL]      (default http://127.0.0.1:8000)
#   MEDIA_URL  the media the test analysis names (default the PRD's example URL;
#              it is submitted, never waited for)
#   API_KEY    sent as a bearer token when the deployment has access control on
# Prints one line per check and exits 1 if any answer deviates from the PRD.
# It creates one analysis and deletes it again.
set -uo pipefail
BASE_URL="${1:-${BASE_URL:-http://127.0.0.1:8000}}"
BASE_URL="${BASE_URL%/}"
MEDIA_URL="${MEDIA_URL:-https://example.com/video.mp4}"
body_file="$(mktemp)"
trap 'rm -f "$body_file"' EXIT
auth=()
[[ -n "${API_KEY:-}" ]] && auth=(-H "Authorization: Bearer $API_KEY")
failed=0
UNKNOWN_ID="00000000-0000-4000-8000-000000000000"

pass() { echo "verify: ok    $*"; }
deviation() { echo "verify: FAIL  $*" >&2; failed=1; }

# call METHOD PATH [BODY]: sets $code; the answer's body is in $body_file.
call() {
  local method="$1" path="$2" body="${3-}"
  local args=(-sS -o "$body_file" -w '%{http_code}' -X "$method" "${auth[@]}")
  if [[ $# -ge 3 ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  code="$(curl "${args[@]}" "$BASE_URL$path")" || code="000"
}

# json EXPR: a Python expression over the answer `d`, printed.
json() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' \
    "$body_file" "$1" 2>/dev/null
}

# expect CODE WHAT METHOD PATH [BODY]: one check of the status code.
expect() {
  local want="$1" what="$2"
  shift 2
  call "$@"
  if [[ "$code" == "$want" ]]; then
    pass "$1 $2 -> $code ($what)"
    return 0
  fi
  deviation "$1 $2 answered $code, the PRD says $want ($what): $(head -c 300 "$body_file")"
  return 1
}

# has_fields WHAT EXPR FIELD...: every FIELD is a key of the JSON value EXPR.
has_fields() {
  local what="$1" expr="$2"
  shift 2
  local missing
  missing="$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
value = eval(sys.argv[2], {}, {"d": d})
print(" ".join(f for f in sys.argv[3:] if f not in value))' "$body_file" "$expr" "$@" 2>&1)" \
    || missing="(not JSON: $(head -c 200 "$body_file"))"
  if [[ -z "$missing" ]]; then pass "$what has ${*}"; else deviation "$what lacks: $missing"; fi
}

is_problem() {  # the error body carries a human-readable detail
  [[ -n "$(json 'd["detail"]')" ]] || deviation "$1: no human-readable detail in $(head -c 200 "$body_file")"
}

# --- 5.1 POST /api/media/analyze -------------------------------------------------------
request="{\"prompt\": \"What is happening in this video?\", \"media_url\": \"$MEDIA_URL\", \"media_type\": \"video\", \"config\": {\"model\": \"gpt-4o\", \"max_tokens\": 2000, \"temperature\": 0.7}, \"options\": {\"extract_frames\": true, \"generate_contact_sheet\": false, \"transcribe_audio\": true}}"
id=""
if expect 202 "the PRD's request example" POST /api/media/analyze "$request"; then
  has_fields "the 202 answer" d analysis_id status estimated_time message
  [[ "$(json 'd["status"]')" == "pending" ]] || deviation "the 202 answer's status is not pending"
  id="$(json 'd["analysis_id"]')"
fi
expect 400 "missing required field: media_url" POST /api/media/analyze \
  '{"prompt": "x", "media_type": "video"}' && is_problem "missing media_url"
expect 400 "malformed JSON" POST /api/media/analyze '{"prompt": "x", "media_url": ' && is_problem "malformed JSON"
expect 422 "invalid field format: media_type" POST /api/media/analyze \
  "{\"prompt\": \"x\", \"media_url\": \"$MEDIA_URL\", \"media_type\": \"hologram\"}" \
  && is_problem "invalid media_type"

# --- 5.2 GET /api/media/status/{id} ----------------------------------------------------
if [[ -n "$id" ]]; then
  if expect 200 "status of the new analysis" GET "/api/media/status/$id"; then
    has_fields "the status answer" d analysis_id status progress media_type source_url \
      created_at updated_at completed_at result_summary error_message
  fi
fi
expect 400 "invalid UUID" GET /api/media/status/not-a-uuid && is_problem "status of an invalid UUID"
expect 404 "unknown analysis" GET "/api/media/status/$UNKNOWN_ID" && is_problem "status of an unknown id"

# --- 5.4 GET /api/media/history --------------------------------------------------------
if expect 200 "the PRD's listing" GET "/api/media/history?page=1&per_page=10"; then
  has_fields "the history answer" d data pagination
  has_fields "pagination" 'd["pagination"]' page per_page total total_pages
  if [[ "$(json 'len(d["data"]) > 0')" == "True" ]]; then
    has_fields "a history item" 'd["data"][0]' analysis_id status media_type prompt created_at completed_at
  fi
fi
expect 200 "status and media_type at their default, all" GET \
  "/api/media/history?status=all&media_type=all&sort_by=created_at&order=desc"
expect 200 "date filters" GET "/api/media/history?date_from=2026-01-01&date_to=2026-01-31"
expect 400 "per_page over 100" GET "/api/media/history?per_page=101" && is_problem "per_page=101"
expect 400 "unknown status" GET "/api/media/history?status=weird" && is_problem "status=weird"

# --- 5.3 DELETE /api/media/{id} --------------------------------------------------------
if [[ -n "$id" ]]; then
  expect 204 "delete" DELETE "/api/media/$id"
  expect 410 "status once deleted" GET "/api/media/status/$id" && is_problem "status of a deleted id"
  expect 410 "delete again" DELETE "/api/media/$id" && is_problem "second delete"
fi
expect 400 "delete an invalid UUID" DELETE /api/media/not-a-uuid
expect 404 "delete an unknown analysis" DELETE "/api/media/$UNKNOWN_ID"

if [[ $failed -ne 0 ]]; then
  echo "verify: $BASE_URL deviates from the PRD (see FAIL lines)" >&2
  exit 1
fi
echo "verify: all endpoint checks passed against $BASE_URL"
