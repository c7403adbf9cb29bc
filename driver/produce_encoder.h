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

// The key of a producer's record: "<producer>-<sequence>", padded with '.' or cut to --key-size.
// Also what the murmur2 partitioner hashes.
std::span<const uint8_t> record_key(std::string& scratch, uint32_t producer, uint64_t sequence, uint32_t key_size);

class ProduceEncoder {
 public:
  // `payloads`: the run's values, shared by every worker; null generates them from `config` (test
  // rigs without a runner).
  ProduceEncoder(const RunConfig& config, uint32_t run_id, int64_t wall_minus_steady_ns,
                 std::shared_ptr<const PayloadPool> payloads = nullptr);

  // Appends one produce request to `link`: `records` grouped by partition (in runs of equal
  // partitions), each run a record set of `magic`. Returns the request's size in bytes.
  size_t append(ConnectionTable& links, LinkId link, const std::string& topic, std::span<const PendingRecord> records,
                uint32_t producer, int8_t magic, int16_t version, InFlight meta);

 private:
  // The next record's value: the pool's values in turn, so a record set repeats none while it
  // holds no more records than the pool has values. With --verify, a stamped copy.
  std::span<const uint8_t> next_value(const VerifyStamp& stamp);

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
};

}  // namespace ws::driver
