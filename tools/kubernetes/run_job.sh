#!/usr/bin/env bash
# Runs tools/kubernetes/job.yaml as one sharded wirestress run: applies the Job with a start time
# common to every shard, waits for it, takes each pod's result out of its log and merges them.
#
# Usage: tools/kubernetes/run_job.sh [OUT_DIR]             run, collect and merge
#        tools/kubernetes/run_job.sh --collect [OUT_DIR]   collect and merge the Job already there
# OUT_DIR (default wirestress-DATE) gets logs/POD.log, shard-I.json and merged.json.
# Environment: JOB_YAML (the manifest), START_IN_S (120: seconds until the measured start, time for
# every pod to be scheduled, pull the image and connect its clients), WAIT_TIMEOUT (30m: from the
# apply to the end of the slowest shard), WIRESTRESS (the binary that merges, build/tools/wirestress).
# kubectl's current context and namespace are used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
collect_only=false
if [[ ${1:-} == --collect ]]; then collect_only=true; shift; fi
out=${1:-wirestress-$(date +%Y%m%d-%H%M%S)}
job_yaml=${JOB_YAML:-$here/job.yaml}
wirestress=${WIRESTRESS:-$here/../../build/tools/wirestress}

if $collect_only; then
  job=$(kubectl get -f "$job_yaml" -o name)
else
  if kubectl get -f "$job_yaml" >/dev/null 2>&1; then
    echo "run_job: $(kubectl get -f "$job_yaml" -o name) is there from an earlier run: collect it with" \
         "'$0 --collect DIR' or delete it with 'kubectl delete -f $job_yaml'" >&2
    exit 1
  fi
  start_at=$(( ($(date +%s) + ${START_IN_S:-120}) * 1000 ))
  job=$(sed "s/__START_AT_UNIX_MS__/$start_at/" "$job_yaml" | kubectl apply -f - -o name)
  echo "run_job: $job applied; measured start at $(date -d "@$((start_at / 1000))" +%T)"
  # Complete or Failed, whichever comes first: with backoffLimit 0 one failed shard fails the Job
  # at once, and the others' results (and a degraded shard's, exit 3) are still worth collecting.
  kubectl wait --for=condition=complete "$job" --timeout="${WAIT_TIMEOUT:-30m}" >/dev/null 2>&1 &
  complete=$!
  kubectl wait --for=condition=failed "$job" --timeout="${WAIT_TIMEOUT:-30m}" >/dev/null 2>&1 &
  failed=$!
  wait -n "$complete" "$failed" || true
  kill "$complete" "$failed" 2>/dev/null || true
fi
conditions=$(kubectl get "$job" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
echo "run_job: $job: ${conditions:-still running}"
kubectl get pods -l "job-name=${job##*/}" -o wide

mkdir -p "$out/logs"
for pod in $(kubectl get pods -l "job-name=${job##*/}" -o name); do
  kubectl logs "$pod" >"$out/logs/${pod#pod/}.log" || echo "run_job: no log from $pod" >&2
done
shopt -s nullglob  # no pod, no log: collect_results.py then names every shard as missing
shards=$(kubectl get "$job" -o jsonpath='{.spec.completions}')
# Merged only when every shard gave its result: a merge of some shards would understate the load.
python3 "$here/collect_results.py" --out="$out" --shards="$shards" "$out"/logs/*.log </dev/null
"$wirestress" merge "$out"/shard-*.json --json="$out/merged.json"
echo "run_job: $out/merged.json"
if [[ $conditions == *Failed* ]]; then
  echo "run_job: a shard exited non-zero (3: degraded, its summary in $out/logs says why)" >&2
  exit 1
fi
