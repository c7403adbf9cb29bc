#!/usr/bin/env python3
"""wirestress against a 3-broker Kafka 0.9 cluster (replication 3, min.insync.replicas=2, no
unclean leader election), started by the cluster_start fixture with tools/scripts/kafka09.sh.

Usage: cluster_test.py CASE WIRESTRESS KAFKA09_SH WORKDIR
  spread     60 round-robin clients (acks=-1) and 3 verifying consumers on a 6-partition topic: every
             client connects to every leader, and kcat reads back every acknowledged record
  failover   the same while the leader of partition 0 is SIGKILLed mid-run: nothing acknowledged is
             lost, no client is stranded (>= 95 % of the offered records acknowledged), exit 0
  bootstrap  the first bootstrap address dead at start: every client connects
  restart    a broker killed and started again under verifying consumers: none fails, none loses
  murmur2    keyed records land on the partition kcat's murmur2_random (the Java client's hash) picks
  sources    400 clients past max.connections.per.ip=150 fail from one address and connect from four
  mock       the embedded librdkafka mock with 3 brokers (ApiVersions, Produce v7, Fetch v11): the
             same spread, every broker written and read, nothing lost (WORKDIR and KAFKA09_SH unused)
"""
import collections
import json
import os
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokers import KCAT_ARGS, run_wirestress  # noqa: E402

KCAT = KCAT_ARGS["kafka09"]


def bootstrap_of(workdir):
    ports = sorted(f for f in os.listdir(workdir) if f.startswith("kafka-") and f.endswith(".port"))
    return ",".join(f"127.0.0.1:{open(os.path.join(workdir, f)).read().strip()}" for f in ports)


def create_topic(kafka09, workdir, topic, partitions=6, replicas=3):
    out = subprocess.run([kafka09, "create-topic", workdir, topic, str(partitions), str(replicas)],
                         capture_output=True, text=True, timeout=90)
    if out.returncode != 0:
        raise RuntimeError(f"create-topic {topic}: {out.stderr}")


def leaders(bootstrap, topic):
    """partition -> leader node id, from kcat's metadata listing."""
    out = subprocess.run(["kcat", "-b", bootstrap, "-L", "-t", topic, *KCAT, "-m", "10"],
                         capture_output=True, text=True, timeout=30).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "partition":
            result[int(parts[1].rstrip(","))] = int(parts[3].rstrip(","))
    return result


def read_back(bootstrap, topic):
    """Every record of the topic through kcat: {(run, producer): set of sequences}, per-partition counts.
    Values are --verify stamps (driver/verify.h): hash u64, run u32, producer u32, sequence u64."""
    out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", *KCAT,
                          "-f", "%p\n%R%s"], capture_output=True, timeout=120).stdout
    sequences = collections.defaultdict(set)
    per_partition = collections.Counter()
    i = 0
    while i < len(out):
        newline = out.index(b"\n", i)
        partition = int(out[i:newline])
        (size,) = struct.unpack(">i", out[newline + 1:newline + 5])
        value = out[newline + 5:newline + 5 + size]
        i = newline + 5 + size
        _run, producer, sequence = struct.unpack("<IIQ", value[8:24])
        sequences[producer].add(sequence)
        per_partition[partition] += 1
    return sequences, per_partition


def check_run(name, code, result, output, problems, lost_ok=False):
    if result is None:
        problems.append(f"{name}: no JSON (exit {code}): {output[-3000:]}")
        return False
    if code != 0:
        problems.append(f"{name}: exit {code}: {result['run'].get('degraded_reasons')}")
        print(output[-4000:])
    consume = result.get("consume", {})
    if consume and not lost_ok and consume["lost"] != 0:
        problems.append(f"{name}: consumers lost {consume['lost']} acknowledged records")
    if consume and consume["failing_clients"] != 0:
        problems.append(f"{name}: {consume['failing_clients']} consumers failing")
    return True


