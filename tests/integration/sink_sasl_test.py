#!/usr/bin/env python3
"""ws_kafka_sink as a SASL server (SASL_PLAINTEXT), proven with independent clients:
- kcat (librdkafka 2.0.2) with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512: the right password produces
  records (the sink counts them), a wrong one is refused with an authentication failure, and a
  mechanism the sink does not enable is refused at the handshake;
- a Python client (SCRAM from hashlib/hmac, not from protocol/sasl/) drives what kcat cannot:
  SaslHandshake v0 with bare token frames, SaslAuthenticate v0-v2, and the requests the sink must
  refuse before authentication.
The sink's final JSON counts the logins that succeeded and failed.
Usage: sink_sasl_test.py SINK_BINARY"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import sys

from sink_test import Sink, recv_exact

USERS = "alice:wonder,bob:p=q:r"  # bob's password is "p=q:r": everything after the first ':'
RECORDS = 25
KCAT_TIMEOUT_S = 30


# ---- kcat -----------------------------------------------------------------------------------------
def kcat_produce(port, mechanism, user, password):
    """Produces RECORDS records as `user`; returns kcat's stderr (kcat exits 0 even when refused)."""
    proc = subprocess.run(
        ["kcat", "-b", f"127.0.0.1:{port}", "-P", "-t", "sasl-test",
         "-X", "security.protocol=SASL_PLAINTEXT", "-X", f"sasl.mechanisms={mechanism}",
         "-X", f"sasl.username={user}", "-X", f"sasl.password={password}",
         "-X", "message.timeout.ms=5000", "-X", "socket.timeout.ms=5000"],
        input="".join(f"record-{i}\n" for i in range(RECORDS)), capture_output=True, text=True,
        timeout=KCAT_TIMEOUT_S)
    return proc.stderr


def check_kcat(sink_binary):
    problems = []
    sink = Sink(sink_binary, f"--sasl-users={USERS}")
    logins = [("PLAIN", "alice", "wonder"), ("SCRAM-SHA-256", "bob", "p=q:r"), ("SCRAM-SHA-512", "alice", "wonder")]
    try:
        for mechanism, user, password in logins:
            err = kcat_produce(sink.port, mechanism, user, password)
            if "error" in err.lower():
                problems.append(f"kcat {mechanism} as {user} with the right password: {err.strip()}")
            err = kcat_produce(sink.port, mechanism, user, password + "-wrong")
            if "Authentication failure" not in err or f'wrong password for user "{user}"' not in err:
                problems.append(f"kcat {mechanism} with a wrong password: want an authentication "
                                f"failure naming the user, got: {err.strip()}")
    finally:
        stats = sink.stop()
    if stats["records"] != RECORDS * len(logins):
        problems.append(f"sink counted {stats['records']} records, want {RECORDS * len(logins)}")
    if (stats["sasl_authentications_ok"], stats["sasl_authentications_failed"]) != (3, 3):
        problems.append(f"sink counted logins ok/failed {stats['sasl_authentications_ok']}/"
                        f"{stats['sasl_authentications_failed']}, want 3/3")
    print(f"kcat: sink {stats}")

    # Only PLAIN enabled: SCRAM is refused at the handshake, with the enabled list.
    sink = Sink(sink_binary, f"--sasl-users={USERS}", "--sasl-mechanisms=PLAIN")
    try:
        err = kcat_produce(sink.port, "SCRAM-SHA-256", "alice", "wonder")
    finally:
        stats = sink.stop()
    if "Unsupported SASL mechanism" not in err or "PLAIN" not in err:
        problems.append(f"kcat SCRAM-SHA-256 against a PLAIN-only sink: got {err.strip()}")
    if stats["records"] != 0 or stats["sasl_authentications_failed"] < 1:
        problems.append(f"PLAIN-only sink: {stats}")
    return problems


# ---- A raw client --------------------------------------------------------------------------------
def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([0x80 | (n & 0x7f)])
        n >>= 7
    return out + bytes([n])


class Conn:
    """One connection speaking Kafka frames: request header v1 (v2 with `flexible`)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.correlation = 0

    def close(self):
        self.sock.close()

    def request(self, api_key, version, body=b"", flexible=False):
        """Sends one request; returns the response body after the correlation id (and, for a
        flexible response header, its empty tag section)."""
        self.correlation += 1
        header = struct.pack(">hhih", api_key, version, self.correlation, 2) + b"ws"
        if flexible:
            header += b"\x00"
        self.send_frame(header + body)
        response = self.read_frame()
        if struct.unpack(">i", response[:4])[0] != self.correlation:
            raise AssertionError(f"correlation id {response[:4].hex()} != {self.correlation}")
        return response[5:] if flexible else response[4:]

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def read_frame(self):
        size = struct.unpack(">i", recv_exact(self.sock, 4))[0]
        return recv_exact(self.sock, size)

    def is_closed(self):
        """True when the sink closed the connection (possibly after an answer already read)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, socket.timeout, OSError):
            return True


