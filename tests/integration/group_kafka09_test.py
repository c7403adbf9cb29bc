#!/usr/bin/env python3
"""Consumer groups (--group-mode) against a real Kafka 0.9 broker.

Usage: group_kafka09_test.py WIRESTRESS BOOTSTRAP KAFKA09_SH KAFKA09_DIR

1. 100 consumers, each alone in a group of its own (--group-mode=own), on a topic of 4 partitions:
   while the run goes, the broker's own ConsumerGroupCommand lists the 100 groups and describes
   one of them with its member owning all 4 partitions; the JSON says 100 groups got stable, none
   rebalanced, every consumer received every record once.
2. 20 consumers in 2 shared groups (--group-mode=shared --groups=2) with --verify, on a topic of
   12 partitions: the broker describes each group with every partition owned by exactly one
   member; every acknowledged record reached each group exactly once (the union of its members),
   and no partition was held by two members of a group in one generation.
3. A rebalance storm: 6 consumers in one shared group with --churn-members=1.5 and --verify, on a
   topic of 12 partitions: every member leaves (committing first) and joins again as a new member at
   least once while records flow, and the counts stay exact: the group received every acknowledged
   record, lost none, and what it read twice is only rebalance_duplicates.
4. --group-instance-id (static membership, JoinGroup v5, Kafka 2.3) on Kafka 0.9, which has JoinGroup
   v0 only: the run stops at once with exit code 2 and one line naming the flag.

About 40 s with the shared kafka09 fixture.
"""
import os
import subprocess
import sys
import threading
import time

from brokers import run_wirestress

# Short heartbeats so that groups form within a second or two on Kafka 0.9, which has no
# group.initial.rebalance.delay: each member joining makes the ones before it rejoin.
GROUP_TIMINGS = ["--session-timeout=6s", "--heartbeat-interval=500ms", "--commit-interval=1s"]


def kafka_java(kafka09, *args, timeout=60):
    out = subprocess.run([kafka09, "java", *args], capture_output=True, text=True, timeout=timeout)
    return out.stdout + out.stderr


def group_command(kafka09, bootstrap, *args):
    return kafka_java(kafka09, "kafka.admin.ConsumerGroupCommand", "--new-consumer", "--bootstrap-server",
                      bootstrap, *args)


def describe(kafka09, bootstrap, group):
    """The broker's view of a group: [(partition, owner)] rows of ConsumerGroupCommand --describe."""
    rows = []
    for line in group_command(kafka09, bootstrap, "--describe", "--group", group).splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) >= 7 and cells[0] == group and cells[2].isdigit():
            rows.append((int(cells[2]), cells[6]))
    return rows


def create_topic(kafka09, workdir, topic, partitions):
    out = subprocess.run([kafka09, "create-topic", workdir, topic, str(partitions)], capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"create-topic {topic}: {out.stderr}")


def start_run(ws, bootstrap, kafka09, workdir, kind, partitions, args):
    """Creates a topic of `partitions` and starts wirestress on it in the background, its groups
    named <kind><pid>-n. Returns (group prefix, thread, holder of (code, result, output))."""
    topic, prefix = f"groups-{kind}-{os.getpid()}", f"{kind}{os.getpid()}"
    create_topic(kafka09, workdir, topic, partitions)
    args = [f"--bootstrap={bootstrap}", "--broker-version=0.9", f"--topic={topic}", f"--group-prefix={prefix}",
            "--verify", "--duration=6s", "--drain-timeout=10s", *GROUP_TIMINGS, *args]
    holder = {}
    thread = threading.Thread(target=lambda: holder.update(run=run_wirestress(ws, args, timeout=90)))
    thread.start()
    return prefix, thread, holder


