#!/usr/bin/env python3
"""wirestress report, checked the way a person would: the page is opened in headless Chromium
(Debian's chromium package), and the DOM it rendered must hold every chart with the series and
values of the result JSON; a screenshot must show the series' colours; the PNG and SVG files for
slides must exist and be pictures of the charts. For a sweep, a sweep of consumer counts at total
rates (the seed study's plots, embedded broker), a ceiling search, a single run, and two runs at
different rates compared on one page.
Usage: report_test.py WIRESTRESS SINK_BINARY   (exit 77 = skipped: no chromium)"""
import html
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

from capacity_common import Sink, check_bad_input, run_command

QUICK = ["--broker-version=0.10", "--step-duration=1s", "--warmup=500ms", "--pause=200ms"]
BLUE, ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)  # the first two series colours


class ChartReader(html.parser.HTMLParser):
    """Collects, per chart (svg data-chart), per series (g data-series), the plotted points
    (circle data-x/data-y) and the number of polylines; and the reference rules."""

    def __init__(self):
        super().__init__()
        self.charts, self.chart, self.series, self.external = {}, None, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe") or "src" in a or "href" in a:
            self.external.append((tag, a))
        if tag == "svg" and "data-chart" in a:
            self.chart = self.charts.setdefault(a["data-chart"], {"series": {}, "rules": []})
        elif tag == "g" and self.chart is not None and "data-series" in a:
            self.series = self.chart["series"].setdefault(a["data-series"], {"points": [], "lines": 0})
        elif tag == "g" and self.chart is not None and a.get("class") == "rule":
            self.chart["rules"].append(float(a["data-value"]))
        elif tag == "circle" and self.series is not None and "data-x" in a:
            self.series["points"].append((float(a["data-x"]), float(a["data-y"])))
        elif tag == "polyline" and self.series is not None:
            self.series["lines"] += 1

    def handle_endtag(self, tag):
        if tag == "g":
            self.series = None
        elif tag == "svg":
            self.chart = None


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser(args, tmp):
    """Headless Chromium with its own profile directory; returns stdout."""
    proc = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={os.path.join(tmp, 'profile')}", *args],
                          capture_output=True, text=True, timeout=90)
    return proc.stdout


def rendered_charts(page, tmp):
    dom = browser(["--dump-dom", f"file://{page}"], tmp)
    reader = ChartReader()
    reader.feed(dom)
    return reader, dom


