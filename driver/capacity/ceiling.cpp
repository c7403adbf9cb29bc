#include "driver/capacity/ceiling.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

#include "driver/capacity/progress.h"
#include "stats/report/run_text.h"

namespace ws::capacity {
namespace {

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

std::string reasons_text(const std::vector<Violation>& violations) {
  if (violations.empty()) return "ok";
  std::string text;
  for (const auto& v : violations) {
    if (text.find(v.reason) == std::string::npos) text += (text.empty() ? "" : ",") + v.reason;
  }
  return text;
}

std::vector<std::string> step_flags(const driver::RunConfig& c) {
  return {"--clients=" + std::to_string(c.clients), "--rate=" + number_text(c.rate),
          "--duration=" + driver::format_duration(c.duration), "--warmup=" + driver::format_duration(c.warmup),
          "--topic=" + c.topic};
}

}  // namespace

driver::RunConfig ceiling_step(const CeilingPlan& plan, const ScenarioBase& base, double load, size_t index,
                               std::string& error) {
  driver::RunConfig c = base.config;
  c.clients = plan.by_connections ? static_cast<uint32_t>(load) : plan.clients;
  c.rate = plan.by_connections ? load * plan.rate_per_client : load;
  c.duration = plan.step_duration;
  c.messages = 0;
  c.warmup = plan.warmup;
  c.topic = plan.topic_per_step ? plan.topic + "-s" + std::to_string(index) : plan.topic;
  if (auto e = c.validate()) error = "wirestress ceiling: step " + std::to_string(index) + ": " + e->message();
  return c;
}

int run_ceiling(const CeilingPlan& plan, const ScenarioBase& base, std::atomic<bool>& interrupted) {
  for (const double load : {plan.settings.start, plan.settings.max}) {
    std::string error;
    ceiling_step(plan, base, load, 0, error);
    if (!error.empty()) {
      std::cerr << error << "\n";
      return 2;
    }
  }
  const CeilingLimits& limits = plan.limits;
  const SearchSettings& settings = plan.settings;
  const bool by_connections = plan.by_connections;
  CeilingSearch search(settings);
  Json out;
  out["kind"] = "ceiling";
  out["ceiling"] = {{"ramp", by_connections ? "connections" : "rate"}};  // filled in at the end
  out["limits"] = {{"slo_p99_ms", limits.slo_p99_ms},
                   {"max_error_rate", limits.max_error_rate},
                   {"max_loss", limits.max_loss},
                   {"max_failing_clients", limits.max_failing_clients},
                   {"min_achieved", limits.min_achieved},
                   {"client_busy_max", limits.client_busy_max}};
  out["search"] = {{"start", settings.start},          {"max", settings.max},
                   {"step_factor", settings.factor},   {"precision", settings.precision},
                   {"max_steps", settings.max_steps},  {"step_duration_s", seconds(plan.step_duration)},
                   {"warmup_s", seconds(plan.warmup)}, {"pause_s", seconds(plan.pause)},
                   {"bootstrap", broker_list(base.config)},
                   {"scenario_flags", base.flags}};
  if (by_connections) {
    out["search"]["rate_per_client"] = plan.rate_per_client;
  } else {
    out["search"]["clients"] = plan.clients;
  }
  out["steps"] = Json::array();

  const auto started = std::chrono::steady_clock::now();
  auto since_start = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  std::printf("ceiling: %s ramp from %s %s, x%g per step, %s per step after a %s warm-up; SLO p99 <= %g ms, "
              "errors <= %g%%, loss <= %g%%\n",
              by_connections ? "connections" : "rate", number_text(settings.start).c_str(),
              by_connections ? "clients" : "msg/s", settings.factor, driver::format_duration(plan.step_duration).c_str(),
              driver::format_duration(plan.warmup).c_str(), limits.slo_p99_ms, 100 * limits.max_error_rate,
              100 * limits.max_loss);
  std::printf("%4s %-6s %8s %12s %12s %7s %7s %7s %9s %9s %6s %6s  %s\n", "step", "phase", "clients", "offered/s",
              "achieved/s", "err%", "loss%", "failing", "p50 ms", "p99 ms", "busy", "window", "verdict");
  std::fflush(stdout);

  std::map<double, size_t> step_at_load;  // which step ran each load (for the limiting step's reasons)
  std::vector<std::vector<Violation>> step_violations;
  // A ceiling's steps are decided as it goes: no count, no ETA.
  CapacityProgress progress("ceiling", std::nullopt, seconds(plan.warmup) + seconds(plan.step_duration),
                            seconds(plan.pause));
  while (!interrupted) {
    const auto load = search.next();
    if (!load) break;
    const size_t index = out["steps"].size();
    if (index > 0 && !pause_unless_interrupted(seconds(plan.pause), interrupted)) break;
    std::string error;
    const driver::RunConfig step_config = ceiling_step(plan, base, *load, index, error);
    if (!error.empty()) {
      std::cerr << error << "\n";
      return 2;
    }
    const std::string command = command_line(base, step_flags(step_config));
    const char* phase = search.bisecting() ? "bisect" : "ramp";
    const double started_s = since_start();
    progress.begin_cell(index, std::string(phase) + ", " + std::to_string(step_config.clients) +
                                   (step_config.clients == 1 ? " client at " : " clients at ") +
                                   number_text(step_config.rate) + " msg/s");
    ScenarioRun run = run_scenario(step_config, base, command, [&](const driver::IntervalReport& r) {
      if (plan.progress) {
        std::cout << report::interval_line(r, step_config) << std::endl;
      } else {
        progress.on_interval(r, step_config);
      }
    });
    progress.end_cell();
    if (!run.ok) {
      std::cerr << "wirestress ceiling: step " << index << ": " << run.error << "\n";
      return 1;
    }
    if (!run.notice.empty() && index == 0) std::cerr << "wirestress ceiling: " << run.notice << "\n";
    if (interrupted) break;  // a step cut short says nothing about its load
    const LoadFigures f = load_figures(run.json);
    if (std::string omb_error; !plan.omb_result.write("step", index, step_config, run.json, omb_error)) {
      std::cerr << "wirestress ceiling: --omb-result: " << omb_error << "\n";
      return 1;
    }
    const auto violations = check_limits(f, limits);
    const std::string window = f.window_use >= 0 ? number_text(std::round(100 * f.window_use)) + "%" : "-";
    std::printf("%4zu %-6s %8u %12.0f %12.0f %7.3f %7.3f %7llu %9.2f %9.2f %5.0f%% %6s  %s\n", index, phase,
                step_config.clients, f.offered_msgs_per_s, f.achieved_msgs_per_s, 100 * f.error_rate, 100 * f.loss,
                static_cast<unsigned long long>(f.failing_clients), f.latency_ms[kP50], f.latency_ms[kP99],
                100 * f.client_busy, window.c_str(), reasons_text(violations).c_str());
    for (const auto& v : violations) std::printf("%60s- %s: %s\n", "", v.reason.c_str(), v.detail.c_str());
    std::fflush(stdout);
    search.record(*load, violations.empty());
    step_at_load[*load] = index;
    step_violations.push_back(violations);

    Json step;
    step["index"] = index;
    step["phase"] = phase;
    step["load"] = *load;
    step["clients"] = step_config.clients;
    step["offered_msgs_per_s"] = step_config.rate;
    step["topic"] = step_config.topic;
    step["started_s"] = started_s;
    step["ok"] = violations.empty();
    step["violations"] = Json::array();
    for (const auto& v : violations) step["violations"].push_back({{"reason", v.reason}, {"detail", v.detail}});
    step["command"] = command;
    step["figures"] = figures_json(f);
    step["result"] = std::move(run.json);
    out["steps"].push_back(std::move(step));
    if (!plan.json_path.empty() && !write_json_file(plan.json_path, out)) {  // kept current after every step
      std::cerr << "wirestress ceiling: --json: cannot write " << plan.json_path << "\n";
      return 1;
    }
  }

  // The answer: the best good step, limited by what broke at the lowest failing load.
  const double best = search.best_ok();
  const auto bad_load = search.first_bad();
  Json& ceiling = out["ceiling"];  // no key is added to `out` while this reference lives
  std::string limited_by = "none", detail;
  if (bad_load) {
    const size_t bad_step = step_at_load[*bad_load];
    limited_by = step_violations[bad_step].front().reason;
    for (const auto& v : step_violations[bad_step]) detail += (detail.empty() ? "" : "; ") + v.reason + ": " + v.detail;
    ceiling["first_failing_step"] = bad_step;
    // Latency and a plateau are symptoms. Just above the ceiling the client may not be saturated
    // yet, but if it was at a higher failing step, it is the cause: say so, not "the broker".
    if (limited_by == "latency" || limited_by == "throughput_plateau") {
      for (size_t i = 0; i < step_violations.size(); ++i) {
        const auto client = std::find_if(step_violations[i].begin(), step_violations[i].end(),
                                         [](const Violation& v) { return v.reason == "client"; });
        if (client == step_violations[i].end()) continue;
        limited_by = "client";
        detail = "at step " + std::to_string(i) + " (" + number_text(out["steps"][i]["load"].get<double>()) +
                 (by_connections ? " clients" : " msg/s") + ") " + client->detail + "; at the first failing load: " +
                 detail;
        break;
      }
    }
  }
  const auto best_step = step_at_load.find(best);
  const double best_rate = best > 0 ? (by_connections ? best * plan.rate_per_client : best) : 0;
  ceiling["max_sustainable_msgs_per_s"] = best_rate;
  if (best_step != step_at_load.end()) {
    ceiling["achieved_msgs_per_s"] = out["steps"][best_step->second]["figures"]["achieved_msgs_per_s"];
    ceiling["best_step"] = best_step->second;
  }
  if (by_connections) {
    ceiling["max_connections"] = static_cast<uint32_t>(best);
    ceiling["rate_per_client"] = plan.rate_per_client;
  } else {
    ceiling["clients"] = plan.clients;
  }
  ceiling["limited_by"] = limited_by;
  ceiling["limit_detail"] = detail;
  if (bad_load) ceiling["first_failing_load"] = *bad_load;
  ceiling["reached_max"] = search.reached_max();
  ceiling["steps"] = out["steps"].size();
  ceiling["interrupted"] = interrupted.load();
  ceiling["elapsed_s"] = since_start();
  if (!plan.json_path.empty() && !write_json_file(plan.json_path, out)) {
    std::cerr << "wirestress ceiling: --json: cannot write " << plan.json_path << "\n";
    return 1;
  }

  if (by_connections) {
    std::printf("\nceiling: %u connections at %s msg/s each (%.0f msg/s)", static_cast<uint32_t>(best),
                number_text(plan.rate_per_client).c_str(), best_rate);
  } else {
    std::printf("\nceiling: %.0f msg/s over %u clients", best_rate, plan.clients);
  }
  if (bad_load) {
    std::printf(", limited by %s (at %s %s: %s)\n", limited_by.c_str(), number_text(*bad_load).c_str(),
                by_connections ? "clients" : "msg/s", detail.c_str());
  } else {
    std::printf(", no limit reached%s\n", search.reached_max() ? (by_connections ? " up to --max-clients" : " up to --max-rate")
                                                                : "");
  }
  if (bad_load && best <= 0) {
    std::printf("ceiling: the first step already failed: lower %s\n", by_connections ? "--start-clients" : "--start-rate");
  }
  if (interrupted) std::printf("ceiling: interrupted after %zu steps\n", out["steps"].size());
  std::fflush(stdout);
  return 0;
}

}  // namespace ws::capacity
