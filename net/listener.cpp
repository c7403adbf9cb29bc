#include "net/listener.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ws::net {

int open_listener(const Endpoint& where, const ListenOptions& options, uint16_t& port, std::string& error) {
  const auto fail = [&](std::string what, int fd) {
    // A bind failure (the port is taken) is the usual one and needs no step name.
    error = "cannot listen on " + where.text + ": " + (what.empty() ? "" : what + ": ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  };
  const int fd = ::socket(where.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket", fd);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return fail("SO_REUSEPORT", fd);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&where.addr), where.len) != 0) return fail("", fd);
  if (::listen(fd, options.backlog) != 0) return fail("listen", fd);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return fail("getsockname", fd);
  port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(bound).sin6_port
                                           : reinterpret_cast<const sockaddr_in&>(bound).sin_port);
  return fd;
}

void set_accepted_options(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace ws::net
