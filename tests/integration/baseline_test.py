#!/usr/bin/env python3
"""rdkafka-baseline against the mock cluster: same JSON keys as wirestress (top level and
produce.*), every record acknowledged, and kcat reads them all back.
Usage: baseline_test.py BASELINE WIRESTRESS MOCK_BOOTSTRAP"""
import os
import sys

from brokers import consume, run_wirestress

MESSAGES = 2000


def main():
    baseline, wirestress, bootstrap = sys.argv[1:4]
    problems = []
    topic = f"ws-baseline-{os.getpid()}"
    args = [f"--bootstrap={bootstrap}", "--clients=4", f"--messages={MESSAGES}", "--acks=1",
            "--duration=60s"]
    code, base, output = run_wirestress(baseline, args + [f"--topic={topic}"])
    if code != 0 or base is None:
        print(f"rdkafka-baseline exited {code}:\n{output}")
        sys.exit(1)
    code, ws, ws_output = run_wirestress(wirestress, args + [f"--topic={topic}-ws"])
    if code != 0 or ws is None:
        print(f"wirestress exited {code}:\n{ws_output}")
        sys.exit(1)
    if set(base) != set(ws):
        problems.append(f"top-level keys differ: baseline {sorted(base)} wirestress {sorted(ws)}")
    if set(base["produce"]) != set(ws["produce"]):
        problems.append(f"produce keys differ: only baseline {sorted(set(base['produce']) - set(ws['produce']))}, "
                        f"only wirestress {sorted(set(ws['produce']) - set(base['produce']))}")
    produce = base["produce"]
    if produce["messages_acked"] != MESSAGES:
        problems.append(f"messages_acked {produce['messages_acked']} != {MESSAGES}: "
                        f"errors {produce['errors_by_code']} failures {base['failures']}\n{output}")
    if produce["messages_sent"] != MESSAGES:
        problems.append(f"messages_sent {produce['messages_sent']} != {MESSAGES}")
    if produce["latency_ms"]["count"] != MESSAGES:
        problems.append(f"latency count {produce['latency_ms']['count']} != {MESSAGES}")
    if base["connections"]["established"] != 4:
        problems.append(f"connections established {base['connections']['established']} != 4")
    records = consume(bootstrap, topic, "mock", MESSAGES)
    if len(records) != MESSAGES:
        problems.append(f"kcat read {len(records)} records, expected {MESSAGES}")
    for p in problems:
        print(p)
    print("ok" if not problems else f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
