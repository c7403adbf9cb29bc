#!/usr/bin/env bash
# Independent check of the .hlog writer: HdrHistogram's own Java reader (Debian's
# libhdrhistogram-java) reads the sample log ws_write_sample_hlog writes, and must find exactly
# what that program recorded: per tag the total count, p50/p90/p99/p99.9 and max, and per interval
# the absolute start time and the length and CRC-32 of the V2 bytes Java gets by re-encoding what
# it decoded (equal to ours only if Java decoded every count and header field as we meant them).
#
# The comparison is exact, with no tolerance. Java (2.1.11) ranks percentile p as
# ceil(p/100 * total) and the C histogram as round(p/100 * total); they pick the same rank when
# p/100 * total is a whole number, and ws_write_sample_hlog refuses totals that are not multiples
# of 1000, so every rank here is whole. Both then report the highest equivalent value of the slot
# where the cumulative count reaches that rank, so any difference means the counts differ.
#
# usage: hlog_java_check.sh <path to ws_write_sample_hlog>
# Exits 77 (ctest: skipped) when java, javac or the HdrHistogram jar is missing.
set -euo pipefail

helper=${1:?usage: hlog_java_check.sh <path to ws_write_sample_hlog>}
here=$(cd "$(dirname "$0")" && pwd)
jar=${HDRHISTOGRAM_JAR:-/usr/share/java/hdrhistogram.jar}

for tool in java javac; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "hlog_java_check: skipped: $tool not installed (tools/scripts/setup.sh installs it)"
    exit 77
  fi
done
if [ ! -f "$jar" ]; then
  echo "hlog_java_check: skipped: $jar missing (apt-get install libhdrhistogram-java)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

javac -nowarn -d "$tmp" -cp "$jar" "$here/java/HlogCheck.java"
"$helper" "$tmp/sample.hlog" >"$tmp/ours.txt"
TZ=UTC java -cp "$jar:$tmp" HlogCheck "$tmp/sample.hlog" >"$tmp/java.txt"

# Guard against a vacuous pass: the sample has three tags and seven intervals.
if [ "$(grep -c ' count=' "$tmp/ours.txt")" -ne 3 ] ||
   [ "$(grep -c '^interval ' "$tmp/ours.txt")" -ne 7 ]; then
  echo "hlog_java_check: FAIL: unexpected sample summary:"
  cat "$tmp/ours.txt"
  exit 1
fi

if ! diff -u --label "wirestress (recorded)" --label "HdrHistogram Java (read back)" \
  "$tmp/ours.txt" "$tmp/java.txt"; then
  echo "hlog_java_check: FAIL: HdrHistogram's Java reader disagrees with what was recorded"
  exit 1
fi
grep ' count=' "$tmp/java.txt"
echo "hlog_java_check: ok: HdrHistogram's Java reader ($jar) reads our .hlog exactly"
