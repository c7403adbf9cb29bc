// wirestress: one run (the default) or one of the subcommands sweep, ceiling, report, merge.
// This main only parses the command line and wires the libraries together.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "driver/runner.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "tools/run_command.h"

namespace {

// wirestress's own engine: the sharded io_uring/Asio runner.
class ShardedEngine : public ws::tools::RunEngine {
 public:
  ShardedEngine(const ws::driver::RunConfig& config, uint64_t extra_fds) : runner_(config), extra_fds_(extra_fds) {}
  bool prepare(std::string& error, std::string& notice) override { return runner_.prepare(error, notice, extra_fds_); }
  ws::driver::RunResult run(const std::function<void(const ws::driver::IntervalReport&)>& on_interval) override {
    return runner_.run(on_interval);
  }
  void request_stop() override { runner_.request_stop(); }

 private:
  ws::driver::ShardedRunner runner_;
  uint64_t extra_fds_;
};

constexpr const char* kDescription =
    "wirestress: drive thousands of simulated Kafka producer and consumer clients per core against a broker.\n"
    "Without --bootstrap it starts an embedded broker (librdkafka's mock cluster) and says so.\n"
    "A run connects every client first (Connecting), then runs --warmup, then the measured --duration, then\n"
    "drains. Exit codes: 0 the run did what was asked; 1 runtime error; 2 usage; 3 the run finished but\n"
    "degraded (a client or consumer never connected, every consumer failed, nothing was sent, every record\n"
    "failed, the run stalled, or no broker answered).";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "wirestress"};
  ws::tools::RunFlags run_flags;
  run_flags.add_to(app);
  bool version = false;
  app.add_flag("--version", version, "Print the version, the git revision and the I/O backends, and exit");
  // Each subcommand parses what follows it itself (its own flags, and for sweep and ceiling the
  // scenario flags of a single run): CLI11 hands it the rest of the command line.
  struct Subcommand {
    const char* name;
    const char* help;
    int (*run)(int, const char* const*);
  };
  const Subcommand subcommands[] = {
      {"sweep", "run a (clients x rate per client) matrix, one JSON with every cell", ws::tools::run_sweep_command},
      {"ceiling", "raise the load until the broker breaks its SLO; says what limited it",
       ws::tools::run_ceiling_command},
      {"report", "turn a run, sweep or ceiling JSON into an HTML page and SVG/PNG charts", ws::tools::run_report},
      {"merge", "combine the JSON of runs made on several machines, exactly", ws::tools::run_merge},
      {"storm", "open and close connections at --rate/s through the full handshake; per-stage latency",
       ws::tools::run_storm_command},
  };
  std::vector<CLI::App*> apps;
  for (const auto& s : subcommands) {
    CLI::App* sub = app.add_subcommand(s.name, s.help);
    sub->prefix_command();
    sub->set_help_flag();  // --help goes to the subcommand's own parser
    apps.push_back(sub);
  }
  app.require_subcommand(0, 1);
  if (argc < 2 || std::string(argv[1]).starts_with("-")) {
    // A single run: a flag with an empty value ("--json=") would otherwise take the next argument.
    if (const std::string flag = ws::tools::flag_with_empty_value(argc, argv); !flag.empty()) {
      std::cerr << "wirestress: " << flag << ": '' is not valid; give a value (" << flag << "=VALUE)\n";
      return 2;
    }
  }
  // Client properties (-X, --config) of a single run become flags ahead of the user's own. A
  // subcommand parses its own command line (sweep and ceiling expand theirs the same way).
  ws::tools::ExpandedCommandLine expanded;
  const bool single_run = argc < 2 || std::string(argv[1]).starts_with("-");
  if (single_run) {
    std::string error;
    if (!ws::tools::expand_client_properties(argc, argv, expanded, error)) {
      std::cerr << "wirestress: " << error << "\n";
      return 2;
    }
    run_flags.set_properties(expanded.mapped);
    for (const auto& note : expanded.mapped.notes) std::cerr << "wirestress: " << note << "\n";
  }
  try {
    if (single_run) {
      app.parse(expanded.argc(), expanded.argv.data());
    } else {
      app.parse(argc, argv);
    }
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "wirestress: " << e.what() << " (see --help)\n";
    return 2;
  }
  for (size_t i = 0; i < apps.size(); ++i) {
    if (!apps[i]->parsed()) continue;
    std::vector<std::string> rest = apps[i]->remaining();
    std::vector<const char*> sub_argv{subcommands[i].name};
    for (const auto& a : rest) sub_argv.push_back(a.c_str());
    return subcommands[i].run(static_cast<int>(sub_argv.size()), sub_argv.data());
  }
  if (version) {
    std::cout << ws::tools::version_text("wirestress") << "\n";
    return 0;
  }
  std::string error;
  auto options = run_flags.finish(app, error);
  if (!options) {
    std::cerr << error << "\n";
    return 2;
  }
  std::unique_ptr<ws::brokers::MockClusterProcess> embedded;
  std::string broker_text;
  for (const auto& b : options->run.bootstrap) broker_text += (broker_text.empty() ? "" : ",") + b;
  if (options->run.bootstrap.empty()) {
    embedded = ws::tools::start_embedded_broker(*options, "wirestress", error);
    if (!embedded) {
      std::cerr << "wirestress: " << error << "\n";
      return 1;
    }
    broker_text = embedded->bootstrap();
  }
  ws::tools::RunIdentity identity{"wirestress", broker_text, ws::tools::masked_command_line(argc, argv)};
  options->run.command_line = identity.command_line;
  ShardedEngine engine(options->run, 0);
  return ws::tools::run_and_report(*options, engine, identity);
}
