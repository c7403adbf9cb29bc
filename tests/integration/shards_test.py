"""A Kubernetes Indexed Job, simulated on one host against Kafka 0.9: N wirestress processes
with the same arguments and JOB_COMPLETION_INDEX=0..N-1, their results printed between markers
(--json=-), collected by tools/kubernetes/collect_results.py and merged by `wirestress merge`.

Checked as a user would:
  - the shards' parts of --clients, --consumers and --rate add up to the totals;
  - every shard began its measured time at --start-at, within 100 ms of the others;
  - merged counts are the shards' sums, and the merged percentiles are those of all the shards'
    samples pooled (decoded here by an independent HdrHistogram reader, tests/integration/hdr.py);
  - --verify consumers know the other shards' records as the run's own: nothing lost, duplicated
    or from "other runs", and each consumer received records of every shard.

Usage: shards_test.py WIRESTRESS BOOTSTRAP"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import hdr  # noqa: E402

SHARDS, CLIENTS, CONSUMERS, RATE = 3, 30, 3, 3000
COLLECT = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "kubernetes", "collect_results.py")


def main():
    wirestress, bootstrap = sys.argv[1], sys.argv[2]
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    topic = f"shards-{os.getpid()}"
    # Wall-clock start shared by every shard, as run_job.sh puts in the Job.
    start_at = int(time.time() * 1000) + 6000
    args = [wirestress, f"--bootstrap={bootstrap}", f"--topic={topic}", f"--shards={SHARDS}",
            f"--start-at={start_at}", f"--clients={CLIENTS}", f"--consumers={CONSUMERS}", f"--rate={RATE}",
            "--duration=3s", "--verify", "--broker-version=0.9", "--json=-"]
    with tempfile.TemporaryDirectory() as tmp:
        procs, logs = [], []
        for i in range(SHARDS):
            log = os.path.join(tmp, f"wirestress-{i}-pod.log")
            logs.append(log)
            env = dict(os.environ, JOB_COMPLETION_INDEX=str(i))
            procs.append(subprocess.Popen(args, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT))
        codes = [p.wait(timeout=120) for p in procs]
        check(codes == [0] * SHARDS, f"every shard exits 0: {codes}")
        out = os.path.join(tmp, "results")
        os.mkdir(out)
        collected = subprocess.run([sys.executable, COLLECT, f"--out={out}", f"--shards={SHARDS}", *logs],
                                   capture_output=True, text=True)
        check(collected.returncode == 0, f"collect_results finds every shard's result: {collected.stderr.strip()}")
        if collected.returncode != 0:
            for log in logs:
                print(open(log).read()[-3000:])
            return 1
        shards = [json.load(open(os.path.join(out, f"shard-{i}.json"))) for i in range(SHARDS)]
        merged_path = os.path.join(tmp, "merged.json")
        merge = subprocess.run([wirestress, "merge", *[os.path.join(out, f"shard-{i}.json") for i in range(SHARDS)],
                                f"--json={merged_path}"], capture_output=True, text=True)
        check(merge.returncode == 0 and "warning" not in merge.stderr,
              f"merge exits 0 without warnings: {merge.returncode} {merge.stderr.strip()}")
        merged = json.load(open(merged_path))

    # The split.
    indices = sorted(s["run"]["shard"]["index"] for s in shards)
    check(indices == list(range(SHARDS)), f"one result per shard index: {indices}")
    check(sum(s["config"]["clients"] for s in shards) == CLIENTS, "clients add up to --clients")
    check(sum(s["config"]["consumers"] for s in shards) == CONSUMERS, "consumers add up to --consumers")
    check(abs(sum(s["config"]["rate"] for s in shards) - RATE) < 1e-6, "rates add up to --rate")
    check(merged["config"]["clients"] == CLIENTS and abs(merged["config"]["rate"] - RATE) < 1e-6,
          "the merged config is the whole test's load")
    run_ids = {s["run"]["run_id"] for s in shards}
    check(len(run_ids) == SHARDS, f"every shard has its own run id: {sorted(run_ids)}")

    # The common start.
    starts = [s["run"]["measure_start_unix_ms"] for s in shards]
    check(max(starts) - min(starts) <= 100, f"the shards began within 100 ms: {[x - min(starts) for x in starts]}")
    check(all(abs(x - start_at) <= 100 for x in starts), f"at --start-at: {[x - start_at for x in starts]} ms")
    check(all(s["run"]["start_late_s"] < 0.1 for s in shards), "no shard began late")

    # Merged = sums, percentiles = pooled samples.
    for key in ("messages_sent", "messages_acked"):
        total = sum(s["produce"][key] for s in shards)
        check(merged["produce"][key] == total and total > 0, f"merged produce.{key} {merged['produce'][key]} = {total}")
    received = sum(s["consume"]["messages_received"] for s in shards)
    check(merged["consume"]["messages_received"] == received, f"merged received = the shards' sum ({received})")
    for section, key in (("produce", "latency"), ("consume", "e2e_latency")):
        pooled = None
        for s in shards:
            h = hdr.decode(s[section][f"{key}_histogram"])
            pooled = h if pooled is None else (pooled.add(h) or pooled)
        figures = merged[section][f"{key}_ms"]
        check(figures["count"] == pooled.total(), f"{section} {key}: merged count = pooled count {pooled.total()}")
        for name, p in (("p50", 50), ("p95", 95), ("p99", 99), ("p999", 99.9)):
            expected = pooled.value_at_percentile(p) / 1000
            check(abs(figures[name] - expected) < 1e-9,
                  f"{section} {key} {name}: merged {figures[name]} ms = pooled {expected} ms")

    # --verify across shards.
    acked_total = merged["produce"]["messages_acked"]
    for s in shards:
        c = s["consume"]
        i = s["run"]["shard"]["index"]
        check(c["lost"] == 0 and c["duplicates"] == 0 and c["corrupt"] == 0,
              f"shard {i}: lost {c['lost']}, duplicates {c['duplicates']}, corrupt {c['corrupt']}")
        check(c.get("other_runs", 0) == 0, f"shard {i}: the other shards' records are the run's own "
                                           f"(other_runs {c.get('other_runs')})")
        own = s["produce"]["messages_acked"]
        check(c["messages_received"] > own * 2, f"shard {i}'s consumer read the other shards' records too: "
                                                 f"{c['messages_received']} of {acked_total} ({own} its own)")
    ids = sorted(p["id"] for p in merged["consume"]["per_consumer"])
    check(ids == list(range(CONSUMERS)), f"consumer ids are numbered across shards: {ids}")
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
