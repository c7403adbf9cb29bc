#!/usr/bin/env python3
"""wirestress against ws_kafka_sink: the sink counts exactly the records wirestress sent, none
corrupt, with acks=1, acks=0 and lz4; and the sink answers ApiVersions and closes on unknown APIs.
Usage: sink_test.py WIRESTRESS SINK_BINARY"""
import json
import signal
import socket
import struct
import subprocess
import sys
import zlib

from brokers import run_wirestress

MESSAGES = 20000


class Sink:
    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, "--port=0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"sink said {first!r}")
        self.port = int(first.rsplit(":", 1)[1])

    def stop(self):
        """SIGTERM, then the final JSON line."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=20)
        lines = [l for l in out.splitlines() if l.startswith("{")]
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"sink exited {self.proc.returncode}: {out}\n{err}")
        return json.loads(lines[-1])


def request(sock, api_key, version, correlation_id, body=b""):
    """Request header v1 (v2 adds an empty tagged-field section) and the response frame."""
    header = struct.pack(">hhih", api_key, version, correlation_id, 4) + b"test"
    if version >= 3 and api_key == 18:
        header += b"\x00"
    frame = header + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, size)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def check_raw_protocol(port):
    problems = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        resp = request(s, 18, 0, 7)
        corr, error, n = struct.unpack(">ihi", resp[:10])
        if corr != 7 or error != 0 or n != 3:
            problems.append(f"ApiVersions v0: correlation {corr} error {error} {n} APIs")
        # A version above 3: UNSUPPORTED_VERSION (35) in the v0 layout, with the ranges.
        resp = request(s, 18, 4, 8, b"\x00\x00\x00")
        corr, error, n = struct.unpack(">ihi", resp[:10])
        if corr != 8 or error != 35 or n != 3:
            problems.append(f"ApiVersions v4: correlation {corr} error {error} {n} APIs")
        # An API the sink does not know (Fetch): the connection is closed.
        try:
            request(s, 1, 4, 9, b"\x00" * 16)
            problems.append("unknown API key answered instead of closing")
        except (ConnectionError, socket.timeout, OSError):
            pass
    return problems


def magic1_message(value, corrupt):
    """One uncompressed MessageSet v1 entry; `corrupt` flips the stored CRC."""
    body = struct.pack(">bbqi", 1, 0, 0, -1) + struct.pack(">i", len(value)) + value
    crc = zlib.crc32(body) ^ (0xFFFFFFFF if corrupt else 0)
    message = struct.pack(">I", crc) + body
    return struct.pack(">qi", 0, len(message)) + message


def check_crc_counting(sink_binary):
    """Produce v2 with three messages, one with a bad CRC: --validate counts it; offsets run on."""
    problems = []
    sink = Sink(sink_binary, "--validate", "--partitions=2")
    try:
        with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as s:
            for corr in (1, 2):
                records = (magic1_message(b"a", False) + magic1_message(b"b", corr == 2)
                           + magic1_message(b"c", False))
                body = (struct.pack(">hii", 1, 1000, 1) + struct.pack(">h", 1) + b"t"
                        + struct.pack(">ii", 1, 1) + struct.pack(">i", len(records)) + records)
                resp = request(s, 0, 2, corr, body)
                rcorr, ntopics, = struct.unpack(">ii", resp[:8])
                name_len, = struct.unpack(">h", resp[8:10])
                nparts, part, error, base = struct.unpack(">iihq", resp[10 + name_len:28 + name_len])
                want_base = 0 if corr == 1 else 3
                if (rcorr, ntopics, nparts, part, error, base) != (corr, 1, 1, 1, 0, want_base):
                    problems.append(f"produce response {corr}: {(rcorr, ntopics, nparts, part, error, base)}")
    finally:
        stats = sink.stop()
    # The corrupt message is skipped, not counted: 3 + 2 records.
    if stats["crc_errors"] != 1 or stats["records"] != 5:
        problems.append(f"--validate: want 1 CRC error and 5 records, got {stats}")
    return problems


def run_case(wirestress, sink_binary, name, ws_args, sink_args=()):
    sink = Sink(sink_binary, *sink_args)
    try:
        code, result, output = run_wirestress(wirestress, [
            f"--bootstrap=127.0.0.1:{sink.port}", "--broker-version=0.10", "--clients=20",
            f"--messages={MESSAGES}", "--batch=10", "--duration=60s", *ws_args], timeout=90)
    finally:
        stats = sink.stop()
    problems = []
    if code != 0 or result is None:
        problems.append(f"{name}: wirestress exited {code}:\n{output}")
    if stats["records"] != MESSAGES:
        problems.append(f"{name}: sink counted {stats['records']} records, want {MESSAGES}")
    if stats["crc_errors"] != 0 or stats.get("decode_errors", 0) != 0:
        problems.append(f"{name}: sink saw {stats['crc_errors']} CRC and "
                        f"{stats.get('decode_errors')} decode errors")
    if "--acks=1" in ws_args and result is not None:
        acked = result["produce"]["messages_acked"]
        if acked != MESSAGES:
            problems.append(f"{name}: wirestress acked {acked} of {MESSAGES}: {result['failures']}")
    print(f"{name}: sink {stats}")
    return problems


def main():
    wirestress, sink_binary = sys.argv[1:3]
    problems = []
    sink = Sink(sink_binary)
    try:
        problems += check_raw_protocol(sink.port)
    finally:
        sink.stop()
    problems += check_crc_counting(sink_binary)
    problems += run_case(wirestress, sink_binary, "acks=1", ["--acks=1"])
    problems += run_case(wirestress, sink_binary, "acks=0", ["--acks=0"])
    problems += run_case(wirestress, sink_binary, "acks=1 lz4 validate",
                         ["--acks=1", "--compression=lz4"], ["--validate"])
    problems += run_case(wirestress, sink_binary, "acks=1 validate 2 threads",
                         ["--acks=1"], ["--validate", "--threads=2"])
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
