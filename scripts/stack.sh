#!/usr/bin/env bash
# Local stack without Docker: `stack.sh up|down|status`.
# up: Kafka and PostgreSQL (unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL name
# existing ones), migrations, topics, a sample-media server and every service,
# in the background; returns once /readyz is green. down: stops what up started.
# LLM=local (`make up LLM=local`): also the local "offline draft" model server
# (scripts/llm-server.sh), which then answers the prompts.
# Every service runs as its own process: the API, the processor (at a lower CPU
# priority, MA_PROCESSOR_NICE, so media work cannot starve the API), the projector
# and the notifier, each consumer with its /metrics and /readyz on a port of its own.
# MA_KAFKA_BROKERS=3: a three-node Kafka cluster (scripts/kafka.sh), topics with
# three replicas (two in sync for a 202), and every service scaled out: the API
# with API_WORKERS=2, two processors, two projectors.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export MA_STATE_DIR="${MA_STATE_DIR:-$ROOT/.state}"
RUN="$MA_STATE_DIR/run"
LOGS="$MA_STATE_DIR/logs"
BIN="$ROOT/.venv/bin"
SAMPLES_PORT="${MA_SAMPLES_PORT:-8090}"
# Unset: as many Kafka nodes as the state dir holds (scripts/kafka.sh does the same).
BROKERS="${MA_KAFKA_BROKERS:-$(find "$MA_STATE_DIR/kafka" -maxdepth 1 -name 'node-*' -type d 2>/dev/null | wc -l || true)}"
[[ "$BROKERS" != 0 ]] || BROKERS=1
# The service processes: each service once, or with a cluster the consumers twice.
if (( BROKERS >= 3 )); then
  SERVICES=(api processor-1 processor-2 projector-1 projector-2 notifier)
else
  SERVICES=(api processor projector notifier)
fi
# ("services": the single all-in-one process of earlier versions, stopped if found.)
ALL_SERVICES=(services api processor processor-1 processor-2 projector projector-1 projector-2 notifier)
PROCESSOR_NICE="${MA_PROCESSOR_NICE:-5}"
mkdir -p "$RUN" "$LOGS"

say() { printf '[stack] %s\n' "$*"; }

