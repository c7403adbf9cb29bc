// A simulated consumer's record intake: where it is in each partition and, with --verify, what it
// has seen from each producer. The consumer state machine does the requests; this turns fetched
// record sets into counts. No I/O: unit-tested alone.
#pragma once

#include <atomic>
#include <optional>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "driver/group_metrics.h"
#include "driver/metrics.h"
#include "driver/verify.h"
#include "protocol/wire.h"

namespace ws::driver {

struct PartitionCursor {
  int32_t partition = 0;
  int64_t offset = -1;          // next offset to fetch; -1 until ListOffsets answered
  int64_t high_watermark = -1;  // from the last fetch response
};

// What the report shows per consumer.
struct ConsumerTally {
  uint32_t id = 0;                  // the consumer's global index
  uint64_t received = 0;            // whole run, warm-up included
  // Records of the measured window: with --verify, those this run's producers sent after the
  // warm-up (by their stamped sequence), so warm-up records still in transit do not inflate the
  // rate; without --verify, those that arrived after the warm-up. The receive rates use this.
  uint64_t received_measured = 0;
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  uint64_t corrupt = 0;
  uint64_t lost = 0;                // set at the end (see ConsumerState::count_lost)
  std::string failure;              // why it counts as failing ("" = it did not fail)
  GroupMemberTally group;           // --group-mode: its membership (in_group false otherwise)
};

// What record intake needs from the worker for one fetch response.
struct IntakeContext {
  bool verify = false;
  uint32_t run_id = 0;
  // --shards: the shards of one run stamp run_id - shard + 0 .. shard_count - 1; a record of
  // another shard is the run's own (end-to-end latency, not "other runs"), though only this
  // shard's producers say how many records there must be.
  uint32_t shard = 0;
  uint32_t shard_count = 1;
  bool same_run(uint32_t stamped) const { return stamped - (run_id - shard) < shard_count; }
  int64_t now_unix_us = 0;
  bool measuring = true;            // past the warm-up
  // Per producer of this run, the first sequence it sent after the warm-up (UINT64_MAX: none
  // yet); empty without --verify. Records from there on are the measured window's.
  std::span<const std::atomic<uint64_t>> measured_from;
  RunCounters* counters = nullptr;
  stats::HdrHistogram* e2e_latency_us = nullptr;
};

class RecordIntake {
 public:
  std::vector<PartitionCursor> cursors;  // sorted by partition
  // Consumer-only runs with --messages: records still to read. Without a quota it stays unset.
  std::optional<uint64_t> quota_left;
  uint64_t this_run_distinct = 0;        // --verify: records of this run's producers, each once
  ConsumerTally tally;

  PartitionCursor* cursor_for(int32_t partition);
  bool positioned() const;  // every cursor has an offset
  bool caught_up() const;   // every cursor at its high watermark
  bool quota_reached() const { return quota_left && *quota_left == 0; }

  enum class Intake : uint8_t {
    kOk,
    kMalformed,  // a length or count that lies: nothing past it can be read
    kTooLarge,   // only part of one batch came and nothing was delivered: the batch is larger than
                 // what a fetch may return, so fetching again returns the same part
  };
  // Reads the records of one partition's record set from `cursor`'s offset on, advances the
  // cursor, counts and checks them. A corrupt batch (bad CRC, undecompressable) whose length is
  // sound is counted once and skipped: the cursor moves past it.
  Intake take_records(PartitionCursor& cursor, protocol::Bytes record_set, const IntakeContext& ctx);

  // --verify, at the end: records this run's producers had acknowledged (acked[p] for producer p)
  // that this consumer never received, plus gaps in other runs' sequences. Without --verify:
  // acknowledged minus received, the best a count can say.
  uint64_t count_lost(bool verify, uint32_t run_id, std::span<const uint64_t> acked) const;
  // --verify: what it has seen of each producer, by (run << 32 | producer).
  const std::unordered_map<uint64_t, SequenceTracker>& sequences() const { return sequences_; }

 private:
  SequenceTracker& tracker(uint32_t run, uint32_t producer);
  bool went_back(const VerifyStamp& stamp, int32_t partition);  // behind a later one in its partition

  std::unordered_map<uint64_t, SequenceTracker> sequences_;  // (run << 32 | producer)
  std::unordered_map<uint64_t, uint64_t> last_in_partition_;  // --verify: highest sequence per producer and partition
  uint64_t last_key_ = UINT64_MAX;  // records come in runs of one producer: skip the hash lookup
  SequenceTracker* last_tracker_ = nullptr;
};

}  // namespace ws::driver
