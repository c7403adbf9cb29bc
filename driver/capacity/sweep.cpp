#include "driver/capacity/sweep.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "driver/capacity/figures.h"
#include "driver/capacity/progress.h"
#include "stats/report/run_text.h"

namespace ws::capacity {
namespace {

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

std::vector<std::string> cell_flags(const driver::RunConfig& c) {
  std::vector<std::string> flags = {"--clients=" + std::to_string(c.clients), "--rate=" + number_text(c.rate)};
  if (c.consumers > 0) flags.push_back("--consumers=" + std::to_string(c.consumers));
  for (auto flag : {"--duration=" + driver::format_duration(c.duration), "--warmup=" + driver::format_duration(c.warmup),
                    "--topic=" + c.topic}) {
    flags.push_back(std::move(flag));
  }
  if (!c.group.prefix.empty()) flags.push_back("--group-prefix=" + c.group.prefix);
  return flags;
}

// The single run a cell is: the scenario flags as typed, less the --group-prefix the cell replaces.
std::string cell_command(const ScenarioBase& base, const driver::RunConfig& c) {
  ScenarioBase shown = base;
  if (!c.group.prefix.empty()) {
    std::erase_if(shown.flags, [](const std::string& f) { return f.starts_with("--group-prefix"); });
  }
  return command_line(shown, cell_flags(c));
}

std::string count_text(uint32_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string cell_label(const driver::RunConfig& cell) {
  std::string label = count_text(cell.clients, "client", "clients");
  if (cell.consumers > 0) label += ", " + count_text(cell.consumers, "consumer", "consumers");
  return label + " at " + number_text(cell.rate) + " msg/s";
}

std::vector<driver::RunConfig> sweep_cells(const SweepPlan& plan, const ScenarioBase& base, std::string& error) {
  std::vector<driver::RunConfig> cells;
  const std::vector<uint32_t> consumers = plan.consumers.empty() ? std::vector<uint32_t>{base.config.consumers}
                                                                 : plan.consumers;
  for (const uint32_t clients : plan.clients) {
    for (const uint32_t consumer_count : consumers) {
      for (const double rate : plan.rates) {
        driver::RunConfig c = base.config;
        c.clients = clients;
        c.consumers = consumer_count;
        c.rate = plan.rate_is_total ? rate : clients * rate;
        c.duration = plan.step_duration;
        c.messages = 0;
        c.warmup = plan.warmup;
        const std::string suffix = "-c" + std::to_string(cells.size());
        c.topic = plan.topic_per_cell ? plan.topic + suffix : plan.topic;
        // Without a prefix every run's groups are its own already; with one, cells would meet in
        // the same groups and each would wait for the last cell's members to time out.
        if (plan.topic_per_cell && !c.group.prefix.empty()) c.group.prefix += suffix;
        if (auto e = c.validate()) {
          error = "wirestress sweep: cell " + std::to_string(cells.size()) + " (" + cell_label(c) + "): " + e->message();
          return {};
        }
        cells.push_back(std::move(c));
      }
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
  const bool with_consumers = std::any_of(cells.begin(), cells.end(), [](const auto& c) { return c.consumers > 0; });
  Json out;
  out["kind"] = "sweep";
  Json sweep;  // becomes out["sweep"] (a reference into an ordered_json would dangle as keys are added)
  // The axes in loop order; the rate is per client or the cell's total, as given.
  sweep["axes"] = plan.consumers.empty() ? Json{"clients", plan.rate_is_total ? "rate" : "rate_per_client"}
                                         : Json{"clients", "consumers", plan.rate_is_total ? "rate" : "rate_per_client"};
  sweep["clients"] = plan.clients;
  if (!plan.consumers.empty()) sweep["consumers"] = plan.consumers;
  sweep[plan.rate_is_total ? "rate" : "rate_per_client"] = plan.rates;
  sweep["step_duration_s"] = seconds(plan.step_duration);
  sweep["warmup_s"] = seconds(plan.warmup);
  sweep["pause_s"] = seconds(plan.pause);
  sweep["topic"] = plan.topic;
  sweep["topic_per_cell"] = plan.topic_per_cell;
  sweep["bootstrap"] = broker_list(base.config);
  sweep["scenario_flags"] = base.flags;
  if (base.config.group.enabled()) sweep["group_mode"] = driver::group_mode_name(base.config.group.mode);
  sweep["cell_count"] = cells.size();
  sweep["interrupted"] = false;
  out["sweep"] = sweep;
  out["cells"] = Json::array();

  const auto started = std::chrono::steady_clock::now();
  auto since_start = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  std::printf("sweep: %zu cells, %s each after a %s warm-up, %s pause between cells\n", cells.size(),
              driver::format_duration(plan.step_duration).c_str(), driver::format_duration(plan.warmup).c_str(),
              driver::format_duration(plan.pause).c_str());
  std::printf("%4s %8s %9s %10s %12s %12s", "cell", "clients", "consumers", "rate/cl", "offered/s", "achieved/s");
  if (with_consumers) std::printf(" %12s %9s", "min/consumer", "fail.cons");
  std::printf(" %8s %8s %9s %9s %9s %6s\n", "loss%", "failing", "p50 ms", "p99 ms", "max ms", "busy");
  std::fflush(stdout);
  CapacityProgress progress("sweep", cells.size(), seconds(plan.warmup) + seconds(plan.step_duration), seconds(plan.pause));
  for (size_t i = 0; i < cells.size() && !interrupted; ++i) {
    const driver::RunConfig& cell = cells[i];
    if (i > 0 && !pause_unless_interrupted(seconds(plan.pause), interrupted)) break;
    const double started_s = since_start();
    const std::string command = cell_command(base, cell);
    progress.begin_cell(i, cell_label(cell));
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
    if (std::string omb_error; !plan.omb_result.write("cell", i, cell, run.json, omb_error)) {
      std::cerr << "wirestress sweep: --omb-result: " << omb_error << "\n";
      return 1;
    }
    const double rate_per_client = cell.rate / cell.clients;
    std::printf("%4zu %8u %9u %10s %12.0f %12.0f", i, cell.clients, cell.consumers, number_text(rate_per_client).c_str(),
                f.offered_msgs_per_s, f.achieved_msgs_per_s);
    if (with_consumers) std::printf(" %12.0f %9u", f.received_min_msgs_per_s, f.failing_consumers);
    std::printf(" %8.3f %8llu %9.2f %9.2f %9.2f %5.0f%%\n", 100 * f.loss,
                static_cast<unsigned long long>(f.failing_clients), f.latency_ms[kP50], f.latency_ms[kP99],
                f.latency_ms[kMax], 100 * f.client_busy);
    if (f.groups > 0) {
      std::printf("     groups: %u members in %u groups, %u stable, last stable after %.2f s, join p99 %.1f ms\n",
                  f.group_members, f.groups, f.groups_stable, f.time_to_stable_max_s, f.join_p99_ms);
    }
    std::fflush(stdout);
    Json c;
    c["index"] = i;
    c["clients"] = cell.clients;
    c["consumers"] = cell.consumers;
    c["rate_per_client"] = rate_per_client;
    c["offered_msgs_per_s"] = cell.rate;
    c["topic"] = cell.topic;
    if (cell.group.enabled()) {
      c["group_mode"] = driver::group_mode_name(cell.group.mode);
      if (!cell.group.prefix.empty()) c["group_prefix"] = cell.group.prefix;
    }
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
