// The producer's hot path without a loop: the order a request's records take (PartitionGrouper,
// the same as a stable sort by partition), a RecordBatch v2 restamped instead of encoded again
// (the same bytes as a fresh encoding), and the encoder's requests when it reuses a batch: the
// records a broker decodes are the pool's values in turn, with good CRCs and offsets.
#include "driver/produce_encoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "protocol/framing.h"
#include "protocol/header.h"
#include "protocol/records.h"
#include "tests/driver/rigs.h"

namespace ws::driver {
namespace {

std::vector<PendingRecord> records_on(const std::vector<int32_t>& partitions) {
  std::vector<PendingRecord> out;
  for (size_t i = 0; i < partitions.size(); ++i) {
    out.push_back(PendingRecord{.partition = partitions[i], .sequence = i, .intended_ns = static_cast<int64_t>(i)});
  }
  return out;
}

std::vector<PendingRecord> stable_sorted(std::vector<PendingRecord> records) {
  std::stable_sort(records.begin(), records.end(),
                   [](const PendingRecord& a, const PendingRecord& b) { return a.partition < b.partition; });
  return records;
}

void expect_same(std::span<const PendingRecord> got, const std::vector<PendingRecord>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].partition, want[i].partition) << "at " << i;
    EXPECT_EQ(got[i].sequence, want[i].sequence) << "at " << i;
  }
}

TEST(PartitionGrouper, RecordsInOrderAreUsedWhereTheyAre) {
  PartitionGrouper grouper;
  const auto records = records_on({2, 2, 2, 5, 5});
  const auto grouped = grouper.group(records);
  EXPECT_EQ(grouped.data(), records.data()) << "a sticky batch must not be copied";
  expect_same(grouped, records);
}

TEST(PartitionGrouper, OrdersAsAStableSortByPartition) {
  PartitionGrouper grouper;
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<int32_t> partitions(1 + rng() % 300);
    const int32_t distinct = 1 + static_cast<int32_t>(rng() % 12);
    for (auto& p : partitions) p = static_cast<int32_t>(rng() % static_cast<uint32_t>(distinct));
    const auto records = records_on(partitions);
    expect_same(grouper.group(records), stable_sorted(records));
  }
}

TEST(PartitionGrouper, NegativeAndHugeIdsStillSortStably) {
  PartitionGrouper grouper;
  const auto records = records_on({1 << 30, -3, 7, -3, 1 << 30, 7, 0});
  expect_same(grouper.group(records), stable_sorted(records));
}

std::vector<uint8_t> batch_at(int64_t timestamp_ms, protocol::Codec codec, size_t records) {
  std::vector<uint8_t> out;
  protocol::RecordSetWriter writer;
  writer.begin(out, {.magic = 2, .codec = codec});
  const std::vector<uint8_t> value(150, 'v');  // 150: a two-byte length varint
  for (size_t i = 0; i < records; ++i) {
    protocol::RecordToWrite r;
    r.value = protocol::Bytes(value.data(), value.size() - i % 3);
    r.timestamp_ms = timestamp_ms;
    writer.add(r);
  }
  EXPECT_TRUE(writer.finish());
  return out;
}

TEST(RestampRecordBatchV2, GivesTheBytesOfABatchWrittenAtTheNewTime) {
  for (const auto codec : {protocol::Codec::kNone, protocol::Codec::kGzip}) {
    std::vector<uint8_t> batch = batch_at(1'700'000'000'000, codec, 130);  // 130: two-byte offset deltas
    protocol::restamp_record_batch_v2(batch, 1'800'000'000'123);
    EXPECT_EQ(batch, batch_at(1'800'000'000'123, codec, 130)) << protocol::codec_name(codec);
    // Long batches get their CRC patched from the previous one, so restamps in a row must stay exact.
    for (int64_t t : {int64_t{0}, int64_t{-1}, int64_t{1'800'000'000'124}, int64_t{1'900'000'000'000}}) {
      protocol::restamp_record_batch_v2(batch, t);
    }
    EXPECT_EQ(batch, batch_at(1'900'000'000'000, codec, 130)) << protocol::codec_name(codec);
  }
}

