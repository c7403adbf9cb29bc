// A worker's timers: a min-heap of (time, target). Targets check their own state when woken, so a
// timer that is no longer needed is simply ignored (no cancellation), and arming the same target
// twice is harmless. No allocation once the heap reached its working size.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace ws::driver {

// Who a timer wakes: a connection (link), a producer, a consumer, or the worker's metadata cache.
struct TimerTarget {
  enum Kind : uint8_t { kLink, kProducer, kConsumer, kMetadata };
  Kind kind;
  uint32_t index;
};

class TimerQueue {
 public:
  void arm(int64_t at_ns, TimerTarget target) { heap_.push(Entry{at_ns, target}); }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  int64_t next_ns() const { return heap_.empty() ? INT64_MAX : heap_.top().at_ns; }
  // Pops the earliest timer due at `now`; false when none is.
  bool pop_due(int64_t now, TimerTarget& out) {
    if (heap_.empty() || heap_.top().at_ns > now) return false;
    out = heap_.top().target;
    heap_.pop();
    return true;
  }

 private:
  struct Entry {
    int64_t at_ns;
    TimerTarget target;
    bool operator>(const Entry& o) const { return at_ns > o.at_ns; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

}  // namespace ws::driver
