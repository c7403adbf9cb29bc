#!/usr/bin/env python3
"""wirestress sweep:
- against ws_kafka_sink --max-rate=10000: every cell runs in order with its own topic and the
  scenario flags given, cells below the sink's capacity achieve their offered rate, the cell above it
  is held to about 10,000 msg/s with a higher latency;
- with consumers (embedded broker): the cells report the consumers' receive rate and loss;
- Ctrl-C: the cell running ends, the JSON keeps the cells done and says it was interrupted;
- bad flags: exit code 2, one line naming the flag.
Usage: sweep_test.py WIRESTRESS SINK_BINARY"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from capacity_common import Sink, check_bad_input, run_command

QUICK = ["--step-duration=1s", "--warmup=500ms", "--pause=300ms"]


def matrix_against_known_capacity(wirestress, sink_binary):
    problems = []
    with Sink(sink_binary, "--max-rate=10000") as sink:
        code, result, out, err = run_command(wirestress, "sweep", [
            f"--bootstrap={sink.bootstrap}", "--broker-version=0.10", "--clients=2,6",
            "--rate-per-client=500,3000", "--message-size=200", "--topic=sw", *QUICK])
    print(out)
    if code != 0 or result is None:
        return [f"matrix: exit {code}: {err}"]
    cells = result.get("cells", [])
    want = [(2, 500), (2, 3000), (6, 500), (6, 3000)]
    got = [(c["clients"], c["rate_per_client"]) for c in cells]
    if got != want:
        return [f"matrix: cells {got}, want {want} in that order"]
    topics = [c["result"]["config"]["topic"] for c in cells]
    if topics != ["sw-c0", "sw-c1", "sw-c2", "sw-c3"]:
        problems.append(f"matrix: topics {topics}, want a fresh one per cell")
    starts = [c["started_s"] for c in cells]
    for a, b in zip(starts, starts[1:]):
        if b - a < 1.5 + 0.3:  # warm-up + step + pause
            problems.append(f"matrix: cells started at {starts}: less than a cell and a pause apart")
    for c in cells:
        cfg, fig = c["result"]["config"], c["figures"]
        offered = c["clients"] * c["rate_per_client"]
        if (cfg["clients"], cfg["rate"], cfg["message_size"], cfg["duration_s"], cfg["warmup_s"]) != \
                (c["clients"], offered, 200, 1.0, 0.5):
            problems.append(f"matrix: cell {c['index']} ran {cfg}")
        if c["offered_msgs_per_s"] != offered or fig["offered_msgs_per_s"] != offered:
            problems.append(f"matrix: cell {c['index']} offered {c['offered_msgs_per_s']}, want {offered}")
        if "wirestress --bootstrap=" not in c.get("command", ""):
            problems.append(f"matrix: cell {c['index']} has no equivalent command line")
        if offered < 10000:
            if abs(fig["achieved_msgs_per_s"] - offered) > 0.05 * offered:
                problems.append(f"matrix: cell {c['index']} achieved {fig['achieved_msgs_per_s']:.0f} of {offered}")
        elif not 9000 <= fig["achieved_msgs_per_s"] <= 11000:
            problems.append(f"matrix: cell {c['index']} above the sink's 10,000 msg/s achieved "
                            f"{fig['achieved_msgs_per_s']:.0f}")
    if cells[3]["figures"]["latency_ms"]["p99"] <= 10 * cells[0]["figures"]["latency_ms"]["p99"]:
        problems.append("matrix: the overloaded cell's p99 is not well above the idle cell's: "
                        f"{cells[3]['figures']['latency_ms']['p99']} vs {cells[0]['figures']['latency_ms']['p99']}")
    if result["sweep"].get("interrupted") is not False:
        problems.append("matrix: sweep.interrupted should be false")
    return problems


def with_consumers(wirestress):
    """Embedded broker; each consumer reads every record, so each receives what producers offer."""
    code, result, out, err = run_command(wirestress, "sweep", [
        "--clients=2", "--rate-per-client=250", "--consumers=2", "--verify", *QUICK], timeout=60)
    print(out)
    if code != 0 or result is None:
        return [f"consumers: exit {code}: {err}"]
    problems = []
    fig = result["cells"][0]["figures"]
    if fig.get("loss_from") != "consumers" or "received_msgs_per_s" not in fig:
        problems.append(f"consumers: the figures do not come from the consumers: {fig}")
    elif fig["achieved_msgs_per_s"] != fig["received_msgs_per_s"] or fig["received_msgs_per_s"] < 0.9 * 500:
        problems.append(f"consumers: achieved {fig['achieved_msgs_per_s']}, received "
                        f"{fig['received_msgs_per_s']} per consumer, want about 500")
    if fig["loss_pct"] != result["cells"][0]["result"]["consume"]["loss_pct"]:
        problems.append(f"consumers: loss {fig['loss_pct']} is not the consumers' "
                        f"{result['cells'][0]['result']['consume']['loss_pct']}")
    return problems


def interrupted(wirestress, sink_binary):
    problems = []
    with Sink(sink_binary) as sink, tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "out.json")
        proc = subprocess.Popen([wirestress, "sweep", f"--bootstrap={sink.bootstrap}", "--broker-version=0.10",
                                 "--clients=2", "--rate-per-client=100,200,300", "--step-duration=3s",
                                 "--warmup=0", "--pause=0", f"--json={out_json}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4.5)  # inside the second cell
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            return ["interrupt: sweep did not end within 15 s of Ctrl-C"]
        if proc.returncode != 0 or not os.path.exists(out_json):
            return [f"interrupt: exit {proc.returncode}, JSON written: {os.path.exists(out_json)}: {err}"]
        with open(out_json) as f:
            result = json.load(f)
    if result["sweep"].get("interrupted") is not True:
        problems.append("interrupt: sweep.interrupted is not true")
    if not 1 <= len(result["cells"]) <= 2:
        problems.append(f"interrupt: {len(result['cells'])} cells, want the first (and the cut one)")
    if "interrupted" not in out:
        problems.append(f"interrupt: stdout does not say so:\n{out}")
    return problems


def main():
    wirestress, sink_binary = sys.argv[1:3]
    problems = check_bad_input(wirestress, "sweep", [
        (["--clients=10,abc", "--rate-per-client=1"], "--clients"),
        (["--clients=10", "--rate-per-client=1,-2"], "--rate-per-client"),
        (["--clients=10", "--rate-per-client=1", "--rate=100"], "--rate"),
        (["--clients=10", "--rate-per-client=1", "--step-duration=soon"], "--step-duration"),
        (["--clients=10", "--rate-per-client=1", "--acks=7"], "--acks"),
        (["--rate-per-client=1"], "--clients"),
    ])
    problems += matrix_against_known_capacity(wirestress, sink_binary)
    problems += with_consumers(wirestress)
    problems += interrupted(wirestress, sink_binary)
    for p in problems:
        print("FAIL:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
