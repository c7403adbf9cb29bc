#!/usr/bin/env python3
"""tools/kubernetes checked without a cluster: the fields of job.yaml a run relies on, the
Dockerfile's packages, collect_results.py on fake pod logs, and run_job.sh against a fake kubectl.

Usage: kubernetes_test.py [WIRESTRESS]
With WIRESTRESS (ctest gives it), the image's final stage must install the Debian package of every
shared library that binary links. Where kubectl 1.24 or later is installed, it decodes job.yaml into
its typed Job offline (`kubectl set env --local`) and no field may be lost on the way, so a misspelt
field fails here rather than being dropped by the cluster. `kubectl apply --dry-run=client` and
`kubectl create --dry-run=client` cannot do this: both ask an API server for its resource types.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KUBERNETES = os.path.join(ROOT, "tools", "kubernetes")
JOB_YAML = os.path.join(KUBERNETES, "job.yaml")
START_PLACEHOLDER = "__START_AT_UNIX_MS__"
# Kubernetes' "safe" sysctls since 1.22 (pkg/kubelet/sysctl/safe_sysctls.go): any node runs a pod
# that sets them; any other needs the node's kubelet to allow it.
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}
# setup.sh packages the image does not build with: test brokers and clients, Java, browsers and
# chart tools, the sanitizer compiler, the openssl CLI (tests make certificates with it), YAML
# for this test.
NOT_FOR_THE_BUILD = {"kcat", "openjdk-17-jre-headless", "openjdk-17-jdk-headless", "libhdrhistogram-java",
                     "curl", "chromium", "librsvg2-bin", "fonts-dejavu-core", "clang", "libclang-rt-14-dev",
                     "openssl", "python3-yaml"}
# Built with, though not in setup.sh: git only stamps the revision into --version.
BUILD_ONLY_EXTRAS = {"git"}
# In every Debian image (Essential), so the final stage needs not name them.
IN_EVERY_IMAGE = {"libc6", "libgcc-s1"}


def check_job(problems):
    job = yaml.safe_load(open(JOB_YAML))
    spec = job.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    containers = pod.get("containers", [])

    def want(ok, what):
        if not ok:
            problems.append(f"job.yaml: {what}")

    want(job.get("apiVersion") == "batch/v1" and job.get("kind") == "Job", "not a batch/v1 Job")
    want(spec.get("completionMode") == "Indexed", "completionMode is not Indexed (no JOB_COMPLETION_INDEX)")
    completions = spec.get("completions")
    want(isinstance(completions, int) and completions > 1, f"completions {completions!r}")
    want(spec.get("parallelism") == completions, "parallelism differs from completions: shards would not overlap")
    want(spec.get("backoffLimit") == 0, "backoffLimit is not 0: a retried shard would miss the common start")
    want(pod.get("restartPolicy") == "Never", "restartPolicy is not Never")
    want(len(containers) == 1, f"{len(containers)} containers, want 1")
    if not containers:
        return
    container = containers[0]
    args = container.get("args", [])
    want(container.get("image"), "no image")
    want(f"--shards={completions}" in args, f"--shards is not completions ({completions}): {args}")
    want(not any(a.startswith("--shard=") for a in args), "--shard given: every pod would be the same shard")
    want("--json=-" in args, "no --json=-: the result would not reach kubectl logs")
    want(f"--start-at={START_PLACEHOLDER}" in args, f"no --start-at={START_PLACEHOLDER} for run_job.sh")
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            want(resources.get(kind, {}).get(resource), f"no resources.{kind}.{resource}")
    threads = [a.split("=", 1)[1] for a in args if a.startswith("--threads=")]
    want(threads == [str(resources.get("limits", {}).get("cpu"))],
         f"--threads {threads} is not the CPU limit: one worker per CPU the pod may use")
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
        t.get("podAffinityTerm", {}) for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    labels = spec["template"].get("metadata", {}).get("labels", {})
    spreading = [t for t in terms if t.get("topologyKey") == "kubernetes.io/hostname"
                 and t.get("labelSelector", {}).get("matchLabels", {}).items() <= labels.items()
                 and t.get("labelSelector", {}).get("matchLabels")]
    want(spreading, "no podAntiAffinity on kubernetes.io/hostname that selects the Job's own pods")
    for sysctl in pod.get("securityContext", {}).get("sysctls", []):
        want(sysctl.get("name") in SAFE_SYSCTLS, f"sysctl {sysctl.get('name')} is not a safe one: "
             "the pod would not start on nodes that do not allow it")
    want(START_PLACEHOLDER in open(os.path.join(KUBERNETES, "run_job.sh")).read(),
         f"run_job.sh does not substitute {START_PLACEHOLDER}")
    print(f"job.yaml: {completions} shards, args {' '.join(args)}")


def leaves(value, path=""):
    """Every scalar of a document with its path: {".spec.completions": 4, ...}."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{path}[{i}]").items()}
    return {path: value}


