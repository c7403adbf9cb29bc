// The event loop a run's workers use, chosen once per process: io_uring unless --io=asio or the
// kernel refuses it, under TLS when the security protocol asks for it. And LoopWorker, one worker
// (a run's Worker or a storm's StormWorker) on whichever of the four loops was chosen, on its own
// thread. ShardedRunner and StormRunner share both.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include "driver/config.h"
#include "net/asio_loop.h"
#include "net/tls.h"
#include "net/tls_loop.h"
#include "net/uring_loop.h"

namespace ws::driver {

// The client-side TLS options of security settings (ssl.* properties).
net::TlsOptions client_tls_options(const TlsSettings& settings);

struct LoopChoice {
  bool uring = true;
  bool tls = false;
  std::string name() const { return std::string(tls ? "tls+" : "") + (uring ? "io_uring" : "asio"); }
};

// Probes io_uring once (a machine without it gets `notice`, one line, and Asio for every worker),
// and with TLS builds the client context once, so that a file that cannot be read, a wrong key
// password or a key that does not match its certificate is found here (false, with `error`).
bool choose_loop(IoBackend io, const SecuritySettings& security, LoopChoice& out, std::string& notice,
                 std::string& error);

template <template <typename> class WorkerT>
class LoopWorker {
 public:
  // Builds the worker on the chosen loop; `args` are the worker's constructor arguments.
  template <typename... Args>
  void emplace(const LoopChoice& choice, Args&&... args) {
    if (choice.tls && choice.uring) {
      worker_ = std::make_unique<WorkerT<net::TlsLoop<net::UringLoop>>>(std::forward<Args>(args)...);
    } else if (choice.tls) {
      worker_ = std::make_unique<WorkerT<net::TlsLoop<net::AsioLoop>>>(std::forward<Args>(args)...);
    } else if (choice.uring) {
      worker_ = std::make_unique<WorkerT<net::UringLoop>>(std::forward<Args>(args)...);
    } else {
      worker_ = std::make_unique<WorkerT<net::AsioLoop>>(std::forward<Args>(args)...);
    }
  }
  void start() {
    thread_ = std::thread([this] { std::visit([](auto& worker) { worker->run(); }, worker_); });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  ~LoopWorker() { join(); }

 private:
  std::variant<std::unique_ptr<WorkerT<net::UringLoop>>, std::unique_ptr<WorkerT<net::AsioLoop>>,
               std::unique_ptr<WorkerT<net::TlsLoop<net::UringLoop>>>,
               std::unique_ptr<WorkerT<net::TlsLoop<net::AsioLoop>>>>
      worker_;
  std::thread thread_;
};

}  // namespace ws::driver
