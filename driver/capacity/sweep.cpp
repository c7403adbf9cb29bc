#include "driver/capacity/sweep.h"

#include <cstdio>
#include <iostream>

#include "driver/capacity/figures.h"
#include "driver/capacity/progress.h"
#include "stats/report/run_text.h"

namespace ws::capacity {
namespace {

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

std::vector<std::string> cell_flags(const driver::RunConfig& c) {
  return {"--clients=" + std::to_string(c.clients), "--rate=" + number_text(c.rate),
          "--duration=" + driver::format_duration(c.duration), "--warmup=" + driver::format_duration(c.warmup),
          "--topic=" + c.topic};
}

}  // namespace

std::vector<driver::RunConfig> sweep_cells(const SweepPlan& plan, const ScenarioBase& base, std::string& error) {
  std::vector<driver::RunConfig> cells;
  for (const uint32_t clients : plan.clients) {
    for (const double rate : plan.rates_per_client) {
      driver::RunConfig c = base.config;
      c.clients = clients;
      c.rate = clients * rate;
      c.duration = plan.step_duration;
      c.messages = 0;
      c.warmup = plan.warmup;
      c.topic = plan.topic_per_cell ? plan.topic + "-c" + std::to_string(cells.size()) : plan.topic;
      if (auto e = c.validate()) {
        error = "wirestress sweep: cell " + std::to_string(cells.size()) + ": " + e->message();
        return {};
      }
      cells.push_back(std::move(c));
    }
  }
  return cells;
}

int run_sweep(const SweepPlan& plan, const ScenarioBase& base, std::atomic<bool>& interrupted) {
  std::string error;
  const auto cells = sweep_cells(plan, base, error);
  if (cells.empty()) {
    std::cerr << error << "\n";
    return 2;
  }
  Json out;
  out["kind"] = "sweep";
  Json sweep;  // becomes out["sweep"] (a reference into an ordered_json would dangle as keys are added)
  sweep["clients"] = plan.clients;
  sweep["rate_per_client"] = plan.rates_per_client;
  sweep["step_duration_s"] = seconds(plan.step_duration);
  sweep["warmup_s"] = seconds(plan.warmup);
  sweep["pause_s"] = seconds(plan.pause);
  sweep["topic"] = plan.topic;
  sweep["topic_per_cell"] = plan.topic_per_cell;
  sweep["bootstrap"] = broker_list(base.config);
  sweep["scenario_flags"] = base.flags;
  sweep["interrupted"] = false;
  out["sweep"] = sweep;
  out["cells"] = Json::array();

  const auto started = std::chrono::steady_clock::now();
  auto since_start = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  std::printf("sweep: %zu cells, %s each after a %s warm-up, %s pause between cells\n", cells.size(),
              driver::format_duration(plan.step_duration).c_str(), driver::format_duration(plan.warmup).c_str(),
              driver::format_duration(plan.pause).c_str());
  std::printf("%4s %8s %10s %12s %12s %8s %8s %9s %9s %9s %6s\n", "cell", "clients", "rate/cl", "offered/s",
              "achieved/s", "loss%", "failing", "p50 ms", "p99 ms", "max ms", "busy");
  std::fflush(stdout);
  CapacityProgress progress("sweep", cells.size(), seconds(plan.warmup) + seconds(plan.step_duration), seconds(plan.pause));
  for (size_t i = 0; i < cells.size() && !interrupted; ++i) {
    const driver::RunConfig& cell = cells[i];
    if (i > 0 && !pause_unless_interrupted(seconds(plan.pause), interrupted)) break;
    const double started_s = since_start();
    const std::string command = command_line(base, cell_flags(cell));
    progress.begin_cell(i, std::to_string(cell.clients) + (cell.clients == 1 ? " client at " : " clients at ") + number_text(cell.rate) + " msg/s");
    ScenarioRun run = run_scenario(cell, base, command, [&](const driver::IntervalReport& r) {
      if (plan.progress) {
        std::cout << report::interval_line(r, cell) << std::endl;
      } else {
        progress.on_interval(r, cell);
      }
    });
    progress.end_cell();
    if (!run.ok) {
      std::cerr << "wirestress sweep: cell " << i << ": " << run.error << "\n";
      return 1;
    }
    if (!run.notice.empty() && i == 0) std::cerr << "wirestress sweep: " << run.notice << "\n";
    const LoadFigures f = load_figures(run.json);
    const double rate_per_client = cell.rate / cell.clients;
    std::printf("%4zu %8u %10s %12.0f %12.0f %8.3f %8llu %9.2f %9.2f %9.2f %5.0f%%\n", i, cell.clients,
                number_text(rate_per_client).c_str(), f.offered_msgs_per_s, f.achieved_msgs_per_s, 100 * f.loss,
                static_cast<unsigned long long>(f.failing_clients), f.latency_ms[kP50], f.latency_ms[kP99], f.latency_ms[kMax],
                100 * f.client_busy);
    std::fflush(stdout);
    Json c;
    c["index"] = i;
    c["clients"] = cell.clients;
    c["rate_per_client"] = rate_per_client;
    c["offered_msgs_per_s"] = cell.rate;
    c["topic"] = cell.topic;
    c["started_s"] = started_s;
    c["command"] = command;
    c["figures"] = figures_json(f);
    c["result"] = std::move(run.json);
    out["cells"].push_back(std::move(c));
    out["sweep"]["elapsed_s"] = since_start();
    out["sweep"]["interrupted"] = interrupted.load();
    // Rewritten after every cell: an interrupted or failed sweep keeps what it measured.
    if (!plan.json_path.empty() && !write_json_file(plan.json_path, out)) {
      std::cerr << "wirestress sweep: --json: cannot write " << plan.json_path << "\n";
      return 1;
    }
  }
  out["sweep"]["interrupted"] = interrupted.load();
  if (!plan.json_path.empty() && !write_json_file(plan.json_path, out)) {
    std::cerr << "wirestress sweep: --json: cannot write " << plan.json_path << "\n";
    return 1;
  }
  std::printf("sweep: %zu of %zu cells in %.1f s%s%s%s\n", out["cells"].size(), cells.size(), since_start(),
              interrupted ? " (interrupted)" : "", plan.json_path.empty() ? "" : ", written to ",
              plan.json_path.c_str());
  return 0;
}

}  // namespace ws::capacity
