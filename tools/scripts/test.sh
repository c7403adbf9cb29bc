#!/usr/bin/env bash
# The test command: set up a fresh machine, build, and run every test (unit, golden, broker
# integration; and in a second, sanitized tree the unit tests under ASan+UBSan and the fuzz
# smokes). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

tools/scripts/setup.sh

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"

# The sanitized tree (clang, AddressSanitizer + UBSan, libFuzzer) builds and runs in the
# background at the lowest CPU priority while the broker tests run: those spend most of their time
# waiting on brokers, and nice 19 leaves them the CPU whenever they want it. It runs the unit tests
# of the code that meets a broker's bytes (protocol, net, driver), each binary once, then every
# fuzz target for a 5 s smoke (tools/scripts/fuzz.sh runs them longer).
sanitized_log=build/sanitized-tree.log
(
  renice -n 19 -p "$BASHPID" >/dev/null
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DWS_FUZZ=ON -DWS_FUZZ_SECONDS=5 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j "$jobs"
  failed=0
  for binary in ws_protocol_tests ws_net_tests ws_driver_tests; do
    echo "== $binary under ASan+UBSan"
    # The memory-footprint tests measure the heap, which ASan's redzones and quarantine change.
    "build-fuzz/tests/$binary" --gtest_brief=1 --gtest_filter='-*IdleConnectionsKeepLittleMemory*' || failed=1
  done
  ctest --test-dir build-fuzz -L fuzz --output-on-failure -j "$jobs" --timeout 300 || failed=1
  exit $failed
) >"$sanitized_log" 2>&1 &
sanitized=$!

status=0
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300 || status=1

sanitized_status=0
wait "$sanitized" || sanitized_status=$?
echo "== sanitized tree (ASan+UBSan unit tests, fuzz smokes): $sanitized_log"
cat "$sanitized_log"
if [[ $sanitized_status != 0 ]]; then
  echo "sanitized tree FAILED (exit $sanitized_status)"
  status=1
fi
exit $status