def verify_args(clients, rate, duration):
    return [f"--clients={clients}", f"--rate={rate}", f"--duration={duration}", "--acks=-1",
            "--partitioner=round-robin", "--consumers=3", "--verify", "--threads=2"]


def case_spread(wirestress, kafka09, workdir):
    bootstrap, topic, problems = bootstrap_of(workdir), "spread", []
    create_topic(kafka09, workdir, topic)
    code, result, output = run_wirestress(
        wirestress, [f"--bootstrap={bootstrap}", f"--topic={topic}", *verify_args(60, 1200, "6s")], timeout=120)
    if not check_run("spread", code, result, output, problems):
        return problems
    acked = result["produce"]["messages_acked"]
    # One connection per client to each leader: the three brokers lead two partitions each.
    for b in result["brokers"]:
        if b["node_id"] >= 0 and b["connections_established"] < 60:
            problems.append(f"broker {b['node_id']}: {b['connections_established']} connections, want >= 60")
        if b["node_id"] >= 0 and b["produce_requests"] == 0:
            problems.append(f"broker {b['node_id']}: no produce requests")
    sequences, per_partition = read_back(bootstrap, topic)
    if sorted(per_partition) != list(range(6)):
        problems.append(f"records on partitions {sorted(per_partition)}, want all 6")
    if sum(per_partition.values()) < acked:
        problems.append(f"kcat read {sum(per_partition.values())} records, {acked} were acknowledged")
    if result["produce"]["messages_failed"] == 0:
        # Nothing failed: every producer's sequences 0..n-1 are all there, once.
        for producer, seqs in sequences.items():
            if len(seqs) != max(seqs) + 1:
                problems.append(f"producer {producer}: {max(seqs) + 1 - len(seqs)} sequences missing in kcat's read")
    if len(sequences) != 60:
        problems.append(f"kcat saw records of {len(sequences)} producers, want 60")
    print(f"spread: acked {acked}, kcat read {sum(per_partition.values())} ({dict(sorted(per_partition.items()))}), "
          f"connections per broker {[b['connections_established'] for b in result['brokers']]}")
    return problems


def run_with_events(wirestress, args, events, timeout=150):
    """Runs wirestress while `events` [(seconds after start, callable)] happen in a thread."""
    def act():
        began = time.time()
        for at, action in events:
            time.sleep(max(0.0, at - (time.time() - began)))
            action()
    t = threading.Thread(target=act)
    t.start()
    try:
        return run_wirestress(wirestress, args, timeout=timeout)
    finally:
        t.join()


def broker_ctl(kafka09, workdir, verb, node):
    out = subprocess.run([kafka09, verb, workdir, str(node)], capture_output=True, text=True, timeout=120)
    print(f"{time.strftime('%H:%M:%S')} {verb} {node}: exit {out.returncode} {out.stderr.strip()}")


