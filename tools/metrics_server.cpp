#include "tools/metrics_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <system_error>


namespace ws::tools {
namespace {

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
// How long respond() reads and discards what the client still sends (see there).
constexpr std::chrono::milliseconds kLingerTime{100};

std::string host_port(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string response(std::string_view status, std::string_view content_type, const std::string& body,
                     bool head, std::string_view extra_headers = {}) {
  std::string r;
  r.reserve(160 + (head ? 0 : body.size()));
  r += "HTTP/1.1 ";
  r += status;
  r += "\r\nContent-Type: ";
  r += content_type;
  r += "\r\nContent-Length: ";
  r += std::to_string(body.size());
  r += "\r\nConnection: close\r\n";
  r += extra_headers;
  r += "\r\n";
  if (!head) r += body;
  return r;
}

std::string plain_response(std::string_view status, bool head = false,
                           std::string_view extra_headers = {}) {
  return response(status, "text/plain; charset=utf-8", std::string(status) + "\n", head, extra_headers);
}

// Position just past the blank line that ends the request head, or npos. Bare LF line endings are
// accepted too, as RFC 9112 allows.
size_t end_of_head(std::string_view request, size_t search_from) {
  for (size_t i = search_from; i < request.size(); ++i) {
    if (request[i] != '\n') continue;
    if (i >= 1 && request[i - 1] == '\n') return i + 1;
    if (i >= 2 && request[i - 1] == '\r' && request[i - 2] == '\n') return i + 1;
  }
  return std::string_view::npos;
}

}  // namespace

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
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const std::string where = host_port(bind_address, port);
  if (int rc = ::getaddrinfo(bind_address.empty() ? nullptr : bind_address.c_str(),
                             std::to_string(port).c_str(), &hints, &addresses);
      rc != 0) {
    error = "cannot listen on " + where + ": " + ::gai_strerror(rc);
    return false;
  }
  int fd = -1;
  std::string last_error = "no address";
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    // Restarting wirestress must not fail while the last run's connections sit in TIME_WAIT.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 16) == 0) break;
    last_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(addresses);
  if (fd < 0) {
    error = "cannot listen on " + where + ": " + last_error;
    return false;
  }

  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const uint16_t bound_port = bound.ss_family == AF_INET6
                                  ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                  : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port;

  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    error = std::string("metrics server: eventfd: ") + std::strerror(errno);
    ::close(fd);
    return false;
  }
  listen_fd_ = fd;
  wake_fd_ = wake;
  port_ = ntohs(bound_port);
  render_ = std::move(render);
  stopping_.store(false);
  try {
    thread_ = std::thread(&MetricsServer::serve, this);
  } catch (const std::system_error& e) {
    error = std::string("metrics server: cannot start its thread: ") + e.what();
    ::close(listen_fd_);
    ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    port_ = 0;
    render_ = nullptr;
    return false;
  }
  return true;
}

void MetricsServer::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
  port_ = 0;
  render_ = nullptr;
}

void MetricsServer::serve() {
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      pollfd wake{wake_fd_, POLLIN, 0};  // ENOMEM: back off rather than spin
      ::poll(&wake, 1, 100);
      continue;
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The load may hold every descriptor: leave the connection queued and retry shortly
        // instead of spinning on a listening socket that stays readable.
        pollfd wake{wake_fd_, POLLIN, 0};
        ::poll(&wake, 1, 100);
      }
      continue;  // EAGAIN, ECONNABORTED, EINTR: the next poll() decides
    }
    handle_connection(fd);
    ::close(fd);
  }
}

bool MetricsServer::wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) const {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (n < 0 && errno != EINTR) return false;
    if (fds[1].revents != 0) return false;  // stop()
    if (n > 0 && fds[0].revents != 0) return true;  // ready, or an error the next call reports
  }
}

bool MetricsServer::send_all(int fd, const std::string& data) {
  const auto deadline = std::chrono::steady_clock::now() + limits_.write_timeout;
  size_t sent = 0;
  while (sent < data.size()) {
    if (!wait_for(fd, POLLOUT, deadline)) return false;
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

void MetricsServer::handle_connection(int fd) {
  const auto read_deadline = std::chrono::steady_clock::now() + limits_.read_timeout;
  std::string request;
  size_t head_end = std::string::npos;
  char buf[2048];
  while (head_end == std::string::npos) {
    if (request.size() >= limits_.max_request_bytes) {
      respond(fd, plain_response("431 Request Header Fields Too Large"));
      return;
    }
    if (!wait_for(fd, POLLIN, read_deadline)) {
      if (!stopping_.load()) respond(fd, plain_response("408 Request Timeout"));
      return;
    }
    const size_t want = std::min(sizeof buf, limits_.max_request_bytes - request.size());
    const ssize_t n = ::recv(fd, buf, want, MSG_DONTWAIT);
    if (n == 0) return;  // closed before a whole request: nobody to answer
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return;
    }
    const size_t before = request.size();
    request.append(buf, static_cast<size_t>(n));
    head_end = end_of_head(request, before >= 2 ? before - 2 : 0);
  }

  // Request line: METHOD SP TARGET SP HTTP/1.x
  std::string_view line(request.data(), request.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
      !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    respond(fd, plain_response("400 Bad Request"));
    return;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view path = target.substr(0, target.find('?'));  // Prometheus may add params
  const bool head = method == "HEAD";

  std::string reply;
  if (path != "/metrics") {
    reply = plain_response("404 Not Found", head);
  } else if (method != "GET" && !head) {
    reply = plain_response("405 Method Not Allowed", false, "Allow: GET, HEAD\r\n");
  } else {
    try {
      reply = response("200 OK", kMetricsContentType, render_(), head);
    } catch (const std::exception& e) {
      reply = response("500 Internal Server Error", "text/plain; charset=utf-8",
                       std::string("metrics unavailable: ") + e.what() + "\n", head);
    } catch (...) {
      reply = plain_response("500 Internal Server Error", head);
    }
  }
  respond(fd, reply);
}

void MetricsServer::respond(int fd, const std::string& reply) {
  if (!send_all(fd, reply)) return;
  // Lingering close: closing with unread request bytes would reset the connection and could
  // destroy the response before the client reads it. Say we are done, then read until the client
  // closes (or briefly).
  ::shutdown(fd, SHUT_WR);
  const auto deadline = std::chrono::steady_clock::now() + kLingerTime;
  char buf[2048];
  while (wait_for(fd, POLLIN, deadline)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
  }
}

}  // namespace ws::tools
