#!/usr/bin/env python3
"""A 1 s broker stall at a fixed rate must show in the corrected (intended-time) p99 and not in
the uncorrected (actual-send-time) one.

Usage: coordinated_omission_test.py WIRESTRESS MOCK_BOOTSTRAP

wirestress produces through stall_proxy.py (a Kafka-aware proxy in front of the mock cluster) with
one client at a fixed --rate and a small --max-in-flight window. The proxy holds every response
for STALL_S seconds, STALL_AFTER_S seconds into the run. During the stall the window fills after
MAX_IN_FLIGHT requests; the ~RATE * STALL_S records that fall due meanwhile wait in wirestress and
go out when the responses resume. So:
  - about RATE * STALL_S requests (~8 % of the run) are late against their intended send time by
    up to STALL_S: the corrected p99 lands in the stall;
  - only the MAX_IN_FLIGHT requests that were on the wire when the stall began (<0.1 % of the
    run) waited after being sent: the uncorrected p99 does not see the stall, its max does (which
    also proves the proxy really stalled).
A control run through the same proxy without the stall shows that the difference is the stall's.
"""
import json
import os
import selectors
import subprocess
import sys
import time

from brokers import run_wirestress

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = os.path.join(HERE, "stall_proxy.py")

RATE = 1000          # records/s, one record per request (--batch=1)
DURATION_S = 12      # ~12,000 requests
MAX_IN_FLIGHT = 5
STALL_AFTER_S = 4.0  # after the first Produce request: well inside the run, long after start-up
STALL_S = 1.0

# Thresholds, from measurements on this 2-core machine while other tests and builds ran (load
# average 1.5-7.5, the worst with two extra busy loops); the figures are the ranges seen.
#  - Through the proxy the mock answers in ~1.5 ms (uncorrected p50), uncorrected p99 2-13 ms.
#    The corrected view of the control run is far noisier, 3-146 ms at p99: a process (mock,
#    proxy or wirestress) descheduled for 50-200 ms on a busy machine delays every request due
#    meanwhile, which is exactly what the corrected view is for. So the control bound is
#    CONTROL_P99_MAX_MS = 250 ms, half the "the stall shows" bound below, so a pass means the two
#    runs are clearly apart and not merely on either side of one line.
#  - With the stall, the request due at stall start + x waits ~STALL_S - x, so the latencies of
#    the ~1,000 delayed requests spread evenly over 0..1 s; the top 1 % of ~12,000 requests are
#    the ~120 earliest of them: corrected p99 ~ 1000 - 120 = 880 ms (measured 892-912 ms). Load
#    only adds to it. STALL_P99_MIN_MS = 500 ms: half the stall.
#  - The uncorrected p99 of the stall run must stay where the control's is: measured 5-9 ms
#    (control 2-13 ms); HIDDEN_P99_MAX_MS = 100 ms is 7x the worst seen and 5x below 500 ms.
#  - The requests on the wire when the stall began wait the whole stall (their responses are
#    held until it ends): max >= ~1000 ms in both views (measured 1002-1017 ms). 900 ms allows
#    for timer slack; the control's corrected max stays below it (measured 41-225 ms).
CONTROL_P99_MAX_MS = 250.0
STALL_P99_MIN_MS = 500.0
HIDDEN_P99_MAX_MS = 100.0
STALL_MAX_MIN_MS = 900.0 * STALL_S

WIRESTRESS_TIMEOUT_S = DURATION_S + 40
PROXY_START_TIMEOUT_S = 10


