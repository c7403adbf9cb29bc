// RecordIntake: record intake from fetched record sets, --verify bookkeeping and the loss count.
#include "driver/record_intake.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "protocol/records.h"

namespace ws::driver {
namespace {

constexpr uint32_t kRun = 77;

// A record set of stamped records (producer, sequences...), as the broker would return it, with
// offsets from `base_offset`.
std::vector<uint8_t> stamped_set(uint32_t run, uint32_t producer, std::vector<uint64_t> sequences,
                                 int64_t base_offset, int8_t magic = 2) {
  std::vector<std::vector<uint8_t>> values;
  for (uint64_t s : sequences) {
    std::vector<uint8_t> v(48, 'f');
    stamp_value(v, {.run = run, .producer = producer, .sequence = s, .send_time_us = 1'000'000});
    values.push_back(std::move(v));
  }
  std::vector<uint8_t> out;
  protocol::RecordSetWriter writer;
  writer.begin(out, {.magic = magic, .base_offset = base_offset});
  for (const auto& v : values) writer.add({.value = protocol::Bytes(v), .timestamp_ms = 1000});
  EXPECT_TRUE(writer.finish());
  return out;
}

struct Intake {
  RunCounters counters;
  stats::HdrHistogram e2e{1, 3'600'000'000LL, 3};
  IntakeContext context(bool verify = true) {
    return {.verify = verify, .run_id = kRun, .now_unix_us = 1'005'000, .counters = &counters, .e2e_latency_us = &e2e};
  }
};

RecordIntake one_partition(int64_t offset) {
  RecordIntake cs;
  cs.cursors.push_back({.partition = 0, .offset = offset});
  return cs;
}

TEST(RecordIntake, CountsRecordsAndAdvancesTheCursor) {
  RecordIntake cs = one_partition(0);
  Intake in;
  const auto set = stamped_set(kRun, 3, {0, 1, 2, 3}, 0);
  ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.cursors[0].offset, 4);
  EXPECT_EQ(cs.tally.received, 4u);
  EXPECT_EQ(in.counters.consume_received, 4u);
  EXPECT_EQ(in.e2e.total_count(), 4u);
  EXPECT_NEAR(static_cast<double>(in.e2e.value_at_percentile(50)), 5000.0, 10.0);  // 5 ms from the stamp
  const uint64_t acked[4] = {0, 0, 0, 4};
  EXPECT_EQ(cs.count_lost(true, kRun, acked), 0u);
}

TEST(RecordIntake, WarmUpRecordsArrivingAfterItAreReceivedButNotInTheRate) {
  // Producer 0 sent 0-2 in the warm-up and 3-4 after it; producer 1 sent nothing after it. All of
  // them arrive after the warm-up. Their stamps say "intended" at 1.0 s: a producer far behind its
  // schedule sends in the window records due long before, so the boundary is by sequence.
  RecordIntake cs = one_partition(0);
  Intake in;
  std::atomic<uint64_t> measured_from[2];
  measured_from[0] = 3;
  measured_from[1] = UINT64_MAX;
  IntakeContext ctx = in.context();
  ctx.measured_from = measured_from;
  const auto warm = stamped_set(kRun, 0, {0, 1, 2}, 0);
  const auto window = stamped_set(kRun, 0, {3, 4}, 3);
  const auto idle = stamped_set(kRun, 1, {0}, 5);
  ASSERT_EQ(cs.take_records(cs.cursors[0], warm, ctx), RecordIntake::Intake::kOk);
  ASSERT_EQ(cs.take_records(cs.cursors[0], window, ctx), RecordIntake::Intake::kOk);
  ASSERT_EQ(cs.take_records(cs.cursors[0], idle, ctx), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.tally.received, 6u);
  EXPECT_EQ(cs.tally.received_measured, 2u);
  EXPECT_EQ(in.e2e.total_count(), 2u);  // only the window's records
  const uint64_t acked[2] = {5, 1};
  EXPECT_EQ(cs.count_lost(true, kRun, acked), 0u);  // and none of them is lost

  // Another run's records (consumer-only runs over an old topic) count by arrival.
  const auto old = stamped_set(kRun + 1, 0, {0, 1}, 6);
  ASSERT_EQ(cs.take_records(cs.cursors[0], old, ctx), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.tally.received_measured, 4u);

  // Without --verify nothing tells them apart: every record arriving after the warm-up counts.
  RecordIntake plain = one_partition(0);
  IntakeContext unverified = in.context(false);
  ASSERT_EQ(plain.take_records(plain.cursors[0], warm, unverified), RecordIntake::Intake::kOk);
  EXPECT_EQ(plain.tally.received_measured, 3u);
  unverified.measuring = false;  // still in the warm-up: nothing counts
  ASSERT_EQ(plain.take_records(plain.cursors[0], window, unverified), RecordIntake::Intake::kOk);
  EXPECT_EQ(plain.tally.received_measured, 3u);
}

TEST(RecordIntake, RecordsBeforeTheFetchOffsetWereDeliveredAlready) {
  // The broker returns whole batches: a batch starting at offset 10 for a fetch at offset 12.
  RecordIntake cs = one_partition(12);
  Intake in;
  const auto set = stamped_set(kRun, 0, {10, 11, 12, 13}, 10);
  ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.tally.received, 2u);
  EXPECT_EQ(cs.tally.duplicates, 0u);
  EXPECT_EQ(cs.cursors[0].offset, 14);
}

TEST(RecordIntake, DuplicatesReorderingAndLossAreCountedPerProducer) {
  RecordIntake cs = one_partition(0);
  Intake in;
  // Producer 1 wrote 0..5; the log holds 0 1 3 2 3 5: 3 twice, 2 late, 4 never.
  const auto set = stamped_set(kRun, 1, {0, 1, 3, 2, 3, 5}, 0);
  ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.tally.received, 6u);
  EXPECT_EQ(cs.tally.duplicates, 1u);
  EXPECT_EQ(cs.tally.out_of_order, 1u);
  EXPECT_EQ(in.counters.consume_duplicates, 1u);
  const uint64_t acked[2] = {3, 6};  // producer 0 acknowledged 3 records this consumer never saw
  EXPECT_EQ(cs.count_lost(true, kRun, acked), 3u + 1u);
}

