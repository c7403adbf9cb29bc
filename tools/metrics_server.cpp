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

#include "protocol/compression.h"
#include "protocol/errors.h"
#include "stats/prometheus.h"

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

std::string render_prometheus(const driver::IntervalReport& latest, const driver::RunConfig& config,
                              const driver::Metrics* run_so_far) {
  stats::PrometheusText out;
  const driver::ProducerCounters& t = latest.total;

  out.counter("wirestress_produce_messages_sent_total", "Records written to the socket.", t.messages_sent);
  out.counter("wirestress_produce_messages_acked_total", "Records the broker confirmed (acks 1 or -1).",
              t.messages_acked);
  out.counter("wirestress_produce_messages_failed_total",
              "Records the broker rejected or that were lost in flight.", t.messages_failed);
  out.counter("wirestress_produce_bytes_sent_total", "Produce request bytes written to the socket.",
              t.bytes_sent);
  out.counter("wirestress_produce_requests_sent_total", "Produce requests written to the socket.",
              t.requests_sent);
  out.counter("wirestress_produce_requests_acked_total", "Produce requests the broker answered.",
              t.requests_acked);
  for (const auto& [code, count] : t.errors_by_code) {
    out.counter("wirestress_produce_errors_total", "Records (or requests) the broker rejected, by Kafka error code.",
                count, {{"code", protocol::error_name(code)}});
  }
  for (size_t i = 0; i < t.failures.size(); ++i) {
    out.counter("wirestress_failures_total", "Failures that are not Kafka error codes, by kind.", t.failures[i],
                {{"kind", driver::failure_name(static_cast<driver::Failure>(i))}});
  }
  out.counter("wirestress_connections_attempted_total", "TCP connections attempted.", t.connections_attempted);
  out.counter("wirestress_connections_established_total", "TCP connections established.",
              t.connections_established);
  out.counter("wirestress_connections_failed_total", "TCP connection attempts that failed.",
              t.connections_failed);
  out.counter("wirestress_reconnects_total", "Connections opened again after one was lost or reset.",
              t.reconnects);
  out.counter("wirestress_latency_out_of_range_total",
              "Latency samples outside the histogram's range (1 us to 1 h), not in the summaries.",
              t.latency_out_of_range);

  out.gauge("wirestress_connections_open", "Connections established and not yet closed.", t.connections_open);
  out.gauge("wirestress_clients_producing", "Simulated clients past set-up.", t.clients_producing);
  out.gauge("wirestress_clients_configured", "Simulated clients the run was asked for.", config.clients);
  out.gauge("wirestress_produce_target_messages_per_second",
            "Aggregate send rate the run was asked for; 0 means as fast as possible.", config.rate);
  out.gauge("wirestress_elapsed_seconds", "Seconds since the run started, at the latest report.",
            latest.elapsed_s);
  out.gauge("wirestress_run_info", "The run's settings as labels; the value is always 1.", 1,
            {{"topic", config.topic},
             {"acks", std::to_string(config.acks)},
             {"compression", protocol::codec_name(config.compression)},
             {"batch", std::to_string(config.batch)},
             {"message_size", std::to_string(config.message_size)}});

  // Before the first tick there is no interval: an empty histogram gives NaN quantiles and 0 counts.
  static const stats::HdrHistogram kEmpty(1, 2, 1);
  const driver::Metrics* recent = latest.interval;
  const driver::Metrics* lifetime = run_so_far != nullptr ? run_so_far : recent;
  constexpr double kMicrosToSeconds = 1e-6;
  out.summary("wirestress_produce_latency_seconds",
              "Produce latency from the intended send time (corrected for coordinated omission); "
              "quantiles over the last report interval.",
              recent != nullptr ? recent->latency_us : kEmpty, lifetime != nullptr ? lifetime->latency_us : kEmpty,
              kMicrosToSeconds);
  out.summary("wirestress_produce_service_latency_seconds",
              "Produce latency from the actual send time; quantiles over the last report interval.",
              recent != nullptr ? recent->service_latency_us : kEmpty,
              lifetime != nullptr ? lifetime->service_latency_us : kEmpty, kMicrosToSeconds);
  if (config.consumers > 0) {
    out.counter("wirestress_consume_messages_received_total", "Records delivered to consumers (each counts its own).",
                t.consume_received);
    out.counter("wirestress_consume_bytes_total", "Fetch response bytes received.", t.consume_bytes);
    out.counter("wirestress_consume_fetches_total", "Fetch responses received.", t.consume_fetches);
    out.counter("wirestress_consume_duplicates_total", "--verify: records a consumer had received before.",
                t.consume_duplicates);
    out.counter("wirestress_consume_out_of_order_total",
                "--verify: records that arrived after a later record of their producer.", t.consume_out_of_order);
    out.counter("wirestress_consume_corrupt_total", "--verify: records whose stamp or hash did not check; failed batch CRCs.",
                t.consume_corrupt);
    out.gauge("wirestress_consumers_fetching", "Consumers positioned and fetching.", t.consumers_fetching);
    out.gauge("wirestress_consumers_configured", "Simulated consumers the run was asked for.", config.consumers);
    out.summary("wirestress_consume_e2e_latency_seconds",
                "From a record's send time to its receipt by a consumer; quantiles over the last report interval.",
                recent != nullptr ? recent->e2e_latency_us : kEmpty,
                lifetime != nullptr ? lifetime->e2e_latency_us : kEmpty, kMicrosToSeconds);
  }
  return out.text();
}

}  // namespace ws::tools
