// Builds produce requests: one record set per partition (any magic, any codec, --verify stamps,
// keys) and the request around them, straight into a link's send queue. One per worker, shared by
// its producers: its buffers grow once and are reused, so steady-state sending allocates nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/connections.h"
#include "driver/idempotence.h"
#include "driver/payload.h"
#include "driver/verify.h"
#include "protocol/produce.h"
#include "protocol/records.h"

namespace ws::driver {

// A record a producer has made due: its partition, its sequence number (in keys and --verify
// stamps) and when it was due.
struct PendingRecord {
  int32_t partition = 0;
  uint64_t sequence = 0;
  int64_t intended_ns = 0;
};

// Orders records by partition, each partition's records kept in their order (a stable sort by
// partition), without allocating once its buffers have grown: records already in order (a sticky
// batch is one run of one partition) are used where they are, others are counted into place
// (Kafka numbers partitions 0..n-1).
class PartitionGrouper {
 public:
  // The records in order: `records` itself, or a view of this grouper's buffer (valid until the
  // next call).
  std::span<const PendingRecord> group(std::span<const PendingRecord> records);

 private:
  std::vector<PendingRecord> grouped_;
  std::vector<uint32_t> starts_;  // per partition id: where its records go in grouped_
};

// The key of a producer's record: "<producer>-<sequence>", padded with '.' or cut to --key-size.
// Also what the murmur2 partitioner hashes.
std::span<const uint8_t> record_key(std::string& scratch, uint32_t producer, uint64_t sequence, uint32_t key_size);

class ProduceEncoder {
 public:
  // `payloads`: the run's values, shared by every worker; null generates them from `config` (test
  // rigs without a runner).
  ProduceEncoder(const RunConfig& config, uint32_t run_id, int64_t wall_minus_steady_ns,
                 std::shared_ptr<const PayloadPool> payloads = nullptr);

  // Bytes of record sets left to sends that still read them while the encoder went on in another
  // buffer (it only grows): memory a burst of writes takes, as write buffers do (the worker
  // paces new writes by both).
  uint64_t bytes_set_aside() const { return bytes_set_aside_; }

  // Appends one produce request to `link`: `records` grouped by partition (in runs of equal
  // partitions), each run a record set of `magic`. With `identity` (--idempotent, magic 2) each
  // batch carries its producer id, epoch and next sequence. Returns the request's size in bytes.
  size_t append(ConnectionTable& links, LinkId link, const std::string& topic, std::span<const PendingRecord> records,
                uint32_t producer, int8_t magic, int16_t version, InFlight meta, ProducerIdentity* identity = nullptr);

 private:
  // The next record's value: the pool's values in turn, so a record set repeats none while it
  // holds no more records than the pool has values. With --verify, a stamped copy.
  std::span<const uint8_t> next_value(const VerifyStamp& stamp);
  // Appends one record set of `records` (one partition's) to `out`.
  void write_set(std::vector<uint8_t>& out, std::span<const PendingRecord> records, uint32_t producer, int8_t magic,
                 int64_t timestamp_ms, const protocol::BatchProducer& batch);
  // Without keys and --verify stamps, a RecordBatch v2 differs from an earlier one of as many
  // records that started at the same pool value only in its timestamp (all its records share
  // one): that batch is restamped instead of encoded again. A sticky producer's full batches all
  // hit (the pool holds one value, or --batch values).
  bool can_repeat_sets(int8_t magic) const { return magic == 2 && !config_.verify && config_.key_size == 0; }
  protocol::Bytes repeated_set(std::span<const PendingRecord> records, uint32_t producer, int64_t timestamp_ms,
                               const protocol::BatchProducer& batch);

  const RunConfig& config_;
  uint32_t run_id_;
  int64_t wall_minus_steady_ns_;
  protocol::RecordSetWriter writer_;
  std::vector<uint8_t> sets_;                   // every partition's record set, one after another
  std::vector<std::pair<size_t, size_t>> ranges_;  // (offset, size) of each in sets_
  std::shared_ptr<const PayloadPool> payloads_;
  size_t next_payload_ = 0;
  std::vector<uint8_t> value_;             // --verify: the stamped copy of a pool value
  size_t value_from_ = SIZE_MAX;           // the pool value value_ holds past its stamp
  std::string key_;
  protocol::ProduceRequest request_;
  // The buffer of a set that is rewritten in place, unless a link's send still reads it (its
  // reference makes the count above 1): then the set moves to a buffer no send holds.
  std::vector<uint8_t>& rewritable_set(bool keep_bytes);
  // The last one-partition RecordBatch v2 (see repeated_set). Links send it from here
  // (ConnectionTable::append_produce) and hold a reference while they do.
  std::shared_ptr<std::vector<uint8_t>> repeat_set_ = std::make_shared<std::vector<uint8_t>>();
  std::vector<std::shared_ptr<std::vector<uint8_t>>> spare_sets_;  // earlier buffers, free once unheld
  static constexpr size_t kSpareSets = 8;
  uint64_t bytes_set_aside_ = 0;
  size_t repeat_first_payload_ = 0;     // the pool value its first record holds
  size_t repeat_records_ = 0;           // its record count; 0: none kept
};

}  // namespace ws::driver
