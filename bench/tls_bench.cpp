// What TLS costs through the event loops: TlsLoop over each backend against the plain loop, for a
// stream of 1 MiB sends, small request/response round trips, and handshakes. The client runs on
// the benchmark thread, a server loop on a second thread, both over loopback; the CPU column is
// the process's CPU time (both ends, kernel included) per iteration: per MiB, per round trip or
// per connection.
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/asio_loop.h"
#include "net/event_loop.h"
#include "net/tls.h"
#include "net/tls_certs.h"
#include "net/tls_loop.h"
#include "net/uring_loop.h"

namespace ws::net {
namespace {

// A CA and a certificate for 127.0.0.1, as files in a temporary directory removed at exit.
struct BenchCertificates {
  std::string dir, ca, cert, key;
  ~BenchCertificates() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
  static const BenchCertificates& get() {
    static const BenchCertificates files = [] {
      BenchCertificates f;
      char dir[] = "/tmp/ws_tls_bench.XXXXXX";
      if (::mkdtemp(dir) == nullptr) return f;
      f.dir = dir;
      std::string error;
      auto ca = ThrowawayCa::create("bench CA", error);
      PemIdentity server;
      if (!ca || !ca->issue("127.0.0.1", {"127.0.0.1"}, server, error)) return f;
      auto write = [&](const char* name, const std::string& text) {
        const std::string path = f.dir + "/" + name;
        std::ofstream(path) << text;
        return path;
      };
      f.ca = write("ca.pem", ca->cert_pem());
      f.cert = write("server.pem", server.cert);
      f.key = write("server.key", server.key);
      return f;
    }();
    return files;
  }
};

TlsOptions bench_tls(bool resume) {
  const BenchCertificates& files = BenchCertificates::get();
  TlsOptions tls;
  tls.ca_file = files.ca;
  tls.server.identity.cert_file = files.cert;
  tls.server.identity.key_file = files.key;
  tls.resume_sessions = resume;
  return tls;
}

template <typename Loop>
std::unique_ptr<Loop> make_loop(const TlsOptions& tls, std::string& error) {
  if constexpr (requires { Loop::create(LoopOptions{}, tls, error); }) {
    return Loop::create(LoopOptions{}, tls, error);
  } else {
    return Loop::create(LoopOptions{}, error);
  }
}

// A server loop on its own thread: echoes what it receives (one send in flight per connection,
// the rest queued) or, for streams, only counts it.
template <typename Loop>
class ServerThread {
 public:
  ServerThread(std::unique_ptr<Loop> loop, bool echo) : loop_(std::move(loop)), echo_(echo) {}
  ~ServerThread() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool listen(Endpoint& where, std::string& error) {
    if (!resolve("127.0.0.1:0", where, error, true) || !loop_->listen(where, ListenOptions{}, error)) return false;
    resolve("127.0.0.1:" + std::to_string(loop_->listen_port()), where, error);
    thread_ = std::thread([this] { run(); });
    return true;
  }
  uint64_t received() const { return received_.load(std::memory_order_acquire); }

 private:
  struct Echo {
    std::string in_flight;
    std::string queued;
  };

  void run() {
    std::vector<Event> events(256);
    std::map<ConnId, Echo> echoes;  // node-based: in-flight buffers never move
    while (!stop_) {
      const size_t n = loop_->poll(events, 10);
      for (size_t i = 0; i < n; ++i) {
        const Event& e = events[i];
        if (e.type == Event::kClosed) {
          echoes.erase(e.conn);
          continue;
        }
        Echo& echo = echoes[e.conn];
        if (e.type == Event::kData) {
          received_.fetch_add(e.data.size(), std::memory_order_release);
          if (echo_) echo.queued.append(reinterpret_cast<const char*>(e.data.data()), e.data.size());
        }
        if (e.type == Event::kSent) echo.in_flight.clear();
        if ((e.type == Event::kData || e.type == Event::kSent) && echo.in_flight.empty() && !echo.queued.empty()) {
          echo.in_flight.swap(echo.queued);
          loop_->send(e.conn, reinterpret_cast<const uint8_t*>(echo.in_flight.data()), echo.in_flight.size());
        }
      }
    }
  }

  std::unique_ptr<Loop> loop_;
  bool echo_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

// The client side on the benchmark thread: a loop, its events, and what they said.
template <typename Loop>
struct Client {
  std::unique_ptr<Loop> loop;
  std::vector<Event> events = std::vector<Event>(256);
  int connected = -1;  // the last kConnected's error, -1 before
  uint64_t sent = 0;   // kSent count
  uint64_t received = 0;
  bool closed = false;

