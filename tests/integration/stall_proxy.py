#!/usr/bin/env python3
"""A Kafka-aware TCP proxy that can make a broker "stall": stop answering for a while.

    stall_proxy.py TARGET_HOST:PORT [--stall-after S] [--stall-for F]

Listens on 127.0.0.1 (an ephemeral port) and forwards every connection to TARGET. The first line
on stdout is the listening port (flushed), so a caller can read it from a pipe.

Kafka clients connect to the bootstrap address only to learn the cluster: they then connect to
the host:port each broker advertises in its Metadata response, which would bypass the proxy. So
the proxy reads Kafka frames (int32 size prefix) in both directions: it remembers api_key and
api_version of each request by correlation id, and rewrites every broker in a Metadata response
(v0-v12, flexible versions included) to 127.0.0.1 and a proxy port that forwards to that broker
(the bootstrap target is served by the main port; any other broker gets its own listener on first
sight). Everything else is copied byte for byte.

The stall: --stall-after S seconds after the first Produce request went through (on any
connection), the proxy stops delivering broker->client bytes for --stall-for F seconds; whatever
arrives from the broker meanwhile is held and released in order when the stall ends. Requests
keep flowing to the broker, so the client sees exactly a broker that stops answering for F s.
--stall-for 0 disables it (a plain Kafka-aware proxy).

Faults, to prove that the consumers' --verify checks can fail (each happens once):
  --skip-first-fetch K   the first Fetch request (v0-v8) of each consumer connection asks for K
                         offsets past where the client asked: K records are never delivered (lost).
  --duplicate-produce N  the N-th Produce request is forwarded twice and the second answer dropped:
                         the broker writes its records twice (duplicates), the client sees nothing odd.

Events go to stdout as single lines after the port: "stall-begin T", "stall-end T" (T in seconds
since the first Produce request), and on SIGTERM/SIGINT a final "stats {json}" line with counters:
connections, produce_requests forwarded, metadata_rewritten, frames_held/bytes_held (responses the
broker sent during the stall, delivered when it ended).
"""
import argparse
import asyncio
import json
import signal
import socket
import struct
import sys
import time

API_PRODUCE = 0
API_FETCH = 1
API_METADATA = 3
METADATA_FIRST_FLEXIBLE = 9
LISTEN_HOST = "127.0.0.1"
READ_CHUNK = 65536


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- Kafka wire helpers ---------------------------------------------------------------------

def read_uvarint(buf, pos):
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def write_uvarint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def skip_tagged_fields(buf, pos):
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _, pos = read_uvarint(buf, pos)  # tag
        size, pos = read_uvarint(buf, pos)
        pos += size
    return pos


def split_frames(buf):
    """Cuts complete size-prefixed frames off the front of `buf` (a bytearray, consumed)."""
    frames = []
    pos = 0
    while len(buf) - pos >= 4:
        (size,) = struct.unpack_from(">i", buf, pos)
        if size < 0:
            raise ValueError(f"negative frame size {size}")
        if len(buf) - pos - 4 < size:
            break
        frames.append(bytes(buf[pos:pos + 4 + size]))
        pos += 4 + size
    del buf[:pos]
    return frames


def rewrite_metadata(frame, version, address_for):
    """Returns the Metadata response `frame` (with size prefix) with every broker's host:port
    replaced by address_for(host, port) -> (new_host, new_port). Only the brokers array changes;
    the rest is copied verbatim and the size prefix recomputed."""
    flexible = version >= METADATA_FIRST_FLEXIBLE
    body = frame[4:]
    pos = 4  # correlation id
    if flexible:
        pos = skip_tagged_fields(body, pos)  # response header v1
    if version >= 3:
        pos += 4  # throttle_time_ms
    out = bytearray(body[:pos])
    if flexible:
        n, pos = read_uvarint(body, pos)
        count = n - 1
        out += write_uvarint(n)
    else:
        (count,) = struct.unpack_from(">i", body, pos)
        out += body[pos:pos + 4]
        pos += 4
    for _ in range(max(count, 0)):
        node_id = body[pos:pos + 4]
        pos += 4
        if flexible:
            n, pos = read_uvarint(body, pos)
            host = body[pos:pos + n - 1].decode()
            pos += n - 1
        else:
            (n,) = struct.unpack_from(">h", body, pos)
            pos += 2
            host = body[pos:pos + n].decode()
            pos += n
        (port,) = struct.unpack_from(">i", body, pos)
        pos += 4
        rest_start = pos
        if version >= 1:  # rack: nullable string
            if flexible:
                n, pos = read_uvarint(body, pos)
                pos += max(n - 1, 0)
            else:
                (n,) = struct.unpack_from(">h", body, pos)
                pos += 2 + max(n, 0)
        if flexible:
            pos = skip_tagged_fields(body, pos)
        new_host, new_port = address_for(host, port)
        encoded = new_host.encode()
        out += node_id
        out += write_uvarint(len(encoded) + 1) if flexible else struct.pack(">h", len(encoded))
        out += encoded
        out += struct.pack(">i", new_port)
        out += body[rest_start:pos]  # rack and tagged fields, unchanged
    out += body[pos:]
    return struct.pack(">i", len(out)) + bytes(out)