def check_job_with_kubectl(problems):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print("kubectl: not installed; the offline decoding check is skipped")
        return
    version = json.loads(subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True,
                                        text=True, timeout=30).stdout or "{}").get("clientVersion", {})
    minor = int(re.sub(r"\D", "", version.get("minor", "")) or 0)
    if (int(version.get("major", 0)), minor) < (1, 24):
        print(f"kubectl {version.get('gitVersion')}: older than 1.24 (Indexed Jobs), check skipped")
        return
    # --local: no API server, no kubeconfig. The probe variable makes it print the object.
    env = dict(os.environ, KUBECONFIG=os.devnull)
    out = subprocess.run([kubectl, "set", "env", "--local", "-f", JOB_YAML, "WS_PROBE=1", "-o", "json"],
                         capture_output=True, text=True, timeout=30, env=env)
    if out.returncode != 0:
        problems.append(f"kubectl could not decode job.yaml: {out.stderr.strip()}")
        return
    decoded = leaves(json.loads(out.stdout))
    lost = sorted(k for k, v in leaves(yaml.safe_load(open(JOB_YAML))).items() if decoded.get(k) != v)
    if lost:
        problems.append(f"kubectl {version.get('gitVersion')} lost or changed these fields of job.yaml "
                        f"(unknown to its Job schema?): {lost}")
    else:
        print(f"kubectl {version.get('gitVersion')}: job.yaml decodes as a Job with every field kept")


def setup_packages():
    text = open(os.path.join(ROOT, "tools", "scripts", "setup.sh")).read()
    array = re.search(r"^PACKAGES=\((.*?)^\)", text, re.S | re.M).group(1)
    return set(re.sub(r"#.*", "", array).split())


def dockerfile_stages():
    """[(base image, {packages apt-get installs})], one per FROM, continuation lines joined."""
    text = open(os.path.join(KUBERNETES, "Dockerfile")).read()
    text = re.sub(r"^\s*#.*\n", "", text, flags=re.M).replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "FROM":
            stages.append((words[1], set()))
        elif words and words[0] == "RUN" and stages:
            for command in re.split(r"&&|;", line):
                installing = command.split()
                if "install" in installing:
                    after = installing[installing.index("install") + 1:]
                    stages[-1][1].update(w for w in after if not w.startswith("-"))
    return stages


def needed_packages(binary):
    """Debian packages of the shared libraries the binary links directly."""
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                        subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout)
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    candidates = {}
    for soname in needed:
        found = re.search(rf"^\s+{re.escape(soname)} .*=> (\S+)", cache, re.M)
        real = os.path.realpath(found.group(1)) if found else soname
        # Merged /usr: dpkg may know the file under /lib or under /usr/lib.
        candidates[soname] = {real, real.removeprefix("/usr"), "/usr" + real}
    # One dpkg call for all of them: each takes a third of a second.
    listing = subprocess.run(["dpkg", "-S", *sorted(set().union(*candidates.values()))],
                             capture_output=True, text=True).stdout
    owner = {line.split(": ", 1)[1]: line.split(":")[0].split(",")[0] for line in listing.splitlines()}
    return {next((owner[p] for p in paths if p in owner), f"(no package owns {soname})")
            for soname, paths in candidates.items()}


def check_dockerfile(wirestress, problems):
    stages = dockerfile_stages()
    for base, _ in stages:
        if not re.fullmatch(r"debian:bookworm(-slim)?", base):
            problems.append(f"Dockerfile: base {base} is not Debian 12 (debian:bookworm)")
    if len(stages) < 2:
        problems.append(f"Dockerfile: {len(stages)} stage(s), want a build stage and a final one")
        return
    build, final = stages[0][1], stages[-1][1]
    setup = setup_packages()
    missing = sorted(setup - NOT_FOR_THE_BUILD - build)
    if missing:
        problems.append(f"Dockerfile: the build stage lacks setup.sh's {missing}")
    extra = sorted(build - setup - BUILD_ONLY_EXTRAS)
    if extra:
        problems.append(f"Dockerfile: the build stage installs {extra}, which setup.sh does not")
    text = open(os.path.join(KUBERNETES, "Dockerfile")).read()
    for needed in ("-DCMAKE_BUILD_TYPE=Release", "-G Ninja", 'ENTRYPOINT ["wirestress"]'):
        if needed not in text:
            problems.append(f"Dockerfile: no {needed}")
    print(f"Dockerfile: build stage {len(build)} packages (setup.sh's build ones), final stage {sorted(final)}")
    if not wirestress:
        print("Dockerfile: no WIRESTRESS given; the final stage's libraries are not checked")
    elif not os.path.isfile(wirestress):
        problems.append(f"Dockerfile: {wirestress} is not there to check the final stage's libraries against")
    elif not (shutil.which("readelf") and shutil.which("dpkg")):
        print("Dockerfile: readelf or dpkg missing; the final stage's libraries are not checked")
    else:
        lacking = sorted(needed_packages(wirestress) - final - IN_EVERY_IMAGE)
        if lacking:
            problems.append(f"Dockerfile: the final stage lacks {lacking}, which {wirestress} links")