# Values from .env count like environment variables (the services read it too).
env_value() {
  local name="$1"
  if [[ -n "${!name:-}" ]]; then printf '%s' "${!name}"; return; fi
  if [[ -f .env ]]; then sed -n "s/^${name}=//p" .env | tail -n 1 | tr -d '"'"'"; fi
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_bg() {  # start_bg NAME LOGFILE CMD... : detached, with a pid file, once
  local name="$1" log="$2"; shift 2
  if alive "$RUN/$name.pid"; then say "$name already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  setsid nohup "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  say "$name started (pid $!)"
}

stop_pid() {  # stop_pid NAME : SIGTERM, wait, then SIGKILL; only our own pid
  local name="$1" pidfile="$RUN/$1.pid" pid
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  say "$name stopped"
}

webhook_secret() {  # the notifier signs webhooks with WEBHOOK_SECRET: make one once
  if [[ -n "$(env_value WEBHOOK_SECRET)" ]]; then return; fi
  local secret
  secret="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
  if [[ -s .env && -n "$(tail -c 1 .env)" ]]; then echo >>.env; fi
  printf 'WEBHOOK_SECRET=%s\n' "$secret" >>.env
  say "generated a WEBHOOK_SECRET into .env (receivers verify webhooks with it)"
}

sample_media() {
  local dir="$MA_STATE_DIR/samples"
  mkdir -p "$dir"
  if [[ ! -s "$dir/sample.mp4" ]]; then
    ffmpeg -hide_banner -loglevel error -y \
      -f lavfi -i "testsrc=size=320x240:rate=25:duration=6" \
      -f lavfi -i "sine=frequency=440:duration=6" \
      -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$dir/sample.mp4"
  fi
  start_bg samples "$LOGS/samples.log" "$BIN/python" -m http.server "$SAMPLES_PORT" \
    --bind 127.0.0.1 --directory "$dir"
}

local_llm() {  # LLM=local: the small local model answers, unless LLM_BASE_URL names another
  [[ "${LLM:-}" == "local" ]] || return 0
  if [[ -n "$(env_value LLM_BASE_URL)" ]]; then
    say "LLM=local ignored: LLM_BASE_URL is set"; return 0
  fi
  scripts/llm-server.sh start
  touch "$RUN/started-llm"
  export LLM_BASE_URL="$(scripts/llm-server.sh url)" LLM_MODEL=smollm2-135m-instruct
  export LLM_CONTEXT_TOKENS="${MA_LLM_CONTEXT:-4096}" LLM_MAX_TOKENS="${LLM_MAX_TOKENS:-256}"
}

wait_ready() {
  local url="$1"
  for _ in $(seq 1 120); do
    if curl -fsS "$url/readyz" >/dev/null 2>&1; then return 0; fi
    local name
    for name in "${SERVICES[@]}"; do
      alive "$RUN/$name.pid" || { say "$name exited; last log lines:"; tail -n 40 "$LOGS/services.log"; return 1; }
    done
    sleep 0.5
  done
  say "services not ready after 60 s; last log lines:"; tail -n 40 "$LOGS/services.log"; return 1
}

up() {
  local kafka db api_host api_port
  kafka="$(env_value KAFKA_BOOTSTRAP_SERVERS)"
  if [[ -z "$kafka" ]]; then
    scripts/kafka.sh start
    kafka="$(scripts/kafka.sh bootstrap)"
    touch "$RUN/started-kafka"
    if (( BROKERS >= 3 )); then
      export KAFKA_REPLICATION_FACTOR="${KAFKA_REPLICATION_FACTOR:-3}"
      export KAFKA_MIN_INSYNC_REPLICAS="${KAFKA_MIN_INSYNC_REPLICAS:-2}"
    fi
  else
    say "using Kafka at $kafka"
  fi
  db="$(env_value DATABASE_URL)"
  if [[ -z "$db" ]]; then
    scripts/postgres.sh start
    db="$(scripts/postgres.sh url)"
    touch "$RUN/started-postgres"
  else
    say "using PostgreSQL at ${db%%@*}@…"
  fi
  export KAFKA_BOOTSTRAP_SERVERS="$kafka" DATABASE_URL="$db"
  export WORK_DIR="${WORK_DIR:-$MA_STATE_DIR/work}"
  export ARTIFACT_DIR="${ARTIFACT_DIR:-$MA_STATE_DIR/artifacts}"
  # The local stack fetches the sample media from 127.0.0.1; production leaves this empty.
  export MEDIA_FETCH_ALLOWED_NETWORKS="${MEDIA_FETCH_ALLOWED_NETWORKS:-$(env_value MEDIA_FETCH_ALLOWED_NETWORKS)}"
  export MEDIA_FETCH_ALLOWED_NETWORKS="${MEDIA_FETCH_ALLOWED_NETWORKS:-127.0.0.1/32}"
  webhook_secret
  "$BIN/media-analysis" migrate
  "$BIN/media-analysis" create-topics
  sample_media
  local_llm
  if (( BROKERS >= 3 )); then
    API_WORKERS="${API_WORKERS:-2}" start_bg api "$LOGS/services.log" "$BIN/media-analysis" api
    local name
    for name in processor-1 processor-2 projector-1 projector-2; do
      start_bg "$name" "$LOGS/services.log" "$BIN/media-analysis" "${name%-*}"
    done
    start_bg notifier "$LOGS/services.log" "$BIN/media-analysis" notifier
  else
    # The consumers' ops ports, unless .env or the environment set them.
    export PROCESSOR_HTTP_PORT="${PROCESSOR_HTTP_PORT:-$(env_value PROCESSOR_HTTP_PORT)}"
    export PROJECTOR_HTTP_PORT="${PROJECTOR_HTTP_PORT:-$(env_value PROJECTOR_HTTP_PORT)}"
    export NOTIFIER_HTTP_PORT="${NOTIFIER_HTTP_PORT:-$(env_value NOTIFIER_HTTP_PORT)}"
    export PROCESSOR_HTTP_PORT="${PROCESSOR_HTTP_PORT:-8001}"
    export PROJECTOR_HTTP_PORT="${PROJECTOR_HTTP_PORT:-8002}"
    export NOTIFIER_HTTP_PORT="${NOTIFIER_HTTP_PORT:-8003}"
    start_bg api "$LOGS/services.log" "$BIN/media-analysis" api
    start_bg processor "$LOGS/services.log" nice -n "$PROCESSOR_NICE" "$BIN/media-analysis" processor
    start_bg projector "$LOGS/services.log" "$BIN/media-analysis" projector
    start_bg notifier "$LOGS/services.log" "$BIN/media-analysis" notifier
  fi
  api_host="$(env_value API_HOST)"; api_port="$(env_value API_PORT)"
  local base="http://${api_host:-127.0.0.1}:${api_port:-8000}" port
  wait_ready "$base"
  if (( BROKERS < 3 )); then
    for port in "$PROCESSOR_HTTP_PORT" "$PROJECTOR_HTTP_PORT" "$NOTIFIER_HTTP_PORT"; do
      wait_ready "http://127.0.0.1:$port"
    done
  fi
  local answers="extractive summaries (no LLM configured; make up LLM=local for a local draft model)"
  [[ -n "${LLM_BASE_URL:-}" ]] && answers="the model at $LLM_BASE_URL, extractive summaries if it fails"
  cat <<MSG
[stack] ready: $base  (OpenAPI docs: $base/docs, console: $base/console/)
[stack] Kafka: $KAFKA_BOOTSTRAP_SERVERS   PostgreSQL: ${DATABASE_URL%%@*}@…
[stack] sample media: http://127.0.0.1:$SAMPLES_PORT/sample.mp4
[stack] webhooks: signed with WEBHOOK_SECRET from .env (docs/webhooks.md)
[stack] answers: $answers
[stack] logs: $LOGS/services.log (make logs); Kafka and PostgreSQL logs under $MA_STATE_DIR
MSG
  if (( BROKERS < 3 )); then
    cat <<MSG
[stack] processor (nice $PROCESSOR_NICE), projector, notifier: /metrics and /readyz on 127.0.0.1:$PROCESSOR_HTTP_PORT, :$PROJECTOR_HTTP_PORT, :$NOTIFIER_HTTP_PORT
MSG
  fi
  cat <<MSG
[stack] stop with: make down
MSG
}

down() {
  local name
  for name in "${ALL_SERVICES[@]}"; do stop_pid "$name"; done
  stop_pid samples
  if [[ -f "$RUN/started-llm" ]]; then scripts/llm-server.sh stop; rm -f "$RUN/started-llm"; fi
  if [[ -f "$RUN/started-kafka" ]]; then scripts/kafka.sh stop; rm -f "$RUN/started-kafka"; fi
  if [[ -f "$RUN/started-postgres" ]]; then scripts/postgres.sh stop; rm -f "$RUN/started-postgres"; fi
}

status() {
  for name in "${ALL_SERVICES[@]}" samples; do
    [[ -f "$RUN/$name.pid" || " ${SERVICES[*]} samples " == *" $name "* ]] || continue
    if alive "$RUN/$name.pid"; then say "$name: running (pid $(cat "$RUN/$name.pid"))"; else say "$name: stopped"; fi
  done
  scripts/kafka.sh status || true
  scripts/postgres.sh status || true
  if [[ -f "$RUN/started-llm" ]]; then scripts/llm-server.sh status || true; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
