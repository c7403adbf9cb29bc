#include "driver/storm_runner.h"

#include <chrono>
#include <thread>

#include "driver/loop_choice.h"
#include "driver/reporting.h"
#include "driver/storm_worker.h"

namespace ws::driver {

struct StormRunner::Impl {
  struct Slot {
    StormMailbox mailbox;
    LoopWorker<StormWorker> worker;
  };

  explicit Impl(StormConfig c)
      : config(std::move(c)),
        workers(config.connection.threads),
        table_config(config.table_config(workers)),
        control(workers, config.connection.broker_version) {}

  StormConfig config;
  uint32_t workers;
  RunConfig table_config;
  StormControl control;
  std::vector<std::unique_ptr<Slot>> slots;
  std::string backend;
};

StormRunner::StormRunner(StormConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

StormRunner::~StormRunner() = default;  // each LoopWorker joins its thread

void StormRunner::request_stop() { impl_->control.stop_requested.store(true, std::memory_order_relaxed); }

bool StormRunner::prepare(std::string& error, std::string& notice) {
  Impl& m = *impl_;
  if (!m.control.brokers.add_bootstrap(m.config.connection.bootstrap, error)) return false;
  // Sockets in TIME_WAIT hold no descriptor: the attempts in progress are what count.
  if (!net::ensure_fd_limit(uint64_t{m.config.max_pending} + 64ULL * m.workers + 64, error)) return false;
  LoopChoice loops;
  if (!choose_loop(m.config.connection.io, m.config.connection.security, loops, notice, error)) return false;
  const double rate = m.config.rate / m.workers;
  const int64_t interval = static_cast<int64_t>(1e9 / rate);
  for (uint32_t t = 0; t < m.workers; ++t) {
    const uint32_t pending = m.config.max_pending / m.workers + (t < m.config.max_pending % m.workers ? 1 : 0);
    const int64_t offset = interval * t / m.workers;  // the workers' attempts interleave
    net::LoopOptions options;
    options.max_connections = pending + 1;
    auto slot = std::make_unique<Impl::Slot>();
    slot->worker.emplace(loops, m.config, m.table_config, m.control, slot->mailbox, options, rate, pending, offset, t);
    m.slots.push_back(std::move(slot));
  }
  m.backend = loops.name();
  return true;
}

StormResult StormRunner::run(const std::function<void(const StormProgress&)>& on_progress) {
  Impl& m = *impl_;
  StormResult result;
  result.offered_rate = m.config.rate;
  result.threads = m.workers;
  result.io_backend = m.backend;
  result.security_protocol = security_protocol_name(m.config.connection.security.protocol);
  if (m.config.connection.security.uses_sasl()) result.sasl_mechanism = m.config.connection.security.sasl.mechanism;
  result.start_time_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  for (auto& s : m.slots) s->worker.start();
  m.control.start_barrier.arrive_and_wait();
  const int64_t start = steady_clock_ns();
  int64_t next_tick = start + 1'000'000'000;
  while (true) {
    bool all_finished = true;
    StormProgress progress;
    for (auto& s : m.slots) {
      std::lock_guard lock(s->mailbox.mutex);
      all_finished = all_finished && s->mailbox.finished;
      progress.total.add(s->mailbox.counters);
    }
    if (all_finished) break;
    const int64_t now = steady_clock_ns();
    if (now >= next_tick) {
      progress.elapsed_s = static_cast<double>(now - start) / 1e9;
      if (on_progress) on_progress(progress);
      next_tick += 1'000'000'000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& s : m.slots) s->worker.join();
  int64_t first = INT64_MAX, last = 0;
  for (auto& s : m.slots) {
    StormMailbox& box = s->mailbox;
    result.metrics.add(box.final);
    if (result.fatal.empty()) result.fatal = box.fatal;
    if (box.storm_start_ns != 0) first = std::min(first, box.storm_start_ns);
    last = std::max(last, box.storm_end_ns);
  }
  // A worker that completed something makes a worker's refusal a counted failure, not the end.
  if (result.metrics.counters.stage(StormStage::kTotal).completed > 0) result.fatal.clear();
  result.elapsed_s = first != INT64_MAX && last > first ? static_cast<double>(last - first) / 1e9 : 0;
  result.interrupted = m.control.stop_requested.load();
  return result;
}

}  // namespace ws::driver
