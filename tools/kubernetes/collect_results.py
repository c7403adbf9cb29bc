#!/usr/bin/env python3
"""Takes each shard's result out of its pod's log and writes it as OUT/shard-I.json.

wirestress --json=- prints its result after the summary, between the lines BEGIN and END below.
The logs come either as files, one per pod and named after it (POD.log, as run_job.sh saves them),
or on stdin as the one stream `kubectl logs -l job-name=JOB --prefix --tail=-1` prints, each line
starting with [pod/POD/CONTAINER].

Usage: collect_results.py --out=DIR [--shards=N] [POD.log ...]

The shard index I is the result's own run.shard.index; without one (a result of a run without
--shards), the pod's name: Kubernetes names the pods of an Indexed Job JOB-I-SUFFIX. Exit 0 when every pod gave a result
(and, with --shards, every shard 0..N-1 did); otherwise 1, with one line per pod or shard saying
what is missing.
"""
import argparse
import json
import os
import re
import sys
from collections import OrderedDict

BEGIN = "----- BEGIN WIRESTRESS RESULT -----"
END = "----- END WIRESTRESS RESULT -----"
KUBECTL_PREFIX = re.compile(r"^\[pod/([^/\]]+)/[^\]]*\] ?(.*)$")
# The last "-<digits>" of the name that is followed by at most one more "-suffix".
SHARD_OF_POD = re.compile(r"-(\d+)(?:-[a-z0-9]+)?$")


def split_prefixed_stream(lines):
    """kubectl logs --prefix output -> {pod: [lines]}, in the order the pods appear."""
    logs = OrderedDict()
    for number, line in enumerate(lines, 1):
        match = KUBECTL_PREFIX.match(line)
        if not match:
            raise ValueError(f"stdin line {number} has no [pod/NAME/CONTAINER] prefix: "
                             "give the log files, or use kubectl logs --prefix")
        logs.setdefault(match.group(1), []).append(match.group(2))
    return logs


def extract_result(lines):
    """The text between the last BEGIN and its END -> (json_text, None), or (None, what is wrong)."""
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    if not begins:
        last = next((line.strip() for line in reversed(lines) if line.strip()), "(empty log)")
        return None, f"no result in the log (no BEGIN marker); its last line: {last}"
    body = lines[begins[-1] + 1:]
    ends = [i for i, line in enumerate(body) if line.strip() == END]
    if not ends:
        return None, "the result is cut off (BEGIN marker without END): the pod was killed or its log rotated"
    text = "\n".join(body[:ends[0]])
    try:
        json.loads(text)
    except ValueError as error:
        return None, f"the result between the markers is not JSON: {error}"
    return text, None


def shard_of(pod, text):
    """The result's own run.shard.index (wirestress --shards writes it), else the pod name's index."""
    shard = (json.loads(text).get("run") or {}).get("shard")
    if isinstance(shard, dict) and isinstance(shard.get("index"), int):
        return shard["index"]
    match = SHARD_OF_POD.search(pod)
    return int(match.group(1)) if match else None


def collect(logs, out_dir, shards):
    """Writes a shard-I.json per good log; returns the problems found, one line each."""
    problems, written = [], {}
    for pod, lines in logs.items():
        text, problem = extract_result(lines)
        if problem:
            match = SHARD_OF_POD.search(pod)
            problems.append(f"pod {pod}" + (f" (shard {match.group(1)})" if match else "") + f": {problem}")
            continue
        shard = shard_of(pod, text)
        if shard is None:
            problems.append(f"pod {pod}: its result has no run.shard and its name no index (JOB-I-SUFFIX)")
            continue
        if shard in written:
            problems.append(f"pod {pod}: shard {shard} already came from pod {written[shard]}")
            continue
        path = os.path.join(out_dir, f"shard-{shard}.json")
        with open(path, "w") as f:
            f.write(text + "\n")
        written[shard] = pod
        print(f"pod {pod}: shard {shard} -> {path}")
    if shards is not None:
        seen = set(written) | {int(m.group(1)) for m in map(SHARD_OF_POD.search, logs) if m}
        problems += [f"shard {i}: no pod log" for i in range(shards) if i not in seen]
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for the shard-I.json files")
    parser.add_argument("--shards", type=int, help="the Job's completions: report shards with no log")
    parser.add_argument("logs", nargs="*", help="POD.log files; none: kubectl logs --prefix on stdin")
    args = parser.parse_args()
    try:
        if args.logs:
            logs = OrderedDict((os.path.basename(p).removesuffix(".log"), open(p).read().splitlines())
                               for p in args.logs)
        else:
            logs = split_prefixed_stream(sys.stdin.read().splitlines())
    except (OSError, ValueError) as error:
        print(f"collect_results: {error}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    problems = collect(logs, args.out, args.shards)
    for problem in problems:
        print(f"collect_results: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
