#!/usr/bin/env python3
"""wirecap: record Kafka wire frames between real clients and real brokers (stdlib only).

Subcommands
  proxy        TCP proxy on 127.0.0.1 that forwards to a broker and writes every frame it sees.
  session      atomically write the session file the proxy reads for each new connection.
  apiversions  send one ApiVersions request (v0-v3) and report the response or the disconnect.
  summary      print the (api, version) pairs recorded in capture directories.
  verify       check capture directories: files vs manifest, size prefixes, codec per scenario name.

Frames are written one per file, INCLUDING the 4-byte size prefix:
  <api>_v<version>_<seq>_request.bin / <api>_v<version>_<seq>_response.bin
with <api> one of produce, fetch, list_offsets, metadata, api_versions, other_<key>, and <seq> a
per-directory counter in request order. Responses are matched to requests by correlation id per
connection. Requests without response (Produce acks=0; a broker that closes the connection or,
like Kafka 0.9.0.1 on ApiVersions, stays silent until the client gives up) get only the request
file, and the manifest says why. A response to an acks=0 Produce (the librdkafka mock sends one) is
recorded too, with a note.
Every directory gets a manifest.json describing each file (api, version, correlation id, client,
scenario, connection, and for Produce requests / Fetch responses the magic and codec of each
record set).

Which connection belongs to which capture: the proxy reads --session-file (JSON written by
`wirecap.py session`) each time it accepts a connection and records that connection into the
session's "out" directory; with no session file (or an empty "out") it only forwards. A single
long-running proxy can so serve many scenarios, one client run after the other.

Brokers advertise their own host:port in Metadata, so clients would bypass the proxy after the
bootstrap request. Two ways round it:
  * Kafka 0.9: start the broker with advertised.port = the proxy's port (tools/scripts/kafka09.sh honours
    WS_KAFKA_ADVERTISED_PORT); the bytes are then forwarded untouched. Inter-broker requests of the
    controller (api keys 4-7) then also pass through the proxy; --skip-api keeps them out.
  * librdkafka mock cluster (ports chosen by the mock): --rewrite-metadata-port patches, in
    Metadata responses only, the port of every broker whose port equals the target's port to the
    proxy's port before forwarding. The port is a fixed-size int32, so the frame keeps its length.
    The recorded file holds the broker's ORIGINAL bytes; the manifest notes the rewrite. With a
    one-broker cluster every connection then goes through the proxy.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import zlib

API_NAMES = {0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 18: "api_versions"}
API_FULL = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 4: "LeaderAndIsr",
            5: "StopReplica", 6: "UpdateMetadata", 7: "ControlledShutdown", 8: "OffsetCommit",
            9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
            13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
            17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 22: "InitProducerId"}
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
# First version using the flexible (KIP-482) encoding, for the APIs whose bodies we look into.
FLEXIBLE_FROM = {0: 9, 1: 12, 2: 6, 3: 9, 18: 3}
MAX_FRAME = 64 * 1024 * 1024


def api_name(key: int) -> str:
    return API_NAMES.get(key, f"other_{key}")


# --------------------------------------------------------------------------- decoding helpers

class Reader:
    """Minimal big-endian reader for the parts of bodies the manifest describes."""

    def __init__(self, buf: bytes, pos: int = 0):
        self.b, self.p = buf, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.p + n > len(self.b):
            raise ValueError("truncated")
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = v = 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << shift
            if not c & 0x80:
                return v
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def string(self, flexible=False):
        n = self.uvarint() - 1 if flexible else self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def bytes_(self, flexible=False):
        n = self.uvarint() - 1 if flexible else self.i32()
        return None if n < 0 else self.take(n)

    def array_len(self, flexible=False) -> int:
        return self.uvarint() - 1 if flexible else self.i32()

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def summarize_records(b: bytes | None) -> dict:
    """Walk a record set (magic 0/1 messages or magic 2 batches) without decompressing it."""
    if b is None:
        return {"bytes": None}
    entries, pos = [], 0
    while pos + 17 <= len(b):
        offset, size = struct.unpack_from(">qi", b, pos)
        magic = b[pos + 16]
        if pos + 12 + size > len(b):
            break
        e = {"offset": offset, "magic": magic}
        if magic in (0, 1):
            attrs = b[pos + 17]
            e["codec"] = CODECS.get(attrs & 7, str(attrs & 7))
            e["kind"] = "wrapper message" if attrs & 7 else "message"
        elif magic == 2 and size >= 49:
            attrs = struct.unpack_from(">h", b, pos + 21)[0]
            e["codec"] = CODECS.get(attrs & 7, str(attrs & 7))
            e["kind"] = "record batch"
            e["records"] = struct.unpack_from(">i", b, pos + 57)[0]
            e["transactional"] = bool(attrs & 0x10)
            e["control"] = bool(attrs & 0x20)
        entries.append(e)
        pos += 12 + size
    out = {"bytes": len(b), "entries": entries}
    if pos < len(b):
        out["trailing_partial_bytes"] = len(b) - pos
    if entries:
        out["magics"] = sorted({e["magic"] for e in entries})
        out["codecs"] = sorted({e.get("codec", "?") for e in entries})
        if entries[0]["magic"] in (0, 1) and entries[0].get("codec") == "gzip":
            out["inner_messages"] = _count_gzip_inner(b, entries)
    return out


def _count_gzip_inner(b: bytes, entries) -> int | None:
    """Number of messages inside gzip wrapper messages (zlib is in the stdlib; others are not)."""
    total, pos = 0, 0
    try:
        for e in entries:
            size = struct.unpack_from(">i", b, pos + 8)[0]
            r = Reader(b, pos + 18 + (8 if e["magic"] == 1 else 0))
            r.bytes_()
            inner = zlib.decompress(r.bytes_(), 16 + zlib.MAX_WBITS)
            total += len(summarize_records(inner)["entries"])
            pos += 12 + size
        return total
    except Exception:
        return None


def skip_request_header(r: Reader, key: int, version: int) -> str | None:
    """Position r after the request header; return client_id."""
    r.take(8)
    client_id = r.string()
    if version >= FLEXIBLE_FROM.get(key, 1 << 15):
        r.tags()
    return client_id


def topic_partitions(r: Reader, flex: bool, partition) -> list:
    """Read the common [topic name, [partition]] nesting; partition(topic) reads one entry."""
    parts = []
    for _ in range(r.array_len(flex)):
        topic = r.string(flex)
        for _ in range(r.array_len(flex)):
            parts.append(partition(topic))
            if flex:
                r.tags()
        if flex:
            r.tags()
    return parts


def describe_request(frame: bytes, key: int, version: int) -> dict:
    d: dict = {}
    r = Reader(frame, 4)
    d["client_id"] = skip_request_header(r, key, version)
    flex = version >= FLEXIBLE_FROM.get(key, 1 << 15)
    if key == 0:
        if version >= 3:
            d["transactional_id"] = r.string(flex)
        d["acks"] = r.i16()
        d["timeout_ms"] = r.i32()
        parts = []
        for _ in range(r.array_len(flex)):
            topic = r.string(flex)
            for _ in range(r.array_len(flex)):
                p = r.i32()
                parts.append({"topic": topic, "partition": p, "records": summarize_records(r.bytes_(flex))})
                if flex:
                    r.tags()
            if flex:
                r.tags()
        d["partitions"] = parts
    elif key == 2:
        d["replica_id"] = r.i32()
        if version >= 2:
            d["isolation_level"] = r.i8()
        def partition(topic):
            p = {"topic": topic, "partition": r.i32()}
            if version >= 4:
                p["current_leader_epoch"] = r.i32()
            p["timestamp"] = r.i64()
            if version == 0:
                p["max_num_offsets"] = r.i32()
            return p
        d["partitions"] = topic_partitions(r, flex, partition)
        if version >= 10:
            d["timeout_ms"] = r.i32()
    elif key == 3 and not flex:
        n = r.array_len()
        d["topics"] = None if n < 0 else [r.string() for _ in range(n)]
    elif key == 18 and version >= 3:
        d["client_software_name"] = r.string(True)
        d["client_software_version"] = r.string(True)
    return d


def describe_response(frame: bytes, key: int, version: int) -> dict:
    d: dict = {}
    flex = version >= FLEXIBLE_FROM.get(key, 1 << 15)
    r = Reader(frame, 8)
    if flex and key != 18:  # ApiVersions responses always use response header v0
        r.tags()
    if key == 1:
        if version >= 1:
            d["throttle_time_ms"] = r.i32()
        if version >= 7:
            d["error_code"] = r.i16()
            d["session_id"] = r.i32()
        parts = []
        for _ in range(r.array_len(flex)):
            topic = r.take(16).hex() if version >= 13 else r.string(flex)
            for _ in range(r.array_len(flex)):
                p = {"topic": topic, "partition": r.i32(), "error_code": r.i16(),
                     "high_watermark": r.i64()}
                if version >= 4:
                    r.i64()
                if version >= 5:
                    r.i64()
                if version >= 4:
                    n = r.array_len(flex)
                    for _ in range(max(n, 0)):
                        r.take(16)
                        if flex:
                            r.tags()
                if version >= 11:
                    r.i32()
                p["records"] = summarize_records(r.bytes_(flex))
                if flex:
                    r.tags()
                parts.append(p)
            if flex:
                r.tags()
        d["partitions"] = parts
    elif key == 0 and not flex:
        parts = []
        for _ in range(r.array_len()):
            topic = r.string()
            for _ in range(r.array_len()):
                p = {"topic": topic, "partition": r.i32(), "error_code": r.i16(), "base_offset": r.i64()}
                if version >= 2:
                    r.i64()
                if version >= 5:
                    r.i64()
                parts.append(p)
        d["partitions"] = parts
    elif key == 2:
        if version >= 2:
            d["throttle_time_ms"] = r.i32()
        def partition(topic):
            p = {"topic": topic, "partition": r.i32(), "error_code": r.i16()}
            if version == 0:
                p["old_style_offsets"] = [r.i64() for _ in range(r.array_len())]
            else:
                p["timestamp"] = r.i64()
                p["offset"] = r.i64()
            if version >= 4:
                p["leader_epoch"] = r.i32()
            return p
        d["partitions"] = topic_partitions(r, flex, partition)
    elif key == 3:
        d["brokers"] = [{"node_id": n, "host": h, "port": pt} for n, h, pt, _ in metadata_brokers(frame, version)]
    elif key == 18:
        d["error_code"] = r.i16()
        # An UNSUPPORTED_VERSION (35) answer should use the v0 body layout whatever was asked.
        flex18 = version >= 3 and d["error_code"] != 35
        apis = []
        try:
            for _ in range(r.array_len(flex18)):
                apis.append([r.i16(), r.i16(), r.i16()])
                if flex18:
                    r.tags()
        except ValueError:
            d["body_after_error_code_hex"] = frame[10:].hex()
            d["layout_note"] = "body does not parse as the documented layout for this version/error"
            return d
        d["api_count"] = len(apis)
        d["api_versions"] = {str(k): [lo, hi] for k, lo, hi in apis}
    return d


def metadata_brokers(frame: bytes, version: int):
    """Yield (node_id, host, port, port_offset_in_frame) from a Metadata response frame."""
    flex = version >= 9
    r = Reader(frame, 8)
    if flex:
        r.tags()
    if version >= 3:
        r.i32()
    out = []
    for _ in range(r.array_len(flex)):
        node = r.i32()
        host = r.string(flex)
        port_off = r.p
        port = r.i32()
        if version >= 1:
            r.string(flex)
        if flex:
            r.tags()
        out.append((node, host, port, port_off))
    return out


def contains_text(api_full: str, direction: str, version: int, d: dict) -> str:
    s = f"{api_full} v{version} {direction}"
    if "acks" in d:
        s += f", acks={d['acks']}"
    if "topics" in d and api_full == "Metadata":
        if d["topics"]:
            s += f", topics={d['topics']}"
        elif version == 0:
            s += ", topics=[] (v0: all topics)"
        else:
            s += ", topics=null (all topics)" if d["topics"] is None else ", topics=[] (no topics)"
    for p in d.get("partitions", []):
        if api_full == "ListOffsets":
            what = {-1: "latest", -2: "earliest", -3: "max timestamp"}
            if "max_num_offsets" in p:
                s += f"; {p['topic']}[{p['partition']}]: timestamp={p['timestamp']} ({what.get(p['timestamp'], 'time')}), max_num_offsets={p['max_num_offsets']}"
            elif "timestamp" in p and "offset" not in p:
                s += f"; {p['topic']}[{p['partition']}]: timestamp={p['timestamp']} ({what.get(p['timestamp'], 'time')})"
            elif "old_style_offsets" in p:
                s += f"; {p['topic']}[{p['partition']}]: error_code={p['error_code']}, offsets={p['old_style_offsets']}"
            else:
                s += f"; {p['topic']}[{p['partition']}]: error_code={p['error_code']}, timestamp={p['timestamp']}, offset={p['offset']}"
            continue
        if "base_offset" in p:
            s += f"; {p['topic']}[{p['partition']}]: error_code={p['error_code']}, base_offset={p['base_offset']}"
            continue
        rec = p.get("records") or {}
        ents = rec.get("entries") or []
        if not ents:
            s += f"; {p['topic']}[{p['partition']}]: no records"
            continue
        kinds = {}
        for e in ents:
            kinds[(e["magic"], e.get("codec"), e.get("kind"))] = kinds.get((e["magic"], e.get("codec"), e.get("kind")), 0) + 1
        txt = ", ".join(f"{n} magic-{m} {k} codec {c}" for (m, c, k), n in kinds.items())
        if ents[0].get("records") is not None:
            txt += f" ({sum(e.get('records', 0) for e in ents)} records)"
        if rec.get("inner_messages") is not None:
            txt += f" ({rec['inner_messages']} inner messages)"
        if rec.get("trailing_partial_bytes"):
            txt += f", {rec['trailing_partial_bytes']} trailing partial bytes"
        s += f"; {p['topic']}[{p['partition']}]: {txt}"
    if "brokers" in d:
        s += "; brokers " + ", ".join(f"{b['node_id']}@{b['host']}:{b['port']}" for b in d["brokers"])
    if "api_count" in d:
        s += f"; error_code={d['error_code']}, {d['api_count']} api ranges"
    elif "layout_note" in d:
        s += f"; error_code={d['error_code']}, {d['layout_note']}"
    return s


# --------------------------------------------------------------------------- capture store

class Store:
    """Output directories, their sequence counters and manifests. All calls under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.dirs: dict[str, dict] = {}

    def _dir(self, out: str) -> dict:
        st = self.dirs.get(out)
        if st is None:
            os.makedirs(out, exist_ok=True)
            path = os.path.join(out, "manifest.json")
            files, sessions = [], []
            if os.path.exists(path):
                with open(path) as f:
                    doc = json.load(f)
                files, sessions = doc.get("files", []), doc.get("sessions", [])
            st = {"files": files, "sessions": sessions,
                  "seq": max([e["seq"] for e in files], default=-1) + 1}
            self.dirs[out] = st
        return st

    def next_seq(self, sess: dict) -> int:
        with self.lock:
            st = self._dir(sess["out"])
            info = {k: v for k, v in sess.items() if k != "out" and v}
            if info not in st["sessions"]:
                st["sessions"].append(info)
            st["seq"] += 1
            return st["seq"] - 1

    def write(self, out: str, name: str, frame: bytes, entry: dict):
        with self.lock:
            st = self._dir(out)
            with open(os.path.join(out, name), "wb") as f:
                f.write(frame)
            st["files"].append(entry)
            self._flush(out, st)

    def update(self, out: str, name: str, **fields):
        with self.lock:
            st = self._dir(out)
            for e in st["files"]:
                if e["file"] == name:
                    e.update(fields)
            self._flush(out, st)

    @staticmethod
    def _flush(out: str, st: dict):
        st["files"].sort(key=lambda e: (e["seq"], e["direction"] != "request"))
        doc = {"generated_by": "tools/scripts/wirecap.py",
               "format": "each .bin file is one complete Kafka frame including its int32 size prefix",
               "sessions": st["sessions"], "files": st["files"]}
        tmp = os.path.join(out, "manifest.json.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, os.path.join(out, "manifest.json"))


def read_frame(sock: socket.socket) -> bytes | None:
    """One frame with its size prefix; None on clean EOF at a frame boundary."""
    head = _read_exact(sock, 4)
    if head is None:
        return None
    size = struct.unpack(">i", head)[0]
    if size < 0 or size > MAX_FRAME:
        raise ValueError(f"bad frame size {size}")
    body = _read_exact(sock, size) if size else b""
    if body is None:
        raise ValueError("EOF inside a frame")
    return head + body


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if buf:
                raise ValueError("EOF inside a frame")
            return None
        buf += chunk
    return bytes(buf)


# --------------------------------------------------------------------------- proxy

class Proxy:
    def __init__(self, args):
        self.args = args
        self.store = Store()
        self.skip = {int(x) for x in args.skip_api.split(",") if x.strip()}
        host, port = args.target.rsplit(":", 1)
        self.target = (host, int(port))
        self.conn_counter = 0
        self.stopping = threading.Event()

    def session(self) -> dict:
        a = self.args
        if a.session_file:
            try:
                with open(a.session_file) as f:
                    s = json.load(f)
            except FileNotFoundError:
                return {}
            return s if s.get("out") else {}
        if a.out:
            return {"out": a.out, "broker": a.broker, "client": a.client, "scenario": a.scenario}
        return {}

    def serve(self):
        host, port = self.args.listen.rsplit(":", 1)
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, int(port)))
        ls.listen(64)
        ls.settimeout(0.5)
        self.listen_port = ls.getsockname()[1]
        addr = f"{host}:{self.listen_port}"
        if self.args.port_file:
            tmp = self.args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(addr + "\n")
            os.replace(tmp, self.args.port_file)
        print(addr, flush=True)
        deadline = time.monotonic() + self.args.max_seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                cs, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.conn_counter += 1
            threading.Thread(target=self.handle, args=(cs, self.conn_counter), daemon=True).start()
        ls.close()

    def handle(self, cs: socket.socket, cid: int):
        sess = self.session()
        try:
            us = socket.create_connection(self.target, timeout=5)
            us.settimeout(None)
        except OSError as e:
            log(f"conn {cid}: cannot reach {self.target}: {e}")
            cs.close()
            return
        for s in (cs, us):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = {"pending": {}, "closed_first": None, "lock": threading.Lock(),
                 "responses_done": threading.Event()}
        t = threading.Thread(target=self.pump_requests, args=(cs, us, cid, sess, state), daemon=True)
        t.start()
        self.pump_responses(cs, us, cid, sess, state)
        t.join(timeout=15)
        for s in (cs, us):
            try:
                s.close()
            except OSError:
                pass
        # Whatever is still pending never got a response: say why in the manifest.
        for req in state["pending"].values():
            if not req.get("name"):
                continue
            if req.get("acks") == 0:
                why = "no response: Produce with acks=0 (none is expected)"
            elif state["closed_first"] == "broker":
                why = "no response: the broker closed the connection without answering"
            else:
                why = "no response: the client closed the connection before any response"
            self.store.update(sess["out"], req["name"], response_file=None, note=why)

    def _entry(self, sess, cid, name, direction, frame, key, version, corr, seq, extra):
        e = {"file": name, "direction": direction, "seq": seq, "api": api_name(key),
             "api_key": key, "api_version": version, "correlation_id": corr,
             "frame_bytes": len(frame), "connection": cid, "client": sess.get("client"),
             "scenario": sess.get("scenario")}
        e.update(extra)
        return e

    def pump_requests(self, cs, us, cid, sess, state):
        try:
            while True:
                frame = read_frame(cs)
                if frame is None:
                    break
                key, version, corr = struct.unpack_from(">hhi", frame, 4)
                req = {"key": key, "version": version}
                record = bool(sess) and key not in self.skip
                desc: dict = {}
                try:
                    desc = describe_request(frame, key, version)
                except Exception as ex:  # describing is best effort; the bytes are what matter
                    desc = {"describe_error": str(ex)}
                req["acks"] = desc.get("acks") if key == 0 else None
                if record:
                    seq = self.store.next_seq(sess)
                    base = f"{api_name(key)}_v{version}_{seq:03d}"
                    req.update(name=f"{base}_request.bin", resp_name=f"{base}_response.bin", seq=seq)
                    extra = {k: v for k, v in desc.items()}
                    extra["contains"] = contains_text(API_FULL.get(key, f"ApiKey{key}"), "request", version, desc)
                    if req["acks"] != 0:
                        extra["response_file"] = req["resp_name"]  # replaced on disconnect if none came
                    else:
                        extra["response_file"] = None
                        extra["note"] = "no response: Produce with acks=0 (none is expected)"
                    self.store.write(sess["out"], req["name"],
                                     frame, self._entry(sess, cid, req["name"], "request", frame, key,
                                                        version, corr, seq, extra))
                with state["lock"]:
                    state["pending"][corr] = req  # acks=0 too: some brokers answer anyway
                us.sendall(frame)
        except (OSError, ValueError) as ex:
            log(f"conn {cid}: client side: {ex}")
        with state["lock"]:
            if state["closed_first"] is None:
                state["closed_first"] = "client"
        # Give the broker up to 1 s to answer what is still pending (the client may exit right
        # after an acks=0 Produce, which some brokers answer anyway) before passing the EOF on.
        for _ in range(50):
            if not state["pending"] or state["responses_done"].is_set():
                break
            time.sleep(0.02)
        try:
            us.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # The broker should answer what is pending and close too. Kafka 0.9 does neither after a
        # request it cannot parse, so after 5 s cut the connection.
        if not state["responses_done"].wait(5):
            try:
                us.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pump_responses(self, cs, us, cid, sess, state):
        try:
            while True:
                frame = read_frame(us)
                if frame is None:
                    break
                corr = struct.unpack_from(">i", frame, 4)[0]
                with state["lock"]:
                    req = state["pending"].pop(corr, None)
                out_frame = frame
                extra: dict = {}
                if req is not None and req["key"] == 3 and self.args.rewrite_metadata_port:
                    out_frame, rewrites = self.rewrite_metadata(frame, req["version"])
                    if rewrites:
                        extra["note"] = ("file holds the broker's original bytes; the proxy forwarded "
                                         f"it with broker port(s) {rewrites} rewritten to {self.listen_port}")
                if req is None:
                    log(f"conn {cid}: response with unknown correlation id {corr}")
                elif req.get("name"):
                    if req["acks"] == 0:
                        extra["note"] = ("response to a Produce with acks=0: this broker answered "
                                         "although a Kafka broker sends none")
                        self.store.update(sess["out"], req["name"], response_file=req["resp_name"],
                                          note="acks=0, yet the broker answered (see response file)")
                    try:
                        desc = describe_response(frame, req["key"], req["version"])
                    except Exception as ex:
                        desc = {"describe_error": str(ex)}
                    extra.update(desc)
                    extra["contains"] = contains_text(API_FULL.get(req["key"], "?"), "response",
                                                      req["version"], desc)
                    extra["request_file"] = req["name"]
                    self.store.write(sess["out"], req["resp_name"], frame,
                                     self._entry(sess, cid, req["resp_name"], "response", frame,
                                                 req["key"], req["version"], corr, req["seq"], extra))
                cs.sendall(out_frame)
        except (OSError, ValueError) as ex:
            log(f"conn {cid}: broker side: {ex}")
        with state["lock"]:
            if state["closed_first"] is None:
                state["closed_first"] = "broker"
        state["responses_done"].set()
        try:
            cs.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def rewrite_metadata(self, frame: bytes, version: int):
        try:
            brokers = metadata_brokers(frame, version)
        except Exception as ex:
            log(f"metadata v{version}: cannot parse brokers ({ex}); forwarded unchanged")
            return frame, []
        b = bytearray(frame)
        done = []
        for _node, _host, port, off in brokers:
            if port == self.target[1]:
                struct.pack_into(">i", b, off, self.listen_port)
                done.append(port)
        return bytes(b), done


