#!/usr/bin/env python3
"""Produce with wirestress for every acks setting and codec, then read the topic back with kcat
and check count, keys and values; then the lines of a --payload-file, read back exactly; and (Kafka
0.9) records above the broker's message.max.bytes: the run stops at once, naming the flags, exit 2.
Usage: produce_test.py WIRESTRESS BOOTSTRAP BROKER CODECS BROKER_VERSION"""
import os
import sys
import tempfile

from brokers import consume, expected_value, run_wirestress

MESSAGES = 200
MESSAGE_SIZE = 50
KEY_SIZE = 16


def log_end_offset(bootstrap, topic, broker):
    """The end offset of partition 0 as kcat's query mode reports it, or the error text."""
    import subprocess
    from brokers import KCAT_ARGS
    proc = subprocess.run(["kcat", "-Q", "-b", bootstrap, "-t", f"{topic}:0:-1", *KCAT_ARGS[broker]],
                          capture_output=True, text=True, timeout=60)
    return (proc.stdout.strip() or proc.stderr.strip())[-200:]


def check_scenario(wirestress, bootstrap, broker, acks, codec, broker_version):
    topic = f"ws-{broker}-acks{acks.replace('-', 'm')}-{codec}-{os.getpid()}"
    common = [f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=4", "--threads=2",
              f"--message-size={MESSAGE_SIZE}", "--duration=60s",
              f"--broker-version={broker_version}"]
    warmup = 0
    if acks == "0":
        # acks=0 writes to a partition that is still being auto-created are dropped without a
        # word (that is what acks=0 means); create the topic first with one acknowledged record
        # per client.
        warmup = 4
        code, result, output = run_wirestress(wirestress, common + ["--messages=4", "--acks=1",
                                                                    "--key-size=4"])
        if code != 0 or result["produce"]["messages_acked"] != warmup:
            return [f"warm-up failed ({code}):\n{output}"]
    code, result, output = run_wirestress(wirestress, common + [
        f"--messages={MESSAGES}", "--batch=5", f"--key-size={KEY_SIZE}", f"--acks={acks}",
        f"--compression={codec}"])
    problems = []
    if code != 0 or result is None:
        return [f"wirestress exited {code}:\n{output}"]
    produce = result["produce"]
    if produce["messages_sent"] != MESSAGES:
        problems.append(f"messages_sent {produce['messages_sent']} != {MESSAGES}")
    if acks != "0" and produce["messages_acked"] != MESSAGES:
        problems.append(f"messages_acked {produce['messages_acked']} != {MESSAGES}: "
                        f"errors {produce['errors_by_code']} failures {result['failures']}")
    records = consume(bootstrap, topic, broker, MESSAGES + warmup)
    if len(records) != MESSAGES + warmup:
        # Seen once in many runs (acks=1, snappy, Kafka 0.9): 190 of 200 read for 30 s although
        # all were acknowledged. Say whether the broker's log holds them (its end offset; magic 0
        # gives every inner record an offset) so the next occurrence tells a lost record from one
        # the reader could not decode.
        end = log_end_offset(bootstrap, topic, broker)
        problems.append(f"kcat read {len(records)} records, expected {MESSAGES + warmup}; "
                        f"the partition's log end offset is {end}")
    records = [(k, v) for k, v in records if len(k) == KEY_SIZE]  # the warm-up's keys are shorter
    keys = {k for k, _ in records}
    if len(records) != MESSAGES or len(keys) != len(records):
        problems.append(f"{len(records)} records with {KEY_SIZE}-byte keys, {len(keys)} distinct; "
                        f"expected {MESSAGES} distinct")
    bad_values = [v for _, v in records if v != expected_value(MESSAGE_SIZE)]
    if bad_values:
        problems.append(f"{len(bad_values)} values differ, e.g. {bad_values[0][:60]!r}")
    return problems


