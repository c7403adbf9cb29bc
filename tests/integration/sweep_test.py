#!/usr/bin/env python3
"""wirestress sweep:
- against ws_kafka_sink --max-rate=10000: every cell runs in order with its own topic and the
  scenario flags given, cells below the sink's capacity achieve their offered rate, the cell above it
  is held to about 10,000 msg/s with a higher latency;
- with consumers (embedded broker): the cells report the consumers' receive rate and loss;
- the seed study's axes (embedded broker; ws_kafka_sink serves no Fetch): --clients=1
  --consumers=1,3 --rate=200,400 runs consumers x total rate in order, with each consumer's figures
  and a progress line per cell that says which of how many it is;
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


def consumers_by_total_rate(wirestress):
    """One producer, 1 then 3 verifying consumers, 200 then 400 msg/s in total."""
    code, result, out, err = run_command(wirestress, "sweep", [
        "--clients=1", "--consumers=1,3", "--rate=200,400", "--verify", "--topic=seed", *QUICK], timeout=90)
    print(out)
    if code != 0 or result is None:
        return [f"seed: exit {code}: {err}"]
    problems = []
    sweep, cells = result["sweep"], result.get("cells", [])
    if (sweep.get("axes"), sweep.get("consumers"), sweep.get("rate"), "rate_per_client" in sweep) != \
            (["clients", "consumers", "rate"], [1, 3], [200, 400], False):
        problems.append(f"seed: sweep section {sweep}")
    want = [(1, 1, 200), (1, 1, 400), (1, 3, 200), (1, 3, 400)]
    got = [(c["clients"], c["consumers"], c["offered_msgs_per_s"]) for c in cells]
    if got != want:
        return problems + [f"seed: cells {got}, want {want} in that order"]
    for c in cells:
        cfg, fig, consume = c["result"]["config"], c["figures"], c["result"].get("consume", {})
        offered = c["offered_msgs_per_s"]
        where = f"seed: cell {c['index']} ({c['consumers']} consumers at {offered} msg/s)"
        if (cfg["clients"], cfg["consumers"], cfg["rate"], cfg["verify"]) != (1, c["consumers"], offered, True):
            problems.append(f"{where} ran {cfg}")
        if f"--consumers={c['consumers']}" not in c["command"] or f"--rate={offered:g}" not in c["command"]:
            problems.append(f"{where}: command {c['command']!r}")
        per = consume.get("per_consumer", [])
        if len(per) != c["consumers"]:
            problems.append(f"{where}: {len(per)} per-consumer entries")
        if not 0.9 * offered <= fig.get("received_min_msgs_per_s", 0) <= fig.get("received_msgs_per_s", 0) <= 1.1 * offered:
            problems.append(f"{where}: each consumer received {fig.get('received_msgs_per_s')} msg/s, the slowest "
                            f"{fig.get('received_min_msgs_per_s')}, want about {offered}")
        if (fig.get("failing_consumers"), fig["loss_pct"]) != (0, 0):
            problems.append(f"{where}: {fig.get('failing_consumers')} failing consumers, loss {fig['loss_pct']}%")
    for i, c in enumerate(cells):
        label = f"sweep: cell {i + 1}/4 1 client, {c['consumers']} consumer"
        if label not in err:
            problems.append(f"seed: no progress line {label!r} on stderr:\n{err}")
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
        (["--clients=1", "--consumers=10,abc", "--rate=1000"], "--consumers"),
        (["--clients=1", "--consumers=10,1.5", "--rate=1000"], "--consumers"),
        (["--clients=1", "--consumers=10,50", "--rate=1000", "--rate-per-client=10"], "--rate"),
        (["--clients=1", "--consumers=10"], "--rate-per-client or --rate"),
        (["--clients=1", "--consumers=10", "--rate=1000,x"], "--rate"),
        (["--clients=1", "--rate=1000", "--group-mode=own"], "--group-mode"),
    ])
    problems += matrix_against_known_capacity(wirestress, sink_binary)
    problems += with_consumers(wirestress)
    problems += consumers_by_total_rate(wirestress)
    problems += interrupted(wirestress, sink_binary)
    for p in problems:
        print("FAIL:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
