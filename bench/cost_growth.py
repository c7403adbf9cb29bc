#!/usr/bin/env python3
"""How wirestress's cost grows with the work: CPU per message and peak RSS per client against
ws_kafka_sink, one axis varied at a time from a base of 100 clients, 100-byte records, batch 100.

  clients  1, 10, 100, 1,000, 10,000
  record   100 B, 1 KiB, 16 KiB
  batch    1, 10, 100, 1,000 records per request

Every run is unpaced, acks=1, 5 requests in flight per client, one worker thread, a few seconds
long, against a fresh sink. Prints a markdown table (and writes it to --markdown if given) and
writes an SVG plot (--svg, default docs/cost_growth.svg). A clients row is flagged when its CPU
per message is more than --tolerance times the lowest of the rows with fewer clients: cost per
message should not grow with the number of clients.

Beside each wirestress run, ws_floor (bench/floor.cpp) runs the same socket pattern with no
Kafka logic: as many connections, the same request (records x size), 5 in flight, the write
budget wirestress gives each client at that count. Where wirestress's cost grows, the floor's
column says whether the kernel's grows with it; a row is flagged a second time when
wirestress / floor grows past --tolerance times its median over the rows with fewer clients (the
part that is wirestress's own).

Usage: WS_BUILD=build python3 bench/cost_growth.py [--seconds 3] [--rounds 1] [--svg FILE] [--markdown FILE]
(after `cmake --build build --target wirestress ws_kafka_sink ws_floor`).
"""
import argparse
import math
import statistics
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the sink, the wirestress runner and its JSON figures)

BASE = {"clients": 100, "record": 100, "batch": 100}
AXES = [
    ("clients", [1, 10, 100, 1000, 10000]),
    ("record", [100, 1024, 16384]),
    ("batch", [1, 10, 100, 1000]),
]
AXIS_TITLES = {"clients": "clients", "record": "record size (bytes)", "batch": "records per request"}


