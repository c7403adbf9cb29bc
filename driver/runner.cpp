#include "driver/runner.h"

#include <algorithm>

#include "driver/loop_choice.h"
#include "driver/worker.h"

namespace ws::driver {
namespace {

RunConfig derived(RunConfig config) {
  config.derive();
  return config;
}

}  // namespace

struct ShardedRunner::WorkerSlot {
  Mailbox mailbox;
  LoopWorker<Worker> worker;
};

ShardedRunner::ShardedRunner(RunConfig config)
    : config_(derived(std::move(config))), control_(config_, config_.workers) {}

ShardedRunner::~ShardedRunner() = default;  // each LoopWorker joins its thread

bool ShardedRunner::prepare(std::string& error, std::string& notice, uint64_t extra_fds) {
  if (!control_.brokers.add_bootstrap(config_.bootstrap, error)) return false;
  const uint32_t threads = config_.workers;
  // One connection per client and one metadata connection per worker, plus the loops' own.
  const uint64_t connections = uint64_t{config_.clients} + config_.consumers + threads;
  if (!net::ensure_fd_limit(connections + extra_fds + 64ULL * threads, error)) return false;

  LoopChoice loops;
  if (!choose_loop(config_.io, config_.security, loops, notice, error)) return false;
  if (loops.tls) ktls_ = net::detect_ktls();
  // The values every producer sends, made once: the hot path only copies them.
  auto payloads = PayloadPool::prepare(config_, control_.run_id, error);
  if (!payloads) return false;
  WorkerShare share;
  share.payloads = std::make_shared<const PayloadPool>(std::move(*payloads));
  for (uint32_t t = 0; t < threads; ++t) {
    share.index = t;
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
    options.max_connections = share.producers + share.consumers + 1;
    auto slot = std::make_unique<WorkerSlot>();
    slot->worker.emplace(loops, config_, control_, slot->mailbox, options, share);
    workers_.push_back(std::move(slot));
  }
  backend_name_ = loops.name();
  return true;
}

RunResult ShardedRunner::run(const std::function<void(const IntervalReport&)>& on_interval) {
  for (auto& w : workers_) w->worker.start();
  const int64_t now = steady_clock_ns();
  control_.timeline.begin(now, config_.warmup.count(), config_.duration.count(), config_.connect_deadline.count(),
                          steady_ns_of_unix_ms(config_.start_at_unix_ms, now));
  control_.start_barrier.arrive_and_wait();
  std::vector<Mailbox*> mailboxes;
  for (auto& w : workers_) mailboxes.push_back(&w->mailbox);
  ReportCollector collector(config_, control_, mailboxes, static_cast<uint32_t>(workers_.size()));
  RunResult result = collector.collect(on_interval);
  for (auto& w : workers_) w->worker.join();
  result.io_backend = backend_name_;
  result.security_protocol = security_protocol_name(config_.security.protocol);
  if (config_.security.uses_sasl()) result.sasl_mechanism = config_.security.sasl.mechanism;
  if (config_.security.uses_tls()) {
    result.ktls = RunResult::Ktls{.used = false, .kernel = ktls_.kernel, .openssl = ktls_.openssl,
                                  .detail = "TLS in user space, through the event loop; " + ktls_.detail};
  }
  result.brokers = broker_reports(control_.brokers, result.totals);
  if (config_.group.enabled()) {
    std::vector<uint64_t> acked(control_.producer_acked ? control_.producer_count : 0);
    for (size_t p = 0; p < acked.size(); ++p) acked[p] = control_.producer_acked[p].load(std::memory_order_relaxed);
    result.groups = build_group_report(result.consumers, config_, acked, control_.run_id);
  }
  return result;
}

}  // namespace ws::driver
