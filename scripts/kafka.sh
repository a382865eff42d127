#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker+controller) from Maven
# Central jars, without Docker: `kafka.sh install|start|stop|status`.
#   MA_STATE_DIR              state root (default <repo>/.state); data in $MA_STATE_DIR/kafka
#   MA_CACHE_DIR              jar cache (default ~/.cache/media-analysis)
#   MA_KAFKA_PORT             client listener on 127.0.0.1 (default 9092)
#   MA_KAFKA_CONTROLLER_PORT  controller listener on 127.0.0.1 (default 9093)
#   MA_KAFKA_HEAP             JVM heap (default 512m)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MA_STATE_DIR:-$ROOT/.state}/kafka"
CACHE="${MA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/media-analysis}"
PORT="${MA_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${MA_KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${MA_KAFKA_HEAP:-512m}"
POM="$ROOT/scripts/kafka/pom.xml"
VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
LIBS="$CACHE/kafka-$VERSION/libs"
PIDFILE="$STATE/kafka.pid"
LOG="$STATE/kafka.log"

say() { printf '[kafka] %s\n' "$*"; }
die() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

running() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install() {
  [[ -f "$LIBS/.complete" ]] && return 0
  command -v java >/dev/null || die "java not found; run scripts/system-deps.sh (needs Java 17+)"
  command -v mvn >/dev/null || die "mvn not found; run scripts/system-deps.sh"
  say "resolving Kafka $VERSION jars from Maven Central into $LIBS (once)"
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$LIBS" || die "Maven could not resolve the Kafka jars"
  touch "$LIBS/.complete"
}

write_config() {
  mkdir -p "$STATE/data"
  cat >"$STATE/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STATE/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
}

JAVA=(java "-Xms$HEAP" "-Xmx$HEAP" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$ROOT/scripts/kafka/log4j2.properties" -cp "$LIBS/*")

start() {
  if running; then say "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; return 0; fi
  rm -f "$PIDFILE"
  port_open "$PORT" && die "port $PORT is taken by another process; set MA_KAFKA_PORT"
  install
  write_config
  if [[ ! -f "$STATE/data/meta.properties" ]]; then
    local id; id="$("${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    "${JAVA[@]}" kafka.tools.StorageTool format -t "$id" -c "$STATE/server.properties" \
      --ignore-formatted >>"$LOG" 2>&1 || die "formatting storage failed; see $LOG"
  fi
  say "starting on 127.0.0.1:$PORT (log: $LOG)"
  setsid nohup "${JAVA[@]}" kafka.Kafka "$STATE/server.properties" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 240); do
    if ! running; then tail -n 40 "$LOG" >&2; die "the broker exited during start-up"; fi
    if port_open "$PORT" && grep -q "Kafka Server started" "$LOG"; then
      say "ready (pid $(cat "$PIDFILE"))"; return 0
    fi
    sleep 0.5
  done
  tail -n 40 "$LOG" >&2
  die "not ready after 120 s"
}

stop() {
  running || { rm -f "$PIDFILE"; return 0; }
  local pid; pid="$(cat "$PIDFILE")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "did not stop in 60 s; killing"; kill -KILL "$pid" || true; fi
  rm -f "$PIDFILE"
  say "stopped"
}

status() {
  if running; then say "running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; else say "stopped"; return 1; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
