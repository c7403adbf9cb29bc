"""Helpers for the sweep, ceiling and report tests: a ws_kafka_sink of known capacity and
`wirestress SUBCOMMAND` runs with their JSON."""
import json
import os
import signal
import subprocess
import tempfile


class Sink:
    """ws_kafka_sink on a free port; --max-rate=N makes it a broker that accepts N records/s."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, "--port=0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"sink said {first!r}")
        self.bootstrap = first.rsplit(" ", 1)[1]

    def stop(self):
        """SIGTERM; returns the sink's final counts."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        lines = [l for l in out.splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


def run_command(wirestress, command, args, timeout=150):
    """Runs `wirestress COMMAND ARGS --json=...`; returns (exit code, JSON or None, stdout, stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "out.json")
        proc = subprocess.run([wirestress, command, *args, f"--json={out_json}"],
                              capture_output=True, text=True, timeout=timeout)
        result = None
        if os.path.exists(out_json):
            with open(out_json) as f:
                result = json.load(f)
        return proc.returncode, result, proc.stdout, proc.stderr


def check_bad_input(wirestress, command, cases):
    """Each case (args, flag): exit code 2 and one line on stderr naming the flag."""
    problems = []
    for args, flag in cases:
        proc = subprocess.run([wirestress, command, *args], capture_output=True, text=True, timeout=30)
        lines = proc.stderr.strip().splitlines()
        if proc.returncode != 2 or len(lines) != 1 or flag not in lines[0]:
            problems.append(f"{command} {args}: want exit 2 and one line naming {flag}, got "
                            f"{proc.returncode}: {proc.stderr!r}")
    return problems