def fake_result(shard):
    return {"run": {"tool": "wirestress", "run_id": f"r1-{shard}", "exit_code": 0},
            "produce": {"messages_acked": 1000 + shard, "latency_ms": {"p99": 2.5}}}


def fake_logs():
    """Three pods' logs: two good ones with noise around the markers, one cut off before END."""
    begin, end = "----- BEGIN WIRESTRESS RESULT -----", "----- END WIRESTRESS RESULT -----"
    noise = ["wirestress: 25,000 clients, shard 0 of 3", "[ 4.0s connecting] 4,210/25,000 clients ready",
             "== wirestress summary (io_uring, 2 threads) ==", "  produce  1,000 acked"]
    return {
        "wirestress-0-x7k2p": noise + [begin] + json.dumps(fake_result(0), indent=2).splitlines() + [end, "bye"],
        "wirestress-1-4tq9z": noise + [begin, json.dumps(fake_result(1)), end],
        "wirestress-2-m2c8d": noise + [begin] + json.dumps(fake_result(2), indent=2).splitlines()[:3],
    }


def check_collect(work, problems):
    collect = os.path.join(KUBERNETES, "collect_results.py")
    logs = fake_logs()
    for pod, lines in logs.items():
        with open(os.path.join(work, f"{pod}.log"), "w") as f:
            f.write("\n".join(lines) + "\n")
    prefixed = "".join(f"[pod/{pod}/wirestress] {line}\n" for pod, lines in logs.items() for line in lines)
    for mode, args, stdin, shards in (
            ("files", [os.path.join(work, f"{pod}.log") for pod in logs], None, 3),
            ("kubectl logs --prefix on stdin", [], prefixed, 4)):
        out_dir = os.path.join(work, mode.split()[0])
        run = subprocess.run([sys.executable, collect, f"--out={out_dir}", f"--shards={shards}", *args],
                             input=stdin, capture_output=True, text=True, timeout=30)
        written = sorted(f for f in os.listdir(out_dir) if f.endswith(".json")) if os.path.isdir(out_dir) else []
        if written != ["shard-0.json", "shard-1.json"]:
            problems.append(f"collect_results ({mode}): wrote {written}, want shard-0.json and shard-1.json")
        for shard in (0, 1):
            path = os.path.join(out_dir, f"shard-{shard}.json")
            if os.path.exists(path) and json.load(open(path)) != fake_result(shard):
                problems.append(f"collect_results ({mode}): shard-{shard}.json is not pod {shard}'s result")
        if run.returncode == 0 or "wirestress-2-m2c8d" not in run.stderr:
            problems.append(f"collect_results ({mode}): exit {run.returncode} and {run.stderr!r}; "
                            "want non-zero and the cut-off pod named")
        if shards == 4 and "shard 3: no pod log" not in run.stderr:
            problems.append(f"collect_results ({mode}): the missing shard 3 not reported: {run.stderr!r}")
        print(f"collect_results ({mode}): exit {run.returncode}, wrote {written}; "
              f"said: {run.stderr.strip().replace(chr(10), ' | ')}")


