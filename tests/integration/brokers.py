"""Shared helpers for the real-broker integration tests: run wirestress, consume with kcat."""
import json
import os
import subprocess
import tempfile
import time

# kcat settings per broker: Kafka 0.9 has no ApiVersions, so librdkafka must be told its version.
KCAT_ARGS = {
    "kafka09": ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0.1"],
    "mock": [],
}


def run_wirestress(wirestress, args, timeout=120):
    """Runs wirestress with --json; returns (exit code, result dict or None, stdout+stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "result.json")
        proc = subprocess.run([wirestress, *args, f"--json={out_json}", "--quiet"],
                              capture_output=True, text=True, timeout=timeout)
        result = None
        if os.path.exists(out_json):
            with open(out_json) as f:
                result = json.load(f)
        return proc.returncode, result, proc.stdout + proc.stderr


def consume(bootstrap, topic, broker, expected, timeout_s=30):
    """Reads the whole topic with kcat (an independent librdkafka decoder) until `expected`
    records arrived or the time is up; returns a list of (key, value) byte pairs."""
    deadline = time.time() + timeout_s
    records = []
    while True:
        proc = subprocess.run(
            ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
             "-f", "%k\x1f%s\x1e", *KCAT_ARGS[broker]],
            capture_output=True, timeout=60)
        records = [tuple(r.split(b"\x1f", 1)) for r in proc.stdout.split(b"\x1e") if r]
        if len(records) >= expected or time.time() >= deadline:
            return records
        time.sleep(0.5)


def expected_value(size):
    """The payload wirestress writes: 'abc...z' repeated."""
    return bytes(ord("a") + i % 26 for i in range(size))
