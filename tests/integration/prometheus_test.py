#!/usr/bin/env python3
"""--prometheus during a real run: curl scrapes /metrics twice while wirestress produces, and the
counters grow between the scrapes; the latency histogram is cumulative, build_info is there, and
the server answers on 127.0.0.1 only. Usage: prometheus_test.py WIRESTRESS BOOTSTRAP"""
import re
import subprocess
import sys
import time


def scrape(port):
    out = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/metrics"],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        sys.exit(f"curl failed: {out.stderr}")
    return out.stdout


def value(text, name):
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    if not m:
        sys.exit(f"{name} missing from /metrics:\n{text[:2000]}")
    return float(m.group(1))


def main():
    wirestress, bootstrap = sys.argv[1:3]
    run = subprocess.Popen([wirestress, f"--bootstrap={bootstrap}", "--topic=ws-prometheus", "--clients=10",
                            "--rate=2000", "--duration=8s", "--prometheus=0", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.time() + 10
        while port is None and time.time() < deadline:
            line = run.stderr.readline()
            m = re.search(r"metrics on http://[^:]+:(\d+)/metrics", line)
            if m:
                port = int(m.group(1))
        if port is None:
            sys.exit("wirestress did not say where it serves /metrics")
        time.sleep(2.5)
        first = scrape(port)
        time.sleep(2)
        second = scrape(port)
        a = value(first, "wirestress_produce_messages_acked_total")
        b = value(second, "wirestress_produce_messages_acked_total")
        count_a = value(first, "wirestress_produce_latency_seconds_count")
        count_b = value(second, "wirestress_produce_latency_seconds_count")
        p99 = value(second, 'wirestress_produce_latency_seconds{quantile="0.99"}')
        conns = value(second, "wirestress_connections_open")
        producing = value(second, "wirestress_clients_producing")
        connected = value(second, "wirestress_clients_connected_total")
        print(f"acked {a:.0f} -> {b:.0f}, latency count {count_a:.0f} -> {count_b:.0f}, p99 {p99 * 1000:.2f} ms, "
              f"connections {conns:.0f}")
        problems = []
        if not (a > 0 and b > a):
            problems.append("acked counter did not grow between scrapes")
        if not count_b > count_a:
            problems.append("latency summary count did not grow (it must be cumulative)")
        # Every client's connection to its leader, and each worker's metadata connection.
        if not 11 <= conns <= 10 + 8:
            problems.append(f"connections_open {conns}, expected 10 clients + a metadata connection per worker")
        if producing != 10 or connected != 10:
            problems.append(f"clients_producing {producing}, clients_connected_total {connected}, expected 10")
        if not 0 < p99 < 5:
            problems.append(f"implausible p99 {p99}")
        # The histogram adds up across load hosts: cumulative buckets ending at +Inf == _count.
        inf = value(second, 'wirestress_produce_latency_histogram_seconds_bucket{le="+Inf"}')
        if inf != value(second, "wirestress_produce_latency_histogram_seconds_count") or inf <= 0:
            problems.append(f"histogram +Inf bucket {inf} is not its _count")
        buckets = [float(v) for v in re.findall(
            r'^wirestress_produce_latency_histogram_seconds_bucket\{le="[^"]+"\} (\S+)$', second, re.M)]
        if buckets != sorted(buckets):
            problems.append(f"histogram buckets not cumulative: {buckets}")
        if not re.search(r'^wirestress_build_info\{revision="[^"]+",version="[^"]+"\} 1$', second, re.M):
            problems.append("wirestress_build_info missing")
        # Bound to 127.0.0.1 by default: another loopback address does not answer.
        other = subprocess.run(["curl", "-sS", "--max-time", "3", f"http://127.0.0.2:{port}/metrics"],
                               capture_output=True, text=True, timeout=10)
        if other.returncode == 0:
            problems.append("/metrics answered on 127.0.0.2; the default bind is 127.0.0.1")
        for p in problems:
            print(p)
        sys.exit(1 if problems else 0)
    finally:
        run.kill()
        run.wait()


if __name__ == "__main__":
    main()
