#include "driver/phase.h"

#include <algorithm>

namespace ws::driver {
namespace {

// Sets `slot` from kNever to `value`; false if it was already set.
bool set_once(std::atomic<int64_t>& slot, int64_t value) {
  int64_t expected = RunTimeline::kNever;
  return slot.compare_exchange_strong(expected, value, std::memory_order_acq_rel);
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kConnecting: return "connecting";
    case Phase::kWarmUp: return "warmup";
    case Phase::kMeasuring: return "measure";
    case Phase::kDraining: return "drain";
    case Phase::kDone: return "done";
  }
  return "unknown";
}

void RunTimeline::begin(int64_t start_ns, int64_t warmup_ns, int64_t duration_ns, int64_t connect_deadline_ns,
                        int64_t not_before_ns) {
  start_ns_ = start_ns;
  not_before_ns_ = not_before_ns;
  warmup_ns_ = warmup_ns;
  duration_ns_ = duration_ns;
  connect_deadline_ns_ = start_ns + connect_deadline_ns;
  connected_ns_.store(kNever);
  stopped_ns_.store(kNever);
  done_ns_.store(kNever);
}

bool RunTimeline::end_connecting(int64_t at_ns) {
  if (stopped_ns() != kNever) return false;
  return set_once(connected_ns_, at_ns);
}

bool RunTimeline::stop(int64_t at_ns) { return set_once(stopped_ns_, at_ns); }

void RunTimeline::finish(int64_t at_ns) { set_once(done_ns_, at_ns); }

int64_t RunTimeline::load_start_ns() const {
  const int64_t connected = connected_ns();
  return connected == kNever ? kNever : std::max(connected, not_before_ns_);
}

int64_t RunTimeline::measure_start_ns() const {
  const int64_t load = load_start_ns();
  return load == kNever ? kNever : load + warmup_ns_;
}

int64_t RunTimeline::measure_end_ns() const {
  const int64_t start = measure_start_ns();
  const int64_t by_duration = start == kNever || duration_ns_ == 0 ? kNever : start + duration_ns_;
  const int64_t stopped = stopped_ns();
  return stopped < by_duration ? stopped : by_duration;
}

bool RunTimeline::stopped_during_connecting() const {
  const int64_t stopped = stopped_ns();
  return stopped != kNever && stopped < connected_ns();
}

Phase RunTimeline::phase(int64_t now_ns) const {
  if (now_ns >= done_ns_.load(std::memory_order_acquire)) return Phase::kDone;
  if (now_ns >= measure_end_ns()) return Phase::kDraining;
  const int64_t load = load_start_ns();
  if (now_ns < load) return Phase::kConnecting;
  return now_ns < load + warmup_ns_ ? Phase::kWarmUp : Phase::kMeasuring;
}

}  // namespace ws::driver
