#!/usr/bin/env python3
"""Static membership (--group-instance-id, KIP-345) against librdkafka's mock cluster.

Usage: group_static_mock_test.py WIRESTRESS BOOTSTRAP

librdkafka 2.0.2's mock advertises JoinGroup v5 (and SyncGroup v3, Heartbeat v3, OffsetCommit v7)
and reads the group.instance.id on the wire, but keeps no static members: a member that joins
again under the same instance id is a new member there. So this checks what the mock can show: 4
consumers, each alone in its group (the mock's shared groups keep rebalancing, see README), join
with JoinGroup v5 and their instance ids, are assigned, and every consumer receives every record
once (--verify). Static churn and its refusal on old brokers are covered by the fake-loop tests
(tests/driver/group_member_test.cpp) and group_kafka09_test.py. About 8 s.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from brokers import run_wirestress  # noqa: E402


def main():
    wirestress, bootstrap = sys.argv[1], sys.argv[2]
    prefix = f"static{os.getpid()}"
    code, result, output = run_wirestress(wirestress, [
        f"--bootstrap={bootstrap}", f"--topic=static-{os.getpid()}", "--clients=1", "--consumers=4",
        "--group-mode=own", f"--group-instance-id={prefix}", "--session-timeout=6s", "--heartbeat-interval=500ms",
        "--commit-interval=1s", "--verify", "--rate=500", "--duration=3s"], timeout=60)
    if code != 0 or result is None:
        print(output[-3000:])
        print(f"FAIL exit code {code}")
        return 1
    g, c = result["groups"], result["consume"]
    acked = result["produce"]["messages_acked"]
    problems = []
    if g["group_instance_id"] != prefix:
        problems.append(f"group_instance_id {g['group_instance_id']!r}, expected {prefix!r}")
    if g["groups_stable"] != 4 or g["members_never_assigned"] != 0:
        problems.append(f"stable {g['groups_stable']} of 4, never assigned {g['members_never_assigned']}")
    if g["responses"]["join"] < 4 or any(g["errors"][api] for api in ("join", "sync", "heartbeat", "commit")):
        problems.append(f"responses {g['responses']}, errors {g['errors']}")
    if acked < 1000 or any(p["received"] != acked or p["lost"] or p["duplicates"] for p in c["per_consumer"]):
        problems.append(f"acked {acked}; consumers {c['per_consumer']}")
    for p in problems:
        print("FAIL " + p)
    if not problems:
        print(f"ok: 4 static members (JoinGroup v5, instance ids {prefix}-0..3) stable, {acked} records to each; "
              f"join p50 {g['join_latency_ms']['p50']:.0f} ms")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