def read_png(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise ValueError(f"{path}: PNG layout {depth}/{color}/{interlace} not handled")
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    prev = bytearray(stride)
    rows, i = [], 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if kind == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 0xFF
        elif kind == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 0xFF
        elif kind == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 0xFF
        elif kind == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [[tuple(r[x:x + 3]) for x in range(0, stride, bpp)] for r in rows]


def pixels_of(rows, rgb, tolerance=10):
    return sum(1 for row in rows for p in row if all(abs(p[k] - rgb[k]) <= tolerance for k in range(3)))


def close(a, b):
    return abs(a - b) <= 1e-5 * max(1.0, abs(b))


def same_points(got, want):
    return len(got) == len(want) and all(close(g[0], w[0]) and close(g[1], w[1]) for g, w in zip(got, want))


def make_report(wirestress, result_json, tmp, name):
    page = os.path.join(tmp, f"{name}.html")
    svg_dir, png_dir = os.path.join(tmp, f"{name}-svg"), os.path.join(tmp, f"{name}-png")
    proc = subprocess.run([wirestress, "report", result_json, "-o", page, f"--svg-dir={svg_dir}",
                           f"--png-dir={png_dir}"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"report {name}: exit {proc.returncode}: {proc.stderr}")
    return page, svg_dir, png_dir


def report_of(wirestress, result, tmp, name):
    """Writes `result` to NAME.json, makes its report and renders it: (page, svg_dir, png_dir, reader, dom)."""
    path = os.path.join(tmp, f"{name}.json")
    with open(path, "w") as f:
        f.write(json.dumps(result))
    page, svg_dir, png_dir = make_report(wirestress, path, tmp, name)
    reader, dom = rendered_charts(page, tmp)
    return page, svg_dir, png_dir, reader, dom


def screenshot_problems(name, page, tmp, size):
    """A screenshot of the page shows the first two series' colours; WS_KEEP_SCREENSHOT=DIR keeps it."""
    shot = os.path.join(tmp, f"{name}.png")
    browser([f"--screenshot={shot}", f"--window-size={size}", f"file://{page}"], tmp)
    if os.environ.get("WS_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.path.join(os.environ["WS_KEEP_SCREENSHOT"], f"{name}.png"))
    _, _, rows = read_png(shot)
    if pixels_of(rows, BLUE) < 100 or pixels_of(rows, ORANGE) < 100:
        return [f"{name}: screenshot shows {pixels_of(rows, BLUE)} blue and {pixels_of(rows, ORANGE)} "
                "orange pixels: the series are not drawn"]
    return []


def check_files(name, reader, svg_dir, png_dir, problems):
    for chart in reader.charts:
        svg = os.path.join(svg_dir, f"{chart}.svg")
        png = os.path.join(png_dir, f"{chart}.png")
        if not os.path.exists(svg) or f'data-chart="{chart}"' not in open(svg).read():
            problems.append(f"{name}: {svg} missing or not that chart")
        if not os.path.exists(png):
            problems.append(f"{name}: {png} missing")
    # One slide picture, decoded: twice the chart's size, with the first series' colour in it.
    first = next(iter(reader.charts))
    width, height, rows = read_png(os.path.join(png_dir, f"{first}.png"))
    if (width, height) != (1640, 880) or pixels_of(rows, BLUE) < 200:
        problems.append(f"{name}: {first}.png is {width}x{height} with {pixels_of(rows, BLUE)} series pixels")


def check_sweep(wirestress, sink_binary, tmp):
    problems = []
    with Sink(sink_binary, "--max-rate=10000") as sink:
        code, result, out, err = run_command(wirestress, "sweep", [
            f"--bootstrap={sink.bootstrap}", "--clients=2,6", "--rate-per-client=500,3000", *QUICK])
    if code != 0:
        return [f"sweep: exit {code}: {err}"]
    page, svg_dir, png_dir, reader, dom = report_of(wirestress, result, tmp, "sweep")
    if reader.external:
        problems.append(f"sweep: the page loads things: {reader.external}")
    want_charts = {"achieved", "loss", "failing-clients", "latency", "timeline-throughput", "timeline-mb",
                   "timeline-latency", "timeline-connections", "timeline-client-busy"}
    if set(reader.charts) != want_charts:
        return problems + [f"sweep: Chromium rendered charts {sorted(reader.charts)}, want {sorted(want_charts)}"]
    for clients in (2, 6):
        cells = sorted((c for c in result["cells"] if c["clients"] == clients), key=lambda c: c["offered_msgs_per_s"])
        name = f"{clients} clients"
        expect = {
            ("achieved", name): [(c["offered_msgs_per_s"], c["figures"]["achieved_msgs_per_s"]) for c in cells],
            ("loss", name): [(c["offered_msgs_per_s"], c["figures"]["loss_pct"]) for c in cells],
            ("failing-clients", name): [(c["offered_msgs_per_s"], c["figures"]["failing_clients"]) for c in cells],
            ("latency", name + " p99"): [(c["offered_msgs_per_s"], c["figures"]["latency_ms"]["p99"]) for c in cells],
            ("latency", name + " p50"): [(c["offered_msgs_per_s"], c["figures"]["latency_ms"]["p50"]) for c in cells],
        }
        for (chart, series), want in expect.items():
            got = reader.charts[chart]["series"].get(series, {"points": [], "lines": 0})
            if not same_points(got["points"], want) or got["lines"] != 1:
                problems.append(f"sweep: chart {chart} series {series!r}: {got}, want points {want} on one line")
    # Timelines: one throughput point per reported interval of every cell, lines broken between cells.
    intervals = sum(len(c["result"]["intervals"]) for c in result["cells"])
    tput = reader.charts["timeline-throughput"]["series"].get("acknowledged msg/s", {"points": [], "lines": 0})
    if len(tput["points"]) != intervals or tput["lines"] != len(result["cells"]):
        problems.append(f"sweep: throughput timeline has {len(tput['points'])} points on {tput['lines']} lines, "
                        f"want {intervals} on {len(result['cells'])}")
    problems += screenshot_problems("sweep", page, tmp, "900,520")
    check_files("sweep", reader, svg_dir, png_dir, problems)
    return problems


def legend_fits(svg_text):
    """The legend's names end inside the picture (about 7 px a character at 12 px)."""
    width = float(svg_text.split('width="', 1)[1].split('"', 1)[0])
    cut = []
    for part in svg_text.split('<g class="legend">')[1:]:
        text = re.search(r'<text x="([0-9.]+)"[^>]*>([^<]*)</text>', part)
        if text and float(text.group(1)) + 7 * len(html.unescape(text.group(2))) > width:
            cut.append(text.group(2))
    return cut


def check_seed(wirestress, tmp):
    """One producer, 1 and 3 consumers, 200 and 400 msg/s in total: per consumer count the mean and
    slowest receive rate, loss and failing consumers against the offered rate."""
    code, result, out, err = run_command(wirestress, "sweep", [
        "--clients=1", "--consumers=1,3", "--rate=200,400", "--verify", "--step-duration=1s", "--warmup=500ms",
        "--pause=200ms"], timeout=90)
    if code != 0:
        return [f"seed: exit {code}: {err}"]
    page, svg_dir, png_dir, reader, dom = report_of(wirestress, result, tmp, "seed")
    problems = []
    want_charts = {"consumer-receive-rate", "consumer-loss", "failing-consumers", "latency", "timeline-throughput",
                   "timeline-mb", "timeline-latency", "timeline-e2e-latency", "timeline-connections",
                   "timeline-client-busy"}
    if set(reader.charts) != want_charts:
        return [f"seed: Chromium rendered charts {sorted(reader.charts)}, want {sorted(want_charts)}"]
    for consumers in (1, 3):
        cells = [c for c in result["cells"] if c["consumers"] == consumers]
        name = f"{consumers} consumer" + ("s" if consumers > 1 else "")
        expect = {
            ("consumer-receive-rate", name + " mean"): [(c["offered_msgs_per_s"], c["figures"]["received_msgs_per_s"])
                                                       for c in cells],
            ("consumer-receive-rate", name + " slowest"): [(c["offered_msgs_per_s"],
                                                            c["figures"]["received_min_msgs_per_s"]) for c in cells],
            ("consumer-loss", name): [(c["offered_msgs_per_s"], c["figures"]["loss_pct"]) for c in cells],
            ("failing-consumers", name): [(c["offered_msgs_per_s"], c["figures"]["failing_consumers"]) for c in cells],
        }
        for (chart, series), want in expect.items():
            got = reader.charts[chart]["series"].get(series, {"points": [], "lines": 0})
            if not same_points(got["points"], want) or got["lines"] != 1:
                problems.append(f"seed: chart {chart} series {series!r}: {got}, want points {want} on one line")
    for chart in ("consumer-receive-rate", "consumer-loss", "failing-consumers"):
        cut = legend_fits(open(os.path.join(svg_dir, f"{chart}.svg")).read())
        if cut:
            problems.append(f"seed: {chart}: legend names run past the picture's edge: {cut}")
    if "<th>failing consumers</th>" not in dom:
        problems.append("seed: the table has no failing consumers column")
    problems += screenshot_problems("seed", page, tmp, "1720,1000")
    check_files("seed", reader, svg_dir, png_dir, problems)
    return problems


def check_ceiling(wirestress, sink_binary, tmp):
    problems = []
    with Sink(sink_binary, "--max-rate=10000") as sink:
        code, result, out, err = run_command(wirestress, "ceiling", [
            f"--bootstrap={sink.bootstrap}", "--clients=4", "--start-rate=2500", "--precision=0.2", *QUICK])
    if code != 0:
        return [f"ceiling: exit {code}: {err}"]
    page, svg_dir, png_dir, reader, dom = report_of(wirestress, result, tmp, "ceiling")
    steps = sorted(result["steps"], key=lambda s: s["offered_msgs_per_s"])
    achieved = reader.charts.get("achieved", {}).get("series", {})
    want = [(s["offered_msgs_per_s"], s["figures"]["achieved_msgs_per_s"]) for s in steps]
    if not same_points(achieved.get("achieved", {}).get("points", []), want):
        problems.append(f"ceiling: achieved series {achieved.get('achieved')}, want {want}")
    want_failed = [(s["offered_msgs_per_s"], s["figures"]["achieved_msgs_per_s"]) for s in steps if not s["ok"]]
    if not want_failed or not same_points(achieved.get("failed steps", {}).get("points", []), want_failed):
        problems.append(f"ceiling: failed steps {achieved.get('failed steps')}, want {want_failed}")
    ceiling = result["ceiling"]["max_sustainable_msgs_per_s"]
    if ceiling not in reader.charts.get("achieved", {}).get("rules", []):
        problems.append(f"ceiling: the ceiling {ceiling} is not marked on the achieved chart")
    if 50.0 not in reader.charts.get("latency", {}).get("rules", []):
        problems.append("ceiling: the 50 ms SLO is not drawn on the latency chart")
    p99 = reader.charts.get("latency", {}).get("series", {}).get("p99", {}).get("points", [])
    if not same_points(p99, [(s["offered_msgs_per_s"], s["figures"]["latency_ms"]["p99"]) for s in steps]):
        problems.append(f"ceiling: p99 series {p99}")
    if f"limited by <b>{result['ceiling']['limited_by']}</b>" not in dom:
        problems.append("ceiling: the page does not say what limits the ceiling")
    check_files("ceiling", reader, svg_dir, png_dir, problems)
    return problems


def check_run(wirestress, sink_binary, tmp):
    with Sink(sink_binary) as sink:
        path = os.path.join(tmp, "run.json")
        proc = subprocess.run([wirestress, f"--bootstrap={sink.bootstrap}", "--broker-version=0.10", "--clients=3",
                               "--rate=3000", "--duration=3s", "--quiet", f"--json={path}"],
                              capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return [f"run: exit {proc.returncode}: {proc.stderr}"]
    result = json.load(open(path))
    page, svg_dir, png_dir = make_report(wirestress, path, tmp, "run")
    reader, _ = rendered_charts(page, tmp)
    problems = []
    want = [(iv["elapsed_s"], iv["throughput_msgs_per_s"]) for iv in result["intervals"]]
    got = reader.charts.get("timeline-throughput", {}).get("series", {}).get("acknowledged msg/s", {})
    if not same_points(got.get("points", []), want):
        problems.append(f"run: throughput timeline {got}, want {want}")
    check_files("run", reader, svg_dir, png_dir, problems)
    return problems


def measured_start(result):
    """Seconds from the run's start to its measured time: the end of its last connecting or warm-up interval."""
    start = 0.0
    for iv in result["intervals"]:
        if iv.get("phase") not in ("connecting", "warmup"):
            break
        start = iv["elapsed_s"]
    return start


def check_overlay(wirestress, sink_binary, tmp):
    """Two runs at different --rate on one page: per run one series with its own intervals, from its
    measured start, and its latency distribution; the refusals name the file."""
    paths = [os.path.join(tmp, f"rate{rate}.json") for rate in (1000, 4000)]
    with Sink(sink_binary) as sink:  # both at once: the test's time is short
        runs = [subprocess.Popen([wirestress, f"--bootstrap={sink.bootstrap}", "--broker-version=0.10", "--clients=2",
                                  f"--rate={rate}", "--warmup=500ms", "--duration=1s", "--quiet", f"--json={path}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for rate, path in zip((1000, 4000), paths)]
        for proc in runs:
            _, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                return [f"overlay: {proc.args[4]}: exit {proc.returncode}: {err}"]
    page = os.path.join(tmp, "overlay.html")
    proc = subprocess.run([wirestress, "report", *paths, "--label=slow", "--label=fast", "-o", page],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return [f"overlay: report exit {proc.returncode}: {proc.stderr}"]
    reader, dom = rendered_charts(page, tmp)
    problems = []
    want_charts = {"overlay-throughput", "overlay-mb", "overlay-latency", "latency-distribution"}
    if set(reader.charts) != want_charts:
        return [f"overlay: Chromium rendered charts {sorted(reader.charts)}, want {sorted(want_charts)}"]
    for chart in ("overlay-throughput", "overlay-mb", "latency-distribution"):
        if list(reader.charts[chart]["series"]) != ["slow", "fast"]:
            problems.append(f"overlay: {chart} has series {list(reader.charts[chart]['series'])}, want slow, fast")
    for label, path in zip(("slow", "fast"), paths):
        result = json.load(open(path))
        start, intervals = measured_start(result), result["intervals"]
        expect = {
            "overlay-throughput": [(iv["elapsed_s"] - start, iv["throughput_msgs_per_s"]) for iv in intervals],
            "overlay-mb": [(iv["elapsed_s"] - start, iv["bytes_sent"] / iv["interval_s"] / 1e6) for iv in intervals],
        }
        for chart, want in expect.items():
            got = reader.charts[chart]["series"].get(label, {"points": []})["points"]
            if not same_points(got, want):
                problems.append(f"overlay: {chart} {label}: {got}, want {want}")
        # The distribution is the run's whole histogram: its p50 and p99 are the JSON's.
        dist = dict(reader.charts["latency-distribution"]["series"].get(label, {"points": []})["points"])
        latency = result["produce"]["latency_ms"]
        if not (close(dist.get(2.0, -1), latency["p50"]) and close(dist.get(100.0, -1), latency["p99"])):
            problems.append(f"overlay: distribution of {label} {dist}, want p50 {latency['p50']} and p99 {latency['p99']}")
    if not 0 < dom.find("<td>slow</td>") < dom.find("<td>fast</td>"):
        problems.append("overlay: the table has no row per run in order")
    if 'class="band"' not in dom:
        problems.append("overlay: the warm-up is not shaded")
    # No screenshot here (the sweep's shows the same renderer draws): this case must stay within ~10 s.
    sweep = os.path.join(tmp, "a-sweep.json")
    with open(sweep, "w") as f:
        json.dump({"kind": "sweep", "sweep": {}, "cells": []}, f)
    problems += check_bad_input(wirestress, "report", [
        ([paths[0], sweep], "a-sweep.json"),
        ([paths[0], os.path.join(tmp, "missing.json")], "missing.json"),
        ([*paths, "--label=a", "--label=b", "--label=c"], "--label"),
    ])
    return problems


def main():
    wirestress, sink_binary = sys.argv[1:3]
    if not chromium():
        print("SKIP: no chromium (Debian package chromium; tools/scripts/setup.sh installs it)")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        problems = check_sweep(wirestress, sink_binary, tmp)
        problems += check_seed(wirestress, tmp)
        problems += check_ceiling(wirestress, sink_binary, tmp)
        problems += check_run(wirestress, sink_binary, tmp)
        problems += check_overlay(wirestress, sink_binary, tmp)
    for p in problems:
        print("FAIL:", p)
    print("report: sweep, seed study, ceiling, run and comparison pages rendered" if not problems else "")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