def skip_fetch_offsets(frame, skip):
    """Returns the Fetch request `frame` (v0-v8: non-flexible, fetch_offset right after the
    partition index) with every partition's fetch_offset raised by `skip`."""
    buf = bytearray(frame)
    version = struct.unpack_from(">h", buf, 6)[0]
    pos = 12
    (n,) = struct.unpack_from(">h", buf, pos)  # client_id
    pos += 2 + max(n, 0)
    pos += 12  # replica_id, max_wait_ms, min_bytes
    if version >= 3:
        pos += 4  # max_bytes
    if version >= 4:
        pos += 1  # isolation_level
    if version >= 7:
        pos += 8  # session_id, session_epoch
    (topics,) = struct.unpack_from(">i", buf, pos)
    pos += 4
    for _ in range(topics):
        (n,) = struct.unpack_from(">h", buf, pos)
        pos += 2 + n
        (partitions,) = struct.unpack_from(">i", buf, pos)
        pos += 4
        for _ in range(partitions):
            pos += 4  # partition index
            (offset,) = struct.unpack_from(">q", buf, pos)
            struct.pack_into(">q", buf, pos, offset + skip)
            pos += 8 + 4 + (8 if version >= 5 else 0)  # offset, max_bytes, log_start_offset
    return bytes(buf)


# --- The proxy ------------------------------------------------------------------------------

