#!/usr/bin/env python3
"""Consumers and --verify against a real broker.

Usage: consume_test.py WIRESTRESS BOOTSTRAP BROKER CODECS BROKER_VERSION PROXY

1. One producer, 50 consumers, 40,000 records with --verify: every consumer receives every
   record; none lost, duplicated, out of order or corrupt; end-to-end latency is measured.
2. Records written by kcat (librdkafka, an independent producer) with every codec the broker has
   are read back by wirestress consumers (consumer-only runs from the earliest offset) with the
   right count.
3. The checker can fail (Kafka 0.9 only, through stall_proxy.py): a proxy that makes each consumer's
   first fetch skip 7 offsets shows exactly 7 lost; one that makes the broker write one produce
   request of 10 records twice shows exactly 10 duplicates.
"""
import os
import selectors
import subprocess
import sys

from brokers import KCAT_ARGS, run_wirestress

# librdkafka's mock keeps ~5 MB per partition: 40,000 records (~4.4 MB) stay whole however far a
# consumer on a busy machine falls behind.
RECORDS = 40_000
CONSUMERS = 50


def fail(errors, what, output):
    errors.append(f"{what}\n--- wirestress output ---\n{output[-3000:]}")


def check_fifty_consumers(ws, common, errors):
    topic = f"consume-verify-{os.getpid()}"
    # Batches of up to 100 records (Kafka 0.9 takes one produce request per connection at a time),
    # paced at 20,000/s: librdkafka's mock answers each fetch with one stored batch and keeps only
    # ~5 MB per partition, so unpaced its consumers fall out of the retained log.
    code, result, output = run_wirestress(ws, common + [
        f"--topic={topic}", "--clients=1", f"--consumers={CONSUMERS}", "--verify", "--batch=100",
        "--rate=20000", "--linger=10ms",
        f"--messages={RECORDS}", "--duration=0", "--drain-timeout=20s"], timeout=300)
    if code != 0 or not result:
        return fail(errors, f"50 consumers: exit {code}", output)
    c = result["consume"]
    acked = result["produce"]["messages_acked"]
    problems = []
    if acked != RECORDS:
        problems.append(f"acked {acked} of {RECORDS}")
    if len(c["per_consumer"]) != CONSUMERS:
        problems.append(f"{len(c['per_consumer'])} consumers reported")
    for p in c["per_consumer"]:
        if p["received"] != RECORDS or p["lost"] or p["duplicates"] or p["out_of_order"] or p["corrupt"] or p["failed"]:
            problems.append(f"consumer {p}")
    for key in ("lost", "duplicates", "out_of_order", "corrupt", "failing_clients"):
        if c[key] != 0:
            problems.append(f"consume.{key} = {c[key]}")
    if c["messages_received"] != RECORDS * CONSUMERS:
        problems.append(f"consume.messages_received {c['messages_received']}")
    if c["e2e_latency_ms"]["count"] != RECORDS * CONSUMERS:
        problems.append(f"e2e samples {c['e2e_latency_ms']['count']}")
    if problems:
        fail(errors, "50 consumers: " + "; ".join(problems[:5]), output)
    else:
        print(f"ok: {CONSUMERS} consumers x {RECORDS} records, e2e p99 {c['e2e_latency_ms']['p99']:.1f} ms")


def kcat_produce(bootstrap, broker, topic, codec, count):
    lines = "".join(f"record-{i:06d}-{'x' * 40}\n" for i in range(count)).encode()
    subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-z", codec, "-X", "linger.ms=5",
                    *KCAT_ARGS[broker]], input=lines, check=True, timeout=60)


def check_kcat_codecs(ws, common, bootstrap, broker, codecs, errors):
    count = 2000
    for codec in codecs:
        topic = f"consume-kcat-{codec}-{os.getpid()}"
        kcat_produce(bootstrap, broker, topic, codec, count)
        code, result, output = run_wirestress(ws, common + [
            f"--topic={topic}", "--clients=0", "--consumers=3", "--consume-from=earliest",
            f"--messages={count}", "--duration=30s"])
        if code != 0 or not result:
            fail(errors, f"kcat {codec}: exit {code}", output)
            continue
        got = [p["received"] for p in result["consume"]["per_consumer"]]
        failing = result["consume"]["failing_clients"]
        if got != [count] * 3 or failing:
            fail(errors, f"kcat {codec}: received {got}, failing {failing}", output)
        else:
            print(f"ok: kcat {codec}: 3 consumers read {count} records each")


