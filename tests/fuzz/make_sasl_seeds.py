#!/usr/bin/env python3
"""Writes the seed inputs of the SASL fuzz targets (tests/fuzz/seeds/<target>/), built from
Kafka's JSON specs and the RFC 7677 example exchange, so fuzzing starts from valid messages.
(tools/scripts/make_fuzz_seeds.py makes the other targets' seeds from captured broker frames.)
Response targets take [version byte][response body]; fuzz_sasl_client takes [mechanism byte]
server-first '\\n' server-final; fuzz_sasl_server takes [mechanism byte] and PLAIN's token or
client-first '\\n' client-final."""
import hashlib
import os
import struct

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
NONCE = b"rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
# client-final and server-final for SHA-256 (RFC 7677) and SHA-512 (same inputs; see
# tests/protocol/sasl_test.cpp).
FINALS = {
    0: (b"c=biws,r=" + NONCE + b",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
    1: (b"c=biws,r=" + NONCE + b",p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
        b"v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw=="),
}


def write(target, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def compact_length(n):
    """uvarint n+1; every length here is below 127, so one byte."""
    assert n < 127
    return bytes([n + 1])


def main():
    # SaslHandshakeResponse v0-1: ErrorCode, Mechanisms ([]string).
    mechanisms = [b"PLAIN", b"SCRAM-SHA-256", b"SCRAM-SHA-512"]
    for v, error in ((0, 0), (1, 33)):
        body = struct.pack(">hi", error, len(mechanisms))
        body += b"".join(struct.pack(">h", len(m)) + m for m in mechanisms)
        write("fuzz_sasl_handshake_response", bytes([v]) + body)

    # SaslAuthenticateResponse: ErrorCode, ErrorMessage (nullable), AuthBytes, SessionLifetimeMs
    # (v1+); v2 is flexible.
    for v, error, message, auth in ((0, 0, None, SERVER_FIRST), (1, 58, b"Authentication failed", b""),
                                    (2, 0, None, FINALS[0][1]), (2, 58, b"wrong password", b"")):
        if v >= 2:
            body = struct.pack(">h", error) + (b"\x00" if message is None else compact_length(len(message)) + message)
            body += compact_length(len(auth)) + auth + struct.pack(">q", 3600000) + b"\x00"
        else:
            body = struct.pack(">h", error) + (struct.pack(">h", -1) if message is None else struct.pack(">h", len(message)) + message)
            body += struct.pack(">i", len(auth)) + auth + (struct.pack(">q", 3600000) if v >= 1 else b"")
        write("fuzz_sasl_authenticate_response", bytes([v]) + body)

    for mechanism, (client_final, server_final) in FINALS.items():
        write("fuzz_sasl_client", bytes([mechanism]) + SERVER_FIRST + b"\n" + server_final)
        write("fuzz_sasl_server", bytes([mechanism + 1]) + CLIENT_FIRST + b"\n" + client_final)
    write("fuzz_sasl_client", b"\x00" + SERVER_FIRST + b"\ne=invalid-proof")
    write("fuzz_sasl_server", b"\x00" + b"\x00user\x00pencil")
    write("fuzz_sasl_server", b"\x00" + b"user\x00user\x00wrong")


if __name__ == "__main__":
    main()
