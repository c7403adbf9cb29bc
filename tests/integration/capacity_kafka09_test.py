#!/usr/bin/env python3
"""sweep and ceiling against Kafka 0.9 with the default --broker-version=auto do not blame the
broker for start-up. Before the Connecting phase, the 3 s ApiVersions probe and the connecting
clients fell inside each step's 2 s warm-up: `ceiling --clients=50` failed its first step with
"34 failing clients". Now every step measures clients that are all connected.
Usage: capacity_kafka09_test.py WIRESTRESS BOOTSTRAP"""
import os
import sys

from capacity_common import run_command


def main():
    wirestress, bootstrap = sys.argv[1:3]
    problems = []
    topic = f"ws-cap09-{os.getpid()}"
    code, ceiling, out, err = run_command(wirestress, "ceiling", [
        f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=50", "--start-rate=500", "--max-rate=1000",
        "--step-duration=2s", "--warmup=1s", "--pause=0", "--max-steps=2", "--slo-p99=2s"], timeout=200)
    if code != 0 or ceiling is None:
        problems.append(f"ceiling exited {code}: {err[-2000:]}")
    else:
        for step in ceiling["steps"]:
            f = step["figures"]
            print(f"ceiling step {step['index']}: {step['offered_msgs_per_s']:.0f} msg/s offered, "
                  f"{f['achieved_msgs_per_s']:.0f} achieved, failing clients {f['failing_clients']}, "
                  f"violations {[v['reason'] for v in step['violations']]}")
            if f["failing_clients"] != 0:
                problems.append(f"ceiling step {step['index']}: {f['failing_clients']} failing clients")
            if step["result"]["clients"]["never_connected"] != 0:
                problems.append(f"ceiling step {step['index']}: clients {step['result']['clients']}")
        if not ceiling["steps"] or not ceiling["steps"][0]["ok"]:
            problems.append(f"the first step (500 msg/s over 50 clients) failed: {ceiling['steps'][:1]}")
    code, sweep, out, err = run_command(wirestress, "sweep", [
        f"--bootstrap={bootstrap}", f"--topic={topic}-sw", "--clients=10,50", "--rate-per-client=10",
        "--step-duration=2s", "--warmup=1s", "--pause=0"], timeout=200)
    if code != 0 or sweep is None:
        problems.append(f"sweep exited {code}: {err[-2000:]}")
    else:
        for cell in sweep["cells"]:
            f = cell["figures"]
            print(f"sweep cell {cell['index']}: {cell['clients']} clients, achieved {f['achieved_msgs_per_s']:.0f} "
                  f"of {cell['offered_msgs_per_s']:.0f} msg/s, failing clients {f['failing_clients']}")
            if f["failing_clients"] != 0:
                problems.append(f"sweep cell {cell['index']}: {f['failing_clients']} failing clients")
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
