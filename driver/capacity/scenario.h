// One run of one scenario, start to end, for the commands that run many in a row (sweep,
// ceiling): prepare a runner, run it, build the JSON a single `wirestress --json` run writes.
// Each call makes a new (single-use) runner; the brokers' versions probed by the first run are
// remembered by the process, so later runs skip the probe.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/reporting.h"

namespace ws::capacity {

using Json = nlohmann::ordered_json;

// What every run of a sweep or ceiling shares: the scenario flags as a single run would have them.
struct ScenarioBase {
  driver::RunConfig config;         // the scenario (bootstrap set); each run changes a few fields
  std::vector<std::string> flags;   // the scenario flags as typed, for each run's equivalent command
  int64_t latency_max_us = 3'600'000'000LL;
  int latency_digits = 3;
  uint64_t extra_fds = 0;           // an in-process broker's own sockets
};

struct ScenarioRun {
  bool ok = false;
  std::string error;   // why the run could not start (set when !ok)
  std::string notice;  // e.g. the io_uring fallback, once
  driver::RunResult result;
  Json json;           // exactly what `wirestress --json` writes for this run
};

// `config` must pass validate(). CPU figures in the JSON are this run's own, not the process's.
ScenarioRun run_scenario(const driver::RunConfig& config, const ScenarioBase& base, const std::string& command_line,
                         const std::function<void(const driver::IntervalReport&)>& on_interval);

// Ends the scenario running now, as the first Ctrl-C does (stop sending, drain, report). Safe from
// a signal handler; does nothing between runs.
void stop_current_scenario();

// The equivalent single run: "wirestress <scenario flags> <run flags>".
std::string command_line(const ScenarioBase& base, const std::vector<std::string>& run_flags);

// Small pieces both commands need: "%.10g" of a number, the JSON written to a file (false if it
// could not be), and a pause that ends early on Ctrl-C (false if interrupted).
std::string number_text(double v);
bool write_json_file(const std::string& path, const Json& j);
bool pause_unless_interrupted(double seconds, const std::atomic<bool>& interrupted);
std::string broker_list(const driver::RunConfig& config);

}  // namespace ws::capacity