def wait_for(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return predicate()


def group_problems(g, groups):
    """What every group run must show: all groups stable, every member assigned, no partition
    held twice in a generation, none left unassigned."""
    problems = []
    if g["groups"] != groups or g["groups_stable"] != groups or g["members_never_assigned"] != 0:
        problems.append(f"groups {g['groups']} of {groups}, stable {g['groups_stable']}, never assigned "
                        f"{g['members_never_assigned']}")
    if g["assignment_conflicts"] != 0:
        problems.append(f"{g['assignment_conflicts']} partitions held by two members of a group in one generation")
    problems += [f"group {group}" for group in g["per_group"] if group["partitions_unassigned"]][:1]
    return problems


def report(what, problems, output, errors, g, line):
    """Records the failures, or prints the figures the run measured."""
    if problems:
        return errors.append(f"{what}: " + "; ".join(problems[:5]) + "\n" + output[-3000:])
    print(f"ok: {what}: {line}; stable {g['time_to_stable_s']['max']:.2f} s after the start (p50 "
          f"{g['time_to_stable_s']['p50']:.2f} s) after {g['rebalances']} rebalances; join p50 "
          f"{g['join_latency_ms']['p50']:.1f} ms p99 {g['join_latency_ms']['p99']:.1f} ms, sync p50 "
          f"{g['sync_latency_ms']['p50']:.1f} ms p99 {g['sync_latency_ms']['p99']:.1f} ms, heartbeat p99 "
          f"{g['heartbeat_latency_ms']['p99']:.1f} ms, commit p99 {g['commit_latency_ms']['p99']:.1f} ms")


def check_own_groups(ws, bootstrap, kafka09, workdir, errors):
    prefix, thread, holder = start_run(ws, bootstrap, kafka09, workdir, "own", 4, [
        "--clients=1", "--consumers=100", "--group-mode=own", "--rate=400", "--batch=10", "--linger=20ms"])
    # While it runs: the broker knows the 100 groups, and a member owns all 4 partitions of its own.
    # The two ConsumerGroupCommands start together: each JVM takes seconds on a loaded machine, and
    # one after the other could ask after the run's members had left.
    described = {}
    describer = threading.Thread(target=lambda: described.update(rows=wait_for(
        lambda: describe(kafka09, bootstrap, f"{prefix}-7") if thread.is_alive() else None, 8)))
    describer.start()
    listed = wait_for(lambda: [g for g in group_command(kafka09, bootstrap, "--list").split()
                               if g.startswith(prefix + "-")] if thread.is_alive() else None, 8) or []
    describer.join()
    owners = described.get("rows") or []
    thread.join()
    code, result, output = holder["run"]
    problems = []
    if len(set(listed)) != 100:
        problems.append(f"ConsumerGroupCommand --list showed {len(set(listed))} of the 100 groups")
    if sorted(p for p, _ in owners) != [0, 1, 2, 3] or any("consumer-7" not in o for _, o in owners):
        problems.append(f"ConsumerGroupCommand --describe {prefix}-7: {owners}")
    if code != 0 or not result:
        return errors.append(f"own groups: exit {code}\n{output[-3000:]}")
    g = result["groups"]
    problems += group_problems(g, 100)
    if g["rebalances"] != 0:
        problems.append(f"{g['rebalances']} rebalances in groups of one")
    acked = result["produce"]["messages_acked"]
    c = result["consume"]
    if acked == 0 or any(p["received"] != acked or p["lost"] or p["duplicates"] or p["failed"]
                         for p in c["per_consumer"]):
        problems.append(f"acked {acked}; consumers {[p for p in c['per_consumer'] if p['received'] != acked][:3]}")
    report("100 own groups", problems, output, errors, g,
           f"all listed by the broker, {acked} records to each of 100 consumers")


def check_shared_groups(ws, bootstrap, kafka09, workdir, errors):
    prefix, thread, holder = start_run(ws, bootstrap, kafka09, workdir, "shared", 12, [
        "--clients=2", "--consumers=20", "--group-mode=shared", "--groups=2", "--assignor=range", "--rate=2000",
        "--batch=20", "--linger=10ms"])
    # While it runs: the broker sees every partition of the topic owned by one member per group.
    # Both groups are asked at once and again until the answer is whole (a describe while the group
    # forms shows part of it); one after the other, a JVM on a loaded machine could start after the
    # run's members had left.
    described = {}

    def watch(n):
        def whole():
            if not thread.is_alive():
                return None
            rows = describe(kafka09, bootstrap, f"{prefix}-{n}")
            if thread.is_alive() or n not in described:  # an answer after the run ended says nothing
                described[n] = rows
            return described[n] if sorted(p for p, _ in described[n]) == list(range(12)) else None
        wait_for(whole, 10)

    watchers = [threading.Thread(target=watch, args=(n,)) for n in range(2)]
    for w in watchers:
        w.start()
    for w in watchers:
        w.join()
    thread.join()
    for n in range(2):
        if n not in described:
            problems_seen = f"the broker was never asked about {prefix}-{n} while the run went on"
            return errors.append(f"shared groups: {problems_seen}")
    code, result, output = holder["run"]
    problems = []
    for n, rows in described.items():
        partitions = sorted(p for p, _ in rows)
        if partitions != list(range(12)):
            problems.append(f"broker's view of {prefix}-{n}: partitions {partitions}")
    if code != 0 or not result:
        return errors.append(f"shared groups: exit {code}\n{output[-3000:]}")
    g = result["groups"]
    acked = result["produce"]["messages_acked"]
    c = result["consume"]
    if not g["verified"] or g["lost"] != 0 or c["lost"] != 0 or c["duplicates"] != 0:
        problems.append(f"verified {g['verified']}, groups lost {g['lost']}, consume lost {c['lost']}, "
                        f"duplicates {c['duplicates']}")
    problems += group_problems(g, 2)
    for group in g["per_group"]:
        # Exactly once per group: its members together received each acknowledged record once,
        # plus whatever a rebalance made them read again (counted apart).
        received = sum(p["received"] for p in c["per_consumer"] if p["id"] % 2 == group["id"])
        if received != acked + group["rebalance_duplicates"]:
            problems.append(f"group {group['id']}: received {received} of {acked} acked, {group}")
    if acked < 5000:
        problems.append(f"only {acked} records acknowledged")
    report("2 shared groups of 10", problems, output, errors, g,
           f"{acked} records each exactly once per group (rebalance duplicates {g['rebalance_duplicates']}, "
           f"rebalance time p50 {g['rebalance_duration_ms']['p50']:.0f} ms)")


def check_churn(ws, bootstrap, kafka09, workdir, errors):
    members = 6
    _, thread, holder = start_run(ws, bootstrap, kafka09, workdir, "churn", 12, [
        "--clients=2", f"--consumers={members}", "--group-mode=shared", "--churn-members=1.5", "--rate=1000",
        "--batch=10", "--linger=10ms"])
    thread.join()
    code, result, output = holder["run"]
    if code != 0 or not result:
        return errors.append(f"churn: exit {code}\n{output[-3000:]}")
    g = result["groups"]
    churn = g["churn"]
    acked = result["produce"]["messages_acked"]
    c = result["consume"]
    received = sum(p["received"] for p in c["per_consumer"])
    problems = group_problems(g, 1)
    if churn["members_rejoined"] != members:
        problems.append(f"{churn['members_rejoined']} of {members} members left and joined again: {churn}")
    if churn["rejoins"] != churn["leaves"] or churn["leaves"] < members:
        problems.append(f"churn {churn}")
    if not g["verified"] or g["lost"] != 0 or c["lost"] != 0 or c["duplicates"] != 0:
        problems.append(f"verified {g['verified']}, groups lost {g['lost']}, consume lost {c['lost']}, "
                        f"duplicates {c['duplicates']}")
    if received != acked + g["rebalance_duplicates"]:
        problems.append(f"received {received} of {acked} acked, rebalance duplicates {g['rebalance_duplicates']}")
    if g["rebalances"] < members:
        problems.append(f"only {g['rebalances']} rebalances for {churn['leaves']} churns")
    if acked < 3000:
        problems.append(f"only {acked} records acknowledged")
    report(f"churn of {members} members", problems, output, errors, g,
           f"{churn['leaves']} leaves, {churn['rejoins']} rejoins, {churn['members_rejoined']} of {members} "
           f"members rejoined, {g['rebalances']} rebalances (time p50 {g['rebalance_duration_ms']['p50']:.0f} ms "
           f"p99 {g['rebalance_duration_ms']['p99']:.0f} ms); {acked} acked, {received} received, lost {g['lost']}, "
           f"rebalance duplicates {g['rebalance_duplicates']}")


def check_static_refused(ws, bootstrap, errors):
    code, result, output = run_wirestress(ws, [
        f"--bootstrap={bootstrap}", "--broker-version=0.9", f"--topic=groups-static-{os.getpid()}", "--clients=1",
        "--consumers=2", "--group-mode=own", "--group-instance-id=static", "--duration=10s"], timeout=60)
    line = output.strip().splitlines()[-1] if output.strip() else ""
    problems = []
    if code != 2:
        problems.append(f"exit code {code}, expected 2")
    if "--group-instance-id" not in line or "JoinGroup v5" not in line:
        problems.append(f"the last line does not name --group-instance-id and JoinGroup v5: {line!r}")
    if result and result["run"]["elapsed_s"] > 2:
        problems.append(f"ran {result['run']['elapsed_s']} s before stopping")
    if problems:
        return errors.append("static membership on Kafka 0.9: " + "; ".join(problems) + "\n" + output[-2000:])
    print(f"ok: static membership refused by Kafka 0.9: exit 2, {line}")


def main():
    ws, bootstrap, kafka09, workdir = sys.argv[1:5]
    errors = []
    started = time.time()
    check_own_groups(ws, bootstrap, kafka09, workdir, errors)
    check_shared_groups(ws, bootstrap, kafka09, workdir, errors)
    check_churn(ws, bootstrap, kafka09, workdir, errors)
    check_static_refused(ws, bootstrap, errors)
    for e in errors:
        print("FAIL:", e)
    print(f"{time.time() - started:.1f} s")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
