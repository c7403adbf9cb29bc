#include "driver/capacity/scenario.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "driver/runner.h"
#include "stats/report/result_json.h"
#include "ws_version.h"

namespace ws::capacity {
namespace {

// Lock-free, so a signal handler may read it.
std::atomic<driver::ShardedRunner*> g_current{nullptr};
static_assert(std::atomic<driver::ShardedRunner*>::is_always_lock_free);

}  // namespace

void stop_current_scenario() {
  if (auto* runner = g_current.load()) runner->request_stop();
}

std::string broker_list(const driver::RunConfig& config) {
  std::string list;
  for (const auto& b : config.bootstrap) list += (list.empty() ? "" : ",") + b;
  return list;
}

ScenarioRun run_scenario(const driver::RunConfig& config, const ScenarioBase& base, const std::string& command,
                         const std::function<void(const driver::IntervalReport&)>& on_interval) {
  ScenarioRun out;
  driver::latency_histogram_spec() = {base.latency_max_us, base.latency_digits};
  const report::ProcessFigures before = report::read_process_figures();
  driver::RunConfig run_config = config;
  run_config.command_line = command;
  driver::ShardedRunner runner(run_config);
  if (!runner.prepare(out.error, out.notice, base.extra_fds)) return out;

  Json intervals = Json::array();
  long peak_threads = 0;
  g_current.store(&runner);
  out.result = runner.run([&](const driver::IntervalReport& r) {
    peak_threads = std::max(peak_threads, report::current_thread_count());
    intervals.push_back(report::interval_json(r, run_config));
    if (on_interval) on_interval(r);
  });
  g_current.store(nullptr);

  report::ProcessFigures process = report::read_process_figures();
  process.cpu_user_s -= before.cpu_user_s;
  process.cpu_sys_s -= before.cpu_sys_s;
  process.voluntary_context_switches -= before.voluntary_context_switches;
  process.involuntary_context_switches -= before.involuntary_context_switches;
  process.threads = std::max(process.threads, peak_threads);
  report::RunContext context;
  context.broker = broker_list(run_config);
  context.command_line = command;
  context.version = WS_VERSION;
  context.verdict = driver::judge(out.result, run_config);
  out.json = report::result_json(out.result, run_config, context, process, std::move(intervals));
  out.ok = true;
  return out;
}

std::string command_line(const ScenarioBase& base, const std::vector<std::string>& run_flags) {
  std::string line = "wirestress";
  for (const auto* list : {&base.flags, &run_flags}) {
    for (const auto& f : *list) line += " " + f;
  }
  return line;
}

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

bool write_json_file(const std::string& path, const Json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  return static_cast<bool>(out);
}

bool pause_unless_interrupted(double seconds, const std::atomic<bool>& interrupted) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
  while (!interrupted && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !interrupted;
}

}  // namespace ws::capacity
