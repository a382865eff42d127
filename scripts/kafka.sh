#!/usr/bin/env bash
# Apache Kafka (KRaft, combined broker+controller nodes) from Maven Central jars,
# without Docker or a tarball: `kafka.sh install|start|stop|status|bootstrap`.
# One node by default; MA_KAFKA_BROKERS=3 runs three nodes on 127.0.0.1 that form
# the controller quorum together (replication factor 3, min.insync.replicas 2).
#   MA_STATE_DIR              state root (default <repo>/.state); data, config, log
#                             and pid file in $MA_STATE_DIR/kafka, one node-N
#                             directory per node with several (survive stop/start)
#   MA_KAFKA_BROKERS          how many nodes (default: as many as the state dir
#                             holds, else 1); start starts the missing ones, stop
#                             stops every node of this state dir
#   MA_CACHE_DIR              jar cache (default ${XDG_CACHE_HOME:-~/.cache}/media-analysis)
#   MA_KAFKA_PORT             client listener on 127.0.0.1 (default 9092)
#   MA_KAFKA_CONTROLLER_PORT  controller listener on 127.0.0.1 (default 9093)
#   MA_KAFKA_PORTS, MA_KAFKA_CONTROLLER_PORTS  with several nodes: comma lists, one
#                             port a node (default: the two ports above, +2 a node)
#   MA_KAFKA_HEAP             JVM heap (default 512m)
#   MA_KAFKA_PROPERTIES       extra broker properties, space-separated key=value
#                             (added after ours, so they win; for experiments)
#   MA_KAFKA_JVM_OPTIONS      extra JVM options, space-separated (for experiments)
#   MA_KAFKA_SCRAM_USERS      SCRAM credentials written when the storage is first
#                             formatted, space-separated, each as kafka-storage's
#                             --add-scram takes it: SCRAM-SHA-512=[name=u,password=p]
#   MA_KAFKA_START_TIMEOUT    seconds to wait for the nodes to be ready (default 120)
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
# kafka-tools (kafka-metadata-quorum's class) in a directory of its own, so that
# the broker's jars and their marker stay exactly those of $POM.
TOOLS_POM="$ROOT/scripts/kafka/tools-pom.xml"
TOOLS="$CACHE/kafka-$VERSION/tools"
# Unset, the layout found in the state dir: `make status` and `make down` need
# no MA_KAFKA_BROKERS (its ports, though, come from the same variables as before).
NODES="${MA_KAFKA_BROKERS:-$(find "$STATE" -maxdepth 1 -name 'node-*' -type d 2>/dev/null | wc -l || true)}"
[[ "$NODES" != 0 ]] || NODES=1
[[ "$NODES" =~ ^[1-9]$ ]] || { echo "[kafka] error: MA_KAFKA_BROKERS must be 1-9, not $NODES" >&2; exit 1; }

say() { printf '[kafka] %s\n' "$*"; }
die() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

