#!/usr/bin/env python3
"""The end of --warmup splits the result exactly: what the clients did before it stays out.

Usage: warmup_test.py WIRESTRESS MOCK_BOOTSTRAP

One client at a fixed rate of RATE records/s (one record per request) with a warm-up of
WARMUP_MS and a measured time of DURATION_S: the open-loop schedule puts exactly
RATE * DURATION_S records due in the measured time, so that is what "sent" must say, give or
take a record or two on the worker's schedule at the boundary. "acked" must equal "sent": the
requests on the wire when the warm-up ended belong to it, and those sent in the measured time are
all answered (the drain waits for them). The warm-up is not a multiple of the workers' 100 ms publishing
period, so a split made when the reporting thread happens to look, rather than by each worker at
the instant the warm-up ends, counts up to 100 ms of warm-up records (~50 here) in the result.
Every acknowledged record has one latency sample, and so has every record still due at the end
(at most a few, from the broker's last millisecond), so the histogram's count must equal acked +
unsent.
Connections are counted over the whole run, connecting included: one worker's metadata connection
and the client's connection to its leader, attempted == established == 2.
"""
import sys

from brokers import run_wirestress

RATE = 1000
DURATION_S = 2
WARMUP_MS = 1050
EXPECTED = RATE * DURATION_S
# Records fall due on the schedule, not when the worker looks, so a late wake-up does not change
# the count; the tolerance covers the record due at the boundary itself and timer slack.
TOLERANCE = 5


def run(wirestress, bootstrap, warmup_ms, problems):
    code, result, output = run_wirestress(wirestress, [
        f"--bootstrap={bootstrap}", "--topic=warmup", "--clients=1", f"--rate={RATE}", "--batch=1",
        "--max-in-flight=5", f"--warmup={warmup_ms}ms", f"--duration={DURATION_S}s"], timeout=60)
    if code != 0 or result is None:
        print(output)
        problems.append(f"--warmup={warmup_ms}ms: wirestress exited {code}")
        return None
    return result


def main():
    wirestress, bootstrap = sys.argv[1], sys.argv[2]
    problems = []
    cold = run(wirestress, bootstrap, 0, problems)
    if cold:
        conn = cold["connections"]
        print(f"no warm-up: connections attempted {conn['attempted']}, established {conn['established']}")
        if conn["attempted"] != 2 or conn["established"] != 2:
            problems.append(f"no warm-up: connections {conn}, expected 2 attempted and established")
    result = run(wirestress, bootstrap, WARMUP_MS, problems)
    if result is None:
        for problem in problems:
            print("FAIL:", problem)
        return 1
    p = result["produce"]
    if abs(p["messages_sent"] - EXPECTED) > TOLERANCE:
        problems.append(f"produce.messages_sent = {p['messages_sent']}, expected {EXPECTED} +- {TOLERANCE}")
    if p["messages_acked"] != p["messages_sent"]:
        problems.append(f"produce.messages_acked = {p['messages_acked']} != messages_sent {p['messages_sent']}")
    # Records still due when the measured time ends (the mock was a millisecond slow, the
    # window full) are not sent but are counted, each with a latency sample from its intended
    # time (the coordinated-omission correction): samples = acked + unsent, exactly.
    unsent = p.get("messages_unsent_due", 0)
    if p["latency_ms"]["count"] != p["messages_acked"] + unsent:
        problems.append(f"latency samples {p['latency_ms']['count']} != acked {p['messages_acked']} + unsent {unsent}")
    if p.get("messages_failed", 0) or unsent > TOLERANCE:
        problems.append(f"failed {p.get('messages_failed')}, unsent {unsent} (at most {TOLERANCE})")
    print(f"sent {p['messages_sent']}, acked {p['messages_acked']}, unsent {unsent}, latency samples "
          f"{p['latency_ms']['count']} (expected {EXPECTED} +- {TOLERANCE}, acked == sent, samples == acked + unsent)")
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
