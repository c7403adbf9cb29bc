// ws_mock_cluster: run an in-process librdkafka mock cluster until told to stop.
//
//   ws_mock_cluster [--brokers=N] [--port-file=PATH] [--topic=NAME:PARTITIONS]... [--ignore-stdin]
//
// Prints the bootstrap servers ("127.0.0.1:p1,127.0.0.1:p2,...") as the first stdout line (and to
// PATH if given), then runs until SIGINT/SIGTERM or EOF on stdin. --ignore-stdin disables the EOF
// check, for callers that start it in the background with stdin at /dev/null.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/brokers/mock_cluster.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Options {
  int brokers = 1;
  std::string port_file;
  std::vector<std::pair<std::string, int>> topics;
  bool watch_stdin = true;
};

[[noreturn]] void usage(const char* msg) {
  std::cerr << "ws_mock_cluster: " << msg << "\n"
            << "usage: ws_mock_cluster [--brokers=N] [--port-file=PATH] "
               "[--topic=NAME:PARTITIONS]... [--ignore-stdin]\n";
  std::exit(2);
}

int parse_positive(std::string_view s, const char* what) {
  char* end = nullptr;
  std::string str(s);
  long v = std::strtol(str.c_str(), &end, 10);
  if (str.empty() || *end != '\0' || v < 1 || v > 10000) usage(what);
  return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with("--brokers=")) {
      o.brokers = parse_positive(a.substr(10), "bad --brokers");
    } else if (a.starts_with("--port-file=")) {
      o.port_file = a.substr(12);
    } else if (a.starts_with("--topic=")) {
      std::string_view t = a.substr(8);
      auto colon = t.rfind(':');
      if (colon == std::string_view::npos || colon == 0) usage("--topic wants NAME:PARTITIONS");
      o.topics.emplace_back(std::string(t.substr(0, colon)),
                            parse_positive(t.substr(colon + 1), "bad partition count"));
    } else if (a == "--ignore-stdin") {
      o.watch_stdin = false;
    } else {
      usage("unknown argument");
    }
  }
  return o;
}

// Wait up to 200 ms; true once stdin reached EOF (or hung up).
bool stdin_closed() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  if (poll(&p, 1, 200) <= 0) return false;
  char buf[256];
  ssize_t n = read(STDIN_FILENO, buf, sizeof buf);  // discard input, stop at EOF
  return n == 0 || (n < 0 && (p.revents & POLLHUP));
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  if (fcntl(STDIN_FILENO, F_GETFD) == -1) opt.watch_stdin = false;  // stdin closed: nothing to watch

  ws::brokers::MockCluster cluster;
  std::string error;
  bool ok = cluster.start(opt.brokers, error);
  for (size_t i = 0; ok && i < opt.topics.size(); ++i) {
    ok = cluster.create_topic(opt.topics[i].first, opt.topics[i].second, error);
  }
  if (!ok) {
    std::cerr << "ws_mock_cluster: " << error << "\n";
    return 1;
  }

  const std::string& bootstraps = cluster.bootstrap();
  if (!opt.port_file.empty()) {
    // Write to a temp name and rename, so a reader polling for the file never sees half of it.
    const std::string tmp = opt.port_file + ".tmp";
    std::ofstream(tmp) << bootstraps << "\n";
    if (std::rename(tmp.c_str(), opt.port_file.c_str()) != 0) {
      std::perror("ws_mock_cluster: port file");
    }
  }
  std::cout << bootstraps << std::endl;  // endl flushes: callers read this line from a pipe

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  while (!g_stop) {
    if (opt.watch_stdin) {
      if (stdin_closed()) break;
    } else {
      usleep(200 * 1000);
    }
  }
  return 0;
}
