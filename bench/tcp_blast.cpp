// ws_tcp_blast: the plain-TCP ceiling on this machine, for bench/compare.py.
//
//   ws_tcp_blast --listen [--port=N]
//       Accept connections on 127.0.0.1 (N=0: any free port; prints "listening on 127.0.0.1:PORT"
//       first), read and discard everything (one thread per connection). On SIGINT/SIGTERM prints
//       one JSON line: {"bytes":...,"connections":...,"cpu_user_s":...,"cpu_sys_s":...}.
//   ws_tcp_blast --send HOST:PORT [--seconds=5] [--size=65536]
//       Connect and write the same SIZE-byte buffer in a loop for SECONDS, then print one JSON
//       line: {"bytes":...,"seconds":...,"mb_per_s":...,"cpu_user_s":...,"cpu_sys_s":...}
//       (MB = 10^6 bytes, as in wirestress).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};
std::atomic<uint64_t> g_bytes{0};
std::atomic<uint64_t> g_connections{0};

void on_signal(int) { g_stop.store(true); }

void cpu(double& user, double& sys) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  user = secs(ru.ru_utime);
  sys = secs(ru.ru_stime);
}

bool starts_with(const char* s, const char* p) { return std::strncmp(s, p, std::strlen(p)) == 0; }

int usage() {
  std::fprintf(stderr,
               "usage: ws_tcp_blast --listen [--port=N]\n"
               "       ws_tcp_blast --send HOST:PORT [--seconds=5] [--size=65536]\n");
  return 2;
}

int run_listen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 128) != 0) {
    std::perror("ws_tcp_blast: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  // Accept in a helper thread so the main thread can wait for the signal.
  std::thread acceptor([fd] {
    for (;;) {
      int c = accept(fd, nullptr, nullptr);
      if (c < 0) {
        if (errno == EINTR) continue;
        return;  // listening socket shut down
      }
      g_connections.fetch_add(1);
      std::thread([c] {
        std::vector<char> buf(1 << 20);
        for (;;) {
          ssize_t n = read(c, buf.data(), buf.size());
          if (n > 0) {
            g_bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
          } else if (n < 0 && errno == EINTR) {
            continue;
          } else {
            break;
          }
        }
        close(c);
      }).detach();
    }
  });
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  shutdown(fd, SHUT_RDWR);
  close(fd);
  acceptor.join();
  double u = 0, s = 0;
  cpu(u, s);
  std::printf("{\"bytes\":%llu,\"connections\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
              static_cast<unsigned long long>(g_bytes.load()),
              static_cast<unsigned long long>(g_connections.load()), u, s);
  std::fflush(stdout);
  std::_Exit(0);  // reader threads may still be blocked in read()
}

int run_send(const std::string& target, double seconds, size_t size) {
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) return usage();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(target.c_str() + colon + 1)));
  if (inet_pton(AF_INET, target.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "ws_tcp_blast: bad address %s\n", target.c_str());
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("ws_tcp_blast: connect");
    return 1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<char> buf(size, 0);
  uint64_t total = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  uint32_t iter = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    ssize_t n = write(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("ws_tcp_blast: write");
      return 1;
    }
    total += static_cast<uint64_t>(n);
    if ((++iter & 15) == 0) {
      now = std::chrono::steady_clock::now();
      if (now >= end) break;
    }
  }
  now = std::chrono::steady_clock::now();
  close(fd);
  const double elapsed = std::chrono::duration<double>(now - start).count();
  double u = 0, s = 0;
  cpu(u, s);
  std::printf(
      "{\"bytes\":%llu,\"seconds\":%.3f,\"mb_per_s\":%.1f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
      static_cast<unsigned long long>(total), elapsed, static_cast<double>(total) / elapsed / 1e6, u, s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool listen_mode = false;
  std::string target;
  int port = 0;
  double seconds = 5;
  size_t size = 65536;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const size_t n = std::strlen(name);
      if (a[n] == '=') return a + n + 1;
      if (i + 1 < argc) return argv[++i];
      return "";
    };
    if (std::strcmp(a, "--listen") == 0) {
      listen_mode = true;
    } else if (starts_with(a, "--send")) {
      target = value("--send");
    } else if (starts_with(a, "--port")) {
      port = std::atoi(value("--port"));
    } else if (starts_with(a, "--seconds")) {
      seconds = std::atof(value("--seconds"));
    } else if (starts_with(a, "--size")) {
      size = static_cast<size_t>(std::atoll(value("--size")));
    } else {
      return usage();
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (listen_mode) return run_listen(port);
  if (target.empty() || size == 0 || seconds <= 0) return usage();
  return run_send(target, seconds, size);
}
