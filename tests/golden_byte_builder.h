// Golden-test helpers shared by the ApiVersions and Produce golden tests: an independent byte
// builder written from the Kafka primitive rules (it shares no code with protocol/), a hex
// dump for failure messages, and encode/decode shorthands for the code under test.
#pragma once

#include <gtest/gtest.h>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include "protocol/api_versions.h"
#include "protocol/framing.h"

namespace ws::protocol {
namespace {

// ---- Independent byte builder (Kafka primitive rules, no protocol/ code) ----------------------
struct B {
  std::vector<uint8_t> b;

  B& be(uint64_t v, int n) {  // big-endian, n bytes
    for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  B& i8(int v) { return be(static_cast<uint8_t>(v), 1); }
  B& i16(int v) { return be(static_cast<uint16_t>(v), 2); }
  B& i32(int64_t v) { return be(static_cast<uint32_t>(v), 4); }
  B& i64(int64_t v) { return be(static_cast<uint64_t>(v), 8); }
  B& uvarint(uint64_t v) {  // LEB128: 7 bits per byte, low group first, high bit = "more"
    do {
      uint8_t byte = v & 0x7f;
      v >>= 7;
      b.push_back(v ? static_cast<uint8_t>(byte | 0x80) : byte);
    } while (v);
    return *this;
  }
  B& raw(std::initializer_list<uint8_t> x) { return raw(std::span<const uint8_t>(x.begin(), x.size())); }
  B& raw(std::span<const uint8_t> x) {
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
  B& raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  B& raw(const B& o) { return raw(std::span<const uint8_t>(o.b)); }
  // Classic: int16 length (-1 null). Compact: uvarint length+1 (0 null).
  B& str(std::string_view s) { return i16(static_cast<int>(s.size())).raw(s); }
  B& cstr(std::string_view s) { return uvarint(s.size() + 1).raw(s); }
  B& str_null() { return i16(-1); }
  B& cstr_null() { return uvarint(0); }
  B& arr(int64_t n) { return i32(n); }                                // int32 count
  B& carr(uint64_t n) { return uvarint(n + 1); }                      // uvarint count+1
  B& tags0() { return uvarint(0); }                                   // empty tagged section
  B& tag(uint64_t t, const B& payload) { return uvarint(t).uvarint(payload.b.size()).raw(payload); }
  size_t size() const { return b.size(); }
};

// Hex dump; the byte at `mark` (first difference) is shown as [xx].
std::string hex(const std::vector<uint8_t>& v, size_t mark = SIZE_MAX) {
  std::string s;
  char buf[8];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, i == mark ? "[%02x]" : "%02x", v[i]);
    if (i) s += ' ';
    s += buf;
  }
  return s;
}

::testing::AssertionResult SameBytes(const char* actual_expr, const char* expected_expr,
                                     const std::vector<uint8_t>& actual,
                                     const std::vector<uint8_t>& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < actual.size() && i < expected.size() && actual[i] == expected[i]) ++i;
  return ::testing::AssertionFailure()
         << actual_expr << " vs " << expected_expr << ": first difference at byte " << i
         << " (sizes " << actual.size() << " vs " << expected.size() << ")\n  actual:   "
         << hex(actual, i) << "\n  expected: " << hex(expected, i);
}
#define EXPECT_BYTES(actual, expected) EXPECT_PRED_FORMAT2(SameBytes, actual, expected)

template <typename Msg>
std::vector<uint8_t> encode(const Msg& m, int16_t v) {
  std::vector<uint8_t> out;
  Writer w(out);
  m.encode(w, v);
  return out;
}

// Decodes `bytes` at version v into a copy of `start` (a used object: decode must overwrite or
// reset every field) and checks: no error, every byte consumed, result == want.
template <typename Msg>
::testing::AssertionResult DecodesTo(const std::vector<uint8_t>& bytes, int16_t v, const Msg& want,
                                     const Msg& start = Msg{}) {
  Reader r(bytes);
  Msg got = start;
  got.decode(r, v);
  if (!r.ok()) return ::testing::AssertionFailure() << "decode error: " << to_string(r.error());
  if (!r.empty()) return ::testing::AssertionFailure() << r.remaining() << " bytes left unread";
  if (!(got == want)) {
    return ::testing::AssertionFailure() << "decoded struct differs (shown re-encoded)\n  got:  "
                                         << hex(encode(got, v)) << "\n  want: " << hex(encode(want, v));
  }
  return ::testing::AssertionSuccess();
}

}  // namespace
}  // namespace ws::protocol
