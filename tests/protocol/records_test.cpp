// Record formats: round trips for every magic and codec, exact bytes of an uncompressed batch
// (laid out by hand from the protocol guide), truncation, and corruption handling.
#include "protocol/records.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/crc.h"

namespace ws::protocol {
namespace {

Bytes as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
std::string as_string(const std::optional<Bytes>& b) {
  return b ? std::string(reinterpret_cast<const char*>(b->data()), b->size()) : "<null>";
}

struct Decoded {
  int64_t offset;
  int64_t timestamp;
  std::string key, value;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::vector<Decoded> read_all(Bytes set, RecordSetReader* keep = nullptr) {
  RecordSetReader local(set);
  RecordSetReader& reader = keep ? *keep : local;
  std::vector<Decoded> out;
  RecordView rec;
  while (reader.next(rec)) {
    Decoded d{rec.offset, rec.timestamp_ms, as_string(rec.key), as_string(rec.value), {}};
    for (const auto& h : rec.headers) d.headers.emplace_back(std::string(h.key), as_string(h.value));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<uint8_t> write_set(int8_t magic, Codec codec, int n, bool with_headers = false) {
  static std::vector<std::string> storage;
  storage.clear();
  for (int i = 0; i < n; ++i) {
    storage.push_back("key-" + std::to_string(i));
    storage.push_back("value-" + std::to_string(i) + std::string(static_cast<size_t>(i % 50), 'x'));
  }
  const RecordHeaderView headers[] = {{"trace", as_bytes("abc")}, {"empty", std::nullopt}};
  std::vector<uint8_t> out{0xEE};  // a byte in front: the writer must append, not overwrite
  RecordSetWriter writer;
  writer.begin(out, {.magic = magic, .codec = codec});
  for (int i = 0; i < n; ++i) {
    RecordToWrite r;
    r.key = as_bytes(storage[2 * i]);
    r.value = as_bytes(storage[2 * i + 1]);
    r.timestamp_ms = 1700000000000 + i;
    if (with_headers) r.headers = headers;
    writer.add(r);
  }
  EXPECT_TRUE(writer.finish());
  EXPECT_EQ(writer.size(), out.size() - 1);
  EXPECT_EQ(out[0], 0xEE);
  out.erase(out.begin());
  return out;
}

class RecordRoundTrip : public ::testing::TestWithParam<std::tuple<int, Codec>> {};

TEST_P(RecordRoundTrip, EveryRecordComesBackWithKeyValueTimestampAndOffset) {
  const auto [magic, codec] = GetParam();
  if (codec == Codec::kZstd && magic < 2) {
    // Kafka defines zstd only for RecordBatch v2: the writer must refuse, not write garbage.
    std::vector<uint8_t> out;
    RecordSetWriter writer;
    writer.begin(out, {.magic = static_cast<int8_t>(magic), .codec = codec});
    writer.add({.key = std::nullopt, .value = as_bytes("v")});
    EXPECT_FALSE(writer.finish());
    return;
  }
  const bool headers = magic == 2;
  auto set = write_set(static_cast<int8_t>(magic), codec, 100, headers);
  RecordSetReader reader(set);
  auto records = read_all(set, &reader);
  ASSERT_EQ(records.size(), 100u);
  EXPECT_EQ(reader.error(), DecodeError::kNone);
  EXPECT_FALSE(reader.truncated());
  EXPECT_EQ(reader.corrupt_batches(), 0u);
  for (int i = 0; i < 100; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(records[i].offset, i);
    EXPECT_EQ(records[i].key, "key-" + std::to_string(i));
    EXPECT_EQ(records[i].value, "value-" + std::to_string(i) + std::string(static_cast<size_t>(i % 50), 'x'));
    EXPECT_EQ(records[i].timestamp, magic == 0 ? -1 : 1700000000000 + i);
    if (headers) {
      ASSERT_EQ(records[i].headers.size(), 2u);
      EXPECT_EQ(records[i].headers[0], std::make_pair(std::string("trace"), std::string("abc")));
      EXPECT_EQ(records[i].headers[1], std::make_pair(std::string("empty"), std::string("<null>")));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, RecordRoundTrip,
                         ::testing::Combine(::testing::Values(0, 1, 2),
                                            ::testing::Values(Codec::kNone, Codec::kGzip, Codec::kSnappy,
                                                              Codec::kLz4, Codec::kZstd)));

// One uncompressed record, laid out field by field from the Kafka protocol guide.
TEST(RecordBatchV2, ExactBytesOfAnUncompressedBatch) {
  std::vector<uint8_t> out;
  RecordSetWriter writer;
  writer.begin(out, {.magic = 2, .codec = Codec::kNone});
  const RecordHeaderView header[] = {{"h", as_bytes("v")}};
  writer.add({.key = as_bytes("k"), .value = as_bytes("val"), .timestamp_ms = 0x1122334455, .headers = header});
  ASSERT_TRUE(writer.finish());

  const std::vector<uint8_t> record{
      0x1c,              // record length 14 (zig-zag 28)
      0x00,              // attributes
      0x00,              // timestamp delta 0
      0x00,              // offset delta 0
      0x02, 'k',         // key length 1
      0x06, 'v', 'a', 'l',  // value length 3
      0x02,              // 1 header
      0x02, 'h', 0x02, 'v'};
  std::vector<uint8_t> expected{
      0, 0, 0, 0, 0, 0, 0, 0,   // base offset
      0, 0, 0, 0x3c,            // batch length: 49 + 11 = 60
      0xff, 0xff, 0xff, 0xff,   // partition leader epoch -1
      2,                        // magic
      0, 0, 0, 0,               // crc (filled below)
      0, 0,                     // attributes: no compression, create time
      0, 0, 0, 0,               // last offset delta
      0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55,  // base timestamp
      0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55,  // max timestamp
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producer id -1
      0xff, 0xff,                                      // producer epoch -1
      0xff, 0xff, 0xff, 0xff,                          // base sequence -1
      0, 0, 0, 1};                                     // record count
  expected.insert(expected.end(), record.begin(), record.end());
  expected[11] = static_cast<uint8_t>(expected.size() - 12);
  const uint32_t crc = crc32c_portable(expected.data() + 21, expected.size() - 21);
  for (int i = 0; i < 4; ++i) expected[17 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  EXPECT_EQ(out, expected);
}

// A magic 0 message laid out by hand: offset, size, crc, magic, attributes, key, value.
TEST(MessageSetV0, ExactBytesOfAnUncompressedMessage) {
  std::vector<uint8_t> out;
  RecordSetWriter writer;
  writer.begin(out, {.magic = 0, .codec = Codec::kNone, .base_offset = 7});
  writer.add({.key = std::nullopt, .value = as_bytes("hi")});
  ASSERT_TRUE(writer.finish());
  std::vector<uint8_t> expected{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 16, 0, 0, 0, 0,
                                0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 'h', 'i'};
  const uint32_t crc = crc32_ieee(expected.data() + 16, expected.size() - 16);
  for (int i = 0; i < 4; ++i) expected[12 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  EXPECT_EQ(out, expected);
}

class RecordTruncation : public ::testing::TestWithParam<std::tuple<int, Codec>> {};

// A Fetch response cut at max_bytes ends in a partial batch: the reader returns the complete
// batches before it and reports truncation, never an error.
TEST_P(RecordTruncation, PartialTrailingBatchStopsCleanly) {
  const auto [magic, codec] = GetParam();
  auto first = write_set(static_cast<int8_t>(magic), codec, 3);
  auto second = write_set(static_cast<int8_t>(magic), codec, 3);
  std::vector<uint8_t> both = first;
  both.insert(both.end(), second.begin(), second.end());
  const size_t first_records = read_all(first).size();
  for (size_t cut = first.size(); cut < both.size(); ++cut) {
    SCOPED_TRACE(cut);
    RecordSetReader reader(Bytes(both.data(), cut));
    auto records = read_all(Bytes(both.data(), cut), &reader);
    EXPECT_GE(records.size(), first_records);
    EXPECT_EQ(reader.error(), DecodeError::kNone);
    if (magic == 2 || codec != Codec::kNone) {
      EXPECT_EQ(records.size(), first_records);  // one batch / wrapper: all or nothing
      EXPECT_EQ(reader.truncated(), cut > first.size());
      EXPECT_EQ(reader.consumed_bytes(), first.size());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, RecordTruncation,
                         ::testing::Combine(::testing::Values(0, 1, 2),
                                            ::testing::Values(Codec::kNone, Codec::kGzip)));

TEST(RecordSetReader, FlippedBitIsCountedAsCorruptAndSkipped) {
  for (int magic : {0, 1, 2}) {
    SCOPED_TRACE(magic);
    auto good = write_set(static_cast<int8_t>(magic), Codec::kGzip, 5);
    auto bad = good;
    ASSERT_GT(bad.size(), 3u);
    bad.at(bad.size() - 3) ^= 0x10;
    std::vector<uint8_t> both = bad;
    both.insert(both.end(), good.begin(), good.end());
    RecordSetReader reader(both);
    auto records = read_all(both, &reader);
    EXPECT_EQ(records.size(), 5u);  // the intact second set still comes through
    EXPECT_EQ(reader.corrupt_batches(), 1u);
    EXPECT_EQ(reader.error(), DecodeError::kNone);
  }
}

TEST(RecordSetReader, CrcCheckCanBeTurnedOff) {
  auto set = write_set(2, Codec::kNone, 2);
  set[set.size() - 2] ^= 0x01;  // last byte of the last value (the last byte is the header count)
  RecordSetReader reader(set, {.verify_crc = false});
  EXPECT_EQ(read_all(set, &reader).size(), 2u);
  EXPECT_EQ(reader.corrupt_batches(), 0u);
}

TEST(RecordSetReader, UnknownMagicIsAnError) {
  auto set = write_set(2, Codec::kNone, 1);
  set.at(16) = 7;  // the magic byte
  RecordSetReader reader(set);
  EXPECT_TRUE(read_all(set, &reader).empty());
  EXPECT_EQ(reader.error(), DecodeError::kBadValue);
}

TEST(RecordSetReader, EmptySetAndNullKeys) {
  RecordSetReader empty(Bytes{});
  RecordView rec;
  EXPECT_FALSE(empty.next(rec));
  EXPECT_FALSE(empty.truncated());

  std::vector<uint8_t> out;
  RecordSetWriter writer;
  writer.begin(out, {.magic = 2});
  writer.add({.key = std::nullopt, .value = std::nullopt, .timestamp_ms = 5});
  ASSERT_TRUE(writer.finish());
  RecordSetReader reader(out);
  ASSERT_TRUE(reader.next(rec));
  EXPECT_FALSE(rec.key.has_value());
  EXPECT_FALSE(rec.value.has_value());
}

TEST(RecordSetWriter, ReusedWriterProducesIdenticalBatches) {
  RecordSetWriter writer;
  std::vector<uint8_t> a, b;
  for (auto* out : {&a, &b}) {
    writer.begin(*out, {.magic = 2, .codec = Codec::kLz4});
    writer.add({.key = as_bytes("k"), .value = as_bytes("v"), .timestamp_ms = 1});
    ASSERT_TRUE(writer.finish());
  }
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace ws::protocol
