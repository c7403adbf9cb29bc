#include "net/event_loop.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ws::net {

bool resolve(const std::string& host_port, Endpoint& out, std::string& error, bool allow_port_zero) {
  std::string host;
  std::string port;
  if (!host_port.empty() && host_port.front() == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':') {
      error = "bad address '" + host_port + "': expected [ipv6]:port";
      return false;
    }
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == std::string::npos) {
      error = "bad address '" + host_port + "': expected host:port";
      return false;
    }
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      error = "bad address '" + host_port + "': write IPv6 addresses as [addr]:port";
      return false;
    }
  }
  if (host.empty()) {
    error = "bad address '" + host_port + "': empty host";
    return false;
  }
  const bool digits = !port.empty() && port.size() <= 5 &&
                      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int lowest = allow_port_zero ? 0 : 1;
  if (!digits || std::stoi(port) < lowest || std::stoi(port) > 65535) {
    error = "bad address '" + host_port + "': port must be " + std::to_string(lowest) + "-65535";
    return false;
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    error = "cannot resolve '" + host + "': " +
            (rc == EAI_SYSTEM ? std::string(std::strerror(errno)) : std::string(::gai_strerror(rc)));
    if (result != nullptr) ::freeaddrinfo(result);
    return false;
  }
  std::memcpy(&out.addr, result->ai_addr, result->ai_addrlen);
  out.len = result->ai_addrlen;
  out.text = host_port;
  ::freeaddrinfo(result);
  return true;
}

int bind_source(int fd, const Endpoint& source) {
  const int one = 1;
#ifdef IP_BIND_ADDRESS_NO_PORT
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&source.addr), source.len) != 0) return errno;
  return 0;
}

bool ensure_fd_limit(uint64_t needed, std::string& error) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    error = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    return false;
  }
  // Headroom for the process's own files (logs, ring fds, listening sockets in tests).
  const rlim_t want = static_cast<rlim_t>(needed) + 64;
  if (limit.rlim_cur == RLIM_INFINITY) return true;
  if (limit.rlim_cur >= want) {
    // Enough for one connection per client; more for clients writing to several leaders, if the
    // hard limit allows (failing that, `needed` is still met).
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(want, 1u << 20) : limit.rlim_max;
    if (raised.rlim_cur > limit.rlim_cur) ::setrlimit(RLIMIT_NOFILE, &raised);
    return true;
  }

  rlimit raised = limit;
  // As high as the hard limit allows, not just `want`: a client connects to every leader its
  // records go to, which only the metadata says, so `needed` (one per client) is a floor.
  raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(want, 1u << 20) : std::max(want, limit.rlim_max);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want) {
    raised.rlim_max = want;  // only root (CAP_SYS_RESOURCE) may raise the hard limit
  }
  if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return true;
  const int err = errno;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want) {
    // Even root cannot go above fs.nr_open.
    error = "need " + std::to_string(want) + " file descriptors but the hard limit is " +
            std::to_string(limit.rlim_max) +
            (::geteuid() == 0 ? "; raise fs.nr_open and ulimit -Hn"
                              : "; raise it with ulimit -Hn or run as root") +
            (err == EPERM ? "" : std::string(" (") + std::strerror(err) + ")");
  } else {
    error = "cannot raise the file descriptor limit to " + std::to_string(want) + ": " +
            std::strerror(err);
  }
  return false;
}

}  // namespace ws::net
