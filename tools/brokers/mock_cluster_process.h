// librdkafka's mock cluster in a child process: wirestress's embedded broker when no --bootstrap
// is given. In a process of its own, its sockets do not count against wirestress's descriptor
// limit (10,000 clients need 10,000 descriptors on each side) and its CPU time is not in
// wirestress's figures.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ws::brokers {

class MockClusterProcess {
 public:
  MockClusterProcess() = default;
  MockClusterProcess(const MockClusterProcess&) = delete;
  MockClusterProcess& operator=(const MockClusterProcess&) = delete;
  ~MockClusterProcess();  // stops the child

  // Forks (call before any thread starts), starts `brokers` mock brokers and `topics` in the child
  // (leaders spread over the brokers), and waits (at most 30 s) for its bootstrap address. The
  // child dies with this process.
  bool start(int brokers, const std::vector<std::string>& topics, int partitions, std::string& error);
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  pid_t child_ = -1;
  std::string bootstrap_;
};

}  // namespace ws::brokers
