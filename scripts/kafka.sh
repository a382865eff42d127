#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker+controller) from Maven
# Central jars, without Docker or a tarball: `kafka.sh install|start|stop|status`.
#   MA_STATE_DIR              state root (default <repo>/.state); data, config, log
#                             and pid file in $MA_STATE_DIR/kafka (survive stop/start)
#   MA_CACHE_DIR              jar cache (default ${XDG_CACHE_HOME:-~/.cache}/media-analysis)
#   MA_KAFKA_PORT             client listener on 127.0.0.1 (default 9092)
#   MA_KAFKA_CONTROLLER_PORT  controller listener on 127.0.0.1 (default 9093)
#   MA_KAFKA_HEAP             JVM heap (default 512m)
#   MA_KAFKA_PROPERTIES       extra broker properties, space-separated key=value
#                             (added after ours, so they win; for experiments)
#   MA_KAFKA_JVM_OPTIONS      extra JVM options, space-separated (for experiments)
#   MA_KAFKA_START_TIMEOUT    seconds to wait for the broker to be ready (default 120)
#   MA_KAFKA_VERSION          Kafka version (default: <kafka.version> of scripts/kafka/pom.xml)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_ROOT="$(realpath -m "${MA_STATE_DIR:-$ROOT/.state}")"
STATE="$STATE_ROOT/kafka"
CACHE="$(realpath -m "${MA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/media-analysis}")"
PORT="${MA_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${MA_KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${MA_KAFKA_HEAP:-512m}"
START_TIMEOUT="${MA_KAFKA_START_TIMEOUT:-120}"
POM="$ROOT/scripts/kafka/pom.xml"
LOG4J="$ROOT/scripts/kafka/log4j2.properties"
VERSION="${MA_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1)}"
LIBS="$CACHE/kafka-$VERSION/libs"
MARKER="$LIBS/.complete"   # holds the sha256 of the pom (and version) the jars came from
PIDFILE="$STATE/kafka.pid"
LOG="$STATE/kafka.log"
CONFIG="$STATE/server.properties"

say() { printf '[kafka] %s\n' "$*"; }
die() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

