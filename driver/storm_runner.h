// StormRunner: a connection storm over worker threads (one event loop each, the offered rate and
// the cap on attempts in progress split evenly, schedules staggered), started on one barrier,
// merged at the end (driver/storm.h says what a storm is).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "driver/storm.h"

namespace ws::driver {

class StormRunner {
 public:
  // `config` must have passed validate().
  explicit StormRunner(StormConfig config);
  ~StormRunner();

  // Resolves the bootstrap brokers, raises the fd limit, builds the TLS context, creates the
  // workers (io_uring, or Asio with a one-line notice). False with a message when it cannot start.
  bool prepare(std::string& error, std::string& notice);
  // Runs to the end; calls on_progress about once a second from the calling thread.
  StormResult run(const std::function<void(const StormProgress&)>& on_progress);
  // Safe from a signal handler: start no more attempts, let those in progress finish, report.
  void request_stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ws::driver
