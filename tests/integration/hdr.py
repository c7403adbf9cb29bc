"""An independent reader of the compressed V2 HdrHistograms wirestress writes in its JSON
(base64, as the .hlog format): decodes the counts and computes percentiles the way HdrHistogram
does, so a test can pool several histograms' samples itself and compare with wirestress merge."""
import base64
import math
import struct
import zlib

COMPRESSED_COOKIE = 0x1C849304
ENCODING_COOKIE = 0x1C849303


class Histogram:
    def __init__(self, lowest, highest, digits):
        self.lowest, self.highest, self.digits = lowest, highest, digits
        magnitude = math.ceil(math.log2(2 * 10 ** digits))
        self.half_magnitude = max(magnitude, 1) - 1
        self.unit_magnitude = int(math.floor(math.log2(lowest)))
        self.sub_bucket_count = 1 << (self.half_magnitude + 1)
        self.half_count = self.sub_bucket_count // 2
        self.mask = (self.sub_bucket_count - 1) << self.unit_magnitude
        self.offset = self.unit_magnitude + self.half_magnitude + 1
        self.counts = {}  # index -> count

    def same_shape(self, other):
        return (self.lowest, self.digits) == (other.lowest, other.digits)

    def add(self, other):
        assert self.same_shape(other), "histograms of different precision"
        for i, n in other.counts.items():
            self.counts[i] = self.counts.get(i, 0) + n

    def total(self):
        return sum(self.counts.values())

    def value_at_index(self, index):
        bucket = (index >> self.half_magnitude) - 1
        sub_bucket = (index & (self.half_count - 1)) + self.half_count
        if bucket < 0:
            sub_bucket -= self.half_count
            bucket = 0
        return sub_bucket << (bucket + self.unit_magnitude)

    def highest_equivalent(self, value):
        bucket = (value | self.mask).bit_length() - self.offset
        shift = bucket + self.unit_magnitude
        lowest = (value >> shift) << shift
        adjusted = bucket + 1 if (value >> shift) >= self.sub_bucket_count else bucket
        return lowest + (1 << (self.unit_magnitude + adjusted)) - 1

    def value_at_percentile(self, percentile):
        total = self.total()
        if total == 0:
            return 0
        count = min(percentile, 100.0) / 100.0 * total + 0.5
        target = max(1, total if count >= total else int(count))
        cumulative = 0
        for index in sorted(self.counts):
            cumulative += self.counts[index]
            if cumulative >= target:
                return self.highest_equivalent(self.value_at_index(index))
        return 0


def decode(text):
    """A base64 compressed V2 histogram -> Histogram."""
    raw = base64.b64decode(text)
    cookie, length = struct.unpack(">iI", raw[:8])
    assert cookie & ~0xF0 == COMPRESSED_COOKIE, hex(cookie)
    body = zlib.decompress(raw[8:8 + length])
    cookie, payload_length, normalizing, digits, lowest, highest, _ratio = struct.unpack(">iiiiqqd", body[:40])
    assert cookie & ~0xF0 == ENCODING_COOKIE and normalizing == 0, hex(cookie)
    h = Histogram(lowest, highest, digits)
    payload, pos, index = body[40:40 + payload_length], 0, 0
    while pos < len(payload):
        value, shift = 0, 0
        for i in range(9):  # LEB128, the 9th byte carrying 8 bits
            byte = payload[pos]
            pos += 1
            value |= (byte if i == 8 else byte & 0x7F) << shift
            shift += 7
            if i == 8 or not byte & 0x80:
                break
        value = (value >> 1) ^ -(value & 1)  # zig-zag
        if value < 0:
            index += -value  # a run of empty slots
        else:
            if value:
                h.counts[index] = value
            index += 1
    return h