def log(msg: str):
    print(f"wirecap: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- other subcommands

def cmd_session(a):
    if a.clear:
        doc = {"out": ""}
    else:
        doc = {"out": os.path.abspath(a.out), "broker": a.broker, "client": a.client,
               "client_description": a.client_description, "scenario": a.scenario}
        if a.command:
            doc["command"] = a.command
        if a.note:
            doc["note"] = a.note
    tmp = a.file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, a.file)


def api_versions_request(version: int, corr: int, client_id: str) -> bytes:
    cid = client_id.encode()
    header = struct.pack(">hhih", 18, version, corr, len(cid)) + cid
    if version >= 3:  # request header v2 (tagged fields), body: compact strings + tagged fields
        name, ver = b"wirecap", b"1.0"
        body = b"\x00" + bytes([len(name) + 1]) + name + bytes([len(ver) + 1]) + ver + b"\x00"
    else:
        body = b""
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def cmd_apiversions(a):
    host, port = a.to.rsplit(":", 1)
    frame = api_versions_request(a.version, a.correlation_id, a.client_id)
    with socket.create_connection((host, int(port)), timeout=a.timeout) as s:
        s.sendall(frame)
        try:
            resp = read_frame(s)
        except (socket.timeout, ConnectionResetError, ValueError) as ex:
            print(f"ApiVersions v{a.version}: no response ({type(ex).__name__})")
            return 0
        if resp is None:
            print(f"ApiVersions v{a.version}: connection closed by the broker, no response")
            return 0
        d = describe_response(resp, 18, a.version)
        print(f"ApiVersions v{a.version}: {len(resp)} bytes, error_code={d['error_code']}, "
              + (f"{d['api_count']} api ranges" if "api_count" in d else d.get("layout_note", "")))
    return 0


