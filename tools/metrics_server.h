// GET /metrics for Prometheus: a tiny HTTP/1.1 server on one background thread, and the
// wirestress metrics it serves.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>


namespace ws::tools {

// One connection at a time, one response per connection (Connection: close): a scrape every few
// seconds needs nothing more, and a client that stalls holds the server for at most the timeouts.
// start(), stop() and port() are for one controlling thread.
// GET (or HEAD) /metrics answers 200 with the Prometheus text format; another method on /metrics
// 405, any other path 404, a malformed request 400, an over-long one 431, a slow one 408.
class MetricsServer {
 public:
  struct Limits {
    size_t max_request_bytes = 8192;  // request line and headers; Prometheus sends a few hundred
    std::chrono::milliseconds read_timeout{2000};   // for the whole request
    std::chrono::milliseconds write_timeout{5000};  // for the whole response
  };

  MetricsServer() = default;
  explicit MetricsServer(Limits limits) : limits_(limits) {}
  ~MetricsServer() { stop(); }
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Listens on bind_address:port and starts serving. port 0 lets the kernel pick (see port()).
  // bind_address is an IPv4 or IPv6 address or a host name ("" = every interface); the default
  // "0.0.0.0" lets a Prometheus on another host scrape, "127.0.0.1" keeps it local.
  // render() is called on the server thread, once per GET /metrics, while the rest of the program
  // runs: it must be thread-safe (e.g. copy a snapshot taken under a mutex). If it throws, that
  // request gets a 500 and the server carries on.
  // False with a message if already running, render is empty, or the address cannot be bound.
  bool start(uint16_t port, std::function<std::string()> render, std::string& error,
             const std::string& bind_address = "0.0.0.0");

  // Stops serving and closes the socket; a request being answered is abandoned. Returns as soon
  // as the server thread has noticed (it waits on the listening socket and a wake-up eventfd, so
  // at once, not after a polling period). Safe to call more than once; start() may follow.
  void stop();

  // The port actually bound (useful after start(0, ...)); 0 when not running.
  uint16_t port() const noexcept { return port_; }
  bool running() const noexcept { return thread_.joinable(); }

 private:
  void serve();
  void handle_connection(int fd);
  // Waits until fd is ready for `events` or the deadline passes or stop() is called.
  bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) const;
  bool send_all(int fd, const std::string& data);
  // Sends the whole reply, then closes our side gracefully.
  void respond(int fd, const std::string& reply);

  Limits limits_;
  std::function<std::string()> render_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd that stop() writes to wake the server thread's poll()
  uint16_t port_ = 0;
};

}  // namespace ws::tools
