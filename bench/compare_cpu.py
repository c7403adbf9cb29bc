#!/usr/bin/env python3
"""Client CPU per message, wirestress vs librdkafka, on the same scenario against the same
Kafka 0.9 broker in one run: one connection, 100-byte messages, one message per request,
acks=0 and acks=1. Runs alternate (A B A B ...) so drift on the machine hits both.
Usage: bench/compare_cpu.py [MESSAGES] [ROUNDS]   (after a build; starts its own broker)"""
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIRESTRESS = os.path.join(ROOT, "build", "tools", "wirestress")
RDKAFKA = os.path.join(ROOT, "build", "bench", "ws_rdkafka_producer")
KAFKA09 = os.path.join(ROOT, "tools", "scripts", "kafka09.sh")


def cpu_of(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{out.stdout}{out.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = tempfile.mkdtemp(prefix="ws-cpu-")
    bootstrap = subprocess.run([KAFKA09, "start", work, "29293"], capture_output=True, text=True,
                               check=True).stdout.strip().splitlines()[-1]
    try:
        subprocess.run([KAFKA09, "create-topic", work, "cpu", "1"], check=True, capture_output=True)
        print(f"{messages} x 100-byte messages, 1 per request, 1 connection, Kafka 0.9 at {bootstrap}")
        print(f"{'acks':>4} {'wirestress us/msg':>18} {'librdkafka us/msg':>18} {'ratio':>7}")
        for acks in ("0", "1"):
            ws, rd = [], []
            for _ in range(rounds):
                ws.append(cpu_of([WIRESTRESS, f"--bootstrap={bootstrap}", "--topic=cpu", "--clients=1",
                                  "--threads=1", f"--messages={messages}", "--batch=1", "--message-size=100",
                                  f"--acks={acks}", "--max-in-flight=5", "--broker-version=0.9",
                                  "--duration=0", "--quiet"]))
                rd.append(cpu_of([RDKAFKA, bootstrap, "cpu", str(messages), "100", acks, "kafka09"]))
            w, r = min(ws) / messages * 1e6, min(rd) / messages * 1e6
            print(f"{acks:>4} {w:>18.2f} {r:>18.2f} {r / w:>6.1f}x   (best of {rounds}; all: "
                  f"ws {[round(x, 2) for x in ws]} s, rdkafka {[round(x, 2) for x in rd]} s)")
    finally:
        subprocess.run([KAFKA09, "stop", work], capture_output=True)


if __name__ == "__main__":
    main()
