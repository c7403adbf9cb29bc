// `wirestress sweep` and `wirestress ceiling`: their own flags, then every other flag is a
// scenario flag (exactly a single run's, parsed by RunFlags) that every run of the command gets.
// The commands run in driver/capacity/.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cmath>
#include <csignal>
#include <iostream>

#include "driver/capacity/ceiling.h"
#include "driver/capacity/scenario.h"
#include "driver/capacity/sweep.h"
#include "tools/commands.h"

namespace ws::tools {
namespace {

std::atomic<bool>* g_interrupted = nullptr;
std::atomic<int> g_signals{0};

void on_signal(int) {
  if (++g_signals > 1) _exit(130);
  if (g_interrupted) g_interrupted->store(true);
  capacity::stop_current_scenario();
}

// Flags of a single run that sweep and ceiling set themselves or cannot offer: registered hidden
// so that giving one gets a reason, not a surprise.
class CommandOwnedRunFlags {
 public:
  // `own`: flags the command takes itself (sweep's --rate list), not registered here.
  void add_to(CLI::App& app, std::vector<std::string> own = {}) {
    own_ = std::move(own);
    for (const char* flag : {"--rate", "--duration", "--messages", "--csv", "--hlog", "--prometheus", "--shards",
                             "--shard", "--start-at"}) {
      if (std::find(own_.begin(), own_.end(), flag) == own_.end()) app.add_option(flag, value_)->group("");  // hidden
    }
  }
  std::optional<int> reject(const CLI::App& app, const std::string& command, const std::string& rate_reason,
                            const std::string& duration_reason) const {
    const std::pair<const char*, std::string> reasons[] = {
        {"--rate", rate_reason},
        {"--duration", duration_reason},
        {"--messages", "every run lasts its --step-duration"},
        {"--csv", "not available here; --json holds every run with its per-interval series"},
        {"--hlog", "not available here; --json holds every run with its latency histograms"},
        {"--prometheus", "not available here"},
        {"--shards", "a sweep or ceiling runs on one load host; shard single runs (wirestress --shards) and merge them"},
        {"--shard", "a sweep or ceiling runs on one load host; shard single runs (wirestress --shards) and merge them"},
        {"--start-at", "cells start one after another; use it with single runs"}};
    for (const auto& [flag, reason] : reasons) {
      if (std::find(own_.begin(), own_.end(), flag) == own_.end() && app.count(flag)) {
        std::cerr << "wirestress " << command << ": " << flag << ": '" << value_ << "' is not valid; " << reason
                  << "\n";
        return 2;
      }
    }
    return std::nullopt;
  }