def case_failover(wirestress, kafka09, workdir):
    bootstrap, topic, problems = bootstrap_of(workdir), "failover", []
    create_topic(kafka09, workdir, topic)
    victim = leaders(bootstrap, topic)[0]
    rate, seconds = 1500, 20
    # Connecting takes ~3 s (Kafka 0.9 is recognised by its silence to ApiVersions); the kill
    # falls about 6 s into the measured time.
    code, result, output = run_with_events(
        wirestress, [f"--bootstrap={bootstrap}", f"--topic={topic}", *verify_args(30, rate, f"{seconds}s")],
        [(9, lambda: broker_ctl(kafka09, workdir, "kill-broker", victim))])
    try:
        if not check_run("failover", code, result, output, problems):
            return problems
        acked = result["produce"]["messages_acked"]
        offered = rate * seconds
        if acked < 0.95 * offered:
            problems.append(f"only {acked} of {offered} offered records acknowledged: clients stranded")
        if result["metadata"]["leader_changes"] < 1:
            problems.append("no leader change seen")
        dead = [b for b in result["brokers"] if b["node_id"] == victim]
        if not dead or dead[0]["connections_failed"] == 0:
            problems.append(f"the killed broker {victim} shows no failed connection: {dead}")
        # The dead broker is given up once Metadata moves its partitions (ZooKeeper session: 4 s),
        # not redialled for the rest of the run: at most ~10 attempts per connection.
        if dead and dead[0]["connections_failed"] > 33 * 10:
            problems.append(f"{dead[0]['connections_failed']} connects to the dead broker")
        sequences, per_partition = read_back(bootstrap, topic)
        if sum(per_partition.values()) < acked:
            problems.append(f"kcat read {sum(per_partition.values())} records, {acked} were acknowledged")
        print(f"failover: killed node {victim}; acked {acked} of {offered} offered, failed "
              f"{result['produce']['messages_failed']}, lost {result['consume']['lost']}, leader changes "
              f"{result['metadata']['leader_changes']}, connects to the dead broker {dead[0]['connections_failed']}")
    finally:
        broker_ctl(kafka09, workdir, "start-broker", victim)
    return problems


def case_bootstrap(wirestress, kafka09, workdir):
    bootstrap, topic, problems = bootstrap_of(workdir), "bootstrap", []
    create_topic(kafka09, workdir, topic)
    dead = "127.0.0.1:1"  # nothing listens on port 1
    code, result, output = run_wirestress(
        wirestress, [f"--bootstrap={dead},{bootstrap}", f"--topic={topic}", "--clients=30", "--rate=600",
                     "--duration=3s", "--partitioner=round-robin", "--threads=2"])
    if not check_run("bootstrap", code, result, output, problems):
        return problems
    if result["clients"]["never_connected"] != 0:
        problems.append(f"{result['clients']['never_connected']} clients never connected")
    print(f"bootstrap: first address dead, {result['clients']['connected']} clients connected")
    return problems


def case_restart(wirestress, kafka09, workdir):
    bootstrap, topic, problems = bootstrap_of(workdir), "restart", []
    create_topic(kafka09, workdir, topic)
    victim = leaders(bootstrap, topic)[1]
    code, result, output = run_with_events(
        wirestress, [f"--bootstrap={bootstrap}", f"--topic={topic}", *verify_args(12, 600, "22s")],
        [(6, lambda: broker_ctl(kafka09, workdir, "kill-broker", victim)),
         (11, lambda: broker_ctl(kafka09, workdir, "start-broker", victim))])
    if not check_run("restart", code, result, output, problems):
        return problems
    print(f"restart: node {victim} killed and restarted; received {result['consume']['messages_received']}, "
          f"lost {result['consume']['lost']}, leader changes {result['metadata']['leader_changes']}")
    return problems


def case_murmur2(wirestress, kafka09, workdir):
    bootstrap, problems = bootstrap_of(workdir), []
    # One replica, so acks=1 on both sides (min.insync.replicas=2 refuses acks=all with one).
    create_topic(kafka09, workdir, "keys-ws", replicas=1)
    create_topic(kafka09, workdir, "keys-kcat", replicas=1)
    code, result, output = run_wirestress(
        wirestress, [f"--bootstrap={bootstrap}", "--topic=keys-ws", "--clients=4", "--messages=400",
                     "--key-size=12", "--partitioner=murmur2", "--acks=1"])
    if not check_run("murmur2", code, result, output, problems):
        return problems

    def key_partitions(topic):
        out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", *KCAT,
                              "-f", "%k\t%p\n"], capture_output=True, text=True, timeout=60).stdout
        return dict(line.split("\t") for line in out.splitlines() if line)

    ours = key_partitions("keys-ws")
    # The same keys through librdkafka's murmur2_random, which is the Java client's partitioner.
    lines = "".join(f"{k}\tv\n" for k in ours)
    produced = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", "keys-kcat", "-K", "\t", *KCAT, "-X", "acks=1",
                               "-X", "partitioner=murmur2_random", "-X", "message.timeout.ms=30000"],
                              input=lines, text=True, capture_output=True, timeout=60)
    if produced.returncode != 0:
        return problems + [f"kcat -P failed: {produced.stderr[-3000:]}"]
    theirs = key_partitions("keys-kcat")
    differ = [k for k in ours if theirs.get(k) != ours[k]]
    if len(ours) != 400:
        problems.append(f"{len(ours)} distinct keys read back, want 400")
    if differ:
        problems.append(f"{len(differ)} keys on another partition than murmur2_random's, e.g. {differ[:3]}")
    if len(set(ours.values())) < 6:
        problems.append(f"keys landed on partitions {sorted(set(ours.values()))} only")
    print(f"murmur2: {len(ours)} keys, {len(ours) - len(differ)} on kcat's partition")
    return problems


