#include "driver/record_intake.h"

#include <algorithm>

#include "protocol/records.h"

namespace ws::driver {

PartitionCursor* RecordIntake::cursor_for(int32_t partition) {
  auto it = std::lower_bound(cursors.begin(), cursors.end(), partition,
                             [](const PartitionCursor& c, int32_t p) { return c.partition < p; });
  return it != cursors.end() && it->partition == partition ? &*it : nullptr;
}

bool RecordIntake::positioned() const {
  return std::all_of(cursors.begin(), cursors.end(), [](const PartitionCursor& c) { return c.offset >= 0; });
}

bool RecordIntake::caught_up() const {
  return std::all_of(cursors.begin(), cursors.end(),
                     [](const PartitionCursor& c) { return c.high_watermark >= 0 && c.offset >= c.high_watermark; });
}

bool RecordIntake::went_back(const VerifyStamp& stamp, int32_t partition) {
  // Keyed by run, producer and partition (a 64-bit mix: collisions only merge two orders).
  const uint64_t key = (static_cast<uint64_t>(stamp.run) * 0x9E3779B97F4A7C15ULL) ^
                       (static_cast<uint64_t>(stamp.producer) << 24) ^ static_cast<uint32_t>(partition);
  auto [it, inserted] = last_in_partition_.try_emplace(key, stamp.sequence);
  if (inserted) return false;
  const bool back = stamp.sequence < it->second;
  if (!back) it->second = stamp.sequence;
  return back;
}

SequenceTracker& RecordIntake::tracker(uint32_t run, uint32_t producer) {
  const uint64_t key = static_cast<uint64_t>(run) << 32 | producer;
  if (key != last_key_) {
    last_key_ = key;
    last_tracker_ = &sequences_[key];  // unordered_map nodes do not move: the pointer stays valid
  }
  return *last_tracker_;
}

RecordIntake::Intake RecordIntake::take_records(PartitionCursor& cursor, protocol::Bytes record_set,
                                                const IntakeContext& ctx) {
  RunCounters& counters = *ctx.counters;
  const int64_t start = cursor.offset;
  protocol::RecordSetReader reader(record_set);
  protocol::RecordView record;
  while (!quota_reached() && reader.next(record)) {
    // The broker returns whole batches (and whole compressed wrapper messages), which may begin
    // before the offset asked for: those records were delivered by an earlier fetch.
    if (record.offset < cursor.offset) continue;
    // An offset from the wire is untrusted: INT64_MAX cannot be followed by another record.
    if (record.offset == INT64_MAX) return Intake::kMalformed;
    cursor.offset = record.offset + 1;
    if (quota_left) --*quota_left;
    ++tally.received;
    ++counters.consume_received;
    // Counted by arrival unless this run's stamp says when it was sent (see received_measured).
    bool measured = ctx.measuring;

    int64_t sent_us = -1;
    if (ctx.verify) {
      VerifyStamp stamp;
      const std::span<const uint8_t> value =
          record.value ? std::span<const uint8_t>(*record.value) : std::span<const uint8_t>();
      if (read_stamp(value, stamp) != StampCheck::kOk) {
        if (measured) ++tally.received_measured;
        ++tally.corrupt;
        ++counters.consume_corrupt;
        continue;
      }
      sent_us = stamp.send_time_us;
      if (!ctx.same_run(stamp.run)) ++counters.consume_other_runs;
      if (stamp.run == ctx.run_id && stamp.producer < ctx.measured_from.size()) {
        measured = stamp.sequence >= ctx.measured_from[stamp.producer].load(std::memory_order_acquire);
      }
      const auto outcome = tracker(stamp.run, stamp.producer).observe(stamp.sequence);
      if (stamp.run == ctx.run_id && outcome != SequenceTracker::Outcome::kDuplicate) ++this_run_distinct;
      if (outcome == SequenceTracker::Outcome::kDuplicate) {
        ++tally.duplicates;
        ++counters.consume_duplicates;
      } else if (went_back(stamp, cursor.partition)) {
        // Kafka keeps order within a partition only: a producer that writes several partitions
        // interleaves them, so a record is out of order when it comes after a later record of
        // its producer in the same partition.
        ++tally.out_of_order;
        ++counters.consume_out_of_order;
      }
      // Only this run's records: older ones would measure how old the topic is, not the broker.
      if (!ctx.same_run(stamp.run)) sent_us = -1;
    } else if (record.timestamp_ms >= 0) {
      sent_us = record.timestamp_ms * 1000;  // CreateTime, millisecond resolution (magic 1 and 2)
    }
    if (measured) ++tally.received_measured;
    // Warm-up records that arrive after it belong to the warm-up's latency, not the window's.
    if (ctx.measuring && !measured) sent_us = -1;
    if (sent_us >= 0 && ctx.e2e_latency_us) {
      if (!ctx.e2e_latency_us->record(std::max<int64_t>(0, ctx.now_unix_us - sent_us))) {
        ++counters.latency_out_of_range;
      }
    }
  }
  // A batch whose CRC fails is skipped by the reader; its records cannot be counted one by one.
  // Counted when first met, then the cursor moves past it: it is not fetched (or counted) again.
  if (reader.skipped_through() >= start) {
    tally.corrupt += reader.corrupt_batches();
    counters.consume_corrupt += reader.corrupt_batches();
    if (reader.skipped_through() < INT64_MAX) cursor.offset = std::max(cursor.offset, reader.skipped_through() + 1);
  }
  if (reader.error() != protocol::DecodeError::kNone) return Intake::kMalformed;
  if (cursor.offset == start && reader.truncated() && reader.batches() == 0) return Intake::kTooLarge;
  return Intake::kOk;
}

uint64_t RecordIntake::count_lost(bool verify, uint32_t run_id, std::span<const uint64_t> acked) const {
  uint64_t lost = 0;
  if (!verify) {
    uint64_t total = 0;
    for (const uint64_t n : acked) total += n;
    return total > tally.received ? total - tally.received : 0;
  }
  for (uint32_t p = 0; p < acked.size(); ++p) {
    const auto it = sequences_.find(static_cast<uint64_t>(run_id) << 32 | p);
    const uint64_t distinct = it == sequences_.end() ? 0 : it->second.distinct();
    // A record whose request failed or timed out may still have been written: received beyond
    // what was acknowledged is not negative loss.
    if (acked[p] > distinct) lost += acked[p] - distinct;
  }
  // Other runs' producers (consumer-only runs): nothing says how many they wrote, only the holes.
  for (const auto& [key, tracker] : sequences_) {
    if (static_cast<uint32_t>(key >> 32) != run_id) lost += tracker.missing();
  }
  return lost;
}

}  // namespace ws::driver
