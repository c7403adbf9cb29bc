#!/usr/bin/env python3
"""Turns the captured broker frames in tests/data/captures into seed inputs for the fuzz targets
(tests/fuzz/seeds/<target>/), so fuzzing starts from real responses instead of empty input.
Response targets take [version byte][response body]; fuzz_record_set takes a raw record set
(taken from captured Produce requests). ListOffsets also gets a few spec-built responses for
the versions no captured client used."""
import glob
import hashlib
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAPTURES = os.path.join(ROOT, "tests", "data", "captures")
SEEDS = os.path.join(ROOT, "tests", "fuzz", "seeds")
# api key -> (target, flexible-from version: response header v1 carries a tagged-field byte)
TARGETS = {18: ("fuzz_api_versions_response", 99), 3: ("fuzz_metadata_response", 9),
           0: ("fuzz_produce_response", 9), 1: ("fuzz_fetch_response", 12),
           2: ("fuzz_list_offsets_response", 6)}


def write(target, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def list_offsets_responses():
    """ListOffsets responses for the layouts no captured client used (v1, v4: leader epoch, v6+:
    flexible), written from ListOffsetsResponse.json: real captures only hold v0 and v2."""
    def uvarint(n):
        out = b""
        while n >= 0x80:
            out += bytes([0x80 | (n & 0x7f)])
            n >>= 7
        return out + bytes([n])

    for v in (1, 4, 6, 10):
        flex = v >= 6
        string = (lambda s: uvarint(len(s) + 1) + s) if flex else (lambda s: struct.pack(">h", len(s)) + s)
        array = (lambda n: uvarint(n + 1)) if flex else (lambda n: struct.pack(">i", n))
        tags = b"\x00" if flex else b""
        body = struct.pack(">i", 0) if v >= 2 else b""
        body += array(1) + string(b"wirestress") + array(2)
        for index, error, timestamp, offset, epoch in ((0, 0, -1, 1234, 3), (1, 6, -1, -1, -1)):
            body += struct.pack(">ihqq", index, error, timestamp, offset)
            body += struct.pack(">i", epoch) if v >= 4 else b""
            body += tags
        body += tags + tags
        write("fuzz_list_offsets_response", bytes([v]) + body)


def main():
    for manifest in glob.glob(os.path.join(CAPTURES, "*", "*", "manifest.json")):
        with open(manifest) as f:
            files = json.load(f)["files"]
        for entry in files:
            key, version = entry["api_key"], entry["api_version"]
            with open(os.path.join(os.path.dirname(manifest), entry["file"]), "rb") as f:
                frame = f.read()[4:]
            if entry["direction"] == "response" and key in TARGETS:
                target, flexible_from = TARGETS[key]
                header = 4 + (1 if version >= flexible_from else 0)
                write(target, bytes([version]) + frame[header:])
            if entry["direction"] == "request" and key == 0 and version <= 8:
                # Produce v0-8 request: skip header and fields up to the first records blob.
                body = frame[8 + 2 + struct.unpack(">h", frame[8:10])[0]:]
                pos = 0
                if version >= 3:
                    n = struct.unpack(">h", body[:2])[0]
                    pos += 2 + max(n, 0)
                pos += 2 + 4 + 4  # acks, timeout, topic count
                pos += 2 + struct.unpack(">h", body[pos:pos + 2])[0]  # topic name
                pos += 4 + 4  # partition count, partition index
                size = struct.unpack(">i", body[pos:pos + 4])[0]
                if size > 0:
                    write("fuzz_record_set", body[pos + 4:pos + 4 + size])
    list_offsets_responses()
    for target in sorted(os.listdir(SEEDS)):
        if os.path.isdir(os.path.join(SEEDS, target)):
            print(target, len(os.listdir(os.path.join(SEEDS, target))))


if __name__ == "__main__":
    main()
