#include "tools/sweep.h"

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "tools/capacity.h"
#include "tools/report.h"
#include "tools/run_scenario.h"

namespace ws::tools {
namespace {

constexpr const char* kCommand = "sweep";

}  // namespace

int run_sweep(int argc, const char* const* argv) {
  CLI::App app{
      "wirestress sweep: run every cell of a (client count x rate per client) matrix in order against one\n"
      "broker, with a pause and a fresh topic between cells, and write every cell's result to one JSON.\n"
      "A cell offers clients x rate-per-client messages/s. Plot it with: wirestress report OUT.json -o report.html",
      "wirestress sweep"};
  std::string clients_text, rates_text, step_duration = "30s", warmup = "2s", pause = "2s", topic = "wirestress",
                                         json_path;
  bool topic_per_cell = true, progress = false;
  CommandOwnedRunFlags owned;
  app.add_option("--clients", clients_text, "Client counts, in order, e.g. 10,50,300,500")->required();
  app.add_option("--rate-per-client", rates_text, "Messages/s each client offers, e.g. 1000,1500,2000,3000")
      ->required();
  app.add_option("--step-duration", step_duration, "Measured time per cell (after its warm-up)")->capture_default_str();
  app.add_option("--warmup", warmup, "Warm-up per cell: connections and the broker settle, left out of the figures")
      ->capture_default_str();
  app.add_option("--pause", pause, "Idle time between cells")->capture_default_str();
  app.add_option("--topic", topic, "Topic name; with --topic-per-cell, cell N writes to TOPIC-cN")
      ->capture_default_str();
  app.add_option("--topic-per-cell", topic_per_cell,
                 "A fresh topic per cell so cells never read each other's records (false: all cells share --topic)")
      ->capture_default_str();
  app.add_option("--json", json_path, "Write the sweep (every cell's configuration, figures and full result) to FILE");
  app.add_flag("--progress", progress, "Print every cell's per-interval lines");
  owned.add_to(app);

  std::vector<std::string> scenario;
  if (auto code = parse_command_flags(app, argc, argv, kCommand, scenario)) return *code;
  auto bad = [](const std::string& flag, const std::string& value, const std::string& accepted) {
    std::cerr << "wirestress sweep: " << flag << ": '" << value << "' is not valid; " << accepted << "\n";
    return 2;
  };
  if (auto code = owned.reject(app, kCommand, "a cell offers clients x --rate-per-client; give that list",
                               "use --step-duration (time per cell)")) {
    return *code;
  }
  std::vector<double> client_counts, rates;
  if (!parse_number_list(clients_text, client_counts) ||
      std::any_of(client_counts.begin(), client_counts.end(), [](double c) { return c != std::floor(c) || c > 1e6; })) {
    return bad("--clients", clients_text, "use a comma-separated list of whole numbers from 1 to 1000000, e.g. 10,50,300");
  }
  if (!parse_number_list(rates_text, rates)) {
    return bad("--rate-per-client", rates_text, "use a comma-separated list of positive rates, e.g. 1000,1500,2000");
  }
  std::chrono::nanoseconds ns{};
  if (!parse_duration(step_duration, ns) || ns.count() == 0) {
    return bad("--step-duration", step_duration, "use a duration above 0 such as 500ms, 10s, 2m");
  }
  if (!parse_duration(warmup, ns)) return bad("--warmup", warmup, "use a duration such as 0, 2s, 10s");
  if (!parse_duration(pause, ns)) return bad("--pause", pause, "use a duration such as 0, 2s, 10s");
  if (topic.empty()) return bad("--topic", topic, "use a non-empty topic name");

  // Every cell's flags are checked before the first cell runs.
  ScenarioFlags flags(kCommand, scenario);
  struct Cell {
    uint32_t clients;
    double rate_per_client;
    std::string topic;
    std::vector<std::string> run_flags;
  };
  std::vector<Cell> cells;
  for (double c : client_counts) {
    for (double r : rates) {
      Cell cell{static_cast<uint32_t>(c), r, topic, {}};
      if (topic_per_cell) cell.topic = topic + "-c" + std::to_string(cells.size());
      cell.run_flags = {"--clients=" + std::to_string(cell.clients), "--rate=" + number_text(c * r),
                        "--duration=" + step_duration, "--warmup=" + warmup, "--topic=" + cell.topic};
      const ParseOutcome parsed = flags.parse(cell.run_flags);
      if (!parsed.options) {
        std::cerr << parsed.output << "\n";
        return parsed.exit_code == 0 ? 2 : parsed.exit_code;
      }
      cells.push_back(std::move(cell));
    }
  }
  std::string error;
  const auto base = flags.parse(cells.front().run_flags);
  auto embedded = start_embedded_broker_if_needed(*base.options, flags, kCommand, error);
  if (!error.empty()) {
    std::cerr << "wirestress sweep: " << error << "\n";
    return 1;
  }

  std::atomic<bool> interrupted{false};
  install_interrupt_handlers(&interrupted);
  Json out;
  out["kind"] = "sweep";
  Json sweep;  // becomes out["sweep"] (a reference into an ordered_json would dangle as keys are added)
  sweep["clients"] = Json::array();
  for (double c : client_counts) sweep["clients"].push_back(static_cast<uint32_t>(c));
  sweep["rate_per_client"] = rates;
  sweep["step_duration_s"] = duration_seconds(step_duration);
  sweep["warmup_s"] = duration_seconds(warmup);
  sweep["pause_s"] = duration_seconds(pause);
  sweep["topic"] = topic;
  sweep["topic_per_cell"] = topic_per_cell;
  sweep["bootstrap"] = broker_list(flags.parse(cells.front().run_flags).options->run);
  sweep["scenario_flags"] = scenario;
  sweep["interrupted"] = false;
  out["sweep"] = sweep;
  out["cells"] = Json::array();

  const auto started = std::chrono::steady_clock::now();
  auto since_start = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  std::printf("sweep: %zu cells, %s each after a %s warm-up, %s pause between cells\n", cells.size(),
              step_duration.c_str(), warmup.c_str(), pause.c_str());
  std::printf("%4s %8s %10s %12s %12s %8s %8s %9s %9s %9s %6s\n", "cell", "clients", "rate/cl", "offered/s",
              "achieved/s", "loss%", "failing", "p50 ms", "p99 ms", "max ms", "busy");
  std::fflush(stdout);
  for (size_t i = 0; i < cells.size() && !interrupted; ++i) {
    const Cell& cell = cells[i];
    if (i > 0) {
      if (!pause_unless_interrupted(duration_seconds(pause), interrupted)) break;
    }
    const Options options = *flags.parse(cell.run_flags).options;
    const double started_s = since_start();
    ScenarioRun run = run_scenario(options, [&](const driver::IntervalReport& r) {
      if (progress) std::cout << interval_line(r, options.run) << std::endl;
    });
    if (!run.ok) {
      std::cerr << "wirestress sweep: cell " << i << ": " << run.error << "\n";
      return 1;
    }
    if (!run.notice.empty() && i == 0) std::cerr << "wirestress sweep: " << run.notice << "\n";
    const LoadFigures f = load_figures(run.json);
    std::printf("%4zu %8u %10s %12.0f %12.0f %8.3f %8llu %9.2f %9.2f %9.2f %5.0f%%\n", i, cell.clients,
                number_text(cell.rate_per_client).c_str(), f.offered_msgs_per_s, f.achieved_msgs_per_s,
                100 * f.loss, static_cast<unsigned long long>(f.failing_clients), f.latency_ms[0], f.latency_ms[2],
                f.latency_ms[4], 100 * f.client_busy);
    std::fflush(stdout);
    Json c;
    c["index"] = i;
    c["clients"] = cell.clients;
    c["rate_per_client"] = cell.rate_per_client;
    c["offered_msgs_per_s"] = cell.clients * cell.rate_per_client;
    c["topic"] = cell.topic;
    c["started_s"] = started_s;
    c["command"] = flags.command_line(cell.run_flags);
    c["figures"] = figures_json(f);
    c["result"] = std::move(run.json);
    out["cells"].push_back(std::move(c));
    out["sweep"]["elapsed_s"] = since_start();
    out["sweep"]["interrupted"] = interrupted.load();
    // Rewritten after every cell: an interrupted or failed sweep keeps what it measured.
    if (!json_path.empty() && !write_json_file(json_path, out)) {
      std::cerr << "wirestress sweep: --json: cannot write " << json_path << "\n";
      return 1;
    }
  }
  out["sweep"]["interrupted"] = interrupted.load();
  if (!json_path.empty() && !write_json_file(json_path, out)) {
    std::cerr << "wirestress sweep: --json: cannot write " << json_path << "\n";
    return 1;
  }
  std::printf("sweep: %zu of %zu cells in %.1f s%s%s%s\n", out["cells"].size(), cells.size(), since_start(),
              interrupted ? " (interrupted)" : "", json_path.empty() ? "" : ", written to ", json_path.c_str());
  return 0;
}

}  // namespace ws::tools
