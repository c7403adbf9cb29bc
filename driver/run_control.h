// What the workers of one run share, and where each leaves its numbers for the reporting thread.
// Nothing here is touched per request except a few relaxed atomics (records acknowledged per
// producer, for the consumers' loss count); a worker's mailbox is filled a few times a second.
#pragma once

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "driver/brokers.h"
#include "driver/config.h"
#include "driver/metrics.h"
#include "driver/phase.h"
#include "driver/record_intake.h"

namespace ws::driver {

// Where a worker leaves its numbers for the reporting thread.
struct Mailbox {
  std::mutex mutex;
  RunCounters counters;  // cumulative since the start
  // Histograms since the reporting thread last emptied them, recorded before and after the end of
  // the warm-up. The worker itself splits them at that instant, so none of the warm-up's samples
  // reach the result, however the reporting thread's ticks fall.
  Metrics interval;
  Metrics measured_interval;
  bool measuring = false;   // the worker has passed the start of the measured time
  RunCounters baseline;     // its counters at that instant
  std::vector<ConsumerTally> consumers;  // the worker's consumers, filled when it finishes
  bool finished = false;
};

// State every worker of one run sees: read-mostly, written once or by signal.
class RunControl {
 public:
  RunControl(const RunConfig& config, uint32_t workers);

  std::barrier<> start_barrier;
  RunTimeline timeline;
  BrokerRegistry brokers;
  // Ctrl-C: the signal handler sets it (lock-free); workers turn it into timeline.stop().
  std::atomic<bool> stop_requested{false};
  // The run ended because nothing moved for --stall-timeout (set by the reporting thread).
  std::atomic<bool> stalled{false};

  const uint32_t run_id;                      // stamped into --verify records
  const uint32_t producer_count;
  const uint32_t consumer_count;
  std::atomic<uint32_t> clients_not_ready;    // producers + consumers: Connecting ends at 0
  std::atomic<uint32_t> producers_active;     // not yet done: consumers catch up once it is 0
  // Consumers that have read all they will (--group-mode: members leave their groups once every
  // consumer has, so that none is rebalanced while it still reads).
  std::atomic<uint32_t> consumers_done_reading{0};
  // Records each producer had acknowledged (acks=0: written), for the consumers' loss count.
  std::unique_ptr<std::atomic<uint64_t>[]> producer_acked;
  // Records each producer saw fail (an error, or lost with their connection): written or not,
  // nobody knows, so they make a count of acknowledged records no exact end for consumers.
  std::unique_ptr<std::atomic<uint64_t>[]> producer_in_doubt;
  // The first sequence each producer stamped after the warm-up (UINT64_MAX until it has): with
  // --verify, consumers count the records from there on as the measured window's.
  std::unique_ptr<std::atomic<uint64_t>[]> producer_measured_from;

  // A condition that ends the whole run (no bootstrap broker reachable, a topic the broker
  // refuses, records it refuses as too large): the first one is kept and shown in the summary and
  // the JSON. `bad_flag`: a flag's value caused it (the run exits 2, as for bad input).
  void set_fatal(const std::string& message, bool bad_flag = false);
  std::string fatal() const;
  bool has_fatal() const { return has_fatal_.load(std::memory_order_acquire); }
  bool fatal_is_bad_flag() const;

 private:
  mutable std::mutex fatal_mutex_;
  std::string fatal_;
  bool fatal_bad_flag_ = false;
  std::atomic<bool> has_fatal_{false};
};

}  // namespace ws::driver
