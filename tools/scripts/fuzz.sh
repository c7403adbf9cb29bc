#!/usr/bin/env bash
# Runs every libFuzzer target longer than the ctest smoke does (default 300 s each), starting from
# the checked-in seeds (real broker frames, see tools/scripts/make_fuzz_seeds.py). Crashes are written to
# build-fuzz/crashes/. Usage: tools/scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DWS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)"
mkdir -p build-fuzz/crashes
status=0
for target in build-fuzz/tests/fuzz/fuzz_*; do
  [[ -x $target ]] || continue
  name=$(basename "$target")
  mkdir -p "build-fuzz/corpus-long/$name"
  echo "== $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -artifact_prefix="build-fuzz/crashes/$name-" -jobs="$(nproc)" -workers="$(nproc)" \
    "build-fuzz/corpus-long/$name" "tests/fuzz/seeds/$name" 2>&1 | tail -n 3 || status=1
done
exit $status
