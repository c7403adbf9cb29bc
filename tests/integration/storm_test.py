#!/usr/bin/env python3
"""`wirestress storm` against ws_kafka_sink: handshakes complete at the offered rate and the JSON
has per-stage counts and latency percentiles, in plaintext, SSL and SASL_SSL (SCRAM-SHA-256);
a bad flag is exit 2 naming it; a port nobody listens on is exit 3 with the reason.
Usage: storm_test.py WIRESTRESS SINK_BINARY"""
import json
import os
import socket
import subprocess
import sys
import tempfile

from security_sink_test import make_pki
from sink_test import Sink

USER, PASSWORD = "storm", "storm-secret"


def storm(wirestress, tmp, name, args, timeout=60):
    path = os.path.join(tmp, f"{name}.json")
    proc = subprocess.run([wirestress, "storm", *args, f"--json={path}", "--quiet"], capture_output=True,
                          text=True, timeout=timeout)
    result = None
    if os.path.exists(path) and os.path.getsize(path) > 0:
        with open(path) as f:
            result = json.load(f)
    return proc.returncode, proc.stdout + proc.stderr, result


def check_completed(name, code, output, j, stages, rate, seconds, problems):
    if code != 0 or j is None:
        problems.append(f"{name}: exit {code}, json {'present' if j else 'missing'}:\n{output}")
        return
    s = j["storm"]
    expected = rate * seconds
    if not (0.9 * expected <= s["scheduled"] <= expected + 1):
        problems.append(f"{name}: scheduled {s['scheduled']}, expected ~{expected}")
    if s["completed"] < 0.9 * s["scheduled"] or s["failed"] != 0:
        problems.append(f"{name}: completed {s['completed']} failed {s['failed']} of {s['scheduled']}")
    if not (0.8 * rate <= s["completed_per_s"] <= 1.1 * rate):
        problems.append(f"{name}: completed_per_s {s['completed_per_s']}, offered {rate}")
    for stage in (*stages, "total"):
        st = j["stages"][stage]
        lat = st["latency_ms"]
        if st["completed"] != s["completed"] or lat["count"] != s["completed"]:
            problems.append(f"{name}: stage {stage}: completed {st['completed']}, histogram {lat['count']}")
        if not (0 < lat["p50"] <= lat["p99"] <= lat["max"] < 10_000):
            problems.append(f"{name}: stage {stage}: percentiles out of order or missing: {lat}")
        if not st["latency_histogram"]:
            problems.append(f"{name}: stage {stage}: no histogram")
    for stage in {"tls", "sasl"} - set(stages):
        if j["stages"][stage]["attempted"] != 0:
            problems.append(f"{name}: stage {stage} attempted though the handshake has none")
    if "completed handshakes/s" not in output or "api_versions" not in output:
        problems.append(f"{name}: summary lacks the achieved rate or the stage table:\n{output}")
    if PASSWORD in output or PASSWORD in json.dumps(j):
        problems.append(f"{name}: the password appears in the output or JSON")


def main():
    wirestress, sink_binary = sys.argv[1], sys.argv[2]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        sink = Sink(sink_binary)
        try:
            boot = f"--bootstrap=127.0.0.1:{sink.port}"
            code, out, j = storm(wirestress, tmp, "plain", [boot, "--rate=500", "--duration=2s", "--topic=t"])
            check_completed("plaintext", code, out, j, ("tcp", "api_versions", "metadata"), 500, 2, problems)
            code, out, j = storm(wirestress, tmp, "plain-nometa", [boot, "--rate=200", "--duration=1s"])
            check_completed("plaintext without --topic", code, out, j, ("tcp", "api_versions"), 200, 1, problems)
            if j and j["stages"]["metadata"]["attempted"] != 0:
                problems.append("without --topic: Metadata was asked")
            # Bad values: exit 2, one line naming the flag.
            for args, flag in (([boot, "--rate=0"], "--rate"), ([boot, "--rate=abc"], "--rate"),
                               ([boot, "--duration=forever"], "--duration"), ([boot, "--max-pending=0"], "--max-pending"),
                               (["--rate=10"], "--bootstrap"), ([boot, "--io=epoll"], "--io")):
                proc = subprocess.run([wirestress, "storm", *args], capture_output=True, text=True, timeout=30)
                lines = proc.stderr.strip().splitlines()
                if proc.returncode != 2 or len(lines) != 1 or flag not in lines[0]:
                    problems.append(f"storm {args}: exit {proc.returncode}, stderr {proc.stderr!r} (want 2 naming {flag})")
        finally:
            sink.stop()

        # Nobody listens: exit 3, and the reason.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        code, out, j = storm(wirestress, tmp, "dead", [f"--bootstrap=127.0.0.1:{dead}", "--rate=100", "--duration=1s",
                                                       "--connect-timeout=1s"])
        if code != 3 or j is None or j["run"]["exit_code"] != 3 or "no handshake completed" not in out:
            problems.append(f"dead port: exit {code}:\n{out}")

        pki = make_pki(tmp)
        tls = [f"--tls-cert={pki['server.pem']}", f"--tls-key={pki['server.key']}"]
        ssl_sink = Sink(sink_binary, *tls)
        sasl_ssl_sink = Sink(sink_binary, *tls, f"--sasl-users={USER}:{PASSWORD}")
        try:
            ca = ["-X", f"ssl.ca.location={pki['ca.pem']}"]
            code, out, j = storm(wirestress, tmp, "ssl", [f"--bootstrap=127.0.0.1:{ssl_sink.port}", "-X",
                                                          "security.protocol=SSL", *ca, "--rate=200", "--duration=2s",
                                                          "--topic=t"])
            check_completed("SSL", code, out, j, ("tcp", "tls", "api_versions", "metadata"), 200, 2, problems)
            code, out, j = storm(wirestress, tmp, "sasl-ssl",
                                 [f"--bootstrap=127.0.0.1:{sasl_ssl_sink.port}", "-X", "security.protocol=SASL_SSL",
                                  *ca, "-X", "sasl.mechanism=SCRAM-SHA-256", "-X", f"sasl.username={USER}", "-X",
                                  f"sasl.password={PASSWORD}", "--rate=100", "--duration=2s"])
            check_completed("SASL_SSL", code, out, j, ("tcp", "tls", "api_versions", "sasl"), 100, 2, problems)
            # A wrong CA: refused before any handshake completed, named, exit 3 within seconds.
            code, out, j = storm(wirestress, tmp, "wrong-ca",
                                 [f"--bootstrap=127.0.0.1:{ssl_sink.port}", "-X", "security.protocol=SSL", "-X",
                                  f"ssl.ca.location={pki['other-ca.pem']}", "--rate=100", "--duration=30s"], timeout=20)
            if code != 3 or "certificate_verify_failed" not in out:
                problems.append(f"wrong CA: exit {code}:\n{out}")
        finally:
            ssl_sink.stop()
            sasl_ssl_sink.stop()

    for p in problems:
        print("FAIL:", p)
    print("storm: ok" if not problems else f"storm: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
