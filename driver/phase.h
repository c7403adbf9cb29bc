// The phases of a run and the one place that moves between them (h2load's INITIAL_IDLE / WARM_UP /
// MAIN_DURATION / DURATION_OVER):
//
//   Connecting  clients connect, negotiate versions, learn metadata (consumers: take their start
//               offsets); nothing is produced. Ends when every client is ready, or at
//               --connect-deadline (clients not ready then are reported; they keep trying),
//               but not before --start-at: shards of one test wait there, connected, so that
//               their measured windows line up.
//   WarmUp      --warmup: load runs, left out of the result.
//   Measuring   --duration (or until --messages are sent): the result.
//   Draining    no new records; responses to what was sent still count, for --drain-timeout.
//   Done        every client settled.
#pragma once

#include <atomic>
#include <cstdint>

namespace ws::driver {

enum class Phase : uint8_t { kConnecting, kWarmUp, kMeasuring, kDraining, kDone };
const char* phase_name(Phase p);

// The run's timeline: when it started, when Connecting ended and when sending stopped. Each
// instant is set once, by whichever thread gets there first (a worker whose last client became
// ready, the deadline, Ctrl-C), and read lock-free by every worker and the reporting thread, so
// all of them agree on the phase at any instant. Times are steady-clock nanoseconds.
class RunTimeline {
 public:
  static constexpr int64_t kNever = INT64_MAX;

  // Before any worker runs. duration_ns 0 = no time limit. The load does not begin before
  // not_before_ns (--start-at; 0: whenever every client is ready).
  void begin(int64_t start_ns, int64_t warmup_ns, int64_t duration_ns, int64_t connect_deadline_ns,
             int64_t not_before_ns = 0);

  // Every client is ready (or the connect deadline passed): the warm-up starts at `at_ns`.
  // The first call wins; later ones return false. Ignored once sending stopped.
  bool end_connecting(int64_t at_ns);
  // No more records: the duration is over, every producer sent its --messages, Ctrl-C, or a stall.
  // The first call wins.
  bool stop(int64_t at_ns);
  // Every client of every worker settled.
  void finish(int64_t at_ns);

  Phase phase(int64_t now_ns) const;

  int64_t start_ns() const { return start_ns_; }
  int64_t connect_deadline_ns() const { return connect_deadline_ns_; }
  // kNever until known.
  int64_t connected_ns() const { return connected_ns_.load(std::memory_order_acquire); }
  // When the load begins (the warm-up, or the measured time): once connected, not before
  // --start-at. kNever until known.
  int64_t load_start_ns() const;
  int64_t not_before_ns() const { return not_before_ns_; }
  int64_t measure_start_ns() const;
  // When sending stopped: the earlier of stop() and the end of --duration; kNever until known.
  int64_t measure_end_ns() const;
  int64_t stopped_ns() const { return stopped_ns_.load(std::memory_order_acquire); }
  bool stopped_during_connecting() const;

 private:
  int64_t start_ns_ = 0;
  int64_t warmup_ns_ = 0;
  int64_t duration_ns_ = 0;
  int64_t connect_deadline_ns_ = kNever;
  int64_t not_before_ns_ = 0;
  std::atomic<int64_t> connected_ns_{kNever};
  std::atomic<int64_t> stopped_ns_{kNever};
  std::atomic<int64_t> done_ns_{kNever};
};

}  // namespace ws::driver