class Proxy:
    def __init__(self, proxy, bootstrap, *args):
        self.proc = subprocess.Popen([sys.executable, proxy, bootstrap, "--stall-for=0", *args],
                                     stdout=subprocess.PIPE, text=True)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=10):
            raise RuntimeError("proxy did not start")
        self.address = f"127.0.0.1:{self.proc.stdout.readline().strip()}"

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def check_faults(ws, common, bootstrap, proxy_py, errors):
    base = [a for a in common if not a.startswith("--bootstrap")]
    # Loss: 1,000 stamped records; a consumer whose first fetch skips 7 offsets never sees 7.
    topic = f"consume-loss-{os.getpid()}"
    code, result, output = run_wirestress(ws, common + [f"--topic={topic}", "--clients=1", "--verify",
                                                        "--messages=1000", "--batch=10", "--duration=0"])
    if code != 0 or result["produce"]["messages_acked"] != 1000:
        return fail(errors, f"loss: producing failed ({code})", output)
    proxy = Proxy(proxy_py, bootstrap, "--skip-first-fetch=7")
    try:
        code, result, output = run_wirestress(ws, base + [
            f"--bootstrap={proxy.address}", f"--topic={topic}", "--clients=0", "--consumers=1", "--verify",
            "--consume-from=earliest", "--messages=993", "--duration=30s"])
    finally:
        proxy.close()
    c = (result or {}).get("consume", {})
    if code != 0 or c.get("lost") != 7 or c.get("messages_received") != 993 or c.get("duplicates") != 0:
        fail(errors, f"loss: expected 7 lost of 1000, got {c.get('lost')} lost, "
                     f"{c.get('messages_received')} received, {c.get('duplicates')} duplicates", output)
    else:
        print("ok: a skipped fetch shows as exactly 7 lost")

    # Duplicates: the broker writes one request of 10 records twice; a consumer sees 10 twice.
    topic = f"consume-dup-{os.getpid()}"
    proxy = Proxy(proxy_py, bootstrap, "--duplicate-produce=5")
    try:
        code, result, output = run_wirestress(ws, base + [
            f"--bootstrap={proxy.address}", f"--topic={topic}", "--clients=1", "--verify",
            "--messages=1000", "--batch=10", "--max-in-flight=1", "--duration=0"])
    finally:
        proxy.close()
    if code != 0 or result["produce"]["messages_acked"] != 1000:
        return fail(errors, f"duplicates: producing failed ({code})", output)
    code, result, output = run_wirestress(ws, common + [
        f"--topic={topic}", "--clients=0", "--consumers=2", "--verify", "--consume-from=earliest",
        "--messages=1010", "--duration=30s"])
    c = (result or {}).get("consume", {})
    per = [(p["received"], p["duplicates"], p["lost"]) for p in c.get("per_consumer", [])]
    if code != 0 or per != [(1010, 10, 0)] * 2 or c.get("out_of_order") != 0 or c.get("corrupt") != 0:
        fail(errors, f"duplicates: expected each consumer (1010 received, 10 duplicates, 0 lost), got {per}",
             output)
    else:
        print("ok: a produce written twice shows as exactly 10 duplicates per consumer")


def main():
    ws, bootstrap, broker, codecs, broker_version, proxy_py = sys.argv[1:7]
    common = [f"--bootstrap={bootstrap}", f"--broker-version={broker_version}", "--threads=2"]
    errors = []
    check_fifty_consumers(ws, common, errors)
    check_kcat_codecs(ws, common, bootstrap, broker, codecs.split(","), errors)
    if broker == "kafka09":
        check_faults(ws, common, bootstrap, proxy_py, errors)
    for e in errors:
        print("FAIL:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
