// Builds produce requests: one record set per partition (any magic, any codec, --verify stamps,
// keys) and the request around them, straight into a link's send queue. One per worker, shared by
// its producers: its buffers grow once and are reused, so steady-state sending allocates nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/connections.h"
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
  ProduceEncoder(const RunConfig& config, uint32_t run_id, int64_t wall_minus_steady_ns);

  // Appends one produce request to `link`: `records` grouped by partition (in runs of equal
  // partitions), each run a record set of `magic`. Returns the request's size in bytes.
  size_t append(ConnectionTable& links, LinkId link, const std::string& topic, std::span<const PendingRecord> records,
                uint32_t producer, int8_t magic, int16_t version, InFlight meta);

  const std::vector<uint8_t>& payload() const { return payload_; }

 private:
  const RunConfig& config_;
  uint32_t run_id_;
  int64_t wall_minus_steady_ns_;
  protocol::RecordSetWriter writer_;
  std::vector<uint8_t> sets_;                   // every partition's record set, one after another
  std::vector<std::pair<size_t, size_t>> ranges_;  // (offset, size) of each in sets_
  std::vector<uint8_t> payload_;
  std::vector<uint8_t> value_;  // --verify: the stamped copy of the payload
  std::string key_;
  protocol::ProduceRequest request_;
};

}  // namespace ws::driver
