#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) for
# development and tests, run from Maven Central jars: no Docker, no download
# of a Kafka distribution. See README.md beside this file.
#
#   kafka.sh install            fetch the pinned Kafka jars into .cache/lib (once per pom.xml)
#   kafka.sh start [--fresh]    start the broker in the background, wait until it answers
#   kafka.sh stop               SIGTERM (controlled shutdown), SIGKILL after KAFKA_STOP_TIMEOUT
#   kafka.sh status             exit 0 when the local broker is running and answering
#   kafka.sh logs [N]           last N (default 100) lines of the broker log
#
# On success `start` prints exactly one line on stdout, e.g.
#   KAFKA_BROKERS=127.0.0.1:9092
# (all other messages go to stderr), so `export "$(tools/kafka/kafka.sh start)"` works.
# With KAFKA_OWNER_PID set, the broker is stopped once that process is gone (the tests set it).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
POM="$SCRIPT_DIR/pom.xml"
CACHE_DIR="$SCRIPT_DIR/.cache"
LIB_DIR="$CACHE_DIR/lib"
STAMP="$LIB_DIR/.installed"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_NUM_PARTITIONS="${KAFKA_NUM_PARTITIONS:-3}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
# Small-machine JVM: serial GC (no GC threads competing for 2 cores) and C1 only
# (much less JIT CPU at startup; plenty fast for a dev/test broker).
KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_LOG_LEVEL="${KAFKA_LOG_LEVEL:-WARN}"
KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:-}"