def handshake(conn, version, mechanism):
    """SaslHandshake; returns (error code, enabled mechanisms)."""
    body = conn.request(17, version, struct.pack(">h", len(mechanism)) + mechanism.encode())
    error, count = struct.unpack(">hi", body[:6])
    pos, names = 6, []
    for _ in range(count):
        n = struct.unpack(">h", body[pos:pos + 2])[0]
        names.append(body[pos + 2:pos + 2 + n].decode())
        pos += 2 + n
    return error, names


def authenticate(conn, version, token):
    """SaslAuthenticate; returns (error code, error message, auth bytes)."""
    flexible = version >= 2
    body = (uvarint(len(token) + 1) + token + b"\x00") if flexible else struct.pack(">i", len(token)) + token
    r = conn.request(36, version, body, flexible)
    error = struct.unpack(">h", r[:2])[0]
    pos = 2

    def length(classic_size):
        nonlocal pos
        if flexible:
            n, shift = 0, 0
            while True:
                b = r[pos]
                pos += 1
                n |= (b & 0x7f) << shift
                shift += 7
                if b < 0x80:
                    return n - 1
        n = struct.unpack(">h" if classic_size == 2 else ">i", r[pos:pos + classic_size])[0]
        pos += classic_size
        return n

    n = length(2)
    message = None if n < 0 else r[pos:pos + n].decode()
    pos += max(n, 0)
    n = length(4)
    return error, message, r[pos:pos + n]


def bare_token(conn, token):
    """SaslHandshake v0 flow: a token frame out, a token frame back."""
    conn.send_frame(token)
    return conn.read_frame()


def metadata_works(conn):
    body = conn.request(3, 0, struct.pack(">i", 1) + struct.pack(">h", 1) + b"t")
    return len(body) > 8