TEST(RestampRecordBatchV2, SetsAnIdempotentProducersIdEpochAndSequenceAsTheWriterWould) {
  // lz4 makes the batch short enough to be checksummed anew; uncompressed, its CRC is patched.
  for (const auto codec : {protocol::Codec::kNone, protocol::Codec::kLz4}) {
    const auto written = [codec](int64_t timestamp_ms, const protocol::BatchProducer& producer) {
      std::vector<uint8_t> out;
      protocol::RecordSetWriter writer;
      writer.begin(out, {.magic = 2,
                         .codec = codec,
                         .producer_id = producer.id,
                         .producer_epoch = producer.epoch,
                         .base_sequence = producer.base_sequence});
      const std::vector<uint8_t> value(100, 'v');
      for (int i = 0; i < 10; ++i) {
        protocol::RecordToWrite r;
        r.value = protocol::Bytes(value.data(), value.size());
        r.timestamp_ms = timestamp_ms;
        writer.add(r);
      }
      EXPECT_TRUE(writer.finish());
      return out;
    };
    std::vector<uint8_t> batch = written(1'700'000'000'000, {.id = 7, .epoch = 0, .base_sequence = 0});
    const protocol::BatchProducer later{.id = 4'000'000'001, .epoch = 3, .base_sequence = 2'147'483'640};
    protocol::restamp_record_batch_v2(batch, 1'800'000'000'123, later);
    EXPECT_EQ(batch, written(1'800'000'000'123, later)) << protocol::codec_name(codec);
    // Whether a batch being sent may serve the next request as it is: only if nothing would change.
    EXPECT_TRUE(protocol::record_batch_v2_stamped(batch, 1'800'000'000'123, later)) << protocol::codec_name(codec);
    EXPECT_FALSE(protocol::record_batch_v2_stamped(batch, 1'800'000'000'124, later));
    protocol::BatchProducer next = later;
    ++next.base_sequence;
    EXPECT_FALSE(protocol::record_batch_v2_stamped(batch, 1'800'000'000'123, next));
    next = later;
    ++next.epoch;
    EXPECT_FALSE(protocol::record_batch_v2_stamped(batch, 1'800'000'000'123, next));
  }
}

// The record set of the last request appended to `link`'s queue (one topic, one partition).
std::vector<uint8_t> last_record_set(const ConnectionTable& table, LinkId link, size_t request_size) {
  const auto& out = table.link(link).out;
  const protocol::Bytes frame(out.data() + out.size() - request_size + 4, request_size - 4);
  protocol::Reader r(frame);
  protocol::Reader peek(frame);
  const int16_t api_key = peek.i16();
  const int16_t version = peek.i16();
  protocol::RequestHeader header;
  header.decode(r, protocol::request_header_version(api_key, version));
  protocol::ProduceRequest request;
  request.decode(r, version);
  EXPECT_TRUE(r.ok());
  if (request.topic_data.size() != 1 || request.topic_data[0].partition_data.size() != 1) return {};
  const auto& records = request.topic_data[0].partition_data[0].records;
  return records ? std::vector<uint8_t>(records->begin(), records->end()) : std::vector<uint8_t>();
}

TEST(ProduceEncoder, ARepeatedBatchIsWhatAFreshEncoderWrites) {
  RunConfig c = testing::base_config();
  c.payload = PayloadKind::kRandom;
  c.message_size = 100;
  c.payload_pool_size = 2;  // batches of 4 start at the same pool value: the second one repeats
  testing::TableRig rig(c);
  const LinkId link = rig.open();
  auto pool = std::make_shared<const PayloadPool>(PayloadPool::generate(rig.config, 5));
  ASSERT_EQ(pool->size(), 2u);
  ProduceEncoder encoder(rig.config, 7, 0, pool);
  std::vector<PendingRecord> four(4), three(3);
  for (auto& r : four) r.partition = 3;
  for (auto& r : three) r.partition = 1;
  std::vector<std::vector<uint8_t>> sets;
  // 4 (encoded), 4 (repeated), 3 (encoded: another size), 4 (starts at value 1: encoded), 4 (repeated).
  for (const auto* records : {&four, &four, &three, &four, &four}) {
    const size_t size = encoder.append(*rig.table, link, "t", *records, 0, 2, 3, InFlight{});
    sets.push_back(last_record_set(*rig.table, link, size));
  }
  size_t first_value = 0;
  for (size_t i = 0; i < sets.size(); ++i) {
    const auto& records = i == 2 ? three : four;
    // A fresh encoder at the same pool value writes the same bytes, once both carry one timestamp.
    testing::TableRig other(c);
    const LinkId other_link = other.open();
    ProduceEncoder cold(other.config, 7, 0, pool);
    std::vector<PendingRecord> skip(first_value);
    if (!skip.empty()) cold.append(*other.table, other_link, "t", skip, 0, 2, 3, InFlight{});
    const size_t size = cold.append(*other.table, other_link, "t", records, 0, 2, 3, InFlight{});
    std::vector<uint8_t> want = last_record_set(*other.table, other_link, size);
    std::vector<uint8_t> got = sets[i];
    protocol::restamp_record_batch_v2(want, 42);
    protocol::restamp_record_batch_v2(got, 42);
    EXPECT_EQ(got, want) << "request " << i;
    // What a broker reads: good CRC, offsets 0..n-1, the pool's values in turn.
    protocol::RecordSetReader reader(sets[i]);
    protocol::RecordView view;
    int64_t offset = 0;
    while (reader.next(view)) {
      EXPECT_EQ(view.offset, offset);
      ASSERT_TRUE(view.value);
      const auto value = pool->value((first_value + static_cast<size_t>(offset)) % pool->size());
      EXPECT_TRUE(std::equal(view.value->begin(), view.value->end(), value.begin(), value.end()));
      ++offset;
    }
    EXPECT_EQ(reader.corrupt_batches(), 0u) << "request " << i;
    EXPECT_EQ(reader.error(), protocol::DecodeError::kNone);
    EXPECT_EQ(static_cast<size_t>(offset), records.size()) << "request " << i;
    first_value = (first_value + records.size()) % pool->size();
  }
}

}  // namespace
}  // namespace ws::driver