def case_sources(wirestress, kafka09, workdir):
    bootstrap, topic, problems = bootstrap_of(workdir), "sources", []
    create_topic(kafka09, workdir, topic)
    args = [f"--bootstrap={bootstrap}", f"--topic={topic}", "--clients=400", "--rate=400", "--duration=2s",
            "--partitioner=round-robin", "--threads=2", "--connect-deadline=10s"]
    # The brokers take at most 150 connections per client address: 400 from 127.0.0.1 cannot all connect.
    code, result, _ = run_wirestress(wirestress, args, timeout=120)
    if code != 3 or not result or result["clients"]["never_connected"] == 0:
        problems.append(f"one address: exit {code}, never connected "
                        f"{result and result['clients']['never_connected']}; want exit 3 and some")
    one = result and result["clients"]["never_connected"]
    code, result, output = run_wirestress(
        wirestress, args + ["--source-addresses=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5"], timeout=120)
    if check_run("sources", code, result, output, problems) and result["clients"]["never_connected"] != 0:
        problems.append(f"four addresses: {result['clients']['never_connected']} clients never connected")
    print(f"sources: one address left {one} clients unconnected; four addresses: "
          f"{result and result['clients']['connected']} connected")
    return problems


def case_mock(wirestress, _kafka09, _workdir):
    problems = []
    code, result, output = run_wirestress(
        wirestress, ["--brokers=3", "--partitions=6", "--topic=spread", *verify_args(30, 3000, "3s")], timeout=120)
    if not check_run("mock", code, result, output, problems):
        return problems
    nodes = [b for b in result["brokers"] if b["node_id"] >= 0]
    if len(nodes) != 3:
        problems.append(f"{len(nodes)} brokers in the result, want 3")
    for b in nodes:
        if b["produce_requests"] == 0 or b["fetch_requests"] == 0 or b["connections_established"] < 30:
            problems.append(f"broker {b['node_id']}: {b['connections_established']} connections, "
                            f"{b['produce_requests']} produce, {b['fetch_requests']} fetch requests")
        if not b["has_api_versions"] or b["api_versions"]["Produce"] < 3:
            problems.append(f"broker {b['node_id']}: versions {b['api_versions']}, want RecordBatch (Produce v3+)")
    received = result["consume"]["messages_received"]
    if received != 3 * result["produce"]["messages_acked"]:
        problems.append(f"3 consumers received {received} records of {result['produce']['messages_acked']} acked")
    print(f"mock: {[(b['node_id'], b['connections_established'], b['produce_requests']) for b in nodes]}, "
          f"received {received}")
    return problems


CASES = {"spread": case_spread, "failover": case_failover, "bootstrap": case_bootstrap,
         "restart": case_restart, "murmur2": case_murmur2, "sources": case_sources, "mock": case_mock}


def main():
    case, wirestress, kafka09, workdir = sys.argv[1:5]
    problems = CASES[case](wirestress, kafka09, workdir)
    for p in problems:
        print("FAIL:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