def cmd_summary(a):
    for root in a.dirs:
        for dirpath, _dirs, files in sorted(os.walk(root)):
            if "manifest.json" not in files:
                continue
            with open(os.path.join(dirpath, "manifest.json")) as f:
                m = json.load(f)
            pairs = {}
            for e in m["files"]:
                pairs.setdefault((e["api"], e["api_version"]), set()).add(e["direction"])
            txt = ", ".join(f"{api} v{v}" + ("" if d == {"request", "response"} else f" ({'/'.join(sorted(d))} only)")
                            for (api, v), d in sorted(pairs.items()))
            print(f"{os.path.relpath(dirpath, root)}: {txt}")
    return 0


def cmd_verify(a):
    """Check capture dirs: files match the manifest, sizes match prefixes, codecs match names."""
    import re
    bad = 0
    for root in a.dirs:
        for dirpath, _dirs, files in sorted(os.walk(root)):
            if "manifest.json" not in files:
                continue
            with open(os.path.join(dirpath, "manifest.json")) as f:
                m = json.load(f)
            listed = {e["file"] for e in m["files"]}
            on_disk = {x for x in files if x.endswith(".bin")}
            for x in sorted(listed ^ on_disk):
                print(f"{dirpath}: {x} is {'missing' if x in listed else 'not in the manifest'}")
                bad += 1
            for e in m["files"]:
                path = os.path.join(dirpath, e["file"])
                if not os.path.exists(path):
                    continue
                with open(path, "rb") as f:
                    b = f.read()
                if len(b) < 8 or struct.unpack_from(">i", b)[0] != len(b) - 4:
                    print(f"{path}: size prefix does not match the file")
                    bad += 1
            want = re.search(r"(produce|fetch)_(none|gzip|snappy|lz4|zstd)$", os.path.basename(dirpath))
            if want:
                api, codec = want.groups()
                direction = "request" if api == "produce" else "response"
                seen = set()
                for e in m["files"]:
                    if e["api"] == api and e["direction"] == direction:
                        for p in e.get("partitions", []):
                            seen.update((p.get("records") or {}).get("codecs", []))
                if seen != {codec}:
                    print(f"{dirpath}: expected {api} {direction}s with codec {codec}, found {sorted(seen)}")
                    bad += 1
    print("verify: " + ("ok" if not bad else f"{bad} problem(s)"))
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("proxy", help="run the recording proxy")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (port 0: any)")
    p.add_argument("--target", required=True, help="broker HOST:PORT to forward to")
    p.add_argument("--session-file", help="JSON file read on each accept (see `session`)")
    p.add_argument("--out", help="fixed output dir when no --session-file is used")
    p.add_argument("--broker", default="", help="broker name for the manifest (with --out)")
    p.add_argument("--client", default="", help="client name for the manifest (with --out)")
    p.add_argument("--scenario", default="", help="scenario name for the manifest (with --out)")
    p.add_argument("--port-file", help="write the listening HOST:PORT here")
    p.add_argument("--rewrite-metadata-port", action="store_true",
                   help="in forwarded Metadata responses, replace the target's port by ours")
    p.add_argument("--skip-api", default="4,5,6,7",
                   help="api keys forwarded but not recorded (default: inter-broker 4-7)")
    p.add_argument("--max-seconds", type=float, default=3600, help="exit after this long anyway")

    s = sub.add_parser("session", help="write a session file for a running proxy")
    s.add_argument("file")
    s.add_argument("--out", default="")
    s.add_argument("--broker", default="")
    s.add_argument("--client", default="", help="short client name, repeated in every file entry")
    s.add_argument("--client-description", default="", help="longer client description")
    s.add_argument("--scenario", default="")
    s.add_argument("--command", default="")
    s.add_argument("--note", default="", help="free text copied into every manifest entry")
    s.add_argument("--clear", action="store_true", help="stop recording new connections")

    v = sub.add_parser("apiversions", help="send one ApiVersions request")
    v.add_argument("--to", required=True, help="HOST:PORT")
    v.add_argument("--version", type=int, default=0, choices=range(0, 4))
    v.add_argument("--correlation-id", type=int, default=1)
    v.add_argument("--client-id", default="wirecap")
    v.add_argument("--timeout", type=float, default=5)

    m = sub.add_parser("summary", help="list (api, version) pairs per capture directory")
    m.add_argument("dirs", nargs="+")

    c = sub.add_parser("verify", help="check capture directories against their manifests")
    c.add_argument("dirs", nargs="+")

    a = ap.parse_args(argv)
    if a.cmd == "proxy":
        proxy = Proxy(a)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: proxy.stopping.set())
        proxy.serve()
        time.sleep(0.3)  # let connection threads flush what they have
        return 0
    if a.cmd == "session":
        cmd_session(a)
        return 0
    if a.cmd == "apiversions":
        return cmd_apiversions(a)
    if a.cmd == "verify":
        return cmd_verify(a)
    return cmd_summary(a)


if __name__ == "__main__":
    sys.exit(main())