def start_proxy(bootstrap, stall_for):
    proc = subprocess.Popen([sys.executable, PROXY, bootstrap, f"--stall-after={STALL_AFTER_S}",
                             f"--stall-for={stall_for}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    ready = sel.select(timeout=PROXY_START_TIMEOUT_S)
    sel.close()
    line = proc.stdout.readline().strip() if ready else ""
    if not line.isdigit():
        stop_proxy(proc)
        raise RuntimeError(f"stall proxy did not start (first line {line!r})")
    return proc, int(line)


def stop_proxy(proc):
    """Stops the proxy; returns its stats dict (or None) and the rest of its output."""
    if proc.poll() is None:
        proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    stats = None
    for line in out.splitlines():
        if line.startswith("stats "):
            stats = json.loads(line[len("stats "):])
    return stats, out


def run(wirestress, bootstrap, stall_for, topic, batch=1):
    """One wirestress run through the proxy; returns (problems, produce dict, proxy stats)."""
    proxy, port = start_proxy(bootstrap, stall_for)
    stats = None
    output = ""
    try:
        code, result, output = run_wirestress(wirestress, [
            f"--bootstrap=127.0.0.1:{port}", f"--topic={topic}", "--clients=1", "--threads=1",
            f"--rate={RATE}", f"--duration={DURATION_S}s", f"--max-in-flight={MAX_IN_FLIGHT}",
            f"--batch={batch}", "--acks=1", "--message-size=100"], timeout=WIRESTRESS_TIMEOUT_S)
    finally:
        stats, proxy_output = stop_proxy(proxy)
    if code != 0 or result is None:
        return [f"wirestress exited {code}:\n{output}\nproxy:\n{proxy_output}"], None, stats
    produce = result["produce"]
    problems = []
    if produce["messages_failed"] or produce["messages_acked"] != produce["messages_sent"]:
        problems.append(f"sent {produce['messages_sent']} acked {produce['messages_acked']} "
                        f"failed {produce['messages_failed']}: {produce['errors_by_code']} "
                        f"{result['failures']}")
    if produce["messages_acked"] < 0.9 * RATE * DURATION_S:
        problems.append(f"only {produce['messages_acked']} acked, expected ~{RATE * DURATION_S}")
    # Every produce request went through the proxy (the Metadata rewrite kept the client on it).
    if stats is None or stats["produce_requests"] != produce["requests_sent"]:
        problems.append(f"proxy saw {stats and stats['produce_requests']} produce requests, "
                        f"wirestress sent {produce['requests_sent']}")
    return problems, produce, stats


def describe(name, produce, stats):
    lat, svc = produce["latency_ms"], produce["service_latency_ms"]
    keys = ("p50", "p90", "p99", "p999", "max")
    print(f"{name}: {produce['requests_sent']} requests, {produce['messages_acked']} acked; "
          f"proxy {json.dumps(stats)}")
    print("    corrected   (intended send) " + "  ".join(f"{k} {lat[k]:8.2f}" for k in keys))
    print("    uncorrected (actual send)   " + "  ".join(f"{k} {svc[k]:8.2f}" for k in keys))


def main():
    wirestress, bootstrap = sys.argv[1:3]
    problems = []

    base = f"ws-co-{os.getpid()}-{int(time.time())}"
    control_problems, control, control_stats = run(wirestress, bootstrap, 0, base + "-control")
    problems += [f"control: {p}" for p in control_problems]
    if control:
        describe("control (no stall)", control, control_stats)
        lat = control["latency_ms"]
        if lat["p99"] >= CONTROL_P99_MAX_MS:
            problems.append(f"control: corrected p99 {lat['p99']} ms >= {CONTROL_P99_MAX_MS} ms "
                            "without a stall")
        if lat["max"] >= STALL_MAX_MIN_MS:
            problems.append(f"control: corrected max {lat['max']} ms >= {STALL_MAX_MIN_MS} ms "
                            "without a stall")

    stall_problems, stalled, stall_stats = run(wirestress, bootstrap, STALL_S, base + "-stall")
    problems += [f"stall: {p}" for p in stall_problems]
    if stalled:
        describe(f"stall ({STALL_S:g} s after {STALL_AFTER_S:g} s)", stalled, stall_stats)
        lat, svc = stalled["latency_ms"], stalled["service_latency_ms"]
        checks = [
            (lat["p99"] >= STALL_P99_MIN_MS, f"corrected p99 {lat['p99']} ms < {STALL_P99_MIN_MS} "
                                            "ms: the stall does not show"),
            (lat["max"] >= STALL_MAX_MIN_MS, f"corrected max {lat['max']} ms < {STALL_MAX_MIN_MS} ms"),
            (svc["p99"] < HIDDEN_P99_MAX_MS, f"uncorrected p99 {svc['p99']} ms >= "
                                            f"{HIDDEN_P99_MAX_MS} ms: the stall should hide there"),
            (svc["max"] >= STALL_MAX_MIN_MS, f"uncorrected max {svc['max']} ms < {STALL_MAX_MIN_MS}"
                                            " ms: the in-flight requests did not wait (no stall?)"),
            (stall_stats is not None and 1 <= stall_stats["frames_held"] <= MAX_IN_FLIGHT,
             f"proxy held {stall_stats and stall_stats['frames_held']} responses, expected "
             f"1..{MAX_IN_FLIGHT} (the window)"),
        ]
        problems += [f"stall: {msg}" for ok, msg in checks if not ok]

    # After the stall the backlog goes out up to 10 records per request. Each record must still
    # count with its own due time: one sample per request would hide the stall again (it did: a
    # corrected p99 of 157 ms before latency was recorded per record).
    batch_problems, batched, batch_stats = run(wirestress, bootstrap, STALL_S, base + "-batch", batch=10)
    problems += [f"stall, --batch=10: {p}" for p in batch_problems]
    if batched:
        describe("stall with --batch=10", batched, batch_stats)
        if batched["latency_ms"]["p99"] < STALL_P99_MIN_MS:
            problems.append(f"stall, --batch=10: corrected p99 {batched['latency_ms']['p99']} ms < "
                            f"{STALL_P99_MIN_MS} ms: records in catch-up batches are under-counted")

    for p in problems:
        print(f"FAILED {p}")
    print("ok" if not problems else f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
