// Golden-test helpers shared by the ApiVersions, Produce and ListOffsets golden tests: an
// independent byte builder written from the Kafka primitive rules (it shares no code with
// protocol/), its flexible-version-aware form, a hex dump for failure messages, and encode/decode
// shorthands for the code under test.
#pragma once

#include <gtest/gtest.h>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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

// Flexible-aware forms: with `flex` set (a flexible version) strings, bytes and arrays take their
// compact encoding and tags() writes an empty tagged-field section; without it tags() writes nothing.
struct F : B {
  bool flex;
  explicit F(bool flexible) : flex(flexible) {}
  F& string(std::string_view s) {
    if (flex) cstr(s); else str(s);
    return *this;
  }
  F& nstring(std::optional<std::string_view> s) {
    if (s) return string(*s);
    if (flex) cstr_null(); else str_null();
    return *this;
  }
  F& nbytes(std::optional<Bytes> d) {  // int32 length / uvarint length+1; null = -1 / 0
    if (!d) {
      if (flex) uvarint(0); else B::i32(-1);
      return *this;
    }
    if (flex) uvarint(d->size() + 1); else B::i32(static_cast<int64_t>(d->size()));
    raw(*d);
    return *this;
  }
  F& array(size_t n) {
    if (flex) carr(n); else arr(static_cast<int64_t>(n));
    return *this;
  }
  F& tags() {
    if (flex) tags0();
    return *this;
  }
  F& i8(int v) { B::i8(v); return *this; }
  F& i16(int v) { B::i16(v); return *this; }
  F& i32(int64_t v) { B::i32(v); return *this; }
  F& i64(int64_t v) { B::i64(v); return *this; }
};

// A whole request frame: int32 size, then request header v1 (int16 api key, int16 version, int32
// correlation id, int16-length client id, -1 = null) or, in flexible versions, header v2 (the same
// plus an empty tagged-field section; the client id stays a classic string), then the body.
inline B request_frame(int api_key, int16_t v, bool flexible, int32_t correlation_id,
                       std::optional<std::string_view> client_id, const B& body) {
  B header;
  header.i16(api_key).i16(v).i32(correlation_id);
  if (client_id) header.str(*client_id); else header.str_null();
  if (flexible) header.tags0();
  return std::move(B().i32(static_cast<int64_t>(header.size() + body.size())).raw(header).raw(body));
}

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

// Decoding any strict prefix of `bytes` at version v must fail. Each prefix is an exact-size heap
// copy, so AddressSanitizer catches a read past it.
template <typename Msg>
::testing::AssertionResult EveryTruncationFails(const std::vector<uint8_t>& bytes, int16_t v) {
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(len));
    Reader r(cut.data(), cut.size());
    Msg out;
    out.decode(r, v);
    if (r.ok()) {
      return ::testing::AssertionFailure()
             << "decoding the first " << len << " of " << bytes.size() << " bytes succeeded";
    }
  }
  return ::testing::AssertionSuccess();
}

// Per-version test fixtures: parameterised over the version, named "v<N>".
class GoldenVersion : public ::testing::TestWithParam<int> {
 protected:
  int16_t v() const { return static_cast<int16_t>(GetParam()); }
};
inline std::string VersionName(const ::testing::TestParamInfo<int>& p) { return "v" + std::to_string(p.param); }

}  // namespace
}  // namespace ws::protocol
