// GET /metrics for Prometheus, served by cpp-httplib on a small thread pool while a run lasts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>


namespace ws::tools {

// cpp-httplib parses and routes the requests and writes the responses; the server only reads and
// writes each connection under its own limits (httplib 0.11 has none for a whole request), so a
// client that stalls or floods holds a pool thread for at most the timeouts, and stop() returns at
// once. One response per connection (Connection: close): a scrape every few seconds needs no more.
// start(), stop() and port() are for one controlling thread.
// GET (or HEAD) /metrics answers 200 with the Prometheus text format; another method on /metrics
// 405, any other path 404, a malformed request (bare LF line endings included) 400, an over-long
// one 431, a slow one 408; a connection that sends nothing is closed unanswered.
class MetricsServer {
 public:
  struct Limits {
    size_t max_request_bytes = 4096;  // the whole request; Prometheus sends a few hundred bytes
    std::chrono::milliseconds read_timeout{2000};   // for the whole request, from its accept()
    std::chrono::milliseconds write_timeout{5000};  // for the whole response
    size_t threads = 2;  // connections answered at once; the others wait in the accept queue
  };

  MetricsServer();
  explicit MetricsServer(Limits limits);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Listens on bind_address:port and starts serving. port 0 lets the kernel pick (see port()).
  // bind_address is an IPv4 or IPv6 address ("127.0.0.1" keeps it local, "0.0.0.0" lets a
  // Prometheus on another host scrape).
  // render() is called on a pool thread, once per GET /metrics, while the rest of the program
  // runs: it must be thread-safe (e.g. copy a snapshot taken under a mutex). If it throws, that
  // request gets a 500 and the server carries on.
  // False with a message if already running, render is empty, or the address cannot be bound.
  bool start(uint16_t port, std::function<std::string()> render, std::string& error,
             const std::string& bind_address = "127.0.0.1");

  // Stops serving and closes the socket; requests being answered are abandoned at once (their
  // waits also watch a wake-up eventfd). Safe to call more than once; start() may follow.
  void stop();

  // The port actually bound (useful after start(0, ...)); 0 when not running.
  uint16_t port() const noexcept { return port_; }
  bool running() const noexcept { return thread_.joinable(); }

 private:
  class Http;  // the httplib::Server, kept out of this header (it pulls in OpenSSL and zlib)

  Limits limits_;
  std::unique_ptr<Http> http_;
  std::thread thread_;  // httplib's accept loop; the pool threads are its children
  int wake_fd_ = -1;    // eventfd that stop() writes to end every wait on a connection
  uint16_t port_ = 0;
};

}  // namespace ws::tools
