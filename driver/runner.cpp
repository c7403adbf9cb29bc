#include "driver/runner.h"

#include <sys/stat.h>

#include <algorithm>

#include "driver/worker.h"
#include "net/asio_loop.h"
#include "net/tls_loop.h"
#include "net/uring_loop.h"

namespace ws::driver {
namespace {

RunConfig derived(RunConfig config) {
  config.derive();
  return config;
}

// The TLS options of the run's security settings (client side).
net::TlsOptions tls_options(const TlsSettings& t) {
  net::TlsOptions o;
  o.enabled = true;
  struct stat st{};
  // ssl.ca.location names a PEM bundle or a hashed directory, as in librdkafka.
  if (!t.ca_location.empty()) {
    const bool directory = ::stat(t.ca_location.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    (directory ? o.ca_dir : o.ca_file) = t.ca_location;
  }
  o.truststore_file = t.truststore_location;
  o.truststore_password = t.truststore_password;
  o.verify_peer = t.verify_certificate;
  o.verify_hostname = t.verify_certificate && t.verify_hostname;
  o.identity.cert_file = t.certificate_location;
  o.identity.key_file = t.key_location;
  o.identity.key_password = t.key_password;
  o.identity.keystore_file = t.keystore_location;
  o.identity.keystore_password = t.keystore_password;
  o.ciphers = t.cipher_suites;
  if (!t.min_protocol.empty()) o.min_version = t.min_protocol;
  return o;
}

}  // namespace

net::TlsOptions client_tls_options(const TlsSettings& settings) { return tls_options(settings); }

struct ShardedRunner::WorkerSlot {
  Mailbox mailbox;
  std::unique_ptr<Worker<net::UringLoop>> uring;
  std::unique_ptr<Worker<net::AsioLoop>> asio;
  std::unique_ptr<Worker<net::TlsLoop<net::UringLoop>>> tls_uring;
  std::unique_ptr<Worker<net::TlsLoop<net::AsioLoop>>> tls_asio;
  std::thread thread;
  void run() {
    if (uring) return uring->run();
    if (asio) return asio->run();
    if (tls_uring) return tls_uring->run();
    tls_asio->run();
  }
};

ShardedRunner::ShardedRunner(RunConfig config)
    : config_(derived(std::move(config))), control_(config_, config_.workers) {}

ShardedRunner::~ShardedRunner() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

bool ShardedRunner::prepare(std::string& error, std::string& notice, uint64_t extra_fds) {
  if (!control_.brokers.add_bootstrap(config_.bootstrap, error)) return false;
  const uint32_t threads = config_.workers;
  // One connection per client and one metadata connection per worker, plus the loops' own.
  const uint64_t connections = uint64_t{config_.clients} + config_.consumers + threads;
  if (!net::ensure_fd_limit(connections + extra_fds + 64ULL * threads, error)) return false;

  // Probe io_uring once here, so a machine without it gets one line and Asio for every worker.
  bool use_uring = config_.io == IoBackend::kUring;
  if (use_uring) {
    std::string why;
    if (!net::UringLoop::create(net::LoopOptions{}, why)) {
      notice = "io_uring unavailable (" + why + "): using asio";
      use_uring = false;
    }
  }
  const bool tls = config_.security.uses_tls();
  if (tls) {
    // Every worker's loop makes its own TLS context from these; a file that cannot be read, a
    // wrong key password or a key that does not match its certificate is found here, once.
    const net::TlsOptions options = tls_options(config_.security.tls);
    std::string why;
    if (!net::TlsEngine::create(options, 1, why)) {
      error = why;
      return false;
    }
    net::set_default_tls_options(options);
    ktls_ = net::detect_ktls();
  }
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
    if (tls && use_uring) {
      slot->tls_uring =
          std::make_unique<Worker<net::TlsLoop<net::UringLoop>>>(config_, control_, slot->mailbox, options, share);
    } else if (tls) {
      slot->tls_asio =
          std::make_unique<Worker<net::TlsLoop<net::AsioLoop>>>(config_, control_, slot->mailbox, options, share);
    } else if (use_uring) {
      slot->uring = std::make_unique<Worker<net::UringLoop>>(config_, control_, slot->mailbox, options, share);
    } else {
      slot->asio = std::make_unique<Worker<net::AsioLoop>>(config_, control_, slot->mailbox, options, share);
    }
    workers_.push_back(std::move(slot));
  }
  backend_name_ = std::string(tls ? "tls+" : "") + (use_uring ? "io_uring" : "asio");
  return true;
}

RunResult ShardedRunner::run(const std::function<void(const IntervalReport&)>& on_interval) {
  for (auto& w : workers_) {
    WorkerSlot* slot = w.get();
    slot->thread = std::thread([slot] { slot->run(); });
  }
  control_.timeline.begin(steady_clock_ns(), config_.warmup.count(), config_.duration.count(),
                          config_.connect_deadline.count());
  control_.start_barrier.arrive_and_wait();
  std::vector<Mailbox*> mailboxes;
  for (auto& w : workers_) mailboxes.push_back(&w->mailbox);
  ReportCollector collector(config_, control_, mailboxes, static_cast<uint32_t>(workers_.size()));
  RunResult result = collector.collect(on_interval);
  for (auto& w : workers_) w->thread.join();
  result.io_backend = backend_name_;
  result.security_protocol = security_protocol_name(config_.security.protocol);
  if (config_.security.uses_sasl()) result.sasl_mechanism = config_.security.sasl.mechanism;
  if (config_.security.uses_tls()) {
    result.ktls = RunResult::Ktls{.used = false, .kernel = ktls_.kernel, .openssl = ktls_.openssl,
                                  .detail = "TLS in user space, through the event loop; " + ktls_.detail};
  }
  result.brokers = broker_reports(control_.brokers, result.totals);
  return result;
}

}  // namespace ws::driver
