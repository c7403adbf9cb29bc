#include "tools/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>


namespace ws::tools {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kPlainContentType = "text/plain; charset=utf-8";
// How long a connection is read and discarded after its response (see close_gracefully()).
constexpr std::chrono::milliseconds kLingerTime{100};

// Why reading the request failed, for the error handler to name: httplib answers every failed
// read with 400. Both run on the same pool thread, within one process_request() call.
enum class ReadFailure : uint8_t { kNone, kTimeout, kTooLarge };
thread_local ReadFailure t_read_failure = ReadFailure::kNone;
// When the pool thread's current connection was accepted: its read deadline counts from then, so
// connections that waited in the queue behind slow ones do not each get the full timeout again.
thread_local Clock::time_point t_accepted_at;

std::string host_port(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The reason phrase for the statuses this server answers with (httplib's own is not in its API).
std::string_view reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return "Error";
  }
}

enum class Wait : uint8_t { kReady, kDeadline, kStopped };

// Until fd is ready for `events`, the deadline passes, or stop() writes wake_fd.
Wait wait_for(int fd, int wake_fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Wait::kDeadline;
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (n < 0 && errno != EINTR) return Wait::kStopped;  // cannot wait: give the connection up
    if (n > 0 && fds[1].revents != 0) return Wait::kStopped;
    if (n > 0 && fds[0].revents != 0) return Wait::kReady;  // ready, or an error the next call reports
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage a{};
  socklen_t length = sizeof a;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &length)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  if (rc != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    port = ntohs(v6->sin6_port);
  } else {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    port = ntohs(v4->sin_port);
  }
  ip = text;
}

// One accepted connection as httplib reads and writes it, under the server's limits: at most
// max_request_bytes read in all, the whole request by read_timeout after accept(), the whole
// response within write_timeout; every wait also ends when stop() is called.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, int wake_fd, const MetricsServer::Limits& limits)
      : fd_(fd), wake_fd_(wake_fd), limits_(limits), read_deadline_(t_accepted_at + limits.read_timeout) {}

  bool is_readable() const override {
    return begin_ < end_ || wait_for(fd_, wake_fd_, POLLIN, read_deadline_) == Wait::kReady;
  }
  bool is_writable() const override {
    return wait_for(fd_, wake_fd_, POLLOUT, Clock::now() + limits_.write_timeout) == Wait::kReady;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_ && !fill()) return -1;
    if (begin_ == end_) return 0;  // the client closed its side
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  // Writes everything or fails: httplib's write loop treats a short count as progress anyway.
  ssize_t write(const char* ptr, size_t size) override {
    if (!write_deadline_) write_deadline_ = Clock::now() + limits_.write_timeout;
    size_t sent = 0;
    while (sent < size) {
      if (wait_for(fd_, wake_fd_, POLLOUT, *write_deadline_) != Wait::kReady) return -1;
      const ssize_t n = ::send(fd_, ptr + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return -1;
      }
      sent += static_cast<size_t>(n);
    }
    wrote_ = true;
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

  bool wrote() const noexcept { return wrote_; }

 private:
  // Reads what the socket has into the buffer. False on a limit, a stop or an error (the reason
  // left in t_read_failure); true with nothing buffered when the client has closed.
  bool fill() {
    begin_ = end_ = 0;
    for (;;) {
      if (received_ >= limits_.max_request_bytes) {
        t_read_failure = ReadFailure::kTooLarge;
        return false;
      }
      switch (wait_for(fd_, wake_fd_, POLLIN, read_deadline_)) {
        case Wait::kReady: break;
        case Wait::kDeadline: t_read_failure = ReadFailure::kTimeout; return false;
        case Wait::kStopped: return false;
      }
      const size_t want = std::min(sizeof buffer_, limits_.max_request_bytes - received_);
      const ssize_t n = ::recv(fd_, buffer_, want, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return false;
      }
      received_ += static_cast<size_t>(n);
      end_ = static_cast<size_t>(n);
      return true;
    }
  }

  int fd_;
  int wake_fd_;
  const MetricsServer::Limits& limits_;
  Clock::time_point read_deadline_;
  std::optional<Clock::time_point> write_deadline_;
  char buffer_[2048];  // httplib reads the request line and headers a byte at a time
  size_t begin_ = 0, end_ = 0;
  size_t received_ = 0;
  bool wrote_ = false;
};

// httplib's pool, noting when each connection was accepted (see t_accepted_at).
class AcceptTimedPool final : public httplib::ThreadPool {
 public:
  using ThreadPool::ThreadPool;
  void enqueue(std::function<void()> fn) override {
    ThreadPool::enqueue([fn = std::move(fn), accepted = Clock::now()] {
      t_accepted_at = accepted;
      fn();
    });
  }
};

}  // namespace