DATA_DIR="${KAFKA_DATA_DIR:-$CACHE_DIR/data-$KAFKA_PORT}"
[[ "$DATA_DIR" == /* ]] || DATA_DIR="$PWD/$DATA_DIR"
DATA_DIR="$(realpath -m -- "$DATA_DIR" 2>/dev/null || printf '%s' "$DATA_DIR")"   # one spelling per dir (pid check)
DATA_MARKER="$DATA_DIR/.kafka-dev-data"   # only directories carrying this are ever wiped
PID_FILE="$DATA_DIR/kafka.pid"
LOG_DIR="$DATA_DIR/logs"
KRAFT_DIR="$DATA_DIR/kraft"               # Kafka log.dirs (metadata log + topic data)
PROPS="$DATA_DIR/server.properties"
LOG4J_PROPS="$DATA_DIR/log4j2.properties"

STORAGE_TOOL_CLASS="kafka.tools.StorageTool"
BROKER_CLASS="kafka.Kafka"

now_ms() { if [[ -n "${EPOCHREALTIME:-}" ]]; then local t="${EPOCHREALTIME/[.,]/}"; echo $((10#${t:0:-3})); else echo $((SECONDS * 1000)); fi; }
say() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for v in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_NUM_PARTITIONS KAFKA_START_TIMEOUT KAFKA_STOP_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

brokers() { printf '127.0.0.1:%s' "$KAFKA_PORT"; }
kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1; }

# ---------------------------------------------------------------- prerequisites

JAVA=""
java_ok() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA="$(command -v java)"
  else
    return 1
  fi
  local v major
  v="$("$JAVA" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n1)" || true
  major="${v%%.*}"
  [[ "$major" == 1 ]] && major="$(cut -d. -f2 <<<"$v")"   # 1.8.0_x -> 8
  major="${major%%[!0-9]*}"
  [[ -n "$major" ]] && (( major >= 17 ))
}

# require_tools [mvn]: Java 17+ always, Maven only when jars must be fetched.
require_tools() {
  local missing=() note=""
  if ! java_ok; then
    missing+=("Java 17+")
    [[ -n "$JAVA" ]] && note=" ($JAVA is: $("$JAVA" -version 2>&1 | head -n1))"
  fi
  if [[ "${1:-}" == mvn ]] && ! command -v mvn >/dev/null 2>&1; then missing+=("Maven (mvn)"); fi
  if (( ${#missing[@]} )); then
    local what="${missing[0]}"
    (( ${#missing[@]} > 1 )) && what="${missing[0]} and ${missing[1]}"
    die "cannot run a local Kafka broker: $what not found$note. Install Java 17+ and Maven (e.g. apt-get install openjdk-17-jre-headless maven), or set KAFKA_BROKERS=host:port to use an existing Kafka cluster, or start Kafka with 'docker compose up'."
  fi
}

# Serialise concurrent invocations (parallel test runners) on a lock file, if flock exists.
with_lock() { # with_lock FILE
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  flock -w 180 9 || die "timed out waiting for lock $1"
}

# -------------------------------------------------------------------- install

data_lock() { printf '%s/locks/data-%s.lock' "$CACHE_DIR" "$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-16)"; }
pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }
installed() { [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_hash)" ]]; }

cmd_install() {
  if installed; then require_tools; return 0; fi
  require_tools mvn
  with_lock "$CACHE_DIR/install.lock"
  installed && return 0
  local tmp="$CACHE_DIR/lib.tmp.$$"
  rm -rf "$tmp"
  say "fetching Apache Kafka $(kafka_version) jars with Maven into $LIB_DIR ..."
  # (sed: Debian's mvn prints stray ANSI resets even with -q -B)
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
    rm -rf "$tmp"
    die "Maven could not fetch the Kafka jars (see the output above)"
  fi
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  pom_hash >"$STAMP"
  say "installed Kafka $(kafka_version) ($(find "$LIB_DIR" -name '*.jar' | wc -l) jars)"
}

# ------------------------------------------------------------- process checks

read_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' <"$PID_FILE" || true; }

# Is $1 a live broker JVM started from this data dir (guards against pid reuse)?
is_our_broker() {
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    local cmd; cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
    [[ "$cmd" == *"$BROKER_CLASS"* && "$cmd" == *"$PROPS"* ]] || return 1
  fi
  return 0
}

running_pid() { local pid; pid="$(read_pid)"; is_our_broker "$pid" && echo "$pid"; }

tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# Real Kafka-protocol check: send an ApiVersions v0 request (correlation id
# 0x00004b53, client id "kafka.sh") and expect a response carrying that id.
kafka_answers() {
  local out
  out="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x4b\x53\x00\x08kafka.sh" >&3
    head -c 10 <&3 | od -An -v -tx1' _ "$1" 2>/dev/null)" || return 1
  out="${out//[[:space:]]/}"
  [[ "${out:8:8}" == 00004b53 ]]
}

show_log_tail() {
  local f
  for f in "$LOG_DIR/console.log" "$LOG_DIR/server.log"; do
    [[ -s "$f" ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n "${1:-40}" "$f" >&2
  done
}

# ---------------------------------------------------------------- config files

write_configs() {
  local cfg
  {
    cat <<EOF
# Generated by tools/kafka/kafka.sh on every start; edits are overwritten.
# Single-node KRaft dev/test broker: broker and controller in one process.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KRAFT_DIR

# Topics: the apps create their own topics (admin.createTopics), so a typo'd
# topic name fails loudly instead of silently creating a new topic.
auto.create.topics.enable=false
num.partitions=$KAFKA_NUM_PARTITIONS
default.replication.factor=1
min.insync.replicas=1

# Internal topics on a single node: replication factor 1, few partitions
# (fast first consumer-group join / first transaction).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1

# Tests: no 3 s wait before the first rebalance of a new consumer group.
group.initial.rebalance.delay.ms=0

# Small machine: few threads.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1

# A week, as docker-compose.yml keeps it: a first send's job lives only in its channel's topic (its
# delivery has no retry time until its first outcome), so jobs left unconsumed when npm start was
# stopped must still be there when it is started again the next day.
log.retention.hours=168
log.segment.bytes=67108864
EOF
    if [[ -n "$KAFKA_EXTRA_CONFIG" ]]; then
      echo "# From KAFKA_EXTRA_CONFIG (later lines win)"
      for cfg in $KAFKA_EXTRA_CONFIG; do printf '%s\n' "$cfg"; done
    fi
  } >"$PROPS"

  cat >"$LOG4J_PROPS" <<EOF
# Generated by tools/kafka/kafka.sh. Level: KAFKA_LOG_LEVEL (default WARN).
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $LOG_DIR/server.log
appender.file.filePattern = $LOG_DIR/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = $KAFKA_LOG_LEVEL
rootLogger.appenderRef.file.ref = FILE
# Keep the start/stop milestones ("Kafka Server started", shutdown) at INFO.
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
logger.kafka.name = kafka.Kafka\$
logger.kafka.level = INFO
EOF
}

# java_cmd MAIN_CLASS ARGS... : sets JAVA_CMD to the full JVM command line.
JAVA_CMD=()
java_cmd() {
  local opts=()
  # shellcheck disable=SC2206  # word splitting of the option strings is intended
  opts=($KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS)
  JAVA_CMD=("$JAVA" "${opts[@]}" -Dlog4j2.configurationFile="$LOG4J_PROPS" -Dkafka.logs.dir="$LOG_DIR"
            -cp "$LIB_DIR/*" "$@")
}

# --------------------------------------------------------------------- start

wipe_data_dir() {
  [[ -d "$DATA_DIR" ]] || return 0
  if [[ ! -f "$DATA_MARKER" ]] && [[ -n "$(ls -A "$DATA_DIR")" ]]; then
    die "refusing to wipe $DATA_DIR: it is not empty and was not created by kafka.sh (no $(basename "$DATA_MARKER"))"
  fi
  say "wiping $DATA_DIR"
  rm -rf "$DATA_DIR"
}

new_cluster_id() { # Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" == -* ]] || { echo "$id"; return; }
  done
}

cmd_start() {
  local fresh="${KAFKA_FRESH:-0}" arg
  for arg in "$@"; do
    case "$arg" in
      --fresh) fresh=1 ;;
      *) die "start: unknown option '$arg'" ;;
    esac
  done

  if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    say "KAFKA_BROKERS is set: using the existing Kafka cluster at $KAFKA_BROKERS; not starting a local broker"
    echo "KAFKA_BROKERS=$KAFKA_BROKERS"
    return 0
  fi

  cmd_install
  with_lock "$(data_lock)"

  local pid
  pid="$(running_pid || true)"
  if [[ -n "$pid" ]]; then
    if [[ "$fresh" == 1 ]]; then
      say "--fresh: stopping the running broker (pid $pid) first"
      stop_pid "$pid"
    else
      say "a broker from $DATA_DIR is already running (pid $pid)"
      echo "KAFKA_BROKERS=$(brokers)"
      return 0
    fi
  fi
  rm -f "$PID_FILE"
  [[ "$fresh" == 1 ]] && wipe_data_dir

  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if tcp_open "$p"; then
      if [[ "$p" == "$KAFKA_PORT" ]] && kafka_answers "$p"; then
        die "port $p is already used by another Kafka broker (not started from $DATA_DIR). Stop it, use KAFKA_BROKERS=127.0.0.1:$p to use it, or pick another KAFKA_PORT."
      fi
      die "port $p is already in use by another process; set KAFKA_PORT / KAFKA_CONTROLLER_PORT to free ports"
    fi
  done

  if [[ -d "$DATA_DIR" && ! -f "$DATA_MARKER" && -n "$(ls -A "$DATA_DIR")" ]]; then
    die "refusing to use $DATA_DIR as KAFKA_DATA_DIR: it is not empty and was not created by kafka.sh"
  fi
  mkdir -p "$DATA_DIR"
  : >"$DATA_MARKER"
  mkdir -p "$LOG_DIR" "$KRAFT_DIR"
  write_configs
  : >"$LOG_DIR/console.log"
  printf '===== kafka.sh start %s (Kafka %s, port %s) =====\n' "$(date '+%F %T')" "$(kafka_version)" "$KAFKA_PORT" >>"$LOG_DIR/server.log"

  if [[ ! -f "$KRAFT_DIR/meta.properties" ]]; then
    local cid; cid="$(new_cluster_id)"
    say "formatting $KRAFT_DIR (cluster id $cid)"
    java_cmd "$STORAGE_TOOL_CLASS" format -t "$cid" -c "$PROPS"
    if ! "${JAVA_CMD[@]}" >>"$LOG_DIR/console.log" 2>&1 </dev/null 9>&-; then
      show_log_tail
      die "formatting the KRaft storage failed"
    fi
  fi

  say "starting Kafka $(kafka_version) on $(brokers) (data: $DATA_DIR)"
  local launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  # The child writes its own pid (then execs java), so the pid file is the JVM's.
  java_cmd "$BROKER_CLASS" "$PROPS"
  "${launcher[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" "${JAVA_CMD[@]}" \
    </dev/null >>"$LOG_DIR/console.log" 2>&1 9>&- &

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) t0; t0="$(now_ms)"
  pid=""
  while :; do
    [[ -n "$pid" ]] || pid="$(read_pid)"
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail
      rm -f "$PID_FILE"
      die "the broker process exited during startup (logs above, full logs in $LOG_DIR)"
    fi
    if [[ -n "$pid" ]] && kafka_answers "$KAFKA_PORT"; then break; fi
    if (( SECONDS >= deadline )); then
      show_log_tail
      [[ -n "$pid" ]] && stop_pid "$pid" >/dev/null 2>&1 || true
      die "the broker did not answer on $(brokers) within ${KAFKA_START_TIMEOUT}s (logs above, full logs in $LOG_DIR)"
    fi
    sleep 0.3
  done
  local ms=$(( $(now_ms) - t0 ))
  say "Kafka is ready (pid $pid, answered after $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s)"
  [[ -n "${KAFKA_OWNER_PID:-}" ]] && watch_owner "$KAFKA_OWNER_PID" "$pid"
  echo "KAFKA_BROKERS=$(brokers)"
}

# Stops the broker once the process that owns it (KAFKA_OWNER_PID: a test run) is gone, however it
# ended: an interrupted or killed `npm test` never runs its teardown, and its broker ran on for good.
watch_owner() {
  local owner="$1" broker="$2" launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  "${launcher[@]}" bash -c '
    while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 2; done
    if kill -0 "$2" 2>/dev/null; then
      kill -TERM "$2" 2>/dev/null
      for _ in $(seq 1 "$3"); do kill -0 "$2" 2>/dev/null || exit 0; sleep 1; done
      kill -KILL "$2" 2>/dev/null
    fi' _ "$owner" "$broker" "$KAFKA_STOP_TIMEOUT" </dev/null >/dev/null 2>&1 9>&- &
}

# ---------------------------------------------------------------------- stop

stop_pid() {
  local pid="$1" deadline
  say "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "no clean shutdown within ${KAFKA_STOP_TIMEOUT}s: sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
}

cmd_stop() {
  [[ -d "$DATA_DIR" ]] || { say "not running (no $DATA_DIR)"; return 0; }
  with_lock "$(data_lock)"
  local pid; pid="$(running_pid || true)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  stop_pid "$pid"
  say "stopped"
}

cmd_status() {
  local pid; pid="$(running_pid || true)"
  if [[ -z "$pid" ]]; then
    say "not running (data dir $DATA_DIR)"
    return 1
  fi
  if kafka_answers "$KAFKA_PORT"; then
    say "running (pid $pid, data dir $DATA_DIR)"
    echo "KAFKA_BROKERS=$(brokers)"
    return 0
  fi
  say "process $pid is alive but the broker does not answer on $(brokers) (starting up or stuck?)"
  return 1
}

cmd_logs() {
  local n="${1:-100}"
  [[ -f "$LOG_DIR/server.log" ]] || die "no log yet at $LOG_DIR/server.log"
  tail -n "$n" "$LOG_DIR/server.log"
}

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  start)   shift; cmd_start "$@" ;;
  stop)    shift; cmd_stop "$@" ;;
  status)  shift; cmd_status "$@" ;;
  logs)    shift; cmd_logs "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
