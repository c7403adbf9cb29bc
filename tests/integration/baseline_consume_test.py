#!/usr/bin/env python3
"""rdkafka-baseline's consumers against the mock cluster.

Usage: baseline_consume_test.py BASELINE WIRESTRESS MOCK_BOOTSTRAP

1. Mixed run with --verify: 1 producer, 4 consumers (one librdkafka instance each) from the end
   of the log; every consumer receives every acknowledged record once, in order, uncorrupted,
   and end-to-end latency has one sample per received record.
2. Consumer-only run from the earliest offset with --messages: each of 3 consumers reads exactly
   that many records of the topic written in 1.
3. The JSON has the same consume keys as wirestress's for the same scenario.
"""
import os
import sys

from brokers import run_wirestress

RECORDS = 20_000
CONSUMERS = 4


def keys(doc, prefix=""):
    """Every key path of a JSON document (the first element stands for a list of objects)."""
    out = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add(prefix + k)
            out |= keys(v, prefix + k + ".")
    elif isinstance(doc, list) and doc and isinstance(doc[0], dict):
        out |= keys(doc[0], prefix + "[].")
    return out


def main():
    baseline, wirestress, bootstrap = sys.argv[1:4]
    problems = []
    topic = f"ws-baseline-consume-{os.getpid()}"
    # Batches of up to 100 records, paced: librdkafka's mock answers a fetch with one stored batch,
    # and keeps only a few MB per partition (see consume_test.py).
    mixed = [f"--bootstrap={bootstrap}", "--clients=1", f"--consumers={CONSUMERS}", "--verify",
             "--batch=100", "--linger=10ms", "--rate=20000", f"--messages={RECORDS}", "--acks=1",
             "--duration=0", "--drain-timeout=20s", "--fetch-max-wait=100ms"]
    code, base, output = run_wirestress(baseline, mixed + [f"--topic={topic}"], timeout=120)
    if code != 0 or base is None:
        print(f"rdkafka-baseline exited {code}:\n{output}")
        sys.exit(1)
    c = base["consume"]
    acked = base["produce"]["messages_acked"]
    if acked != RECORDS:
        problems.append(f"acked {acked} of {RECORDS}: {base['produce']['errors_by_code']} {base['failures']}")
    if c["consumers"] != CONSUMERS or len(c["per_consumer"]) != CONSUMERS:
        problems.append(f"{c['consumers']} consumers, {len(c['per_consumer'])} reported")
    for p in c["per_consumer"]:
        if p["received"] != acked or p["lost"] or p["duplicates"] or p["out_of_order"] or p["corrupt"] or p["failed"]:
            problems.append(f"consumer {p}")
    for key in ("lost", "duplicates", "out_of_order", "corrupt", "failing_clients"):
        if c[key] != 0:
            problems.append(f"consume.{key} = {c[key]}")
    if c["messages_received"] != acked * CONSUMERS:
        problems.append(f"consume.messages_received {c['messages_received']} != {acked * CONSUMERS}")
    if c["bytes_received"] != acked * CONSUMERS * 100:
        problems.append(f"consume.bytes_received {c['bytes_received']} (100-byte values, no keys)")
    if c["e2e_latency_ms"]["count"] != acked * CONSUMERS:
        problems.append(f"e2e samples {c['e2e_latency_ms']['count']} != {acked * CONSUMERS}")
    if not c["e2e_latency_ms"]["p50"] > 0:
        problems.append(f"e2e p50 {c['e2e_latency_ms']['p50']}")
    if base["connections"]["established"] != 1 + CONSUMERS:
        problems.append(f"connections established {base['connections']['established']} != {1 + CONSUMERS}")
    print(f"mixed: {CONSUMERS} consumers x {acked} records, {c['throughput_msgs_per_s']:.0f} msg/s, "
          f"e2e p50 {c['e2e_latency_ms']['p50']:.1f} ms p99 {c['e2e_latency_ms']['p99']:.1f} ms")

    # Consumer-only: the records written above, read again from the start.
    only = [f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=0", "--consumers=3",
            "--consume-from=earliest", f"--messages={RECORDS}", "--duration=30s", "--fetch-max-wait=100ms"]
    code, ronly, output_only = run_wirestress(baseline, only, timeout=120)
    if code != 0 or ronly is None:
        problems.append(f"consumer-only run exited {code}:\n{output_only}")
    else:
        co = ronly["consume"]
        for p in co["per_consumer"]:
            if p["received"] != RECORDS or p["failed"]:
                problems.append(f"consumer-only: consumer {p}")
        if co["lost"] != 0 or co["failing_clients"] != 0 or ronly["produce"]["messages_sent"] != 0:
            problems.append(f"consumer-only: lost {co['lost']}, failing {co['failing_clients']}")
        print(f"consumer-only: 3 consumers x {RECORDS} records, {co['throughput_msgs_per_s']:.0f} msg/s")

    code, ws, ws_output = run_wirestress(wirestress, mixed + [f"--topic={topic}-ws"], timeout=120)
    if code != 0 or ws is None:
        problems.append(f"wirestress exited {code}:\n{ws_output}")
    elif keys(base) != keys(ws):
        problems.append(f"JSON keys differ: only baseline {sorted(keys(base) - keys(ws))}, "
                        f"only wirestress {sorted(keys(ws) - keys(base))}")

    for p in problems:
        print(p)
    if problems:
        print(f"--- baseline output ---\n{output[-3000:]}")
    print("ok" if not problems else f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
