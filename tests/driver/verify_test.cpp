// --verify building blocks: the record stamp and the per-producer sequence tracker.
#include "driver/verify.h"

#include <gtest/gtest.h>

#include <vector>

namespace ws::driver {
namespace {

std::vector<uint8_t> stamped(const VerifyStamp& s, size_t size = 100) {
  std::vector<uint8_t> value(size, 'x');
  stamp_value(value, s);
  return value;
}

TEST(VerifyStamp, RoundTrips) {
  const VerifyStamp in{.run = 0xdeadbeef, .producer = 42, .sequence = 1ULL << 40, .send_time_us = 1'700'000'000'123'456};
  const auto value = stamped(in);
  VerifyStamp out;
  ASSERT_EQ(read_stamp(value, out), StampCheck::kOk);
  EXPECT_EQ(out.run, in.run);
  EXPECT_EQ(out.producer, in.producer);
  EXPECT_EQ(out.sequence, in.sequence);
  EXPECT_EQ(out.send_time_us, in.send_time_us);
}

TEST(VerifyStamp, AnyFlippedByteIsCaught) {
  const auto good = stamped({.run = 1, .producer = 2, .sequence = 3, .send_time_us = 4}, 64);
  for (size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= 0x20;
    VerifyStamp out;
    EXPECT_EQ(read_stamp(bad, out), StampCheck::kBadHash) << "byte " << i;
  }
}

TEST(VerifyStamp, ShortOrForeignValuesAreRejected) {
  VerifyStamp out;
  const std::vector<uint8_t> short_value(kVerifyHeaderSize - 1, 0);
  EXPECT_EQ(read_stamp(short_value, out), StampCheck::kTooShort);
  const std::vector<uint8_t> plain(100, 'a');  // a record written without --verify
  EXPECT_EQ(read_stamp(plain, out), StampCheck::kBadHash);
}

using Outcome = SequenceTracker::Outcome;

TEST(SequenceTracker, InOrderStreamHasNoGaps) {
  SequenceTracker t;
  for (uint64_t s = 0; s < 1000; ++s) EXPECT_EQ(t.observe(s), Outcome::kInOrder);
  EXPECT_EQ(t.next(), 1000u);
  EXPECT_EQ(t.missing(), 0u);
  EXPECT_EQ(t.distinct(), 1000u);
}

TEST(SequenceTracker, SkippedNumbersAreMissingUntilTheyArrive) {
  SequenceTracker t;
  t.observe(0);
  EXPECT_EQ(t.observe(5), Outcome::kJumped);  // 1-4 skipped
  EXPECT_EQ(t.missing(), 4u);
  EXPECT_EQ(t.observe(3), Outcome::kLate);    // splits the gap
  EXPECT_EQ(t.observe(1), Outcome::kLate);    // front of a gap
  EXPECT_EQ(t.observe(4), Outcome::kLate);    // back of a gap
  EXPECT_EQ(t.missing(), 1u);                 // only 2 never came
  EXPECT_EQ(t.observe(2), Outcome::kLate);
  EXPECT_EQ(t.missing(), 0u);
  EXPECT_EQ(t.distinct(), 6u);
}

TEST(SequenceTracker, RepeatsAreDuplicatesWhereverTheyFall) {
  SequenceTracker t;
  for (uint64_t s : {0, 1, 2, 6, 7}) t.observe(s);
  EXPECT_EQ(t.observe(1), Outcome::kDuplicate);  // before the gap
  EXPECT_EQ(t.observe(6), Outcome::kDuplicate);  // after the gap
  EXPECT_EQ(t.observe(7), Outcome::kDuplicate);  // the last one
  EXPECT_EQ(t.observe(4), Outcome::kLate);
  EXPECT_EQ(t.observe(4), Outcome::kDuplicate);  // a late one, twice
  EXPECT_EQ(t.missing(), 2u);                    // 3 and 5
  EXPECT_EQ(t.distinct(), 6u);
}

}  // namespace
}  // namespace ws::driver