  void poll_once() {
    const size_t n = loop->poll(events, 10);
    for (size_t i = 0; i < n; ++i) {
      const Event& e = events[i];
      if (e.type == Event::kConnected) connected = e.error;
      if (e.type == Event::kSent) ++sent;
      if (e.type == Event::kData) received += e.data.size();
      if (e.type == Event::kClosed) closed = true;
    }
  }
  bool connect(ConnId conn, const Endpoint& server) {
    connected = -1;
    loop->connect(conn, server);
    while (connected < 0) poll_once();
    return connected == 0;
  }
};

// Both ends over loopback: the client on this thread, the server on its own.
template <typename Loop>
struct Ends {
  Client<Loop> client;
  std::unique_ptr<ServerThread<Loop>> server;
  Endpoint where;

  // Connects the client's connection 0 unless `connect` is false. False, with the benchmark
  // skipped and why, if a loop is unavailable here (io_uring) or the connection fails.
  bool open(benchmark::State& state, bool echo, bool resume = true, bool connect = true) {
    std::string error;
    auto server_loop = make_loop<Loop>(bench_tls(resume), error);
    client.loop = server_loop ? make_loop<Loop>(bench_tls(resume), error) : nullptr;
    if (client.loop) {
      server = std::make_unique<ServerThread<Loop>>(std::move(server_loop), echo);
      if (server->listen(where, error) && (!connect || client.connect(0, where))) return true;
      if (error.empty()) error = "connect failed";
    }
    state.SkipWithError(error.c_str());
    return false;
  }
};

// 1 MiB per send() to a server that only counts: CPU per MiB.
template <typename Loop>
void BM_Stream(benchmark::State& state) {
  Ends<Loop> ends;
  if (!ends.open(state, /*echo=*/false)) return;
  Client<Loop>& client = ends.client;
  const std::vector<uint8_t> chunk(1 << 20, 0x5A);
  uint64_t handed = 0;
  for (auto _ : state) {
    client.loop->send(0, chunk.data(), chunk.size());
    handed += chunk.size();
    const uint64_t want = client.sent + 1;
    while (client.sent < want) client.poll_once();
  }
  while (ends.server->received() < handed) std::this_thread::yield();  // the server's share of the work
  state.SetBytesProcessed(static_cast<int64_t>(handed));
  state.SetLabel(client.loop->name());
}

// One request of range(0) bytes echoed back, one at a time: CPU per round trip.
template <typename Loop>
void BM_RoundTrip(benchmark::State& state) {
  Ends<Loop> ends;
  if (!ends.open(state, /*echo=*/true)) return;
  Client<Loop>& client = ends.client;
  const std::vector<uint8_t> request(static_cast<size_t>(state.range(0)), 0x5A);
  for (auto _ : state) {
    client.loop->send(0, request.data(), request.size());
    const uint64_t want = client.received + request.size();
    while (client.received < want || client.sent == 0) client.poll_once();
    client.sent = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(client.loop->name());
}

// Connect, one byte there and back (a TLS 1.3 session ticket arrives meanwhile), close: CPU per
// connection, with full handshakes (range(0) == 0) or resumed ones.
template <typename Loop>
void BM_Connection(benchmark::State& state) {
  Ends<Loop> ends;
  if (!ends.open(state, /*echo=*/true, /*resume=*/state.range(0) != 0, /*connect=*/false)) return;
  Client<Loop>& client = ends.client;
  const uint8_t byte = 1;
  for (auto _ : state) {
    if (!client.connect(0, ends.where)) return state.SkipWithError("connect failed");
    client.received = 0;
    client.loop->send(0, &byte, 1);
    while (client.received == 0) client.poll_once();
    client.loop->close(0);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  if constexpr (requires { client.loop->tls_stats(); }) {
    state.counters["resumed"] = benchmark::Counter(static_cast<double>(client.loop->tls_stats().resumed),
                                                   benchmark::Counter::kAvgIterations);
  }
  state.SetLabel(client.loop->name());
}

#define WS_LOOP_BENCHMARKS(Loop)                                                                     \
  BENCHMARK_TEMPLATE(BM_Stream, Loop)->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);        \
  BENCHMARK_TEMPLATE(BM_RoundTrip, Loop)->Arg(100)->Arg(1024)->Arg(16384)->MeasureProcessCPUTime()->Unit( \
      benchmark::kMicrosecond)

WS_LOOP_BENCHMARKS(UringLoop);
WS_LOOP_BENCHMARKS(TlsLoop<UringLoop>);
WS_LOOP_BENCHMARKS(AsioLoop);
WS_LOOP_BENCHMARKS(TlsLoop<AsioLoop>);
BENCHMARK_TEMPLATE(BM_Connection, UringLoop)->Arg(0)->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Connection, TlsLoop<UringLoop>)
    ->Arg(0)
    ->Arg(1)
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ws::net
