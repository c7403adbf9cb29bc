// ShardedRunner: one worker thread per core, clients spread evenly, all started on one barrier,
// no mutable state shared during the run except each worker's mailbox, which the worker fills a
// few times a second and the reporting thread empties (never locked on the per-request path).
#pragma once

#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "driver/config.h"
#include "driver/consumer.h"
#include "driver/metrics.h"

namespace ws::driver {

// Where a worker leaves its numbers for the reporting thread.
struct Mailbox {
  std::mutex mutex;
  ProducerCounters counters;  // cumulative since the start
  // Histograms since the reporting thread last emptied them, recorded before and after the end of
  // the warm-up. The worker itself splits them at that instant, so none of the warm-up's samples
  // reach the result, however the reporting thread's ticks fall.
  Metrics interval;
  Metrics measured_interval;
  bool measuring = false;       // the worker has passed the end of the warm-up
  ProducerCounters baseline;    // its counters at that instant
  std::vector<ConsumerTally> consumers;  // the worker's consumers, filled when it finishes
  bool finished = false;
};

// State every worker sees: read-mostly, written once or by signal.
struct RunControl {
  RunControl(uint32_t workers, uint32_t producers, uint32_t consumers);
  std::barrier<> start_barrier;
  std::atomic<bool> stop{false};       // Ctrl-C or --duration: stop sending, drain
  std::atomic<int64_t> start_ns{0};    // steady-clock time of the barrier, set by the runner
  // Producers and consumers may live on different workers; these few atomics are all they share.
  const uint32_t run_id;                          // stamped into --verify records
  std::atomic<uint32_t> producers_active;         // not yet done: consumers catch up once it is 0
  std::atomic<uint32_t> consumers_unpositioned;   // producers hold their first record until it is 0
  // Records each producer had acknowledged (acks=0: written), for the consumers' loss count.
  std::unique_ptr<std::atomic<uint64_t>[]> producer_acked;
  // The first sequence each producer stamped after the warm-up (UINT64_MAX until it has): with
  // --verify, consumers count the records from there on as the measured window's.
  std::unique_ptr<std::atomic<uint64_t>[]> producer_measured_from;
  const uint32_t producer_count;
};

// One report tick, as the reporting thread sees it.
struct IntervalReport {
  double elapsed_s = 0;      // since the start of the run, warm-up included
  double interval_s = 0;     // this interval's actual length (the last one is usually shorter)
  bool warmup = false;       // this interval is part of the warm-up: not in the final result
  uint32_t workers = 1;      // worker threads (for per-worker figures such as loop busy time)
  ProducerCounters total;   // cumulative
  ProducerCounters delta;   // this interval only (gauges are current values)
  const Metrics* interval = nullptr;  // this interval's histograms
};

struct RunResult {
  ProducerCounters counters;   // measure phase (and its drain) only: the warm-up is excluded
  Metrics metrics;             // histograms of the same span
  std::vector<ConsumerTally> consumers;  // per consumer, ordered by id (loss covers the whole run)
  double elapsed_s = 0;        // length of that span
  std::string io_backend;      // what actually ran ("io_uring" or "asio")
  uint32_t threads = 0;
};

class ShardedRunner {
 public:
  explicit ShardedRunner(RunConfig config);
  ~ShardedRunner();

  // Resolves brokers, raises the fd limit, creates the event loops (falling back from io_uring
  // to Asio with a one-line notice). False with a message when the run cannot start.
  bool prepare(std::string& error, std::string& notice);

  // Runs to the end; calls on_interval every report_interval from the calling thread.
  RunResult run(const std::function<void(const IntervalReport&)>& on_interval);

  // Safe from a signal handler: stop sending and drain.
  void request_stop() { control_.stop.store(true, std::memory_order_relaxed); }

 private:
  struct WorkerSlot;
  RunConfig config_;
  RunControl control_;
  std::vector<std::unique_ptr<WorkerSlot>> workers_;
  std::string backend_name_;
};

}  // namespace ws::driver