 private:
  std::string value_;
  std::vector<std::string> own_;
};

std::string scenario_help() {
  const char* argv[] = {"wirestress", "--help"};
  return parse_options(2, argv).output;
}

// Parses the command's own flags with `app`; every other argument is a scenario flag, parsed as a
// single run's. Returns the exit code when the command should end here (0 after --help, 2 after
// a one-line error naming the flag). `implied()`: run flags the command's own flags stand for
// (sweep's --consumers list), added when the scenario is checked but not to its flags.
std::optional<int> parse_command(CLI::App& app, int argc, const char* const* argv, const std::string& command,
                                 std::vector<std::string>& scenario, RunOptions& base,
                                 const std::function<std::vector<std::string>()>& implied = {}) {
  if (const std::string flag = flag_with_empty_value(argc, argv); !flag.empty()) {
    std::cerr << "wirestress " << command << ": " << flag << ": '' is not valid; give a value (" << flag
              << "=VALUE)\n";
    return 2;
  }
  app.allow_extras();
  app.get_formatter()->column_width(34);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\nScenario flags, given to every run as to a single wirestress run (" << command
              << " sets --clients, " << (command == "sweep" ? "--consumers, " : "")
              << "--rate, --duration, --warmup and --topic of each run itself):\n\n"
              << scenario_help() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "wirestress " << command << ": " << e.what() << " (see wirestress " << command << " --help)\n";
    return 2;
  }
  scenario = app.remaining();
  const std::vector<std::string> implied_flags = implied ? implied() : std::vector<std::string>{};
  std::vector<const char*> args{"wirestress"};
  for (const auto& s : scenario) args.push_back(s.c_str());
  for (const auto& s : implied_flags) args.push_back(s.c_str());
  ParseOutcome parsed = parse_options(static_cast<int>(args.size()), args.data());
  if (!parsed.options) {
    const std::string prefix = "wirestress: ";
    std::string message = parsed.output;
    if (message.starts_with(prefix)) message = message.substr(prefix.size());
    std::cerr << "wirestress " << command << ": " << message << "\n";
    return parsed.exit_code == 0 ? 2 : parsed.exit_code;
  }
  base = std::move(*parsed.options);
  return std::nullopt;
}

// The scenario every run shares, with the embedded broker started if no --bootstrap was given.
std::optional<int> scenario_base(RunOptions& options, const std::vector<std::string>& flags, const std::string& command,
                                 capacity::ScenarioBase& base, std::unique_ptr<brokers::MockClusterProcess>& embedded) {
  std::string error;
  if (options.run.bootstrap.empty()) {
    embedded = start_embedded_broker(options, "wirestress " + command, error);
    if (!embedded) {
      std::cerr << "wirestress " << command << ": " << error << "\n";
      return 1;
    }
  }
  base.config = options.run;
  base.flags = flags;
  base.latency_max_us = std::chrono::duration_cast<std::chrono::microseconds>(options.latency_max).count();
  base.latency_digits = options.latency_digits;
  return std::nullopt;
}

bool parse_duration_flag(const std::string& flag, const std::string& text, bool above_zero,
                         std::chrono::nanoseconds& out, const std::string& command) {
  if (driver::parse_duration(text, out) && (!above_zero || out.count() > 0)) return true;
  std::cerr << "wirestress " << command << ": " << flag << ": '" << text << "' is not valid; use a duration"
            << (above_zero ? " above 0" : "") << " such as 500ms, 10s, 2m\n";
  return false;
}

}  // namespace

void install_capacity_interrupt_handlers(std::atomic<bool>* interrupted) {
  g_interrupted = interrupted;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::unique_ptr<brokers::MockClusterProcess> start_embedded_broker(RunOptions& options, const std::string& who,
                                                                   std::string& error) {
  auto broker = std::make_unique<brokers::MockClusterProcess>();
  std::vector<std::string> topics;
  for (uint32_t i = 0; i < options.run.topics; ++i) topics.push_back(options.run.topic_name(i));
  if (!broker->start(options.embedded_brokers, topics, options.embedded_partitions, error)) return nullptr;
  options.run.bootstrap.clear();
  std::stringstream list(broker->bootstrap());  // "host:port,host:port" with several brokers
  for (std::string item; std::getline(list, item, ',');) options.run.bootstrap.push_back(item);
  const std::string topic_text = options.run.topics == 1
                                     ? "topic " + options.run.topic
                                     : std::to_string(options.run.topics) + " topics " + topics.front() + " .. " +
                                           topics.back();
  std::cerr << who << ": no --bootstrap given: using an embedded librdkafka mock "
            << (options.embedded_brokers == 1 ? "broker" : std::to_string(options.embedded_brokers) + "-broker cluster")
            << " at " << broker->bootstrap() << " (" << topic_text << ", " << options.embedded_partitions
            << " partitions)\n";
  return broker;
}

int run_sweep_command(int argc, const char* const* argv) {
  const std::string command = "sweep";
  CLI::App app{
      "wirestress sweep: run every cell of a (client count x consumer count x rate) matrix in order against\n"
      "one broker, with a pause and a fresh topic between cells, and write every cell's result to one JSON.\n"
      "Cells go clients, then consumers, then rate, each in the order given. A cell offers clients x\n"
      "--rate-per-client messages/s, or --rate in total. The seed study (one publisher, N subscribers):\n"
      "  wirestress sweep --clients=1 --consumers=10,50,300,500 --rate=1000,1500,2000,3000 --verify\n"
      "Group flags (--group-mode=own ...) go to every cell: --clients=1 --consumers=100,1000,5000\n"
      "--group-mode=own --rate=1000 sweeps the number of group members.\n"
      "Plot it with: wirestress report OUT.json -o report.html",
      "wirestress sweep"};
  capacity::SweepPlan plan;
  std::string clients_text, consumers_text, rates_text, total_rates_text, step_duration = "30s", warmup = "2s",
                                                                          pause = "2s";
  CommandOwnedRunFlags owned;
  app.add_option("--clients", clients_text, "Client (producer) counts, in order, e.g. 10,50,300,500 or 1")->required();
  app.add_option("--consumers", consumers_text,
                 "Consumer counts, in order, e.g. 10,50,300,500 (default: no consumers); each cell's consumers read "
                 "as a single run's --consumers do (with --group-mode, in groups)");
  app.add_option("--rate-per-client", rates_text,
                 "Messages/s each client offers, e.g. 1000,1500,2000,3000 (this or --rate)");
  app.add_option("--rate", total_rates_text,
                 "Messages/s each cell offers in total, split over its clients, e.g. 1000,1500,2000,3000 (this or "
                 "--rate-per-client)");
  app.add_option("--step-duration", step_duration, "Measured time per cell (after its warm-up)")->capture_default_str();
  app.add_option("--warmup", warmup, "Warm-up per cell (after its clients are ready), left out of the figures")
      ->capture_default_str();
  app.add_option("--pause", pause, "Idle time between cells")->capture_default_str();
  app.add_option("--topic", plan.topic, "Topic name; with --topic-per-cell, cell N writes to TOPIC-cN")
      ->capture_default_str();
  app.add_option("--topic-per-cell", plan.topic_per_cell,
                 "A fresh topic per cell so cells never read each other's records, and with --group-prefix=P groups "
                 "P-cN-<n> (false: all cells share --topic)")
      ->capture_default_str();
  app.add_option("--json", plan.json_path, "Write the sweep (every cell's configuration, figures and full result) to FILE");
  app.add_option("--omb-result", plan.omb_result.prefix,
                 "Write each cell as OpenMessaging Benchmark's TestResult JSON: PREFIX-c00.json, PREFIX-c01.json ... "
                 "(cell N as in the table and the JSON; a .json ending PREFIX is dropped)");
  app.add_flag("--progress", plan.progress, "Print every cell's per-interval lines");
  owned.add_to(app, {"--rate"});
  std::vector<std::string> scenario;
  RunOptions options;
  std::vector<double> consumer_counts;
  auto consumers_valid = [&] {
    return capacity::parse_number_list(consumers_text, consumer_counts) &&
           std::none_of(consumer_counts.begin(), consumer_counts.end(),
                        [](double c) { return c != std::floor(c) || c > 1e6; });
  };
  // The scenario is checked as a run with consumers (group flags need them); each cell's count is
  // checked again with the cell.
  auto implied = [&]() -> std::vector<std::string> {
    if (consumers_text.empty() || !consumers_valid()) return {};
    return {"--consumers=" + capacity::number_text(*std::min_element(consumer_counts.begin(), consumer_counts.end()))};
  };
  if (auto code = parse_command(app, argc, argv, command, scenario, options, implied)) return *code;
  if (auto code = owned.reject(app, command, "", "use --step-duration (time per cell)")) {
    return *code;
  }
  auto bad = [&](const std::string& flag, const std::string& value, const std::string& accepted) {
    std::cerr << "wirestress sweep: " << flag << ": '" << value << "' is not valid; " << accepted << "\n";
    return 2;
  };
  std::vector<double> counts;
  if (!capacity::parse_number_list(clients_text, counts) ||
      std::any_of(counts.begin(), counts.end(), [](double c) { return c != std::floor(c) || c > 1e6; })) {
    return bad("--clients", clients_text, "use a comma-separated list of whole numbers from 1 to 1000000, e.g. 10,50,300");
  }
  for (double c : counts) plan.clients.push_back(static_cast<uint32_t>(c));
  if (app.count("--consumers")) {
    if (!consumers_valid()) {
      return bad("--consumers", consumers_text,
                 "use a comma-separated list of whole numbers from 1 to 1000000, e.g. 10,50,300,500");
    }
    for (double c : consumer_counts) plan.consumers.push_back(static_cast<uint32_t>(c));
  }
  if (app.count("--rate") && app.count("--rate-per-client")) {
    return bad("--rate", total_rates_text,
               "give either --rate (each cell's total msg/s) or --rate-per-client (each client's), not both");
  }
  if (!app.count("--rate") && !app.count("--rate-per-client")) {
    std::cerr << "wirestress sweep: --rate-per-client or --rate is required: each client's or each cell's total "
                 "msg/s, e.g. --rate=1000,1500,2000\n";
    return 2;
  }
  plan.rate_is_total = app.count("--rate") > 0;
  if (!capacity::parse_number_list(plan.rate_is_total ? total_rates_text : rates_text, plan.rates)) {
    const char* flag = plan.rate_is_total ? "--rate" : "--rate-per-client";
    return bad(flag, plan.rate_is_total ? total_rates_text : rates_text,
               "use a comma-separated list of positive rates, e.g. 1000,1500,2000");
  }
  if (!parse_duration_flag("--step-duration", step_duration, true, plan.step_duration, command) ||
      !parse_duration_flag("--warmup", warmup, false, plan.warmup, command) ||
      !parse_duration_flag("--pause", pause, false, plan.pause, command)) {
    return 2;
  }
  if (plan.topic.empty()) return bad("--topic", plan.topic, "use a non-empty topic name");
  if (const std::string problem = check_output_path("--json", plan.json_path); !problem.empty()) {
    std::cerr << "wirestress sweep: " << problem << "\n";
    return 2;
  }
  plan.omb_result.shape = {options.workload ? options.workload->name : "",
                           static_cast<uint32_t>(options.embedded_partitions)};
  if (const std::string problem = check_output_path("--omb-result", plan.omb_result.path("cell", 0));
      !problem.empty()) {
    std::cerr << "wirestress sweep: " << problem << "\n";
    return 2;
  }
  capacity::ScenarioBase base;
  std::unique_ptr<brokers::MockClusterProcess> embedded;
  {
    // Every cell is checked before the first one runs.
    base.config = options.run;
    if (base.config.bootstrap.empty()) base.config.bootstrap = {"embedded:0"};
    std::string error;
    if (capacity::sweep_cells(plan, base, error).empty()) {
      std::cerr << error << "\n";
      return 2;
    }
  }
  if (auto code = scenario_base(options, scenario, command, base, embedded)) return *code;
  std::atomic<bool> interrupted{false};
  install_capacity_interrupt_handlers(&interrupted);
  return capacity::run_sweep(plan, base, interrupted);
}

int run_ceiling_command(int argc, const char* const* argv) {
  const std::string command = "ceiling";
  CLI::App app{
      "wirestress ceiling: raise the offered load step by step (open loop, a warm-up per step), doubling\n"
      "until a step breaks a limit, then bisect between the last good and the first bad step. Reports the\n"
      "highest sustainable load and what limits it: latency (p99 above --slo-p99), errors, loss (with\n"
      "--consumers), throughput_plateau (achieved below --min-achieved x offered) or client (wirestress\n"
      "itself is saturated or cannot keep its schedule while the broker keeps up).\n"
      "--ramp=connections holds --rate-per-client and raises the number of clients instead.",
      "wirestress ceiling"};
  capacity::CeilingPlan plan;
  auto& limits = plan.limits;
  auto& settings = plan.settings;
  settings.max = 1e7;
  std::string slo = "50ms", ramp = "rate", step_duration = "10s", warmup = "2s", pause = "1s";
  double start_rate = 1000, max_rate = 1e7;
  uint32_t start_clients = 10, max_clients = 100000;
  CommandOwnedRunFlags owned;
  app.add_option("--slo-p99", slo, "Latency SLO: p99 from the intended send time must stay at or below this")
      ->capture_default_str();
  app.add_option("--max-error-rate", limits.max_error_rate, "Highest share of failed records a good step may have")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-loss", limits.max_loss, "Highest share of records consumers may miss (checked with --consumers)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-failing-clients", limits.max_failing_clients,
                 "Clients without a connection (or failed consumers) a good step may have")
      ->capture_default_str();
  app.add_option("--min-achieved", limits.min_achieved,
                 "Achieved / offered below this is a throughput plateau (achieved: acked, or received with --consumers)")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  app.add_option("--client-busy-max", limits.client_busy_max,
                 "Share of time wirestress's event loops may be busy before the client is the limit")
      ->check(CLI::Range(0.05, 1.0))
      ->capture_default_str();
  app.add_option("--ramp", ramp, "What grows: rate (messages/s over --clients) or connections (clients at --rate-per-client each)")
      ->check(CLI::IsMember({"rate", "connections"}))
      ->capture_default_str();
  app.add_option("--clients", plan.clients, "With --ramp=rate: simulated producers sharing the rate")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--start-rate", start_rate, "With --ramp=rate: the first step's messages/s")
      ->check(CLI::Range(0.001, 1e9))
      ->capture_default_str();
  app.add_option("--max-rate", max_rate, "With --ramp=rate: never offer more than this")
      ->check(CLI::Range(0.001, 1e9))
      ->capture_default_str();
  app.add_option("--rate-per-client", plan.rate_per_client, "With --ramp=connections: messages/s each client offers")
      ->check(CLI::Range(0.001, 1e9))
      ->capture_default_str();
  app.add_option("--start-clients", start_clients, "With --ramp=connections: clients in the first step")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--max-clients", max_clients, "With --ramp=connections: never run more clients than this")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--step-factor", settings.factor, "Load multiplier between ramp steps")
      ->check(CLI::Range(1.05, 100.0))
      ->capture_default_str();
  app.add_option("--precision", settings.precision, "Bisect until the first bad load is within this share above the last good one")
      ->check(CLI::Range(0.001, 1.0))
      ->capture_default_str();
  app.add_option("--max-steps", settings.max_steps, "Steps at most, ramp and bisection together")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--step-duration", step_duration, "Measured time per step (after its warm-up)")->capture_default_str();
  app.add_option("--warmup", warmup, "Warm-up per step (after its clients are ready), left out of its figures")
      ->capture_default_str();
  app.add_option("--pause", pause, "Idle time between steps")->capture_default_str();
  app.add_option("--topic", plan.topic, "Topic every step writes to (see --topic-per-step)")->capture_default_str();
  app.add_option("--topic-per-step", plan.topic_per_step, "Step N writes to TOPIC-sN instead")->capture_default_str();
  app.add_option("--json", plan.json_path, "Write every step and the ceiling found to FILE");
  app.add_option("--omb-result", plan.omb_result.prefix,
                 "Write each step as OpenMessaging Benchmark's TestResult JSON: PREFIX-s00.json, PREFIX-s01.json ... "
                 "(step N as in the table and the JSON; a .json ending PREFIX is dropped)");
  app.add_flag("--progress", plan.progress, "Print every step's per-interval lines");
  owned.add_to(app);
  std::vector<std::string> scenario;
  RunOptions options;
  if (auto code = parse_command(app, argc, argv, command, scenario, options)) return *code;
  if (auto code = owned.reject(app, command, "the ceiling sets each step's rate; use --start-rate and --max-rate",
                               "use --step-duration (time per step)")) {
    return *code;
  }
  auto bad = [&](const std::string& flag, const std::string& value, const std::string& accepted) {
    std::cerr << "wirestress ceiling: " << flag << ": '" << value << "' is not valid; " << accepted << "\n";
    return 2;
  };
  plan.by_connections = ramp == "connections";
  for (const char* flag : plan.by_connections
                              ? std::vector<const char*>{"--clients", "--start-rate", "--max-rate"}
                              : std::vector<const char*>{"--rate-per-client", "--start-clients", "--max-clients"}) {
    if (app.count(flag)) {
      return bad(flag, app.get_option(flag)->as<std::string>(),
                 std::string("only with --ramp=") + (plan.by_connections ? "rate" : "connections"));
    }
  }
  std::chrono::nanoseconds slo_ns{};
  if (!parse_duration_flag("--slo-p99", slo, true, slo_ns, command) ||
      !parse_duration_flag("--step-duration", step_duration, true, plan.step_duration, command) ||
      !parse_duration_flag("--warmup", warmup, false, plan.warmup, command) ||
      !parse_duration_flag("--pause", pause, false, plan.pause, command)) {
    return 2;
  }
  limits.slo_p99_ms = std::chrono::duration<double, std::milli>(slo_ns).count();
  if (plan.topic.empty()) return bad("--topic", plan.topic, "use a non-empty topic name");
  settings.whole_numbers = plan.by_connections;
  settings.start = plan.by_connections ? start_clients : start_rate;
  settings.max = plan.by_connections ? max_clients : max_rate;
  if (settings.max < settings.start) {
    return bad(plan.by_connections ? "--max-clients" : "--max-rate", capacity::number_text(settings.max),
               "use at least the start value (" + capacity::number_text(settings.start) + ")");
  }
  if (const std::string problem = check_output_path("--json", plan.json_path); !problem.empty()) {
    std::cerr << "wirestress ceiling: " << problem << "\n";
    return 2;
  }
  plan.omb_result.shape = {options.workload ? options.workload->name : "",
                           static_cast<uint32_t>(options.embedded_partitions)};
  if (const std::string problem = check_output_path("--omb-result", plan.omb_result.path("step", 0));
      !problem.empty()) {
    std::cerr << "wirestress ceiling: " << problem << "\n";
    return 2;
  }
  capacity::ScenarioBase base;
  std::unique_ptr<brokers::MockClusterProcess> embedded;
  if (auto code = scenario_base(options, scenario, command, base, embedded)) return *code;
  std::atomic<bool> interrupted{false};
  install_capacity_interrupt_handlers(&interrupted);
  return capacity::run_ceiling(plan, base, interrupted);
}

}  // namespace ws::tools
