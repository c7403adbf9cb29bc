#!/usr/bin/env python3
"""The headline command, as a user types it: `wirestress --clients=10000 --acks=0 --duration=6s`
connects all 10,000 clients and exits 0, against
  - Kafka 0.9 (its own instance: 10,000 unpaced acks=0 clients overload it for minutes after),
    with the default --broker-version=auto (the 3 s ApiVersions probe happens while connecting);
  - the embedded broker (no --bootstrap: librdkafka's mock cluster in a child process);
  - ws_kafka_sink.
Before the rebuilt driver this connected 398 clients on Kafka 0.9, 559 on the embedded broker, and
exited 0 saying nothing. Prints the connect rate of each (docs/comparison.md quotes it).
Usage: ten_thousand_clients_test.py WIRESTRESS SINK KAFKA09_SH WORKDIR PORT [which,...]"""
import json
import os
import shutil
import subprocess
import sys
import time

CLIENTS = 10000


def run(wirestress, extra, workdir, name):
    out_json = os.path.join(workdir, f"{name}.json")
    began = time.time()
    proc = subprocess.run([wirestress, f"--clients={CLIENTS}", "--acks=0", "--duration=6s", "--quiet",
                           f"--json={out_json}", *extra], capture_output=True, text=True, timeout=400)
    took = time.time() - began
    problems = []
    if proc.returncode != 0:
        problems.append(f"{name}: exit code {proc.returncode}")
    result = None
    if os.path.exists(out_json):
        with open(out_json) as f:
            result = json.load(f)
    if result is None:
        problems.append(f"{name}: no JSON")
    else:
        clients = result["clients"]
        if clients["connected"] != CLIENTS or clients["never_connected"] != 0:
            problems.append(f"{name}: clients {clients}")
        if result["produce"]["messages_sent"] == 0:
            problems.append(f"{name}: nothing sent")
        connect = result["connect"]
        print(f"{name}: {clients['connected']} of {CLIENTS} clients ready in {connect['duration_s']:.2f} s "
              f"({connect['rate_per_s']:.0f}/s), {result['produce']['throughput_msgs_per_s']:.0f} msg/s, "
              f"exit {proc.returncode}, {took:.0f} s in all")
    if problems:
        print(proc.stdout[-4000:], proc.stderr[-2000:])
    return problems


def main():
    wirestress, sink, kafka09, workdir, port = sys.argv[1:6]
    which = sys.argv[6].split(",") if len(sys.argv) > 6 else ["kafka09", "embedded", "sink"]
    os.makedirs(workdir, exist_ok=True)
    problems = []
    if "sink" in which:
        s = subprocess.Popen([sink, "--port=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = s.stdout.readline().strip()
        try:
            problems += run(wirestress, [f"--bootstrap={first.rsplit(' ', 1)[-1]}"], workdir, "sink")
        finally:
            s.terminate()
            s.communicate(timeout=30)
    if "embedded" in which:
        problems += run(wirestress, [], workdir, "embedded")
    if "kafka09" in which:
        kdir = os.path.join(workdir, "kafka09")
        subprocess.run([kafka09, "kill", kdir], capture_output=True)
        shutil.rmtree(kdir, ignore_errors=True)
        start = subprocess.run([kafka09, "start", kdir, port], capture_output=True, text=True, timeout=150)
        if start.returncode != 0:
            print(f"could not start Kafka 0.9:\n{start.stdout}{start.stderr}")
            return 1
        try:
            problems += run(wirestress, [f"--bootstrap={start.stdout.strip().splitlines()[-1]}", "--topic=ten-k"],
                            workdir, "kafka09")
        finally:
            subprocess.run([kafka09, "kill", kdir], capture_output=True)
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