TEST(RecordIntake, CorruptValuesAndForeignRunsAreToldApart) {
  RecordIntake cs = one_partition(0);
  Intake in;
  auto set = stamped_set(kRun, 0, {0, 1}, 0, /*magic=*/2);
  // Another run's records are checked for gaps but carry no end-to-end sample.
  const auto old = stamped_set(kRun + 1, 0, {0, 2}, 2);
  ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kOk);
  ASSERT_EQ(cs.take_records(cs.cursors[0], old, in.context()), RecordIntake::Intake::kOk);
  EXPECT_EQ(in.counters.consume_other_runs, 2u);
  EXPECT_EQ(in.e2e.total_count(), 2u);
  const uint64_t acked[1] = {2};
  EXPECT_EQ(cs.count_lost(true, kRun, acked), 1u);  // the other run's gap at 1

  // A value without a stamp (written without --verify) is corrupt for a verifying consumer.
  std::vector<uint8_t> plain_set;
  protocol::RecordSetWriter writer;
  const std::vector<uint8_t> plain(48, 'a');
  writer.begin(plain_set, {.magic = 2, .base_offset = 4});
  writer.add({.value = protocol::Bytes(plain)});
  ASSERT_TRUE(writer.finish());
  ASSERT_EQ(cs.take_records(cs.cursors[0], plain_set, in.context()), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.tally.corrupt, 1u);
}

TEST(RecordIntake, AFailedBatchCrcIsCorruptAndNotDelivered) {
  RecordIntake cs = one_partition(0);
  Intake in;
  auto set = stamped_set(kRun, 0, {0, 1}, 0, /*magic=*/0);  // magic 0: one CRC per message
  set.back() ^= 1;                                           // last byte of the last value
  ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.tally.received, 1u);
  EXPECT_EQ(cs.tally.corrupt, 1u);
  EXPECT_EQ(cs.cursors[0].offset, 2);  // past the bad one: it is not fetched (and counted) again
}

TEST(RecordIntake, QuotaStopsIntakeMidSet) {
  RecordIntake cs = one_partition(0);
  cs.quota_left = 3;
  Intake in;
  const auto set = stamped_set(kRun, 0, {0, 1, 2, 3, 4}, 0);
  ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context(false)), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.tally.received, 3u);
  EXPECT_EQ(cs.quota_left, std::optional<uint64_t>(0));
  EXPECT_EQ(cs.cursors[0].offset, 3);
}

TEST(RecordIntake, WithoutVerifyLossIsAcknowledgedMinusReceived) {
  RecordIntake cs = one_partition(0);
  Intake in;
  const auto set = stamped_set(kRun, 0, {0, 1, 2}, 0);
  ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context(false)), RecordIntake::Intake::kOk);
  EXPECT_EQ(in.e2e.total_count(), 3u);  // from the record timestamps
  const uint64_t acked[2] = {2, 3};
  EXPECT_EQ(cs.count_lost(false, kRun, acked), 2u);
}

