#!/usr/bin/env bash
# Starts/stops ws_mock_cluster in the background for ctest fixtures.
#   mock_cluster_ctl.sh start BINARY DIR   -> DIR/bootstrap holds HOST:PORT
#   mock_cluster_ctl.sh stop DIR
set -euo pipefail
case "$1" in
  start)
    bin=$2 dir=$3
    mkdir -p "$dir"
    rm -f "$dir/bootstrap"
    "$bin" --port-file="$dir/bootstrap" --ignore-stdin >"$dir/mock.log" 2>&1 </dev/null &
    echo $! >"$dir/mock.pid"
    for _ in $(seq 100); do [[ -s "$dir/bootstrap" ]] && break; sleep 0.1; done
    [[ -s "$dir/bootstrap" ]] || { echo "mock cluster did not start"; cat "$dir/mock.log"; exit 1; }
    cat "$dir/bootstrap"
    ;;
  stop)
    dir=$2
    [[ -f "$dir/mock.pid" ]] && kill "$(cat "$dir/mock.pid")" 2>/dev/null || true
    ;;
esac
