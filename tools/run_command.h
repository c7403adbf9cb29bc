// The one path a single run takes, for wirestress and rdkafka-baseline alike, so both compute and
// report their numbers the same way: result files checked before the run, Ctrl-C (first: stop
// and drain; second: exit at once), the progress lines, /metrics, the CSV and .hlog series, the
// summary, the JSON, and the exit code (0 ok, 1 runtime error, 3 degraded).
#pragma once

#include <functional>
#include <string>

#include "driver/reporting.h"
#include "tools/options.h"

namespace ws::tools {

// What actually runs: wirestress's ShardedRunner or the librdkafka baseline. prepare() may fail
// with a message (exit code 1); run() reports every interval to its callback; request_stop() is
// called from a signal handler.
class RunEngine {
 public:
  virtual ~RunEngine() = default;
  virtual bool prepare(std::string& error, std::string& notice) = 0;
  virtual driver::RunResult run(const std::function<void(const driver::IntervalReport&)>& on_interval) = 0;
  virtual void request_stop() = 0;
};

// --json=-: the result on stdout, between these lines (tools/kubernetes/ collects it from pod logs).
inline constexpr const char* kResultBeginMarker = "----- BEGIN WIRESTRESS RESULT -----";
inline constexpr const char* kResultEndMarker = "----- END WIRESTRESS RESULT -----";

struct RunIdentity {
  std::string tool = "wirestress";
  std::string broker;        // as the JSON's config.bootstrap shows it
  std::string command_line;  // as typed, secret property values masked
};

// Runs `engine` with `options` and writes everything the options ask for. Returns the exit code.
int run_and_report(const RunOptions& options, RunEngine& engine, const RunIdentity& identity);

}  // namespace ws::tools
