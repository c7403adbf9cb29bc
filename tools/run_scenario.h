// One run of one scenario, start to end, as `wirestress` does it: prepare the runner, run it,
// collect the per-interval series and build the JSON that --json writes. Used by the commands that
// run many scenarios in a row (sweep, ceiling); each call makes a new (single-use) runner.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/runner.h"
#include "tools/embedded_broker.h"
#include "tools/options.h"

namespace ws::tools {

struct ScenarioRun {
  bool ok = false;
  std::string error;   // why the run could not start (set when !ok)
  std::string notice;  // e.g. the io_uring fallback, once
  driver::RunResult result;
  nlohmann::ordered_json json;  // exactly what `wirestress --json` writes for this run
};

// `options.run.bootstrap` must be set. `on_interval` (may be empty) sees every tick. CPU figures in
// the JSON (CPU, context switches) are this run's own, not the process's since its start.
ScenarioRun run_scenario(const Options& options, const std::function<void(const driver::IntervalReport&)>& on_interval);

// Ends the scenario running now, as the first Ctrl-C does (stop sending, drain, report). Safe from
// a signal handler; does nothing between runs.
void stop_current_scenario();

// Comma-joined bootstrap list, as the JSON's config.bootstrap shows it.
std::string broker_list(const driver::RunConfig& config);

// The scenario flags a sweep or ceiling was given, passed to every run it makes, followed by the
// flags the command sets for that run (--clients, --rate, --duration, --topic ...). Each run's
// options come from the same parser as a single `wirestress` run, so every derived setting (e.g.
// the per-worker connect concurrency) is exactly what that run alone would use.
class ScenarioFlags {
 public:
  ScenarioFlags(std::string command, std::vector<std::string> common)
      : command_(std::move(command)), common_(std::move(common)) {}
  // Errors read "wirestress COMMAND: --flag: ..." (exit code 2).
  ParseOutcome parse(const std::vector<std::string>& run_flags) const;
  // The equivalent single run, for the JSON: "wirestress --bootstrap=... --clients=10 ...".
  std::string command_line(const std::vector<std::string>& run_flags) const;
  void add(const std::string& flag) { common_.push_back(flag); }

 private:
  std::string command_;
  std::vector<std::string> common_;
};

// Without --bootstrap, sweep and ceiling start one embedded broker for all their runs (the mock
// creates each run's topic when asked for it). Returns nullptr when a broker was given or on error.
std::unique_ptr<EmbeddedBroker> start_embedded_broker_if_needed(const Options& base, ScenarioFlags& flags,
                                                                const std::string& command, std::string& error);

// First Ctrl-C (or SIGTERM): end the current run as a single run would, and set `interrupted` so the
// command makes no further runs and writes what it has. Second: exit at once.
void install_interrupt_handlers(std::atomic<bool>* interrupted);

// Parses a command's own flags with `app`; every other argument is a scenario flag and lands in
// `scenario`. Returns the exit code when the command should end here: 0 after printing --help (the
// command's flags, then the scenario flags), 2 after a one-line error naming the flag.
std::optional<int> parse_command_flags(CLI::App& app, int argc, const char* const* argv, const std::string& command,
                                       std::vector<std::string>& scenario);

// Flags of a single run that sweep and ceiling set themselves or cannot offer (--rate, --duration,
// --csv, --hlog, --prometheus): registered hidden so that giving one gets a reason, not a surprise.
class CommandOwnedRunFlags {
 public:
  void add_to(CLI::App& app);
  // After parsing: 2 with a one-line reason naming the flag if one was given.
  std::optional<int> reject(const CLI::App& app, const std::string& command, const std::string& rate_reason,
                            const std::string& duration_reason) const;

 private:
  std::string value_;
};

// Small pieces both commands need: "%.10g" of a number (a rate as a flag value), the seconds of a
// duration text that already passed parse_duration, the JSON written to a file (false if it could
// not be), and a pause that ends early on Ctrl-C (false if interrupted).
std::string number_text(double v);
double duration_seconds(const std::string& duration);
bool write_json_file(const std::string& path, const nlohmann::ordered_json& j);
bool pause_unless_interrupted(double seconds, const std::atomic<bool>& interrupted);

// The scenario flags' help, as `wirestress --help` shows it.
std::string scenario_help();

}  // namespace ws::tools
