// Requests on one connection waiting for their response (or, with acks=0, for their bytes to be
// written), in request order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ws::driver {

struct InFlight {
  int64_t intended_ns = 0;  // when the schedule wanted it sent (coordinated-omission view)
  int64_t sent_ns = 0;      // when it was actually handed to the socket
  int32_t correlation_id = 0;
  uint32_t records = 0;
  int16_t api_key = 0;
  int16_t api_version = 0;
  bool expects_response = true;
  bool handshake = false;  // the connection's first request (ApiVersions, or Metadata on Kafka 0.9)
  uint16_t parts = 0;      // produce: the partitions it carries (the producer keeps their detail)
};

// FIFO of in-flight requests, allocated once per connection at the window's size. Responses on a
// Kafka connection arrive in request order, so the front is always the next one due. It grows
// only for acks=0, where one write may carry more requests than the window (none of them awaits
// a response), and then stays at that size.
class InFlightRing {
 public:
  void reset_capacity(uint32_t capacity) {
    slots_.assign(std::max<uint32_t>(capacity, 1), {});
    head_ = size_ = 0;
  }
  bool empty() const { return size_ == 0; }
  uint32_t size() const { return size_; }
  InFlight& front() { return slots_[head_]; }
  const InFlight& front() const { return slots_[head_]; }
  const InFlight& at(uint32_t i) const { return slots_[(head_ + i) % slots_.size()]; }
  InFlight& at(uint32_t i) { return slots_[(head_ + i) % slots_.size()]; }
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

}  // namespace ws::driver
