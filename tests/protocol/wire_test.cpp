// Wire primitives: exact encodings and the Reader's bounds checking, which every decoder relies on.
#include "protocol/wire.h"

#include <gtest/gtest.h>

#include <limits>

namespace ws::protocol {
namespace {

std::vector<uint8_t> encode(auto&& fn) {
  std::vector<uint8_t> out;
  Writer w(out);
  fn(w);
  return out;
}

TEST(Wire, FixedWidthIntegersAreBigEndian) {
  auto b = encode([](Writer& w) {
    w.i16(0x0102);
    w.i32(-2);
    w.i64(0x0102030405060708);
  });
  EXPECT_EQ(b, (std::vector<uint8_t>{1, 2, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8}));
  Reader r(b);
  EXPECT_EQ(r.i16(), 0x0102);
  EXPECT_EQ(r.i32(), -2);
  EXPECT_EQ(r.i64(), 0x0102030405060708);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.empty());
}

// Vectors from the protobuf/Kafka varint definition (zig-zag for signed).
TEST(Wire, VarintVectors) {
  struct Case {
    int64_t value;
    std::vector<uint8_t> bytes;
  };
  const Case cases[] = {
      {0, {0x00}}, {-1, {0x01}}, {1, {0x02}}, {-64, {0x7f}}, {64, {0x80, 0x01}},
      {300, {0xd8, 0x04}}, {std::numeric_limits<int32_t>::max(), {0xfe, 0xff, 0xff, 0xff, 0x0f}},
      {std::numeric_limits<int32_t>::min(), {0xff, 0xff, 0xff, 0xff, 0x0f}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    auto b = encode([&](Writer& w) { w.varint(static_cast<int32_t>(c.value)); });
    EXPECT_EQ(b, c.bytes);
    Reader r(b);
    EXPECT_EQ(r.varint(), c.value);
    EXPECT_TRUE(r.ok() && r.empty());
    Reader rl(b);
    EXPECT_EQ(rl.varlong(), c.value);
  }
  auto big = encode([](Writer& w) { w.varlong(std::numeric_limits<int64_t>::min()); });
  EXPECT_EQ(big.size(), 10u);
  Reader r(big);
  EXPECT_EQ(r.varlong(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(r.ok());
}

TEST(Wire, UnsignedVarintRejectsOverlongEncodings) {
  const std::vector<uint8_t> six_bytes{0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  Reader r(six_bytes);
  r.uvarint();
  EXPECT_EQ(r.error(), DecodeError::kBadVarint);
  const std::vector<uint8_t> too_big{0xff, 0xff, 0xff, 0xff, 0x1f};  // > 32 bits
  Reader r2(too_big);
  r2.uvarint();
  EXPECT_EQ(r2.error(), DecodeError::kBadVarint);
}

TEST(Wire, StringsClassicAndCompact) {
  auto b = encode([](Writer& w) {
    w.string("ab");
    w.nullable_string(std::nullopt);
    w.compact_string("xyz");
    w.compact_nullable_string(std::nullopt);
    w.compact_nullable_string(std::string_view{});
  });
  EXPECT_EQ(b, (std::vector<uint8_t>{0, 2, 'a', 'b', 0xff, 0xff, 4, 'x', 'y', 'z', 0, 1}));
  Reader r(b);
  EXPECT_EQ(r.string(), "ab");
  EXPECT_EQ(r.nullable_string(), std::nullopt);
  EXPECT_EQ(r.compact_string(), "xyz");
  EXPECT_EQ(r.compact_nullable_string(), std::nullopt);
  EXPECT_EQ(r.compact_nullable_string(), std::optional<std::string_view>(""));
  EXPECT_TRUE(r.ok() && r.empty());
}

TEST(Wire, ReaderErrorIsStickyAndReturnsZeros) {
  const std::vector<uint8_t> b{0, 1, 2};
  Reader r(b);
  EXPECT_EQ(r.i32(), 0);  // needs 4 bytes, has 3
  EXPECT_EQ(r.error(), DecodeError::kTruncated);
  EXPECT_EQ(r.i8(), 0);  // would have succeeded before the error
  EXPECT_FALSE(r.ok());
}

TEST(Wire, StringLongerThanInputFails) {
  const std::vector<uint8_t> b{0, 10, 'a', 'b'};
  Reader r(b);
  EXPECT_EQ(r.string(), "");
  EXPECT_EQ(r.error(), DecodeError::kTruncated);
}

TEST(Wire, NegativeNonNullLengthFails) {
  const std::vector<uint8_t> b{0xff, 0xfe};  // -2
  Reader r(b);
  r.nullable_string();
  EXPECT_EQ(r.error(), DecodeError::kBadLength);
}

TEST(Wire, ArrayCountLargerThanRemainingBytesIsRejected) {
  const std::vector<uint8_t> b{0x7f, 0xff, 0xff, 0xff, 1, 2, 3};
  Reader r(b);
  EXPECT_EQ(r.array_length(), -1);
  EXPECT_EQ(r.error(), DecodeError::kBadLength);

  const std::vector<uint8_t> null_array{0xff, 0xff, 0xff, 0xff};
  Reader rn(null_array);
  EXPECT_EQ(rn.array_length(), -1);
  EXPECT_TRUE(rn.ok());

  const std::vector<uint8_t> compact{0x06, 1, 2, 3};  // claims 5 elements, 3 bytes left
  Reader rc(compact);
  rc.compact_array_length();
  EXPECT_EQ(rc.error(), DecodeError::kBadLength);
}

TEST(Wire, UnknownTaggedFieldsAreSkipped) {
  // Two tagged fields (tag 5: 2 bytes, tag 300: 1 byte), then an int16 that must still be read.
  const std::vector<uint8_t> b{2, 5, 2, 0xaa, 0xbb, 0xac, 0x02, 1, 0xcc, 0x12, 0x34};
  Reader r(b);
  r.skip_tagged_fields();
  EXPECT_EQ(r.i16(), 0x1234);
  EXPECT_TRUE(r.ok() && r.empty());

  const std::vector<uint8_t> lying{1, 5, 9, 0xaa};  // tag says 9 bytes, has 1
  Reader rl(lying);
  rl.skip_tagged_fields();
  EXPECT_FALSE(rl.ok());
}

TEST(Wire, PatchedLengthPlaceholders) {
  std::vector<uint8_t> out;
  Writer w(out);
  size_t at = w.reserve(4);
  w.string("hi");
  w.patch_i32(at, static_cast<int32_t>(w.size() - 4));
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 0, 0, 4, 0, 2, 'h', 'i'}));
}

}  // namespace
}  // namespace ws::protocol