[[ "$VERSION" =~ ^[0-9A-Za-z.+-]+$ ]] || die "no usable Kafka version (MA_KAFKA_VERSION or <kafka.version> in $POM)"
for n in "$PORT" "$CONTROLLER_PORT" "$START_TIMEOUT"; do [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: $n"; done
[[ "$PORT" != "$CONTROLLER_PORT" ]] || die "MA_KAFKA_PORT and MA_KAFKA_CONTROLLER_PORT must differ"

# The broker of THIS state dir: the pid is alive, is a JVM, and runs kafka.Kafka
# on our server.properties (a recycled pid or another checkout's broker is not ours).
running() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */java ]] || return 1
  grep -qF "kafka.Kafka $CONFIG" < <(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Start-up failed: show the log's end, and explain the commonest cause.
RUN_FROM=1   # byte offset where this start's part of the log begins
fail() {
  tail -n 40 "$LOG" >&2
  if grep -q "Address already in use" < <(tail -c "+$RUN_FROM" "$LOG"); then
    say "a port is in use; a client connection's ephemeral port can hold it too" \
      "(range $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)): pick ports outside it" >&2
  fi
  die "$1"
}

check_java() {
  command -v java >/dev/null 2>&1 || die "java not found; Kafka $VERSION needs Java 17+ (run scripts/system-deps.sh)"
  local v
  v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
  [[ -n "$v" && "$v" -ge 17 ]] || die "Kafka $VERSION needs Java 17+, found: $(java -version 2>&1 | head -n 1)"
}

pom_hash() { { cat "$POM"; echo "$VERSION"; } | sha256sum | cut -d' ' -f1; }

install() {
  local want; want="$(pom_hash)"
  # An empty marker was written by this script's first version, from the same pom.
  if [[ -f "$MARKER" ]] && { [[ ! -s "$MARKER" ]] || [[ "$(cat "$MARKER")" == "$want" ]]; }; then
    return 0
  fi
  check_java
  command -v mvn >/dev/null 2>&1 || die "mvn (Maven) not found; run scripts/system-deps.sh"
  mkdir -p "$CACHE/kafka-$VERSION"
  # Several checkouts may share the cache: one resolves, the others wait for it.
  exec 8>"$CACHE/kafka-$VERSION/.install.lock"
  flock -w 600 8 || die "timed out waiting for another install into $CACHE/kafka-$VERSION"
  if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" ]]; then exec 8>&-; return 0; fi
  say "resolving Kafka $VERSION and its runtime jars from Maven Central into $LIBS"
  local tmp; tmp="$(mktemp -d "$CACHE/kafka-$VERSION/libs.tmp.XXXXXX")"
  chmod 755 "$tmp"
  if ! mvn -B -Dstyle.color=never -f "$POM" -Dkafka.version="$VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
    grep -E '^\[(ERROR|WARN)' "$tmp.mvn.log" | tail -n 20 >&2
    rm -rf "$tmp"; die "Maven could not resolve the Kafka jars (is Maven Central reachable?); full output: $tmp.mvn.log"
  fi
  rm -f "$tmp.mvn.log"
  compgen -G "$tmp/kafka_2.13-$VERSION.jar" >/dev/null || { rm -rf "$tmp"; die "kafka_2.13-$VERSION.jar missing after resolution"; }
  # Without an slf4j binding for the API version Kafka uses, the broker logs
  # nothing, and start would never see "Kafka Server started".
  local api binding
  api="$(find "$tmp" -name 'slf4j-api-*.jar' -printf '%f\n' | sed -n 's/^slf4j-api-\([0-9]*\)\..*/\1/p' | head -n 1)"
  if [[ "$api" == 1 ]]; then binding=log4j-slf4j-impl; else binding=log4j-slf4j2-impl; fi
  if ! compgen -G "$tmp/$binding-*.jar" >/dev/null; then
    rm -rf "$tmp"; die "Kafka $VERSION uses the slf4j ${api:-?} API: $POM must depend on $binding"
  fi
  printf '%s\n' "$want" >"$tmp/.complete"
  # Swap the finished directory in, so no one ever sees a half-filled one.
  if [[ -d "$LIBS" ]]; then mv "$LIBS" "$tmp.old"; fi
  mv "$tmp" "$LIBS"
  rm -rf "$tmp.old"
  exec 8>&-
  say "installed $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

write_config() {
  mkdir -p "$STATE/data"
  cat >"$CONFIG" <<PROPS
# Written by scripts/kafka.sh on every start; edits here are overwritten.
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
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  local extra
  for extra in ${MA_KAFKA_PROPERTIES:-}; do
    [[ "$extra" == *=* ]] || die "MA_KAFKA_PROPERTIES: not key=value: $extra"
    printf '%s\n' "$extra" >>"$CONFIG"
  done
}

JVM=()
jvm_cmd() {  # jvm_cmd HEAP : sets JVM to a java command line on the resolved classpath
  # shellcheck disable=SC2206  # MA_KAFKA_JVM_OPTIONS: words, on purpose
  JVM=(java "-Xms$1" "-Xmx$1" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    ${MA_KAFKA_JVM_OPTIONS:-} -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J" -cp "$LIBS/*")
}

format_storage() {
  [[ -f "$STATE/data/meta.properties" ]] && return 0
  local id
  jvm_cmd 256m
  id="$("${JVM[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG" | tail -n 1)"
  [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave no cluster id; see $LOG"
  say "formatting storage in $STATE/data (cluster id $id)"
  "${JVM[@]}" kafka.tools.StorageTool format -t "$id" -c "$CONFIG" --ignore-formatted >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG" >&2; die "formatting storage failed; see $LOG"; }
}

start() {
  mkdir -p "$STATE"
  if running; then say "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"; return 0; fi
  if [[ -f "$PIDFILE" ]]; then say "removing stale pid file"; rm -f "$PIDFILE"; fi
  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$p"; then die "127.0.0.1:$p is taken by another process; set MA_KAFKA_PORT / MA_KAFKA_CONTROLLER_PORT"; fi
  done
  install
  check_java
  # Every start appends ~150 kB; keep one older log past 20 MB.
  if [[ -f "$LOG" ]] && (( $(stat -c %s "$LOG") > 20 * 1024 * 1024 )); then mv -f "$LOG" "$LOG.1"; fi
  write_config
  format_storage
  local t0=$SECONDS
  RUN_FROM=$(( $(stat -c %s "$LOG" 2>/dev/null || echo 0) + 1 ))
  say "starting Kafka $VERSION on 127.0.0.1:$PORT (log: $LOG)"
  # Detached: own session, stdin from /dev/null, output to the log. The child
  # writes its own pid, then becomes the JVM, so the pid file names the broker.
  jvm_cmd "$HEAP"
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "${JVM[@]}" kafka.Kafka "$CONFIG" \
    >>"$LOG" 2>&1 </dev/null &
  local launcher=$! pid="" orphan=0
  for _ in $(seq 1 $((START_TIMEOUT * 2))); do
    if [[ -z "$pid" && -s "$PIDFILE" ]]; then pid="$(cat "$PIDFILE")"; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"; fail "the broker exited during start-up (log: $LOG)"
    fi
    if [[ -z "$pid" ]] && ! kill -0 "$launcher" 2>/dev/null && (( ++orphan > 4 )); then
      fail "the broker could not be launched (log: $LOG)"
    fi
    # (grep -q reads a process substitution: in a pipe, pipefail would turn
    # tail's SIGPIPE after an early match into a failure.)
    if [[ -n "$pid" ]] && grep -q "Kafka Server started" < <(tail -c "+$RUN_FROM" "$LOG") && port_open "$PORT"; then
      say "ready in $((SECONDS - t0)) s (pid $pid)"; return 0
    fi
    sleep 0.5
  done
  fail "not ready after $START_TIMEOUT s (MA_KAFKA_START_TIMEOUT); it is still running (pid ${pid:-?}): scripts/kafka.sh stop"
}

stop() {
  if ! running; then
    if [[ -f "$PIDFILE" ]]; then rm -f "$PIDFILE"; fi
    say "not running"; return 0
  fi
  local pid; pid="$(cat "$PIDFILE")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after 60 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

status() {
  if running; then say "running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"
  else say "stopped"; return 1; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
