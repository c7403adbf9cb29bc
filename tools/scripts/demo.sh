#!/usr/bin/env bash
# The demo: set up, build, start a real Kafka 0.9.0.1 broker on 127.0.0.1, drive it with 1,000
# simulated producer clients and 20 consumers checking every record (--verify) from one
# wirestress process, print the report, stop the broker.
# Extra arguments go to wirestress (e.g. tools/scripts/demo.sh --clients=5000 --duration=30s).
set -euo pipefail
cd "$(dirname "$0")/../.."

tools/scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target wirestress

dir=$(mktemp -d /tmp/wirestress-demo.XXXXXX)
trap 'tools/scripts/kafka09.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
echo "demo: starting Kafka 0.9.0.1 on 127.0.0.1:29092 (data in $dir)"
bootstrap=$(tools/scripts/kafka09.sh start "$dir" 29092 | tail -n 1)

echo "demo: 1,000 producer clients, 5,000 msg/s in total, acks=1, and 20 consumers reading it all"
echo "demo: with --verify: 5 s warm-up, then 15 s measured"
echo "demo: (Kafka 0.9 ignores ApiVersions: after 3 s wirestress falls back to the 0.9 protocol)"
build/tools/wirestress --bootstrap="$bootstrap" --topic=demo --clients=1000 --rate=5000 \
  --consumers=20 --verify --acks=1 --warmup=5s --duration=15s --message-size=100 \
  --json="$dir/result.json" "$@"
echo "demo: JSON result in $dir/result.json"
