#!/usr/bin/env bash
# The test command: set up a fresh machine, build, and run every test (unit, golden, broker
# integration, fuzz smoke). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

tools/scripts/setup.sh

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"

# Fuzz targets need clang's libFuzzer; they build in their own tree with sanitizers on.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DWS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$jobs"

ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300
ctest --test-dir build-fuzz --output-on-failure -j "$jobs" --timeout 300