class StallProxy:
    def __init__(self, target, stall_after, stall_for, skip_first_fetch=0, duplicate_produce=0):
        self.target = target  # (host, port)
        self.skip_first_fetch = skip_first_fetch
        self.duplicate_produce = duplicate_produce
        self.duplicated = {}  # correlation id of the duplicated produce -> answers still to drop
        self.stall_after = stall_after
        self.stall_for = stall_for
        self.first_produce = None  # loop time of the first Produce request
        self.stall_begin = self.stall_end = None
        self.listeners = {}  # (broker host, port) -> proxy port
        self.servers = []
        self.pending_listeners = []  # brokers seen in Metadata, listeners still to open
        self.stats = {"connections": 0, "produce_requests": 0, "metadata_rewritten": 0,
                      "frames_held": 0, "bytes_held": 0, "stall_begin_s": None,
                      "stall_end_s": None, "fetches_skipped": 0, "produces_duplicated": 0}
        self.stall_reported = False

    def now(self):
        return time.monotonic()

    async def listen(self, broker):
        server = await asyncio.start_server(
            lambda r, w: self.handle(r, w, broker), LISTEN_HOST, 0)
        self.servers.append(server)
        port = server.sockets[0].getsockname()[1]
        self.listeners[broker] = port
        return port

    def address_for(self, host, port):
        broker = (host, port)
        if broker not in self.listeners:
            # Reserve a listener synchronously so the rewritten frame can name its port.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LISTEN_HOST, 0))
            sock.listen(128)
            self.listeners[broker] = sock.getsockname()[1]
            self.pending_listeners.append((broker, sock))
        return LISTEN_HOST, self.listeners[broker]

    async def open_pending_listeners(self):
        while self.pending_listeners:
            broker, sock = self.pending_listeners.pop()
            server = await asyncio.start_server(
                lambda r, w, b=broker: self.handle(r, w, b), sock=sock)
            self.servers.append(server)

    def note_produce(self):
        self.stats["produce_requests"] += 1
        if self.first_produce is None:
            self.first_produce = self.now()
            if self.stall_for > 0:
                self.stall_begin = self.first_produce + self.stall_after
                self.stall_end = self.stall_begin + self.stall_for
                self.stats["stall_begin_s"] = self.stall_after
                self.stats["stall_end_s"] = self.stall_after + self.stall_for
                asyncio.get_running_loop().call_at(
                    self.loop_time_for(self.stall_begin),
                    lambda: emit(f"stall-begin {self.stall_after:.3f}"))
                asyncio.get_running_loop().call_at(
                    self.loop_time_for(self.stall_end),
                    lambda: emit(f"stall-end {self.stall_after + self.stall_for:.3f}"))

    def loop_time_for(self, monotonic_t):
        return asyncio.get_running_loop().time() + (monotonic_t - self.now())

    async def handle(self, client_reader, client_writer, broker):
        self.stats["connections"] += 1
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*broker)
        except OSError as e:
            emit(f"connect to {broker[0]}:{broker[1]} failed: {e}")
            client_writer.close()
            return
        requests = {}  # correlation id -> (api_key, api_version), this connection only
        duplicated = {}  # correlation id -> second answers to drop, this connection only
        up = asyncio.create_task(self.client_to_broker(client_reader, broker_writer, requests, duplicated))
        down = asyncio.create_task(self.broker_to_client(broker_reader, client_writer, requests, duplicated))
        try:
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # shutting down
        for t in (up, down):
            t.cancel()
        for w in (client_writer, broker_writer):
            try:
                w.close()
            except Exception:
                pass

    async def client_to_broker(self, reader, writer, requests, duplicated):
        buf = bytearray()
        fetched = False  # this connection's first Fetch went through
        while True:
            chunk = await reader.read(READ_CHUNK)
            if not chunk:
                return
            buf += chunk
            frames = split_frames(buf)
            out = []
            for f in frames:
                if len(f) >= 12:
                    api_key, api_version, correlation_id = struct.unpack_from(">hhi", f, 4)
                    requests[correlation_id] = (api_key, api_version)
                    if api_key == API_PRODUCE:
                        self.note_produce()
                        if self.stats["produce_requests"] == self.duplicate_produce:
                            out.append(f)  # written twice by the broker; its second answer is dropped
                            duplicated[correlation_id] = 1
                            self.stats["produces_duplicated"] += 1
                    if api_key == API_FETCH and self.skip_first_fetch and not fetched and api_version <= 8:
                        fetched = True
                        f = skip_fetch_offsets(f, self.skip_first_fetch)
                        self.stats["fetches_skipped"] += 1
                out.append(f)
            if out:
                writer.write(b"".join(out))
                await writer.drain()

    def responses(self, buf, requests, duplicated):
        """The complete response frames in `buf`, Metadata ones rewritten."""
        out = []
        for f in split_frames(buf):
            (correlation_id,) = struct.unpack_from(">i", f, 4)
            if correlation_id in duplicated and correlation_id not in requests:
                del duplicated[correlation_id]  # the answer to the copy: the client never asked
                continue
            api_key, api_version = requests.pop(correlation_id, (None, None))
            if api_key == API_METADATA:
                f = rewrite_metadata(f, api_version, self.address_for)
                self.stats["metadata_rewritten"] += 1
            out.append(f)
        return out

    def stalled(self):
        return self.stall_begin is not None and self.stall_begin <= self.now() < self.stall_end

    async def broker_to_client(self, reader, writer, requests, duplicated):
        buf = bytearray()
        while True:
            chunk = await reader.read(READ_CHUNK)
            if not chunk:
                return
            buf += chunk
            out = self.responses(buf, requests, duplicated)
            eof = False
            # The stall: no await between this check and the write below unless stalled, so
            # nothing slips through once the stall has begun. While stalled keep reading (so
            # frames_held counts every response the broker sent meanwhile) but deliver nothing.
            if out and self.stalled():
                while self.now() < self.stall_end:
                    try:
                        chunk = await asyncio.wait_for(reader.read(READ_CHUNK),
                                                       self.stall_end - self.now())
                    except asyncio.TimeoutError:
                        break
                    if not chunk:
                        eof = True
                        break
                    buf += chunk
                    out += self.responses(buf, requests, duplicated)
                while self.now() < self.stall_end:
                    await asyncio.sleep(self.stall_end - self.now())
                self.stats["frames_held"] += len(out)
                self.stats["bytes_held"] += sum(len(f) for f in out)
            if self.pending_listeners:
                await self.open_pending_listeners()
            if out:
                writer.write(b"".join(out))
                await writer.drain()
            if eof:
                return


async def main_async(args):
    host, _, port = args.target.rpartition(":")
    proxy = StallProxy((host, int(port)), args.stall_after, args.stall_for, args.skip_first_fetch,
                       args.duplicate_produce)
    port = await proxy.listen((host, int(port)))
    emit(str(port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in proxy.servers:
        s.close()
    emit("stats " + json.dumps(proxy.stats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="broker HOST:PORT to forward to")
    parser.add_argument("--stall-after", type=float, default=4.0,
                        help="seconds after the first Produce request when the stall begins")
    parser.add_argument("--stall-for", type=float, default=1.0,
                        help="seconds the broker->client direction is held; 0 = no stall")
    parser.add_argument("--skip-first-fetch", type=int, default=0,
                        help="raise the fetch offsets of each connection's first Fetch by K")
    parser.add_argument("--duplicate-produce", type=int, default=0,
                        help="forward the N-th Produce request twice (1-based; 0 = never)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
