// Builds produce requests: the record set (any magic, any codec, --verify stamps, keys) and the
// request around it, straight into a link's send queue. One per worker, shared by its producers:
// its buffers grow once and are reused, so steady-state sending allocates nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/connections.h"
#include "protocol/produce.h"
#include "protocol/records.h"

namespace ws::driver {

struct ProduceBatch {
  int32_t partition = 0;
  uint32_t records = 0;
  int8_t magic = 2;
  int16_t version = 0;
  uint32_t producer = 0;          // the producer's global index (keys, --verify stamps)
  uint64_t first_sequence = 0;    // the producer's sequence number of the first record
  int64_t first_intended_ns = 0;  // when the first record was due (steady clock)
  int64_t interval_ns = 0;        // paced runs: between two records' due times
};

class ProduceEncoder {
 public:
  ProduceEncoder(const RunConfig& config, uint32_t run_id, int64_t wall_minus_steady_ns);

  // Appends the request for `batch` to `link` and returns its size in bytes. `meta` carries the
  // request's intended time, record count and whether it expects a response.
  size_t append(ConnectionTable& links, LinkId link, const ProduceBatch& batch, InFlight meta);

  const std::vector<uint8_t>& payload() const { return payload_; }

 private:
  void stamp_values(const ProduceBatch& batch);

  const RunConfig& config_;
  uint32_t run_id_;
  int64_t wall_minus_steady_ns_;
  protocol::RecordSetWriter writer_;
  std::vector<uint8_t> record_set_;
  std::vector<uint8_t> payload_;
  std::vector<uint8_t> values_;  // --verify: one stamped copy of the payload per record
  std::string key_;
  protocol::ProduceRequest request_;
};

}  // namespace ws::driver
