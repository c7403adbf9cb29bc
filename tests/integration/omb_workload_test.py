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

Every OMB result written here must have every field of TestResult.java, the publish delay in whole
microseconds (OMB's unit for it) matching the --json's publish_delay_ms. Then a 2-cell sweep and a
1-step ceiling with --omb-result=PREFIX must write PREFIX-c00.json, PREFIX-c01.json and
PREFIX-s00.json, each a complete result of its cell (its rate, its own publish delay).
"""
import json
import os
import subprocess
import sys
import tempfile

RATE = 5000
SUBSCRIPTIONS = 2
PERCENTILES = ["Avg", "50pct", "75pct", "95pct", "99pct", "999pct", "9999pct", "99999pct", "Max"]
# TestResult.java's public fields, in its order.
FIELDS = (["workload", "driver", "messageSize", "topics", "partitions", "producersPerTopic", "consumersPerTopic",
           "publishRate", "publishErrorRate", "consumeRate", "backlog"]
          + [f"publishLatency{p}" for p in PERCENTILES] + [f"publishDelayLatency{p}" for p in PERCENTILES]
          + [f"aggregatedPublishLatency{p}" for p in PERCENTILES]
          + [f"aggregatedPublishDelayLatency{p}" for p in PERCENTILES]
          + ["aggregatedPublishLatencyQuantiles", "aggregatedPublishDelayLatencyQuantiles"]
          + [f"endToEndLatency{p}" for p in PERCENTILES] + ["aggregatedEndToEndLatencyQuantiles"]
          + [f"aggregatedEndToEndLatency{p}" for p in PERCENTILES])


def check_result(name, omb, run, problems):
    """`omb` has every TestResult field; its publish delay is the --json `run`'s, in whole microseconds."""
    missing = [f for f in FIELDS if f not in omb]
    if missing:
        problems.append(f"{name}: OMB result lacks {missing}")
        return
    delay_ms = run["produce"]["publish_delay_ms"]
    for field, key in (("aggregatedPublishDelayLatency50pct", "p50"), ("aggregatedPublishDelayLatency99pct", "p99"),
                       ("aggregatedPublishDelayLatencyMax", "max")):
        if not isinstance(omb[field], int) or omb[field] != round(delay_ms[key] * 1000):
            problems.append(f"{name}: {field} {omb[field]!r}, expected {delay_ms[key]} ms in whole us")
    if not all(isinstance(v, int) for v in omb["publishDelayLatency99pct"] + list(
            omb["aggregatedPublishDelayLatencyQuantiles"].values())):
        problems.append(f"{name}: publish delay percentiles are not whole microseconds")
    if not omb["aggregatedPublishDelayLatencyQuantiles"] or len(omb["publishDelayLatencyMax"]) != len(omb["publishRate"]):
        problems.append(f"{name}: no publish delay series or quantiles")


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


def check_capacity_commands(wirestress, tmp, problems):
    """A 2-cell sweep and a 1-step ceiling write one complete OMB result per cell or step."""
    prefix = os.path.join(tmp, "cap.json")  # the .json is dropped: cap-c00.json ...
    common = ["--step-duration=2s", "--warmup=0s", "--pause=0s", "--message-size=200"]
    runs = [("sweep", ["--clients=1", "--rate-per-client=500,1000"], "cells", "c", [500, 1000]),
            ("ceiling", ["--clients=1", "--start-rate=800", "--max-steps=1"], "steps", "s", [800])]
    for command, flags, key, tag, rates in runs:
        json_path = os.path.join(tmp, f"{command}-all.json")
        proc = subprocess.run([wirestress, command, *flags, *common, f"--json={json_path}", f"--omb-result={prefix}"],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            problems.append(f"{command} failed: {proc.stdout + proc.stderr}")
            continue
        with open(json_path) as f:
            cells = json.load(f)[key]
        for i, rate in enumerate(rates):
            path = os.path.join(tmp, f"cap-{tag}{i:02d}.json")
            if not os.path.exists(path):
                problems.append(f"{command}: no {path}")
                continue
            with open(path) as f:
                omb = json.load(f)
            name = os.path.basename(path)
            check_result(name, omb, cells[i]["result"], problems)
            # Its periods are its own cell's measured intervals, and that cell ran at its rate.
            publish = omb.get("publishRate", [])
            measured = [iv["throughput_msgs_per_s"] for iv in cells[i]["result"]["intervals"] if iv["phase"] == "measure"]
            achieved = cells[i]["result"]["produce"]["throughput_msgs_per_s"]
            print(f"{name}: {omb.get('workload')!r}, publishRate {[round(r) for r in publish]}, "
                  f"publish delay p50/p99/max {omb.get('aggregatedPublishDelayLatency50pct')}/"
                  f"{omb.get('aggregatedPublishDelayLatency99pct')}/{omb.get('aggregatedPublishDelayLatencyMax')} us")
            if publish != measured:
                problems.append(f"{name}: publishRate {publish} is not its cell's measured throughput {measured}")
            if abs(achieved - rate) > 0.15 * rate:
                problems.append(f"{name}: its cell achieved {achieved:.0f}/s, expected {rate}")
            if not omb.get("workload", "").endswith(f"{'cell' if tag == 'c' else 'step'} {i}"):
                problems.append(f"{name}: workload {omb.get('workload')!r} does not name its {command} index {i}")
        extra = os.path.join(tmp, f"cap-{tag}{len(rates):02d}.json")
        if os.path.exists(extra):
            problems.append(f"{command}: {extra} for a cell or step that did not run")


def main():
    wirestress, workload = sys.argv[1], sys.argv[2]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        omb, result = run(wirestress, workload, tmp, [])
        if omb is None:
            print("FAIL: wirestress failed")
            return 1
        check_result("workload run", omb, result, problems)
        if (omb.get("driver"), omb.get("partitions"), omb.get("producersPerTopic"), omb.get("consumersPerTopic")) != \
                ("wirestress", 6, 2, 2):
            problems.append(f"shape {omb.get('driver')}, {omb.get('partitions')} partitions, "
                            f"{omb.get('producersPerTopic')} producers, {omb.get('consumersPerTopic')} consumers")
        publish, consume = omb.get("publishRate", []), omb.get("consumeRate", [])
        # Whole seconds only: the last period is cut short by the end of the measured time.
        full = publish[:-1] if len(publish) > 1 else publish
        mean_publish = sum(full) / max(1, len(full))
        print(f"periods {len(publish)}, publish {mean_publish:.0f}/s, "
              f"p99 {omb.get('aggregatedPublishLatency99pct')} ms, e2e p99 {omb.get('aggregatedEndToEndLatency99pct')} ms, "
              f"publish delay p50/p99/max {omb.get('aggregatedPublishDelayLatency50pct')}/"
              f"{omb.get('aggregatedPublishDelayLatency99pct')}/{omb.get('aggregatedPublishDelayLatencyMax')} us")
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
        # Each subscription is a consumer group of its own (OMB's subscription), every one stable.
        groups = result.get("groups") or {}
        if len(groups.get("per_group", [])) != SUBSCRIPTIONS or groups.get("groups_stable") != SUBSCRIPTIONS:
            problems.append(f"expected {SUBSCRIPTIONS} stable groups, one per subscription: "
                            f"{len(groups.get('per_group', []))} groups, {groups.get('groups_stable')} stable")
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
        check_capacity_commands(wirestress, tmp, problems)
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
