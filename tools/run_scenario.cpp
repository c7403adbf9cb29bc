#include "tools/run_scenario.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>
#include <iostream>

#include "tools/report.h"

namespace ws::tools {
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

ScenarioRun run_scenario(const Options& options,
                         const std::function<void(const driver::IntervalReport&)>& on_interval) {
  ScenarioRun out;
  driver::latency_histogram_spec() = {
      std::chrono::duration_cast<std::chrono::microseconds>(options.latency_max).count(), options.latency_digits};
  const ProcessFigures before = read_process_figures();
  driver::ShardedRunner runner(options.run);
  if (!runner.prepare(out.error, out.notice)) return out;

  nlohmann::ordered_json intervals = nlohmann::ordered_json::array();
  long peak_threads = 0;
  g_current.store(&runner);
  out.result = runner.run([&](const driver::IntervalReport& r) {
    peak_threads = std::max(peak_threads, current_thread_count());
    intervals.push_back(interval_json(r, options.run));
    if (on_interval) on_interval(r);
  });
  g_current.store(nullptr);

  ProcessFigures process = read_process_figures();
  process.cpu_user_s -= before.cpu_user_s;
  process.cpu_sys_s -= before.cpu_sys_s;
  process.voluntary_context_switches -= before.voluntary_context_switches;
  process.involuntary_context_switches -= before.involuntary_context_switches;
  process.threads = std::max(process.threads, peak_threads);
  out.json = result_json(out.result, options, broker_list(options.run), process, std::move(intervals));
  out.ok = true;
  return out;
}

namespace {

std::atomic<bool>* g_interrupted = nullptr;
std::atomic<int> g_signals{0};

void on_signal(int) {
  if (++g_signals > 1) _exit(130);
  if (g_interrupted) g_interrupted->store(true);
  stop_current_scenario();
}

}  // namespace

ParseOutcome ScenarioFlags::parse(const std::vector<std::string>& run_flags) const {
  std::vector<const char*> argv{"wirestress"};
  for (const auto& f : common_) argv.push_back(f.c_str());
  for (const auto& f : run_flags) argv.push_back(f.c_str());
  ParseOutcome out = parse_options(static_cast<int>(argv.size()), argv.data());
  const std::string prefix = "wirestress: ";
  if (out.exit_code != 0 && out.output.starts_with(prefix)) {
    out.output = "wirestress " + command_ + ": " + out.output.substr(prefix.size());
  }
  return out;
}

std::string ScenarioFlags::command_line(const std::vector<std::string>& run_flags) const {
  std::string line = "wirestress";
  for (const auto* list : {&common_, &run_flags}) {
    for (const auto& f : *list) line += " " + f;
  }
  return line;
}

std::unique_ptr<EmbeddedBroker> start_embedded_broker_if_needed(const Options& base, ScenarioFlags& flags,
                                                                const std::string& command, std::string& error) {
  if (!base.run.bootstrap.empty()) return nullptr;
  auto broker = std::make_unique<EmbeddedBroker>();
  if (!broker->start(1, base.run.topic, base.embedded_partitions, error)) return nullptr;
  flags.add("--bootstrap=" + broker->bootstrap());
  std::cerr << "wirestress " << command << ": no --bootstrap given: using an embedded librdkafka mock broker at "
            << broker->bootstrap() << " for every run\n";
  return broker;
}

void install_interrupt_handlers(std::atomic<bool>* interrupted) {
  g_interrupted = interrupted;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void CommandOwnedRunFlags::add_to(CLI::App& app) {
  for (const char* flag : {"--rate", "--duration", "--csv", "--hlog", "--prometheus"}) {
    app.add_option(flag, value_)->group("");  // hidden from --help
  }
}

std::optional<int> CommandOwnedRunFlags::reject(const CLI::App& app, const std::string& command,
                                                const std::string& rate_reason,
                                                const std::string& duration_reason) const {
  const std::pair<const char*, std::string> reasons[] = {
      {"--rate", rate_reason},
      {"--duration", duration_reason},
      {"--csv", "not available here; --json holds every run with its per-interval series"},
      {"--hlog", "not available here; --json holds every run with its latency histograms"},
      {"--prometheus", "not available here"}};
  for (const auto& [flag, reason] : reasons) {
    if (app.count(flag)) {
      std::cerr << "wirestress " << command << ": " << flag << ": '" << value_ << "' is not valid; " << reason << "\n";
      return 2;
    }
  }
  return std::nullopt;
}

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

double duration_seconds(const std::string& duration) {
  std::chrono::nanoseconds ns{};
  parse_duration(duration, ns);
  return std::chrono::duration<double>(ns).count();
}

bool write_json_file(const std::string& path, const nlohmann::ordered_json& j) {
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

std::string scenario_help() {
  const char* argv[] = {"wirestress", "--help"};
  return parse_options(2, argv).output;
}

std::optional<int> parse_command_flags(CLI::App& app, int argc, const char* const* argv, const std::string& command,
                                       std::vector<std::string>& scenario) {
  app.allow_extras();
  app.get_formatter()->column_width(34);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\nScenario flags, given to every run as to a single wirestress run (" << command
              << " sets --clients, --rate, --duration, --warmup and --topic of each run itself):\n\n"
              << scenario_help() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "wirestress " << command << ": " << e.what() << " (see wirestress " << command << " --help)\n";
    return 2;
  }
  scenario = app.remaining();
  return std::nullopt;
}

}  // namespace ws::tools