[[ "$VERSION" =~ ^[0-9A-Za-z.+-]+$ ]] || die "no usable Kafka version (MA_KAFKA_VERSION or <kafka.version> in $POM)"
for n in "$PORT" "$CONTROLLER_PORT" "$START_TIMEOUT"; do [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: $n"; done

# Node i (1-based) listens on PORTS[i] and CONTROLLER_PORTS[i]; one node keeps the
# single-broker layout ($STATE itself), several get $STATE/node-i each.
PORTS=(); CONTROLLER_PORTS=()
port_list() {  # port_list LIST BASE : NODES ports, from LIST or BASE + 2 a node
  local -a given=()
  if [[ -n "$1" ]]; then IFS=, read -r -a given <<<"$1"; fi
  if (( ${#given[@]} )); then
    (( ${#given[@]} == NODES )) || die "$1: $NODES ports needed (MA_KAFKA_BROKERS=$NODES)"
    printf '%s\n' "${given[@]}"
  else
    local i; for ((i = 0; i < NODES; i++)); do echo $(($2 + 2 * i)); done
  fi
}
if (( NODES == 1 )); then PORTS=("$PORT"); CONTROLLER_PORTS=("$CONTROLLER_PORT")
else
  mapfile -t PORTS < <(port_list "${MA_KAFKA_PORTS:-}" "$PORT")
  mapfile -t CONTROLLER_PORTS < <(port_list "${MA_KAFKA_CONTROLLER_PORTS:-}" "$CONTROLLER_PORT")
fi
(( ${#PORTS[@]} == NODES && ${#CONTROLLER_PORTS[@]} == NODES )) || die "bad port lists"
for n in "${PORTS[@]}" "${CONTROLLER_PORTS[@]}"; do [[ "$n" =~ ^[0-9]+$ ]] || die "not a port: $n"; done
[[ "$(printf '%s\n' "${PORTS[@]}" "${CONTROLLER_PORTS[@]}" | sort -u | wc -l)" == $((2 * NODES)) ]] \
  || die "every node's client and controller ports must differ (MA_KAFKA_PORT(S), MA_KAFKA_CONTROLLER_PORT(S))"
BOOTSTRAP="$(printf '127.0.0.1:%s,' "${PORTS[@]}")"; BOOTSTRAP="${BOOTSTRAP%,}"
VOTERS=""; for ((i = 0; i < NODES; i++)); do VOTERS+="$((i + 1))@127.0.0.1:${CONTROLLER_PORTS[i]},"; done
VOTERS="${VOTERS%,}"
# Replication: 3 copies with 2 in sync for an acknowledgement on three or more
# nodes; unclean leader election stays off, so an out-of-sync copy never leads.
RF=$(( NODES >= 3 ? 3 : NODES ))
MIN_ISR=$(( RF >= 3 ? 2 : 1 ))

NODE=1; NODE_DIR=""; PIDFILE=""; LOG=""; CONFIG=""
node() {  # node single|I : point NODE, NODE_DIR, PIDFILE, LOG and CONFIG at that node
  if [[ "$1" == single ]]; then NODE=1; NODE_DIR="$STATE"; else NODE="$1"; NODE_DIR="$STATE/node-$1"; fi
  PIDFILE="$NODE_DIR/kafka.pid"; LOG="$NODE_DIR/kafka.log"; CONFIG="$NODE_DIR/server.properties"
}
name_of() { if (( NODES == 1 )); then echo single; else echo "$1"; fi; }
node "$(name_of 1)"

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
  local port="${PORTS[NODE - 1]}" cport="${CONTROLLER_PORTS[NODE - 1]}"
  mkdir -p "$NODE_DIR/data"
  cat >"$CONFIG" <<PROPS
# Written by scripts/kafka.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=$NODE
controller.quorum.voters=$VOTERS
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$NODE_DIR/data
num.partitions=1
default.replication.factor=$RF
min.insync.replicas=$MIN_ISR
unclean.leader.election.enable=false
auto.create.topics.enable=false
offsets.topic.replication.factor=$RF
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$RF
transaction.state.log.min.isr=$MIN_ISR
share.coordinator.state.topic.replication.factor=$RF
share.coordinator.state.topic.min.isr=$MIN_ISR
group.initial.rebalance.delay.ms=0
PROPS
  if (( NODES > 1 )); then
    # A killed node is fenced (its partitions get new leaders, it leaves their
    # ISRs) after the session timeout: 9 s by default, 3 s here.
    cat >>"$CONFIG" <<PROPS
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
replica.lag.time.max.ms=10000
PROPS
  fi
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

cluster_id() {  # one id for all nodes of this state dir, made once
  local file="$STATE/cluster.id" id
  if [[ -s "$file" ]]; then cat "$file"; return; fi
  jvm_cmd 256m
  id="$("${JVM[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG" | tail -n 1)"
  [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave no cluster id; see $LOG"
  (( NODES == 1 )) || printf '%s\n' "$id" >"$file"
  printf '%s\n' "$id"
}

format_storage() {
  [[ -f "$NODE_DIR/data/meta.properties" ]] && return 0
  local id
  id="$(cluster_id)" || exit 1
  jvm_cmd 256m
  local scram=() users user
  read -r -a users <<<"${MA_KAFKA_SCRAM_USERS:-}"  # no globbing of the [...]
  for user in "${users[@]}"; do scram+=(--add-scram "$user"); done
  say "formatting storage in $NODE_DIR/data (cluster id $id)"
  "${JVM[@]}" kafka.tools.StorageTool format -t "$id" -c "$CONFIG" --ignore-formatted "${scram[@]}" >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG" >&2; die "formatting storage failed; see $LOG"; }
}

launch() {  # launch node NODE in the background; sets LAUNCHED_FROM[NODE]
  if [[ -f "$PIDFILE" ]]; then say "node $NODE: removing stale pid file"; rm -f "$PIDFILE"; fi
  local p
  for p in "${PORTS[NODE - 1]}" "${CONTROLLER_PORTS[NODE - 1]}"; do
    if port_open "$p"; then die "127.0.0.1:$p is taken by another process; set MA_KAFKA_PORT(S) / MA_KAFKA_CONTROLLER_PORT(S)"; fi
  done
  # Every start appends ~150 kB; keep one older log past 20 MB.
  if [[ -f "$LOG" ]] && (( $(stat -c %s "$LOG") > 20 * 1024 * 1024 )); then mv -f "$LOG" "$LOG.1"; fi
  write_config
  format_storage
  LAUNCHED_FROM[$NODE]=$(( $(stat -c %s "$LOG" 2>/dev/null || echo 0) + 1 ))
  say "starting Kafka $VERSION node $NODE on 127.0.0.1:${PORTS[NODE - 1]} (log: $LOG)"
  # Detached: own session, stdin from /dev/null, output to the log. The child
  # writes its own pid, then becomes the JVM, so the pid file names the broker.
  jvm_cmd "$HEAP"
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "${JVM[@]}" kafka.Kafka "$CONFIG" \
    >>"$LOG" 2>&1 </dev/null &
  LAUNCHERS[$NODE]=$!
}

start() {
  mkdir -p "$STATE"
  local -a todo=() ; local i
  declare -gA LAUNCHED_FROM=() LAUNCHERS=()
  for ((i = 1; i <= NODES; i++)); do
    node "$(name_of "$i")"
    if running; then say "node $i already running (pid $(cat "$PIDFILE")) on 127.0.0.1:${PORTS[i - 1]}"
    else todo+=("$i"); fi
  done
  (( ${#todo[@]} )) || return 0
  install
  check_java
  # All missing nodes at once: a node of a quorum is ready only once a majority runs.
  for i in "${todo[@]}"; do node "$(name_of "$i")"; launch; done
  local t0=$SECONDS pid orphan
  declare -A pids=() orphans=() ready=()
  for _ in $(seq 1 $((START_TIMEOUT * 2))); do
    for i in "${todo[@]}"; do
      [[ -n "${ready[$i]:-}" ]] && continue
      node "$(name_of "$i")"; RUN_FROM="${LAUNCHED_FROM[$i]}"
      pid="${pids[$i]:-}"
      if [[ -z "$pid" && -s "$PIDFILE" ]]; then pid="$(cat "$PIDFILE")"; pids[$i]="$pid"; fi
      if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$PIDFILE"; fail "node $i exited during start-up (log: $LOG)"
      fi
      if [[ -z "$pid" ]] && ! kill -0 "${LAUNCHERS[$i]}" 2>/dev/null; then
        orphan=$(( ${orphans[$i]:-0} + 1 )); orphans[$i]=$orphan
        (( orphan > 4 )) && fail "node $i could not be launched (log: $LOG)"
      fi
      # (grep -q reads a process substitution: in a pipe, pipefail would turn
      # tail's SIGPIPE after an early match into a failure.)
      if [[ -n "$pid" ]] && grep -q "Kafka Server started" < <(tail -c "+$RUN_FROM" "$LOG") \
          && port_open "${PORTS[i - 1]}"; then
        say "node $i ready in $((SECONDS - t0)) s (pid $pid)"; ready[$i]=1
      fi
    done
    (( ${#ready[@]} == ${#todo[@]} )) && return 0
    sleep 0.5
  done
  fail "not ready after $START_TIMEOUT s (MA_KAFKA_START_TIMEOUT); still running: scripts/kafka.sh stop"
}

# Every node this state dir holds, whatever MA_KAFKA_BROKERS says now: the
# single-node layout and each node-N directory.
all_nodes() {
  [[ -f "$STATE/server.properties" || -f "$STATE/kafka.pid" ]] && echo single
  local d
  for d in "$STATE"/node-*/; do [[ -d "$d" ]] && basename "$d" | sed 's/^node-//'; done
  return 0
}

stop() {
  local -a mine=() ; local i pid
  for i in $(all_nodes); do
    node "$i"
    if running; then mine+=("$(cat "$PIDFILE")"); else rm -f "$PIDFILE"; fi
  done
  if (( ${#mine[@]} == 0 )); then say "not running"; return 0; fi
  for pid in "${mine[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 120); do
    local left=0
    for pid in "${mine[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    (( left )) || break
    sleep 0.5
  done
  for pid in "${mine[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid still running after 60 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${mine[@]}"; do
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  done
  for i in $(all_nodes); do node "$i"; rm -f "$PIDFILE"; done
  say "stopped ${#mine[@]} node(s)"
}

install_tools() {  # kafka-tools, for kafka-metadata-quorum; once per version
  local want; want="$({ cat "$TOOLS_POM"; echo "$VERSION"; } | sha256sum | cut -d' ' -f1)"
  if [[ -f "$TOOLS/.complete" && "$(cat "$TOOLS/.complete")" == "$want" ]]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || die "mvn (Maven) not found; run scripts/system-deps.sh"
  mkdir -p "$CACHE/kafka-$VERSION"
  exec 8>"$CACHE/kafka-$VERSION/.tools.lock"
  flock -w 600 8 || die "timed out waiting for another install into $TOOLS"
  if [[ -f "$TOOLS/.complete" && "$(cat "$TOOLS/.complete")" == "$want" ]]; then exec 8>&-; return 0; fi
  local tmp; tmp="$(mktemp -d "$CACHE/kafka-$VERSION/tools.tmp.XXXXXX")"
  chmod 755 "$tmp"
  # Only the kafka-tools jar: what it needs at run time is among the broker's jars.
  if ! mvn -B -Dstyle.color=never -f "$TOOLS_POM" -Dkafka.version="$VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DexcludeTransitive=true \
      -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
    grep -E '^\[(ERROR|WARN)' "$tmp.mvn.log" | tail -n 20 >&2
    rm -rf "$tmp"; die "Maven could not resolve kafka-tools; full output: $tmp.mvn.log"
  fi
  rm -f "$tmp.mvn.log"
  printf '%s\n' "$want" >"$tmp/.complete"
  if [[ -d "$TOOLS" ]]; then mv "$TOOLS" "$tmp.old"; fi
  mv "$tmp" "$TOOLS"
  rm -rf "$tmp.old"
  exec 8>&-
}

quorum() {  # kafka-metadata-quorum describe --status, through the controllers
  install >/dev/null && install_tools || return 1
  local controllers; controllers="$(printf '127.0.0.1:%s,' "${CONTROLLER_PORTS[@]}")"
  timeout 180 java -Xmx128m -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*:$TOOLS/*" \
    org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-controller "${controllers%,}" \
    describe --status 2>/dev/null
}

status() {
  local i up=0
  for ((i = 1; i <= NODES; i++)); do
    node "$(name_of "$i")"
    if running; then
      say "node $i: running (pid $(cat "$PIDFILE")) on 127.0.0.1:${PORTS[i - 1]}, controller ${CONTROLLER_PORTS[i - 1]}"
      up=$((up + 1))
    else say "node $i: stopped (127.0.0.1:${PORTS[i - 1]})"; fi
  done
  (( up )) || return 1
  if (( NODES > 1 )); then
    local out leader
    if out="$(quorum)"; then
      leader="$(sed -n 's/^LeaderId:[[:space:]]*//p' <<<"$out")"
      say "quorum leader (active controller): node ${leader:-?}"
    else
      say "quorum leader: unknown (no majority of controllers answers)"
    fi
  fi
  (( up == NODES ))
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  *) echo "usage: $0 install|start|stop|status|bootstrap" >&2; exit 2 ;;
esac
