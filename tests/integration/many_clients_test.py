#!/usr/bin/env python3
"""1,000 producer clients in one process: every one connects and every message arrives.
Usage: many_clients_test.py WIRESTRESS BOOTSTRAP BROKER"""
import os
import sys

from brokers import consume, run_wirestress

CLIENTS = 1000


def main():
    wirestress, bootstrap, broker = sys.argv[1:4]
    topic = f"ws-{broker}-many-{os.getpid()}"
    code, result, output = run_wirestress(wirestress, [
        f"--bootstrap={bootstrap}", f"--topic={topic}", f"--clients={CLIENTS}", "--threads=2",
        f"--messages={CLIENTS}", "--acks=1", "--message-size=20", "--key-size=8", "--duration=90s",
        "--broker-version=0.9" if broker == "kafka09" else "--broker-version=auto"],
        timeout=150)
    if code != 0 or result is None:
        print(f"wirestress exited {code}:\n{output}")
        sys.exit(1)
    problems = []
    conns = result["connections"]
    if conns["established"] < CLIENTS:
        problems.append(f"only {conns['established']} of {CLIENTS} clients connected: {conns}")
    if result["produce"]["messages_acked"] != CLIENTS:
        problems.append(f"acked {result['produce']['messages_acked']} of {CLIENTS}: "
                        f"{result['failures']} {result['produce']['errors_by_code']}")
    records = consume(bootstrap, topic, broker, CLIENTS)
    if len(records) != CLIENTS:
        problems.append(f"kcat read {len(records)} of {CLIENTS}")
    if len({k for k, _ in records}) != len(records):
        problems.append("duplicate keys: some client sent twice or a record was duplicated")
    for p in problems:
        print(p)
    print(f"{CLIENTS} clients: connected {conns['established']}, acked "
          f"{result['produce']['messages_acked']}, read back {len(records)}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
