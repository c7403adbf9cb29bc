// A consumer's record intake with --verify (driver/record_intake.*, through RecordIntake's public
// API; nothing in driver/ is changed for it): record sets a broker could send, read from a
// cursor, stamps checked, sequences tracked per producer, latencies recorded, losses counted.
//
// Input: [mode byte][rest]. Mode bit 0: the rest is a raw record set (every format and codec the
// reader knows, as the broker's bytes; seeds: fuzz_record_set's). Otherwise the rest describes
// records that the harness writes with valid --verify stamps, so that the fuzzer gets past the
// stamp's hash to the sequence bookkeeping: bits 1-2 magic (3 = 2), bits 3-5 codec (mod 5),
// then 8 bytes per record:
//   [flags][producer][sequence u32 BE][send time delta u16 BE]
//   flags bit 0: another run's record, bit 1: a corrupt stamp (a byte flipped after the hash),
//   bit 2: a value too short for a stamp, bit 3: a null value, bit 4: starts a new batch,
//   bit 5: that batch goes back 3 offsets (records the cursor has passed, as a refetch returns).
// The same record set is then taken again from the cursor (a fetch returning what was read).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "driver/metrics.h"
#include "driver/record_intake.h"
#include "driver/verify.h"
#include "protocol/records.h"
#include "stats/histogram.h"

namespace {

using namespace ws;

constexpr uint32_t kRunId = 0x5eed;
constexpr uint32_t kProducers = 8;
constexpr int64_t kNowUs = 1'700'000'000'000'000;

// Writes the described records as one or more record sets, back to back, into `out`.
void build_record_sets(const uint8_t* data, size_t size, int8_t magic, protocol::Codec codec,
                       std::vector<uint8_t>& out) {
  if (magic < 2 && codec == protocol::Codec::kZstd) codec = protocol::Codec::kNone;  // zstd needs magic 2
  std::vector<std::vector<uint8_t>> values;
  values.reserve(size / 8 + 1);
  std::vector<protocol::RecordToWrite> records;
  protocol::RecordSetWriter writer;
  int64_t base_offset = 0;
  const auto flush = [&] {
    if (records.empty()) return;
    writer.begin(out, {.magic = magic, .codec = codec, .base_offset = base_offset});
    for (const auto& r : records) writer.add(r);
    if (!writer.finish()) std::abort();
    base_offset += static_cast<int64_t>(records.size());
    records.clear();
  };
  for (size_t at = 0; at + 8 <= size; at += 8) {
    const uint8_t flags = data[at];
    if (flags & 0x10) {
      flush();
      if (flags & 0x20) base_offset = std::max<int64_t>(0, base_offset - 3);
    }
    driver::VerifyStamp stamp;
    stamp.run = (flags & 0x01) ? kRunId + 1 : kRunId;
    stamp.producer = data[at + 1] % (kProducers + 2);  // a few beyond this run's producers
    stamp.sequence = uint32_t{data[at + 2]} << 24 | uint32_t{data[at + 3]} << 16 | uint32_t{data[at + 4]} << 8 | data[at + 5];
    stamp.send_time_us = kNowUs - (int64_t{data[at + 6]} << 8 | data[at + 7]) * 1000;
    protocol::RecordToWrite r;
    r.timestamp_ms = stamp.send_time_us / 1000;
    if (!(flags & 0x08)) {
      auto& value = values.emplace_back((flags & 0x04) ? driver::kVerifyHeaderSize / 2 : driver::kVerifyHeaderSize + 8);
      if (!(flags & 0x04)) driver::stamp_value(value, stamp);
      if (flags & 0x02) value.back() ^= 0x01;
      r.value = protocol::Bytes(value);
    }
    records.push_back(r);
  }
  flush();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::vector<uint8_t> built;
  protocol::Bytes record_set(data + 1, size - 1);
  if (!(mode & 0x01)) {
    const auto magic = static_cast<int8_t>(std::min(2, (mode >> 1) & 0x03));
    const auto codec = static_cast<protocol::Codec>(((mode >> 3) & 0x07) % 5);
    build_record_sets(data + 1, size - 1, magic, codec, built);
    record_set = built;
  }

  driver::RunCounters counters;
  static stats::HdrHistogram latency(1, 3'600'000'000, 3);  // built once: its counts array is large
  latency.reset();
  auto measured_from = std::make_unique<std::atomic<uint64_t>[]>(kProducers);
  for (uint32_t p = 0; p < kProducers; ++p) measured_from[p] = p * 1000;
  const driver::IntakeContext ctx{.verify = true,
                                  .run_id = kRunId,
                                  .now_unix_us = kNowUs,
                                  .measuring = true,
                                  .measured_from = {measured_from.get(), kProducers},
                                  .counters = &counters,
                                  .e2e_latency_us = &latency};
  driver::RecordIntake intake;
  intake.cursors = {{.partition = 0, .offset = 0}};
  driver::PartitionCursor& cursor = intake.cursors[0];
  for (int fetch = 0; fetch < 2; ++fetch) {
    const int64_t before = cursor.offset;
    intake.take_records(cursor, record_set, ctx);
    if (cursor.offset < before) std::abort();  // a cursor never moves back
  }
  const auto& t = intake.tally;
  if (t.received != counters.consume_received) std::abort();
  if (t.duplicates > t.received || t.out_of_order > t.received || t.received_measured > t.received) std::abort();
  if (intake.this_run_distinct > t.received) std::abort();
  const std::vector<uint64_t> acked(kProducers, 100);
  (void)intake.count_lost(true, kRunId, acked);
  return 0;
}
