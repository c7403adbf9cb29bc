// ShardedRunner: one worker thread per core, clients spread evenly, all started on one barrier,
// no mutable state shared during the run except each worker's mailbox, which the worker fills a
// few times a second and the reporting thread empties (never locked on the per-request path).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "driver/config.h"
#include "driver/reporting.h"
#include "driver/run_control.h"
#include "net/tls.h"

namespace ws::driver {

class ShardedRunner {
 public:
  // `config` must have passed validate(); derive() is applied here.
  explicit ShardedRunner(RunConfig config);
  ~ShardedRunner();

  // Resolves the bootstrap brokers, raises the fd limit (with `extra_fds` for an in-process
  // broker's own sockets), creates the event loops (falling back from io_uring to Asio with a
  // one-line notice). False with a message when the run cannot start.
  bool prepare(std::string& error, std::string& notice, uint64_t extra_fds = 0);

  // Runs to the end; calls on_interval every report interval from the calling thread.
  RunResult run(const std::function<void(const IntervalReport&)>& on_interval);

  // Safe from a signal handler: stop sending and drain.
  void request_stop() { control_.stop_requested.store(true, std::memory_order_relaxed); }
  const RunConfig& config() const { return config_; }

 private:
  struct WorkerSlot;
  RunConfig config_;
  RunControl control_;
  std::vector<std::unique_ptr<WorkerSlot>> workers_;
  std::string backend_name_;
  net::KtlsSupport ktls_;  // what kTLS this machine offers (reported, not used)
};

}  // namespace ws::driver