class ScramClient:
    """RFC 5802 client from Python's hashlib and hmac, independent of protocol/sasl/."""

    def __init__(self, mechanism, user, password):
        self.hash = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={user.replace('=', '=3D').replace(',', '=2C')},r={self.nonce}"
        self.server_signature = None

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first):
        attrs = dict(item.split("=", 1) for item in server_first.decode().split(","))
        assert attrs["r"].startswith(self.nonce), "server nonce does not extend ours"
        salted = hashlib.pbkdf2_hmac(self.hash, self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
        mac = lambda key, msg: hmac.new(key, msg, self.hash).digest()
        client_key = mac(salted, b"Client Key")
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = mac(hashlib.new(self.hash, client_key).digest(), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = mac(mac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final):
        return server_final.decode() == "v=" + base64.b64encode(self.server_signature).decode()


def check_raw_protocol(sink_binary):
    problems = []
    ok = failed = 0

    def expect(condition, what):
        if not condition:
            problems.append(what)

    sink = Sink(sink_binary, f"--sasl-users={USERS}")
    try:
        # ApiVersions lists both SASL APIs with their full ranges.
        c = Conn(sink.port)
        body = c.request(18, 0)
        count = struct.unpack(">i", body[2:6])[0]
        ranges = {struct.unpack(">h", body[6 + 6 * i:8 + 6 * i])[0]: struct.unpack(">hh", body[8 + 6 * i:12 + 6 * i])
                  for i in range(count)}
        expect(ranges.get(17) == (0, 1) and ranges.get(36) == (0, 2), f"ApiVersions ranges: {ranges}")

        # Metadata, Produce, and SaslAuthenticate before a handshake: the connection closes.
        for api_key, version, body, what in ((3, 0, struct.pack(">i", 0), "Metadata"),
                                             (0, 2, struct.pack(">hii", 1, 1000, 0), "Produce"),
                                             (36, 0, struct.pack(">i", 0), "SaslAuthenticate")):
            c = Conn(sink.port)
            try:
                c.request(api_key, version, body)
                problems.append(f"unauthenticated {what} answered instead of closing")
            except (ConnectionError, socket.timeout, OSError):
                pass
            c.close()

        # An unknown mechanism: UNSUPPORTED_SASL_MECHANISM (33) with the list, then the end.
        c = Conn(sink.port)
        error, names = handshake(c, 1, "GSSAPI")
        expect((error, names) == (33, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]),
               f"GSSAPI handshake: {error} {names}")
        expect(c.is_closed(), "connection open after an unsupported mechanism")
        failed += 1

        # SaslHandshake v0: bare tokens. PLAIN succeeds with an empty token, then Metadata works.
        c = Conn(sink.port)
        expect(handshake(c, 0, "PLAIN")[0] == 0, "PLAIN v0 handshake refused")
        expect(bare_token(c, b"\0alice\0wonder") == b"", "PLAIN v0: want an empty token back")
        expect(metadata_works(c), "Metadata after a PLAIN v0 login")
        ok += 1
        c.close()
        # A wrong password after v0: no way to say why, the connection just closes.
        c = Conn(sink.port)
        handshake(c, 0, "PLAIN")
        try:
            bare_token(c, b"\0alice\0nope")
            problems.append("PLAIN v0 with a wrong password answered instead of closing")
        except (ConnectionError, socket.timeout, OSError):
            pass
        failed += 1
        # SCRAM-SHA-512 over bare tokens, the server signature checked by the Python client.
        c = Conn(sink.port)
        expect(handshake(c, 0, "SCRAM-SHA-512")[0] == 0, "SCRAM-SHA-512 v0 handshake refused")
        scram = ScramClient("SCRAM-SHA-512", "bob", "p=q:r")
        server_final = bare_token(c, scram.final(bare_token(c, scram.first())))
        expect(scram.verify(server_final), f"SCRAM-SHA-512 v0: bad server-final {server_final!r}")
        expect(metadata_works(c), "Metadata after a SCRAM-SHA-512 v0 login")
        ok += 1
        c.close()

        # SaslHandshake v1 then SaslAuthenticate v0, v1 and v2 (flexible).
        for version in (0, 1, 2):
            c = Conn(sink.port)
            expect(handshake(c, 1, "SCRAM-SHA-256")[0] == 0, "SCRAM-SHA-256 v1 handshake refused")
            scram = ScramClient("SCRAM-SHA-256", "alice", "wonder")
            error, message, server_first = authenticate(c, version, scram.first())
            expect(error == 0 and message is None, f"SaslAuthenticate v{version} client-first: {error} {message}")
            error, message, server_final = authenticate(c, version, scram.final(server_first))
            expect(error == 0 and scram.verify(server_final), f"SaslAuthenticate v{version} final: {error} {message}")
            expect(metadata_works(c), f"Metadata after a SaslAuthenticate v{version} login")
            ok += 1
            c.close()
        # A wrong password: SASL_AUTHENTICATION_FAILED (58) with a message, then the end.
        c = Conn(sink.port)
        handshake(c, 1, "SCRAM-SHA-256")
        scram = ScramClient("SCRAM-SHA-256", "alice", "not-wonder")
        _, _, server_first = authenticate(c, 1, scram.first())
        error, message, _ = authenticate(c, 1, scram.final(server_first))
        expect(error == 58 and message and 'wrong password for user "alice"' in message,
               f"wrong SCRAM password: error {error} message {message!r}")
        expect(c.is_closed(), "connection open after a failed login")
        failed += 1
        # Garbage instead of a client-first message: refused the same way, no crash.
        c = Conn(sink.port)
        handshake(c, 1, "SCRAM-SHA-512")
        error, message, _ = authenticate(c, 2, b"\xff\x00garbage,,=")
        expect(error == 58 and "invalid client-first-message" in (message or ""),
               f"garbage client-first: {error} {message!r}")
        failed += 1
        c.close()
    finally:
        stats = sink.stop()
    got = (stats["sasl_authentications_ok"], stats["sasl_authentications_failed"])
    expect(got == (ok, failed), f"sink counted logins ok/failed {got}, want {(ok, failed)}")
    expect(stats["decode_errors"] == 0, f"sink decode errors: {stats}")
    print(f"raw: sink {stats}")
    return problems


def check_flags(sink_binary):
    """Bad values exit 2 with one line naming the flag."""
    problems = []
    for args, flag in ((["--sasl-users=alice"], "--sasl-users"), (["--sasl-users=:pw"], "--sasl-users"),
                       (["--sasl-users=a:1,a:2"], "--sasl-users"),
                       (["--sasl-users=a:1", "--sasl-mechanisms=PLAIN,GSSAPI"], "--sasl-mechanisms"),
                       (["--sasl-users=a:1", "--sasl-mechanisms=OAUTHBEARER"], "--sasl-mechanisms"),
                       (["--sasl-mechanisms=PLAIN"], "--sasl-mechanisms")):
        proc = subprocess.run([sink_binary, "--port=0", *args], capture_output=True, text=True, timeout=10)
        lines = proc.stderr.strip().splitlines()
        if proc.returncode != 2 or len(lines) != 1 or flag not in lines[0]:
            problems.append(f"{args}: exit {proc.returncode}, stderr {proc.stderr!r}")
    return problems


def main():
    sink_binary = sys.argv[1]
    problems = check_flags(sink_binary) + check_raw_protocol(sink_binary) + check_kcat(sink_binary)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
