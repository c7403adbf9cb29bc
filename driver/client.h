// One simulated Kafka client, producer or consumer: a small plain state machine owned by a worker.
// No thread, no virtual call and no allocation per request: its buffers grow once and are reused.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "driver/consumer.h"

namespace ws::driver {

enum class ClientState : uint8_t {
  kWaiting,      // not connected; reconnects at wake_ns (start-up or backoff)
  kConnecting,
  kApiVersions,  // ApiVersions request in flight
  kMetadata,     // Metadata request in flight (or waiting for in-flight produces to finish first)
  kProducing,
  kPositioning,  // consumer: ListOffsets in flight (where to start reading)
  kConsuming,    // consumer: fetching
  kDone,         // sent its quota (and got every response), or the run is over
  kFailed,       // gave up: the broker cannot serve this scenario
};

// A request waiting for its response (or, with acks=0, for its bytes to be written).
struct InFlight {
  int64_t intended_ns = 0;  // when the schedule wanted it sent (coordinated-omission view)
  int64_t sent_ns = 0;      // when it was actually handed to the socket
  int32_t correlation_id = 0;
  uint32_t records = 0;
  int16_t api_key = 0;
  int16_t api_version = 0;
  bool expects_response = true;
};

// FIFO of in-flight requests, allocated once per client at the window's size. Responses on a
// Kafka connection arrive in request order, so the front is always the next one due. It grows
// only for acks=0, where one write may carry more requests than the window (none of them awaits
// a response), and then stays at that size.
class InFlightRing {
 public:
  void reset_capacity(uint32_t capacity) { slots_.assign(capacity, {}); head_ = size_ = 0; }
  bool empty() const { return size_ == 0; }
  uint32_t size() const { return size_; }
  InFlight& front() { return slots_[head_]; }
  void push(const InFlight& f) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) % slots_.size()] = f;
    ++size_;
  }
  void pop() {
    head_ = (head_ + 1) % static_cast<uint32_t>(slots_.size());
    --size_;
  }
  void clear() { head_ = size_ = 0; }

 private:
  void grow() {
    std::vector<InFlight> bigger(std::max<size_t>(4, slots_.size() * 2));
    for (uint32_t i = 0; i < size_; ++i) bigger[i] = slots_[(head_ + i) % slots_.size()];
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<InFlight> slots_;
  uint32_t head_ = 0;
  uint32_t size_ = 0;
};

struct Client {
  // Across all workers, per role: producer N writes partition N % partitions; consumer N reads all.
  uint32_t global_index = 0;
  ClientState state = ClientState::kWaiting;
  uint16_t endpoint = 0;          // index into the worker's broker table
  bool send_in_progress = false;  // the loop allows one send per connection at a time
  bool needs_metadata = true;     // (re)learn the partition leader before producing
  bool versions_negotiated = false;  // this connection's ApiVersions exchange is done
  bool unflushed_records = false;    // acks=0: records written since the last flush barrier
  bool send_queued = false;          // in the worker's end-of-batch send queue
  bool flush_pending = false;        // acks=0: the flush barrier (a Metadata request) is in flight
  bool awaiting_connect_slot = false;
  bool holds_connect_slot = false;  // from connect() until the broker's first response
  uint8_t connect_attempts = 0;   // consecutive failures, for exponential backoff
  uint8_t metadata_attempts = 0;
  int8_t magic = 2;
  int16_t produce_version = 0;
  int16_t metadata_version = 0;
  int16_t api_versions_version = 3;
  int16_t fetch_version = -1;
  int16_t list_offsets_version = -1;
  int32_t partition = -1;
  int32_t next_correlation_id = 1;
  int64_t wake_ns = 0;            // backoff expiry or connect deadline
  int64_t next_record_ns = 0;     // paced runs: intended time of the next record not yet sent
  uint64_t quota_left = 0;        // records still to send (consumers: still to read)
  uint64_t next_sequence = 0;     // --verify: sequence number of the next record this producer writes
  bool measured_from_published = false;  // --verify: told consumers its first post-warm-up sequence
  uint64_t closed_in_batch = 0;   // worker's poll batch in which the connection was last closed
  std::string client_id;
  std::unique_ptr<ConsumerState> consumer;  // set for consumers only, so producers stay small
  InFlightRing in_flight;
  std::vector<uint8_t> send_buffer;  // the request being written
  std::vector<uint8_t> partial;      // bytes of an incomplete response frame
};

}  // namespace ws::driver