def check_payload_file(wirestress, bootstrap, broker, broker_version):
    """--payload-file as kafka-producer-perf-test has it: each line of a text file is a value, read
    back byte for byte, every line sent."""
    topic = f"ws-{broker}-payload-file-{os.getpid()}"
    values = [b"first line of the file", "zweite Zeile, gr\u00fc\u00dfe".encode(), b"{\"id\": 3, \"pad\": \"" + b"x" * 300 + b"\"}"]
    with tempfile.NamedTemporaryFile(suffix=".txt") as f:
        f.write(b"\n".join(values) + b"\n\n")  # the empty line is skipped
        f.flush()
        code, result, output = run_wirestress(wirestress, [
            f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=2", "--threads=2", "--messages=30",
            "--acks=1", "--compression=gzip", f"--payload-file={f.name}", f"--broker-version={broker_version}"])
    if code != 0 or result is None:
        return [f"wirestress exited {code}:\n{output}"]
    problems = []
    if result["config"].get("payload") != "file":
        problems.append(f"config.payload is {result['config'].get('payload')!r}, expected 'file'")
    records = consume(bootstrap, topic, broker, 30)
    read = [v for _, v in records]
    if len(read) != 30:
        problems.append(f"kcat read {len(read)} records, expected 30")
    if set(read) != set(values):
        unknown = [v for v in read if v not in values]
        problems.append(f"values read back differ from the file's lines: {len(unknown)} unknown, e.g. "
                        f"{unknown[:1]!r}; missing {[v for v in values if v not in read]!r}")
    return problems


def check_too_large(wirestress, bootstrap, broker, broker_version):
    """2 MB records against Kafka 0.9's default message.max.bytes (1,000,012): MESSAGE_TOO_LARGE
    cannot be retried away, so the run must stop at the first refusal with exit 2 and say which
    flags to change, not run out its --duration counting failures."""
    topic = f"ws-{broker}-too-large-{os.getpid()}"
    code, result, output = run_wirestress(wirestress, [
        f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=2", "--acks=1", "--message-size=2000000",
        "--duration=30s", f"--broker-version={broker_version}"])
    problems = []
    if code != 2:
        problems.append(f"exit {code}, expected 2:\n{output}")
    if result is None:
        return problems + ["no JSON"]
    run = result["run"]
    if "--message-size=2000000" not in run.get("fatal", "") or "MESSAGE_TOO_LARGE" not in run.get("fatal", ""):
        problems.append(f"run.fatal does not name the flag and the error: {run.get('fatal')!r}")
    if run.get("elapsed_s", 99) > 10:
        problems.append(f"ran {run.get('elapsed_s')} s: it should stop at the first refusal")
    return problems


def main():
    wirestress, bootstrap, broker, codecs, broker_version = sys.argv[1:6]
    failed = 0
    for acks in ("0", "1", "-1"):
        for codec in codecs.split(","):
            # One scenario negotiates with --broker-version=auto (against Kafka 0.9 that means the
            # ApiVersions timeout and the fallback); the others name the version to save time.
            version = "auto" if (acks, codec) == ("1", "none") else broker_version
            problems = check_scenario(wirestress, bootstrap, broker, acks, codec, version)
            status = "ok" if not problems else "FAILED"
            print(f"{broker} acks={acks} compression={codec} broker-version={version}: {status}")
            for p in problems:
                print(f"    {p}")
            failed += bool(problems)
    problems = check_payload_file(wirestress, bootstrap, broker, broker_version)
    print(f"{broker} --payload-file: {'ok' if not problems else 'FAILED'}")
    for p in problems:
        print(f"    {p}")
    failed += bool(problems)
    if broker == "kafka09":  # the mock does not enforce message.max.bytes
        problems = check_too_large(wirestress, bootstrap, broker, broker_version)
        print(f"{broker} records too large: {'ok' if not problems else 'FAILED'}")
        for p in problems:
            print(f"    {p}")
        failed += bool(problems)
    print(f"{failed} scenarios failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
