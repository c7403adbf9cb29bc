#!/usr/bin/env python3
"""An OpenMessaging Benchmark workload runs, and its --omb-result reads back with the run's rates.

Usage: omb_workload_test.py WIRESTRESS WORKLOAD.yaml

Runs the shipped example (2 producers, 2 subscriptions, 5,000 msg/s of 1 KiB all-random values
with keys) against the embedded mock broker, shortened with --duration=3s --warmup=0s. The OMB
result must have TestResult's fields; its per-period publish and consume rates must be the
measured intervals' rates in the --json result of the same run, the publish rate the workload's
producerRate, and the consumers must receive every record twice (each of the 2 subscriptions reads
every record; the consume rate itself is not checked, as consumers lag on a loaded machine). Then the same workload with gzip: random values (randomBytesRatio 1)
must not shrink by 10% or more.
"""
import json
import os
import subprocess
import sys
import tempfile

RATE = 5000
SUBSCRIPTIONS = 2
FIELDS = ["workload", "driver", "messageSize", "topics", "partitions", "producersPerTopic", "consumersPerTopic",
          "publishRate", "consumeRate", "backlog", "publishLatencyAvg", "publishLatency50pct",
          "publishLatency99pct", "publishLatencyMax", "aggregatedPublishLatency99pct",
          "aggregatedPublishLatencyQuantiles", "endToEndLatency99pct", "aggregatedEndToEndLatencyQuantiles"]


def run(wirestress, workload, tmp, extra):
    omb_path, json_path = os.path.join(tmp, "omb.json"), os.path.join(tmp, "result.json")
    proc = subprocess.run([wirestress, f"--workload={workload}", "--duration=3s", "--warmup=0s", "--quiet",
                           f"--omb-result={omb_path}", f"--json={json_path}", *extra],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)
        return None, None
    with open(omb_path) as f, open(json_path) as g:
        return json.load(f), json.load(g)


def main():
    wirestress, workload = sys.argv[1], sys.argv[2]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        omb, result = run(wirestress, workload, tmp, [])
        if omb is None:
            print("FAIL: wirestress failed")
            return 1
        missing = [f for f in FIELDS if f not in omb]
        if missing:
            problems.append(f"OMB result lacks {missing}")
        if (omb.get("driver"), omb.get("partitions"), omb.get("producersPerTopic"), omb.get("consumersPerTopic")) != \
                ("wirestress", 6, 2, 2):
            problems.append(f"shape {omb.get('driver')}, {omb.get('partitions')} partitions, "
                            f"{omb.get('producersPerTopic')} producers, {omb.get('consumersPerTopic')} consumers")
        publish, consume = omb.get("publishRate", []), omb.get("consumeRate", [])
        # Whole seconds only: the last period is cut short by the end of the measured time.
        full = publish[:-1] if len(publish) > 1 else publish
        mean_publish = sum(full) / max(1, len(full))
        print(f"periods {len(publish)}, publish {mean_publish:.0f}/s, "
              f"p99 {omb.get('aggregatedPublishLatency99pct')} ms, e2e p99 {omb.get('aggregatedEndToEndLatency99pct')} ms")
        if len(publish) < 2:
            problems.append(f"{len(publish)} publish periods for a 3 s run")
        if abs(mean_publish - RATE) > 0.1 * RATE:
            problems.append(f"publishRate {mean_publish:.0f}/s, expected {RATE}")
        measured = [i for i in result["intervals"] if i["phase"] == "measure"]
        same = lambda a, b: len(a) == len(b) and all(abs(x - y) <= 1e-6 * max(1.0, y) for x, y in zip(a, b))
        if not same(publish, [i["throughput_msgs_per_s"] for i in measured]):
            problems.append(f"publishRate {publish} is not the measured intervals' throughput")
        if not same(consume, [i["consume_msgs_per_s"] for i in measured]):
            problems.append(f"consumeRate {consume} is not the measured intervals' consume rate")
        acked, received = result["produce"]["messages_acked"], result["consume"]["messages_received"]
        if abs(received - SUBSCRIPTIONS * acked) > 0.02 * acked:
            problems.append(f"consumers received {received}, expected {SUBSCRIPTIONS} x {acked} acknowledged")
        if not omb.get("aggregatedEndToEndLatencyQuantiles"):
            problems.append("no end-to-end latency: the workload's consumers should stamp and measure it")

        _, plain = run(wirestress, workload, tmp, ["--consumers=0"])
        _, gzip = run(wirestress, workload, tmp, ["--consumers=0", "--compression=gzip"])
        if plain and gzip:
            per_record = lambda r: r["produce"]["bytes_sent"] / max(1, r["produce"]["messages_sent"])
            saved = 1 - per_record(gzip) / per_record(plain)
            print(f"gzip: {per_record(plain):.0f} -> {per_record(gzip):.0f} bytes per record ({saved:.1%} smaller)")
            if saved >= 0.10:
                problems.append(f"random payload shrank {saved:.1%} with gzip")
        else:
            problems.append("the gzip comparison runs failed")
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
