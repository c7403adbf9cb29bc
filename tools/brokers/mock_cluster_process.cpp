#include "tools/brokers/mock_cluster_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tools/brokers/mock_cluster.h"

namespace ws::brokers {

MockClusterProcess::~MockClusterProcess() {
  if (child_ <= 0) return;
  ::kill(child_, SIGTERM);
  int status = 0;
  ::waitpid(child_, &status, 0);
}

bool MockClusterProcess::start(int brokers, const std::vector<std::string>& topics, int partitions,
                               std::string& error) {
  int fds[2];
  if (::pipe(fds) != 0) {
    error = std::string("cannot start the embedded broker: pipe: ") + std::strerror(errno);
    return false;
  }
  const pid_t parent = ::getpid();
  child_ = ::fork();
  if (child_ < 0) {
    error = std::string("cannot start the embedded broker: fork: ") + std::strerror(errno);
    return false;
  }
  if (child_ == 0) {
    // The child: the mock cluster, until the parent stops it or dies.
    ::close(fds[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) _exit(0);
    ::signal(SIGINT, SIG_IGN);  // Ctrl-C is the parent's: it drains, then stops the child
    MockCluster cluster;
    std::string why;
    bool ok = cluster.start(brokers, why);
    for (size_t i = 0; ok && i < topics.size(); ++i) ok = cluster.create_topic(topics[i], partitions, why);
    const std::string line = ok ? cluster.bootstrap() : "error: " + why;
    const std::string message = line + "\n";
    if (::write(fds[1], message.data(), message.size()) < 0) _exit(1);
    ::close(fds[1]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    sigwait(&set, &sig);
    _exit(0);  // the cluster's threads are not joined: the process ends with them
  }
  ::close(fds[1]);
  std::string line;
  char buf[256];
  pollfd p{fds[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && ::poll(&p, 1, 30'000) > 0) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (line.empty() || line.back() != '\n' || line.starts_with("error: ")) {
    error = line.starts_with("error: ") ? line.substr(7, line.size() - 8) : "the embedded broker did not start";
    return false;
  }
  bootstrap_ = line.substr(0, line.size() - 1);
  return true;
}

}  // namespace ws::brokers