class MetricsServer::Http final : public httplib::Server {
 public:
  Http(const Limits& limits, int wake_fd, std::function<std::string()> render)
      : limits_(limits), wake_fd_(wake_fd), render_(std::move(render)) {
    const size_t threads = std::max<size_t>(1, limits.threads);
    new_task_queue = [threads] { return new AcceptTimedPool(threads); };
    set_payload_max_length(limits.max_request_bytes);
    // httplib's default also sets SO_REUSEPORT, which would let a second wirestress bind the
    // same port and take half the scrapes. SO_REUSEADDR only: a restart must not fail while the
    // last run's connections sit in TIME_WAIT.
    set_socket_options([](socket_t fd) {
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    });

    Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      try {
        res.set_content(render_(), kMetricsContentType);
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(std::string("metrics unavailable: ") + e.what() + "\n", kPlainContentType);
      } catch (...) {
        res.status = 500;
        res.set_content("metrics unavailable\n", kPlainContentType);
      }
    });
    set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) -> HandlerResponse {
      if (req.path != "/metrics" || req.method == "GET" || req.method == "HEAD") return HandlerResponse::Unhandled;
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      return HandlerResponse::Handled;
    });
    // Every error status gets a one-line body naming it; a failed read is named for its cause.
    set_error_handler(HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (res.status == 400 && t_read_failure == ReadFailure::kTimeout) res.status = 408;
      if (res.status == 400 && t_read_failure == ReadFailure::kTooLarge) res.status = 431;
      if (res.body.empty()) {
        res.set_content(std::to_string(res.status) + " " + std::string(reason(res.status)) + "\n",
                        kPlainContentType);
      }
      return HandlerResponse::Handled;
    }));
  }

 protected:
  bool process_and_close_socket(socket_t fd) override {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    t_read_failure = ReadFailure::kNone;
    ConnectionStream stream(fd, wake_fd_, limits_);
    bool closed = false;
    const bool ok = process_request(stream, /*close_connection=*/true, closed, nullptr);
    if (stream.wrote()) close_gracefully(fd);
    ::close(fd);
    return ok;
  }

 private:
  // Closing with unread request bytes would reset the connection and could destroy the response
  // before the client reads it. Say we are done, then read until the client closes (or briefly).
  void close_gracefully(int fd) const {
    ::shutdown(fd, SHUT_WR);
    const auto deadline = Clock::now() + kLingerTime;
    char discard[2048];
    while (wait_for(fd, wake_fd_, POLLIN, deadline) == Wait::kReady) {
      const ssize_t n = ::recv(fd, discard, sizeof discard, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
    }
  }

  const Limits& limits_;
  int wake_fd_;
  std::function<std::string()> render_;
};

MetricsServer::MetricsServer() = default;
MetricsServer::MetricsServer(Limits limits) : limits_(limits) {}
MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::start(uint16_t port, std::function<std::string()> render, std::string& error,
                          const std::string& bind_address) {
  if (running()) {
    error = "metrics server already running on port " + std::to_string(port_);
    return false;
  }
  if (!render) {
    error = "metrics server needs a render function";
    return false;
  }
  const std::string where = host_port(bind_address, port);
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    error = std::string("metrics server: eventfd: ") + std::strerror(errno);
    return false;
  }
  auto http = std::make_unique<Http>(limits_, wake, std::move(render));
  errno = 0;
  const int bound = port == 0 ? http->bind_to_any_port(bind_address)
                              : (http->bind_to_port(bind_address, port) ? port : -1);
  if (bound <= 0) {
    // httplib reports no reason; errno is still the one its last bind() or listen() set.
    const int why = errno;
    error = "cannot listen on " + where + ": " + (why != 0 ? std::strerror(why) : "cannot bind that address");
    ::close(wake);
    return false;
  }

  // The accept loop and the pool threads it starts inherit this mask: signals (Ctrl-C) go to the
  // run's threads, never interrupt httplib's accept() (which would end it), and cost nothing here.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  auto listen_returned = std::make_shared<std::atomic<bool>>(false);
  try {
    thread_ = std::thread([&http = *http, listen_returned] {
      http.listen_after_bind();
      listen_returned->store(true);
    });
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    error = std::string("metrics server: cannot start its thread: ") + e.what();
    ::close(wake);
    return false;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  // httplib's stop() does nothing until the accept loop runs: wait for it, so stop() always stops.
  while (!http->is_running() && !listen_returned->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (listen_returned->load()) {
    thread_.join();
    error = "cannot listen on " + where + ": the accept loop ended at once";
    ::close(wake);
    return false;
  }
  http_ = std::move(http);
  wake_fd_ = wake;
  port_ = static_cast<uint16_t>(bound);
  return true;
}

void MetricsServer::stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
  http_->stop();
  thread_.join();  // the accept loop ends, then its pool finishes what it holds, at once
  http_.reset();
  ::close(wake_fd_);
  wake_fd_ = -1;
  port_ = 0;
}

}  // namespace ws::tools
