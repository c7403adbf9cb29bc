#!/usr/bin/env bash
# Regenerates the protocol codec into a temporary directory and fails if it differs from the
# checked-in files (a hand edit, or a spec change without running tools/codegen/gen_protocol.py).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/tools/codegen/gen_protocol.py" --out "$tmp" >/dev/null
status=0
for f in "$tmp"/*; do
  if ! diff -u "$root/protocol/$(basename "$f")" "$f" >/dev/null; then
    echo "protocol/$(basename "$f") differs from the generator's output: run tools/codegen/gen_protocol.py"
    status=1
  fi
done
exit $status
