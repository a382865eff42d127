#!/usr/bin/env bash
# `make bench`: a private stack with production durability (fsync on, acks=all)
# on its own ports and state (.state/bench), the services as separate processes,
# the scenarios of benchmarks/run.py against it, BENCHMARKS.md written from the
# results, and everything stopped again. BENCH_PROFILE=quick (default) or full.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export MA_STATE_DIR="$ROOT/.state/bench"
export MA_KAFKA_PORT="${MA_BENCH_KAFKA_PORT:-18092}"
export MA_KAFKA_CONTROLLER_PORT="${MA_BENCH_KAFKA_CONTROLLER_PORT:-18093}"
# MA_KAFKA_BROKERS=3 (`make bench-cluster`): three nodes, RF 3, min.insync.replicas 2;
# their ports MA_BENCH_KAFKA_PORTS / MA_BENCH_KAFKA_CONTROLLER_PORTS (default +2 a node).
export MA_KAFKA_BROKERS="${MA_KAFKA_BROKERS:-1}"
export MA_KAFKA_PORTS="${MA_BENCH_KAFKA_PORTS:-}" MA_KAFKA_CONTROLLER_PORTS="${MA_BENCH_KAFKA_CONTROLLER_PORTS:-}"
export MA_PG_PORT="${MA_BENCH_PG_PORT:-15434}"
export MA_KAFKA_HEAP="${MA_KAFKA_HEAP:-1g}"
# Room for the scale-out run: a second API with two workers, each with its pools.
export MA_PG_MAX_CONNECTIONS="${MA_PG_MAX_CONNECTIONS:-300}"
API_PORT="${MA_BENCH_API_PORT:-8100}"
SAMPLES_PORT="${MA_BENCH_SAMPLES_PORT:-8190}"
BIN="$ROOT/.venv/bin"
LOGS="$MA_STATE_DIR/logs"
pids=()

# The load generator and the media origin: one Go binary (benchmarks/loadgen), so
# that the instrument takes little of the two cores it shares with what it
# measures. benchmarks/loadgen.py runs it when BENCH_LOADGEN names it. Without a
# Go toolchain (1.24 or later) the Python generator and http.server stand in:
# the same semantics, about twice the CPU per request (BENCHMARKS.md).
GO="$(command -v go || echo /usr/local/go/bin/go)"
unset BENCH_LOADGEN
if [[ -x "$GO" ]] && (cd benchmarks/loadgen && GOTOOLCHAIN=local "$GO" build -trimpath \
    -buildvcs=false -o "$ROOT/.state/bin/loadgen" .); then
  export BENCH_LOADGEN="$ROOT/.state/bin/loadgen"
else
  echo "[bench] no Go 1.24+ to build benchmarks/loadgen: the Python generator and" \
    "http.server measure instead, at about twice the CPU per request" >&2
fi

# A fresh stack every run: a backlog left by an earlier run (or an interrupted one)
# would keep the processors busy and make the figures depend on history.
scripts/kafka.sh stop >/dev/null 2>&1 || true
scripts/postgres.sh wipe >/dev/null 2>&1 || true
rm -rf "$MA_STATE_DIR"
mkdir -p "$LOGS"

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  scripts/kafka.sh stop >/dev/null 2>&1
  scripts/postgres.sh stop >/dev/null 2>&1
}
trap cleanup EXIT

# A process already on a port the bench uses would answer in place of the one
# started here (it happened: a stray API served a whole run).
for port in "$API_PORT" "$SAMPLES_PORT" "$((API_PORT + 10))"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "[bench] 127.0.0.1:$port is taken by another process; stop it or set MA_BENCH_API_PORT" >&2
    exit 1
  fi
done
scripts/kafka.sh start || exit 1
scripts/postgres.sh start || exit 1
KAFKA_BOOTSTRAP_SERVERS="$(scripts/kafka.sh bootstrap)" || exit 1
export KAFKA_BOOTSTRAP_SERVERS
if (( MA_KAFKA_BROKERS >= 3 )); then
  export KAFKA_REPLICATION_FACTOR=3 KAFKA_MIN_INSYNC_REPLICAS=2
fi
DATABASE_URL="$(scripts/postgres.sh url)"
export DATABASE_URL API_PORT WORK_DIR="$MA_STATE_DIR/work"
export MEDIA_FETCH_ALLOWED_NETWORKS=127.0.0.1/32 LOG_LEVEL="${MA_BENCH_LOG_LEVEL:-WARNING}"
"$BIN/media-analysis" migrate >/dev/null || exit 1
"$BIN/media-analysis" create-topics || exit 1

mkdir -p "$MA_STATE_DIR/samples"
clip="$MA_STATE_DIR/samples/clip.mp4"
[[ -s "$clip" ]] || ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc=size=320x240:rate=25:duration=6" -f lavfi -i "sine=frequency=440:duration=6" \
  -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$clip"
if [[ -n "${BENCH_LOADGEN:-}" ]]; then
  "$BENCH_LOADGEN" serve --addr "127.0.0.1:$SAMPLES_PORT" --dir "$MA_STATE_DIR/samples" \
    >"$LOGS/samples.log" 2>&1 & pids+=($!)
else
  "$BIN/python" -m http.server "$SAMPLES_PORT" --bind 127.0.0.1 --directory "$MA_STATE_DIR/samples" \
    >"$LOGS/samples.log" 2>&1 & pids+=($!)
fi
export BENCH_MEDIA_PID=$!  # the media's origin: outside the service, but on this machine

declare -A service_pid
for service in api projector; do  # benchmarks/processor.py runs the processor
  "$BIN/media-analysis" "$service" >"$LOGS/$service.log" 2>&1 & pids+=($!)
  service_pid[$service]=$!
done
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
for service in api projector; do
  kill -0 "${service_pid[$service]}" 2>/dev/null || { echo "[bench] $service exited: see $LOGS/$service.log" >&2; exit 1; }
done

if (( MA_KAFKA_BROKERS == 1 )); then
  kafka_pids="kafka=$(cat "$MA_STATE_DIR/kafka/kafka.pid")"
else
  kafka_pids="kafka=$(cat "$MA_STATE_DIR/kafka/node-1/kafka.pid")"
  for n in $(seq 2 "$MA_KAFKA_BROKERS"); do kafka_pids+=",kafka-$n=$(cat "$MA_STATE_DIR/kafka/node-$n/kafka.pid")"; done
fi
pg_pid="$(head -n 1 "$(readlink -f "$MA_STATE_DIR/postgres")/data/postmaster.pid")"
export BASE_URL="http://127.0.0.1:$API_PORT" MEDIA_URL="http://127.0.0.1:$SAMPLES_PORT/clip.mp4" BENCH_LOGS="$LOGS"
export BENCH_PIDS="api=${service_pid[api]},projector=${service_pid[projector]},$kafka_pids,postgres=$pg_pid"
export MA_STATE_DIR
if [[ -n "${BENCH_DRIVER:-}" ]]; then  # `make profile`: another driver, no report
  "$BIN/python" -m "$BENCH_DRIVER"
  exit $?
fi
"$BIN/python" -m benchmarks.run || exit 1
"$BIN/python" -m benchmarks.report
