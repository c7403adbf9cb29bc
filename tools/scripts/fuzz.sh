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
  # The limits of the ctest smoke (tests/fuzz/CMakeLists.txt): 1 MiB inputs, and memory
  # amplification fails the run (the driver's targets may decompress 64 MiB batches).
  malloc_limit=64
  [[ $name == fuzz_response_stream || $name == fuzz_record_intake || $name == fuzz_worker ]] && malloc_limit=160
  "$target" -max_total_time="$seconds" -max_len=1048576 -rss_limit_mb=1024 -malloc_limit_mb="$malloc_limit" -timeout=10 \
    -artifact_prefix="build-fuzz/crashes/$name-" -jobs="$(nproc)" -workers="$(nproc)" \
    "build-fuzz/corpus-long/$name" "tests/fuzz/seeds/$name" 2>&1 | tail -n 3 || status=1
done
exit $status