# driver/worker_impl.h: a worker's producers share 16 MiB of write budget, 4 to 64 KiB each.
def write_budget(clients):
    return min(max((16 << 20) // clients, 4 << 10), 64 << 10)


def run_floor_point(broker, point, seconds):
    """ws_floor with wirestress's socket pattern at this point, against a fresh sink."""
    broker.stop()
    broker.start()
    args = ["--scenario=acks1", f"--connections={point['clients']}", f"--records={point['batch']}",
            f"--record-size={point['record']}", "--in-flight=5", f"--write-budget={write_budget(point['clients'])}"]
    f = compare.run_floor(broker, args, seconds)
    compare.log(f"  {point} floor: " + (f"{f.msgs:,} acked, {f.rate:,.0f} msg/s, {f.cpu_per_m:.3f} µs CPU/msg"
                                        if f.ok else f"FAILED {f.error}"))
    return f


def run_point(broker, workdir, point, seconds, rounds):
    """Best (least CPU per message) of `rounds` runs of one point, each against a fresh sink, and
    the best of as many ws_floor runs, alternated with them."""
    runs, floors = [], []
    for _ in range(rounds):
        broker.stop()
        broker.start()
        args = ["--threads=1", f"--batch={point['batch']}", "--max-in-flight=5", f"--duration={seconds}s",
                "--max-connecting=256", "--connect-timeout=30s", "--drain-timeout=5s"]
        r = compare.run_tool("wirestress", broker, "growth", point["clients"], 1, args, seconds + 180, workdir,
                             message_size=point["record"])
        compare.log(f"  {point}: " + (f"{r.msgs:,} acked, {r.rate:,.0f} msg/s, {r.cpu_per_m:.3f} µs CPU/msg, "
                                      f"{r.rss_per_client:,.1f} KiB RSS/client, "
                                      f"{r.established}/{point['clients']} connected" if r.ok else f"FAILED {r.error}"))
        runs.append(r)
        floors.append(run_floor_point(broker, point, seconds))
    ok_floors = [f for f in floors if f.ok and f.msgs]
    return compare.best(runs), (min(ok_floors, key=lambda f: f.cpu_per_m) if ok_floors else floors[-1])


def flag_growth(rows, tolerance, cost, reference=min):
    """Clients rows whose cost(r, floor) exceeds tolerance x reference(the rows with fewer
    clients): the lowest for CPU per message; the median for wirestress / floor, a ratio of two
    noisy runs, where one lucky low round would otherwise flag every row after it."""
    flagged = set()
    before = []
    for axis, value, (r, f) in rows:
        if axis != "clients" or not r.ok or (cost is over_floor and not f.ok):
            continue
        if before and cost(r, f) > tolerance * reference(before):
            flagged.add(value)
        before.append(cost(r, f))
    return flagged


def per_message(r, f):
    return r.cpu_per_m


def over_floor(r, f):
    return r.cpu_per_m / f.cpu_per_m


def markdown(rows, flagged, flagged_over_floor, seconds, rounds):
    out = [f"Against ws_kafka_sink, unpaced, acks=1, 5 in flight, 1 worker thread, {seconds} s per run, "
           f"best of {rounds}; base point 100 clients, 100 B records, batch 100. Floor: ws_floor, the same "
           f"connections and requests without Kafka logic, alternated with wirestress.", "",
           "| varied | clients | record B | batch | msgs acked | msg/s | CPU µs / msg | user µs | sys µs | "
           "floor CPU µs / msg | wirestress / floor | peak RSS MiB | RSS KiB / client | flag |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for axis, value, (r, f) in rows:
        p = dict(BASE, **{axis: value})
        if not r.ok:
            out.append(f"| {axis} | {p['clients']:,} | {p['record']:,} | {p['batch']:,} | FAILED: {r.error} ||||||||||")
            continue
        flags = []
        if axis == "clients" and value in flagged:
            flags.append("**grows with clients**")
        if axis == "clients" and value in flagged_over_floor:
            flags.append("**grows over the floor**")
        floor = f"{f.cpu_per_m:.3f} | {r.cpu_per_m / f.cpu_per_m:.2f}x" if f.ok else f"FAILED: {f.error} |"
        out.append(f"| {axis} | {p['clients']:,} | {p['record']:,} | {p['batch']:,} | {r.msgs:,} | {r.rate:,.0f} | "
                   f"{r.cpu_per_m:.3f} | {r.per_msg('cpu_user_s', 1e6):.3f} | {r.per_msg('cpu_sys_s', 1e6):.3f} | "
                   f"{floor} | {r.rss / 1024:,.1f} | {r.rss_per_client:,.1f} | {', '.join(flags)} |")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------ SVG

def log_ticks(lo, hi):
    """Powers of ten covering [lo, hi], and the axis range they span."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if a == b:
        b += 1
    return [10.0 ** e for e in range(a, b + 1)], 10.0 ** a, 10.0 ** b


def fmt_number(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def panel(x0, y0, w, h, xs, ys, flags, title, xlabel, ylabel, color, floor=None):
    """One log-log line chart; flagged points drawn in red; `floor`, if given, a dashed grey line
    of the same xs. Returns SVG elements."""
    pts = [(x, y, f) for x, y, f in zip(xs, ys, flags) if y is not None and y > 0]
    floor_pts = [(x, y) for x, y in zip(xs, floor or []) if y is not None and y > 0]
    els = [f'<text x="{x0 + w / 2}" y="{y0 - 8}" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    if not pts:
        return els
    xt, xlo, xhi = log_ticks(min(p[0] for p in pts), max(p[0] for p in pts))
    every_y = [p[1] for p in pts] + [p[1] for p in floor_pts]
    yt, ylo, yhi = log_ticks(min(every_y), max(every_y))
    sx = lambda v: x0 + (math.log10(v) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) * w
    sy = lambda v: y0 + h - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * h
    for t in xt:
        els.append(f'<line x1="{sx(t):.1f}" y1="{y0}" x2="{sx(t):.1f}" y2="{y0 + h}" stroke="#eee"/>')
        els.append(f'<text x="{sx(t):.1f}" y="{y0 + h + 14}" text-anchor="middle" font-size="10">{fmt_number(t)}</text>')
    for t in yt:
        els.append(f'<line x1="{x0}" y1="{sy(t):.1f}" x2="{x0 + w}" y2="{sy(t):.1f}" stroke="#eee"/>')
        els.append(f'<text x="{x0 - 4}" y="{sy(t) + 3:.1f}" text-anchor="end" font-size="10">{fmt_number(t)}</text>')
    els.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 30}" text-anchor="middle" font-size="11">{xlabel}</text>')
    els.append(f'<text x="{x0 - 38}" y="{y0 + h / 2}" text-anchor="middle" font-size="11" '
               f'transform="rotate(-90 {x0 - 38} {y0 + h / 2})">{ylabel}</text>')
    if floor_pts:
        dashed = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in floor_pts)
        els.append(f'<polyline points="{dashed}" fill="none" stroke="#888" stroke-width="1.5" stroke-dasharray="5,3"/>')
        els.append(f'<text x="{x0 + w - 4}" y="{y0 + 12}" text-anchor="end" font-size="9" fill="#666">'
                   f'dashed: ws_floor</text>')
    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in pts)
    els.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
    for x, y, f in pts:
        els.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{5 if f else 3}" fill="{"#d00" if f else color}"/>')
        els.append(f'<text x="{sx(x) + 5:.1f}" y="{sy(y) - 6:.1f}" font-size="9">{y:.3g}</text>')
    return els


def svg(rows, flagged):
    w, h, gap_x, gap_y, left, top = 230, 170, 80, 90, 70, 60
    els = ['<text x="20" y="24" font-size="14" font-weight="bold">wirestress cost growth against '
           'ws_kafka_sink (base: 100 clients, 100 B, batch 100; acks=1; log-log)</text>']
    for col, (axis, _) in enumerate(AXES):
        pts = [(value, r, f) for a, value, (r, f) in rows if a == axis]
        xs = [v for v, _, _ in pts]
        flags = [axis == "clients" and v in flagged for v, _, _ in pts]
        x0 = left + col * (w + gap_x)
        cpu = [r.cpu_per_m if r.ok else None for _, r, _ in pts]
        floor = [f.cpu_per_m if f.ok else None for _, _, f in pts]
        rss = [r.rss_per_client if r.ok else None for _, r, _ in pts]
        els += panel(x0, top, w, h, xs, cpu, flags, f"CPU per message vs {axis}", AXIS_TITLES[axis],
                     "CPU µs / msg", "#1f77b4", floor)
        els += panel(x0, top + h + gap_y, w, h, xs, rss, flags, f"RSS per client vs {axis}", AXIS_TITLES[axis],
                     "peak RSS KiB / client", "#2ca02c")
    width = left + 3 * w + 2 * gap_x + 50
    height = top + 2 * h + gap_y + 50
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(els) + "\n</svg>\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=3, help="measured seconds per run")
    ap.add_argument("--rounds", type=int, default=1, help="runs per point; the least CPU per message is kept")
    ap.add_argument("--tolerance", type=float, default=1.2,
                    help="flag a clients row above this x the lowest CPU/msg with fewer clients (noise margin)")
    ap.add_argument("--svg", default=os.path.join(compare.ROOT, "docs", "cost_growth.svg"))
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    args = ap.parse_args()
    for p in (compare.WIRESTRESS, compare.SINK, compare.FLOOR):
        if not os.path.exists(p):
            sys.exit(f"missing {p}: build it first")
    workdir = tempfile.mkdtemp(prefix="ws-growth-")
    broker = compare.SinkBroker()
    t0 = time.time()
    rows, done = [], {}
    try:
        for axis, values in AXES:
            for value in values:
                point = dict(BASE, **{axis: value})
                key = tuple(sorted(point.items()))
                if key not in done:  # the base point is on every axis: run it once
                    done[key] = run_point(broker, workdir, point, args.seconds, args.rounds)
                rows.append((axis, value, done[key]))
    finally:
        broker.stop()
    flagged = flag_growth(rows, args.tolerance, per_message)
    flagged_over_floor = flag_growth(rows, args.tolerance, over_floor, statistics.median)
    table = markdown(rows, flagged, flagged_over_floor, args.seconds, args.rounds)
    print(table)
    print(f"{len(done)} points in {time.time() - t0:.0f}s; flagged (CPU/msg grows with clients): "
          f"{sorted(flagged) if flagged else 'none'}; (wirestress / floor grows with clients): "
          f"{sorted(flagged_over_floor) if flagged_over_floor else 'none'}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    with open(args.svg, "w") as f:
        f.write(svg(rows, flagged))
    print(f"plot: {args.svg}")


if __name__ == "__main__":
    main()
