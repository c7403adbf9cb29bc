#include "driver/runner.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "driver/worker.h"
#include "net/asio_loop.h"
#include "net/uring_loop.h"

namespace ws::driver {
namespace {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// No empty workers: a thread without clients would only cost a core.
uint32_t worker_count(const RunConfig& config) {
  return std::max<uint32_t>(1, std::min(config.threads, config.clients + config.consumers));
}

}  // namespace

RunControl::RunControl(uint32_t workers, uint32_t producers, uint32_t consumers)
    : start_barrier(static_cast<std::ptrdiff_t>(workers) + 1),
      run_id(static_cast<uint32_t>(std::random_device{}())),
      producers_active(producers),
      consumers_unpositioned(consumers),
      producer_acked(consumers > 0 ? new std::atomic<uint64_t>[producers]() : nullptr),
      producer_measured_from(consumers > 0 ? new std::atomic<uint64_t>[producers] : nullptr),
      producer_count(producers) {
  if (producer_measured_from) {
    for (uint32_t p = 0; p < producers; ++p) producer_measured_from[p].store(UINT64_MAX, std::memory_order_relaxed);
  }
}

struct ShardedRunner::WorkerSlot {
  Mailbox mailbox;
  std::unique_ptr<Worker<net::UringLoop>> uring;
  std::unique_ptr<Worker<net::AsioLoop>> asio;
  std::thread thread;
  void run() { uring ? uring->run() : asio->run(); }
};

ShardedRunner::ShardedRunner(RunConfig config)
    : config_(std::move(config)),
      control_(worker_count(config_), config_.clients, config_.consumers) {}

ShardedRunner::~ShardedRunner() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

bool ShardedRunner::prepare(std::string& error, std::string& notice) {
  std::vector<net::Endpoint> bootstrap;
  for (const auto& text : config_.bootstrap) {
    net::Endpoint ep;
    std::string why;
    if (!net::resolve(text, ep, why)) {
      error = "--bootstrap: cannot use '" + text + "': " + why;
      return false;
    }
    bootstrap.push_back(std::move(ep));
  }
  if (bootstrap.empty()) {
    error = "--bootstrap: no broker address given";
    return false;
  }
  const uint32_t threads = worker_count(config_);
  if (!net::ensure_fd_limit(config_.clients + config_.consumers + 64ULL * threads, error)) return false;

  // Probe io_uring once here, so a machine without it gets one line and Asio for every worker.
  bool use_uring = config_.io == IoBackend::kUring;
  if (use_uring) {
    std::string why;
    if (!net::UringLoop::create(net::LoopOptions{}, why)) {
      notice = "io_uring unavailable (" + why + "): using asio";
      use_uring = false;
    }
  }
  WorkerShare share;
  for (uint32_t t = 0; t < threads; ++t) {
    share.first_producer += share.producers;
    share.first_consumer += share.consumers;
    share.producers = config_.clients / threads + (t < config_.clients % threads ? 1 : 0);
    share.consumers = config_.consumers / threads + (t < config_.consumers % threads ? 1 : 0);
    // --messages split evenly over all producers; the first (messages % clients) take one more.
    if (config_.clients > 0) {
      const uint64_t base = config_.messages / config_.clients, extra = config_.messages % config_.clients;
      const uint64_t first = share.first_producer;
      share.producer_quota =
          base * share.producers + std::min<uint64_t>(share.producers, extra > first ? extra - first : 0);
    }
    net::LoopOptions options;
    options.max_connections = std::max<uint32_t>(1, share.producers + share.consumers);
    auto slot = std::make_unique<WorkerSlot>();
    if (use_uring) {
      slot->uring = std::make_unique<Worker<net::UringLoop>>(config_, control_, slot->mailbox, options, bootstrap, share);
    } else {
      slot->asio = std::make_unique<Worker<net::AsioLoop>>(config_, control_, slot->mailbox, options, bootstrap, share);
    }
    workers_.push_back(std::move(slot));
  }
  backend_name_ = use_uring ? "io_uring" : "asio";
  return true;
}

RunResult ShardedRunner::run(const std::function<void(const IntervalReport&)>& on_interval) {
  RunResult result;
  result.io_backend = backend_name_;
  result.threads = static_cast<uint32_t>(workers_.size());
  for (auto& w : workers_) {
    WorkerSlot* slot = w.get();
    slot->thread = std::thread([slot] { slot->run(); });
  }
  const int64_t start = steady_now_ns();
  control_.start_ns.store(start);
  control_.start_barrier.arrive_and_wait();

  // Phases: warm-up (reported, excluded from the result), measure, drain (responses to requests
  // sent while measuring still count). Ticks fall every report_interval and once at the end of
  // the warm-up, so no interval line straddles the two. The result itself is split exactly by
  // each worker (see Mailbox), not by when these ticks fall.
  const int64_t measure_start = start + config_.warmup.count();
  bool measuring = config_.warmup.count() == 0;
  ProducerCounters previous;
  Metrics tick;           // this interval line's histograms
  Metrics measured_tick;  // the part of them recorded after the warm-up
  int64_t previous_tick = start;
  const int64_t interval = config_.report_interval.count();
  int64_t next_tick = measuring ? start + interval : std::min(start + interval, measure_start);
  bool all_finished = false;
  while (!all_finished) {
    // Wake often enough to notice the end of the run promptly, report once per interval.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t now = steady_now_ns();
    all_finished = true;
    ProducerCounters total;
    ProducerCounters measured_total;  // since each worker's end of the warm-up
    const bool report = now >= next_tick;
    for (auto& w : workers_) {
      Mailbox& m = w->mailbox;
      std::lock_guard lock(m.mutex);
      all_finished &= m.finished;
      total.add(m.counters);
      if (m.measuring) measured_total.add(counters_since(m.counters, m.baseline));
      if (report || m.finished) {
        tick.add_histograms(m.interval);
        tick.add_histograms(m.measured_interval);
        measured_tick.add_histograms(m.measured_interval);
        m.interval.reset_histograms();
        m.measured_interval.reset_histograms();
      }
    }
    if (!report && !all_finished) continue;
    IntervalReport r;
    r.elapsed_s = static_cast<double>(now - start) / 1e9;
    r.interval_s = static_cast<double>(now - previous_tick) / 1e9;
    r.warmup = !measuring;
    r.workers = result.threads;
    r.total = total;
    r.delta = counters_since(total, previous);
    r.interval = &tick;
    // The last, usually shorter, interval is reported too (its rates use its real length).
    if (on_interval && (report || r.interval_s >= 0.05)) on_interval(r);
    result.metrics.add_histograms(measured_tick);
    result.counters = measured_total;
    if (measuring) {
      result.elapsed_s = static_cast<double>(now - measure_start) / 1e9;
    } else if (now >= measure_start) {
      measuring = true;
    }
    tick.reset_histograms();
    measured_tick.reset_histograms();
    previous = total;
    previous_tick = now;
    if (report) {
      next_tick += interval;
      if (!measuring) next_tick = std::min(next_tick, measure_start);
      if (next_tick <= now) next_tick = now + interval;  // a slow tick must not cause a burst
    }
  }
  for (auto& w : workers_) {
    w->thread.join();
    for (auto& tally : w->mailbox.consumers) result.consumers.push_back(std::move(tally));
  }
  std::sort(result.consumers.begin(), result.consumers.end(),
            [](const ConsumerTally& a, const ConsumerTally& b) { return a.id < b.id; });
  result.metrics.counters = result.counters;
  return result;
}

}  // namespace ws::driver