TEST(RecordIntake, CaughtUpNeedsEveryCursorAtItsHighWatermark) {
  RecordIntake cs;
  cs.cursors = {{.partition = 0, .offset = 5, .high_watermark = 5}, {.partition = 1, .offset = 2, .high_watermark = 3}};
  EXPECT_FALSE(cs.caught_up());
  cs.cursors[1].offset = 3;
  EXPECT_TRUE(cs.caught_up());
  EXPECT_EQ(cs.cursor_for(1), &cs.cursors[1]);
  EXPECT_EQ(cs.cursor_for(7), nullptr);
}

// A bad batch is counted once, and the consumer moves past it: before, the same batch was
// fetched and counted again on every fetch, for ever.
TEST(RecordIntake, ACorruptBatchIsCountedOnceAndSkipped) {
  for (const int8_t magic : {int8_t{0}, int8_t{1}, int8_t{2}}) {
    SCOPED_TRACE(magic);
    auto first = stamped_set(kRun, 1, {0, 1}, 0, magic);
    auto bad = stamped_set(kRun, 1, {2}, 2, magic);
    auto last = stamped_set(kRun, 1, {3, 4}, 3, magic);
    bad.back() ^= 0xff;  // the last byte is covered by the CRC in every format
    std::vector<uint8_t> set = first;
    set.insert(set.end(), bad.begin(), bad.end());
    RecordIntake cs = one_partition(0);
    Intake in;
    ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kOk);
    EXPECT_EQ(cs.tally.corrupt, 1u);
    EXPECT_EQ(cs.cursors[0].offset, 3) << "past the bad batch";
    // The next fetch starts after it: the rest arrives, nothing is counted again.
    ASSERT_EQ(cs.take_records(cs.cursors[0], last, in.context()), RecordIntake::Intake::kOk);
    EXPECT_EQ(cs.tally.corrupt, 1u);
    EXPECT_EQ(cs.tally.received, 4u);
    EXPECT_EQ(cs.cursors[0].offset, 5);
    // Fetching the same bad batch again (a broker that answers from an earlier offset) does not
    // count it twice either.
    ASSERT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kOk);
    EXPECT_EQ(cs.tally.corrupt, 1u);
  }
}

TEST(RecordIntake, ALengthThatLiesIsMalformedAndMovesNothing) {
  auto set = stamped_set(kRun, 1, {0, 1}, 0);
  set[8] = 0xff;  // the batch length's high byte: negative
  RecordIntake cs = one_partition(0);
  Intake in;
  EXPECT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kMalformed);
  EXPECT_EQ(cs.cursors[0].offset, 0);
  EXPECT_EQ(cs.tally.received, 0u);
}

TEST(RecordIntake, OnlyPartOfOneBatchMeansItIsLargerThanAFetchMayReturn) {
  const auto set = stamped_set(kRun, 1, {0, 1, 2}, 0);
  RecordIntake cs = one_partition(0);
  Intake in;
  const std::vector<uint8_t> part(set.begin(), set.begin() + static_cast<ptrdiff_t>(set.size() / 2));
  EXPECT_EQ(cs.take_records(cs.cursors[0], part, in.context()), RecordIntake::Intake::kTooLarge);
  // A partial batch after whole ones is normal (the fetch was cut at max_bytes).
  std::vector<uint8_t> whole_then_part = stamped_set(kRun, 1, {0}, 0);
  whole_then_part.insert(whole_then_part.end(), part.begin(), part.end());
  EXPECT_EQ(cs.take_records(cs.cursors[0], whole_then_part, in.context()), RecordIntake::Intake::kOk);
  EXPECT_EQ(cs.cursors[0].offset, 1);
}

TEST(RecordIntake, AnOffsetOfInt64MaxDoesNotOverflowTheCursor) {
  RecordIntake cs = one_partition(INT64_MAX - 1);
  Intake in;
  const auto set = stamped_set(kRun, 1, {0, 1}, INT64_MAX - 1);
  EXPECT_EQ(cs.take_records(cs.cursors[0], set, in.context()), RecordIntake::Intake::kMalformed);
  EXPECT_EQ(cs.cursors[0].offset, INT64_MAX);
  EXPECT_EQ(cs.tally.received, 1u);
}

}  // namespace
}  // namespace ws::driver
