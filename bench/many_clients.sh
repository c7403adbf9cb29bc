#!/usr/bin/env bash
# Issue-3 target: N producer clients in one process against a real Kafka 0.9 broker, each sending
# one small request a second. Reports connections, resident memory per client and threads.
# Usage: [WS_BUILD=build] bench/many_clients.sh [CLIENTS] [SECONDS]   (after tools/scripts/setup.sh and a build)
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-10000}
seconds=${2:-30}
dir=$(mktemp -d /tmp/ws-many.XXXXXX)
trap 'tools/scripts/kafka09.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
bootstrap=$(tools/scripts/kafka09.sh start "$dir" 29193 | tail -n 1)
tools/scripts/kafka09.sh create-topic "$dir" many 16 >/dev/null

run() {  # clients -> JSON path
  "${WS_BUILD:-build}"/tools/wirestress --bootstrap="$bootstrap" --topic=many --clients="$1" --rate="$1" \
    --duration="${seconds}s" --acks=1 --message-size=100 --broker-version=0.9 --quiet \
    --json="$dir/run-$1.json" >/dev/null
  echo "$dir/run-$1.json"
}
small=$(run 100)
big=$(run "$clients")
python3 - "$small" "$big" "$clients" <<'PY'
import json, sys
small, big = (json.load(open(p)) for p in sys.argv[1:3])
n = int(sys.argv[3])
c, p = big["connections"], big["process"]
rss_small = small["process"]["peak_rss_kib"]
print(f"clients {n}: established {c['established']}, failed {c['failed']}, reconnects {c['reconnects']}")
print(f"  acked {big['produce']['messages_acked']} of {big['produce']['messages_sent']} sent, "
      f"{big['produce']['throughput_msgs_per_s']:.0f} msg/s, p99 {big['produce']['latency_ms']['p99']} ms")
print(f"  peak RSS {p['peak_rss_kib']/1024:.1f} MiB = {p['peak_rss_kib']/n:.2f} KiB per client; "
      f"above a 100-client run ({rss_small/1024:.1f} MiB): "
      f"{(p['peak_rss_kib']-rss_small)/(n-100):.2f} KiB per extra client")
print(f"  threads {p['threads']} (workers {big['run']['threads']}), cpu {p['cpu_user_s']:.2f}s user "
      f"+ {p['cpu_sys_s']:.2f}s sys over {big['run']['elapsed_s']:.1f}s")
PY
