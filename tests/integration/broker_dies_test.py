#!/usr/bin/env python3
"""Kill the broker in the middle of a run: wirestress must not hang, must count the failures,
and must exit 0 with its report written. Starts and kills its own Kafka 0.9 instance.
Usage: broker_dies_test.py WIRESTRESS KAFKA09_SH WORKDIR PORT"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time


def main():
    wirestress, kafka09, workdir, port = sys.argv[1:5]
    subprocess.run([kafka09, "stop", workdir], capture_output=True)
    # A clean directory: the previous run SIGKILLed its broker, whose registration in the old
    # ZooKeeper data would outlive it ("A broker is already registered on /brokers/ids/0").
    shutil.rmtree(workdir, ignore_errors=True)
    start = subprocess.run([kafka09, "start", workdir, port], capture_output=True, text=True, timeout=150)
    if start.returncode != 0:
        print(f"could not start Kafka 0.9:\n{start.stdout}{start.stderr}")
        sys.exit(1)
    bootstrap = start.stdout.strip().splitlines()[-1]
    out_json = os.path.join(workdir, "result.json")
    try:
        run = subprocess.Popen([wirestress, f"--bootstrap={bootstrap}", "--topic=ws-dies", "--clients=20",
                                "--threads=2", "--rate=2000", "--duration=12s", "--drain-timeout=2s",
                                "--request-timeout=3s", f"--json={out_json}", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(5)
        with open(os.path.join(workdir, "kafka.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
        began = time.time()
        try:
            output, _ = run.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            run.kill()
            print("wirestress hung after the broker died")
            sys.exit(1)
        problems = []
        if run.returncode != 0:
            problems.append(f"exit code {run.returncode}")
        if not os.path.exists(out_json):
            problems.append("no JSON report written")
        else:
            with open(out_json) as f:
                result = json.load(f)
            failures = result["failures"]
            lost = failures["disconnected"] + failures["connect_failed"] + failures["request_timeout"]
            if lost == 0:
                problems.append(f"no failure counted after the broker died: {failures}")
            if result["produce"]["messages_acked"] == 0:
                problems.append("nothing was acknowledged before the broker died")
            print(f"exited {time.time() - began:.1f} s after the kill; acked "
                  f"{result['produce']['messages_acked']}, failures {failures}")
        for p in problems:
            print(p)
        if problems:
            print(output)
        sys.exit(1 if problems else 0)
    finally:
        subprocess.run([kafka09, "stop", workdir], capture_output=True)


if __name__ == "__main__":
    main()
