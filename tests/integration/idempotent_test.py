"""--idempotent against real brokers.

  mock     librdkafka's mock cluster (it answers InitProducerId and tracks producer state):
           20 idempotent producers with --verify, and a consumer; every producer gets an id, the
           broker refuses no sequence, and the consumer finds every record once.
  kafka09  Kafka 0.9 predates idempotence: the run stops at once, exit 2, naming --idempotent.

Usage: idempotent_test.py WIRESTRESS mock|kafka09 BOOTSTRAP"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from brokers import run_wirestress  # noqa: E402


def main():
    wirestress, broker, bootstrap = sys.argv[1], sys.argv[2], sys.argv[3]
    problems = []
    if broker == "mock":
        code, result, output = run_wirestress(wirestress, [
            f"--bootstrap={bootstrap}", f"--topic=idempotent-{os.getpid()}", "--clients=20", "--idempotent",
            "--verify", "--consumers=1", "--rate=2000", "--duration=3s", "--batch=5", "--linger=5ms"])
        if code != 0 or result is None:
            print(output)
            return 1
        p, c = result["produce"], result["consume"]
        idem = p["idempotence"]
        print(f"acked {p['messages_acked']}, failed {p['messages_failed']}, errors {p['errors_by_code']}, "
              f"ids {idem['producer_ids_assigned']}, resets {idem['producer_id_resets']}, "
              f"InitProducerId p99 {idem['init_producer_id_latency_ms']['p99']} ms; "
              f"received {c['messages_received']}, lost {c['lost']}, duplicates {c['duplicates']}")
        if result["config"]["acks"] != -1:
            problems.append(f"acks {result['config']['acks']}: --idempotent makes it all (-1)")
        if idem["producer_ids_assigned"] != 20 or idem["producer_id_resets"] != 0:
            problems.append(f"producer ids: {idem}")
        if idem["init_producer_id_latency_ms"]["count"] != 20:
            problems.append(f"InitProducerId latency samples: {idem['init_producer_id_latency_ms']['count']}")
        if p["messages_failed"] or p["errors_by_code"]:
            problems.append(f"the broker refused batches: {p['errors_by_code']}")
        if p["messages_acked"] < 5000:
            problems.append(f"only {p['messages_acked']} acked")
        if c["lost"] or c["duplicates"] or c["corrupt"] or c["messages_received"] < p["messages_acked"]:
            problems.append(f"consumer: {c['messages_received']} received, lost {c['lost']}, "
                            f"duplicates {c['duplicates']}, corrupt {c['corrupt']}")
    else:
        code, result, output = run_wirestress(wirestress, [
            f"--bootstrap={bootstrap}", "--topic=idempotent", "--clients=2", "--idempotent", "--duration=10s"])
        print(output.strip().splitlines()[-1])
        if code != 2:
            problems.append(f"exit code {code}, expected 2")
        if "--idempotent" not in output or "0.11" not in output:
            problems.append("the error does not name --idempotent and the version it needs")
        if result and result["run"]["elapsed_s"] > 1:
            problems.append(f"ran {result['run']['elapsed_s']} s before stopping")
    for p in problems:
        print("FAIL " + p)
    print("ok" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