FAKE_KUBECTL = r"""#!/usr/bin/env bash
# Answers run_job.sh's kubectl calls as a cluster whose Job has ended would: its pods are the
# $FAKE/*.log files, its state and completions are in $FAKE/condition and $FAKE/completions.
echo "$*" >>"$FAKE/calls"
case "$*" in
  "get -f "*) exit 1 ;;
  "apply -f - -o name") cat >"$FAKE/applied.yaml"; echo job.batch/wirestress ;;
  wait*condition=complete*) [[ $(<"$FAKE/condition") == Complete ]] && exit 0; exec sleep 30 ;;
  wait*condition=failed*) [[ $(<"$FAKE/condition") == Failed ]] && exit 0; exec sleep 30 ;;
  "get job.batch/wirestress -o jsonpath={.status.conditions"*) cat "$FAKE/condition" ;;
  "get job.batch/wirestress -o jsonpath={.spec.completions}") cat "$FAKE/completions" ;;
  "get pods -l job-name=wirestress -o wide") echo "NAME STATUS" ;;
  "get pods -l job-name=wirestress -o name") for f in "$FAKE"/*.log; do echo "pod/$(basename "$f" .log)"; done ;;
  "logs pod/"*) cat "$FAKE/${2#pod/}.log" ;;
  *) echo "fake kubectl: unexpected call: $*" >&2; exit 1 ;;
esac
"""
FAKE_WIRESTRESS = r"""#!/usr/bin/env bash
echo "$*" >"$FAKE/wirestress_args"
for a; do [[ $a == --json=* ]] && echo '{}' >"${a#--json=}"; done
"""


def run_job_against_fake(work, name, pods, condition, problems):
    """run_job.sh against a fake kubectl whose Job ended in `condition` with these pods' logs."""
    fake = os.path.join(work, name)
    os.makedirs(fake)
    for script_name, script in (("kubectl", FAKE_KUBECTL), ("wirestress", FAKE_WIRESTRESS)):
        with open(os.path.join(fake, script_name), "w") as f:
            f.write(script)
        os.chmod(os.path.join(fake, script_name), 0o755)
    for pod in pods:
        with open(os.path.join(fake, f"{pod}.log"), "w") as f:
            f.write("\n".join(fake_logs()[pod]) + "\n")
    for file_name, text in (("condition", condition), ("completions", str(len(pods)))):
        with open(os.path.join(fake, file_name), "w") as f:
            f.write(text)
    out = os.path.join(fake, "run")
    env = dict(os.environ, FAKE=fake, PATH=f"{fake}:{os.environ['PATH']}", START_IN_S="60",
               WIRESTRESS=os.path.join(fake, "wirestress"))
    before = time.time()
    run = subprocess.run([os.path.join(KUBERNETES, "run_job.sh"), out], capture_output=True, text=True,
                         timeout=30, env=env)
    print(f"run_job.sh, {len(pods)} pods, Job {condition}: exit {run.returncode}; "
          f"said: {run.stderr.strip().replace(chr(10), ' | ')}")
    applied = open(os.path.join(fake, "applied.yaml")).read()
    starts = re.findall(r"--start-at=(\d+)", applied)
    # run_job.sh rounds now down to the second.
    if len(starts) != 1 or not (before + 59) * 1000 <= int(starts[0]) <= (time.time() + 60) * 1000:
        problems.append(f"run_job.sh: applied --start-at {starts}, want one time 60 s after "
                        f"{int(before * 1000)}")
    if START_PLACEHOLDER in applied:
        problems.append("run_job.sh: the applied manifest still has the placeholder")
    merge_args = os.path.join(fake, "wirestress_args")
    return run, out, (open(merge_args).read().strip() if os.path.exists(merge_args) else None)


def check_run_job(work, problems):
    run, out, merge_args = run_job_against_fake(work, "complete", ["wirestress-0-x7k2p", "wirestress-1-4tq9z"],
                                                "Complete", problems)
    want = f"merge {out}/shard-0.json {out}/shard-1.json --json={out}/merged.json"
    if run.returncode != 0 or merge_args != want or not os.path.exists(os.path.join(out, "merged.json")):
        problems.append(f"run_job.sh, Job complete: exit {run.returncode}, ran wirestress {merge_args!r}; "
                        f"want exit 0 and {want!r}: {run.stdout}{run.stderr}")
    # One shard cut off: no merge, which would understate the load, and the pod named.
    run, out, merge_args = run_job_against_fake(work, "failed", list(fake_logs()), "Failed", problems)
    if run.returncode == 0 or merge_args is not None or "wirestress-2-m2c8d" not in run.stderr:
        problems.append(f"run_job.sh, a shard cut off: exit {run.returncode}, ran wirestress {merge_args!r}; "
                        f"want a non-zero exit, no merge and the pod named: {run.stderr}")


def main():
    wirestress = sys.argv[1] if len(sys.argv) > 1 else None
    problems = []
    check_job(problems)
    check_job_with_kubectl(problems)
    check_dockerfile(wirestress, problems)
    with tempfile.TemporaryDirectory(prefix="ws-kubernetes-") as work:
        check_collect(work, problems)
        check_run_job(work, problems)
    for problem in problems:
        print("FAIL:", problem)
    print("kubernetes: ok" if not problems else f"kubernetes: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
