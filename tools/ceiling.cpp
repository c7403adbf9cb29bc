#include "tools/ceiling.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

#include "tools/capacity.h"
#include "tools/report.h"
#include "tools/run_scenario.h"

namespace ws::tools {
namespace {

constexpr const char* kCommand = "ceiling";

std::string reasons_text(const std::vector<Violation>& violations) {
  if (violations.empty()) return "ok";
  std::string text;
  for (const auto& v : violations) {
    if (text.find(v.reason) == std::string::npos) text += (text.empty() ? "" : ",") + v.reason;
  }
  return text;
}

}  // namespace

int run_ceiling(int argc, const char* const* argv) {
  CLI::App app{
      "wirestress ceiling: raise the offered load step by step (open loop, a warm-up per step), doubling\n"
      "until a step breaks a limit, then bisect between the last good and the first bad step. Reports the\n"
      "highest sustainable load and what limits it: latency (p99 above --slo-p99), errors, loss (with\n"
      "--consumers), throughput_plateau (achieved below --min-achieved x offered) or client (wirestress\n"
      "itself is saturated or cannot keep its schedule while the broker keeps up).\n"
      "--ramp=connections holds --rate-per-client and raises the number of clients instead.",
      "wirestress ceiling"};
  CeilingLimits limits;
  SearchSettings settings;
  std::string slo = "50ms", ramp = "rate", step_duration = "10s", warmup = "2s", pause = "1s", topic = "wirestress",
              json_path;
  CommandOwnedRunFlags owned;
  uint32_t clients = 10;
  double rate_per_client = 10, start_rate = 1000, max_rate = 1e7;
  uint32_t start_clients = 10, max_clients = 100000;
  bool topic_per_step = false, progress = false;
  app.add_option("--slo-p99", slo, "Latency SLO: p99 from the intended send time must stay at or below this")
      ->capture_default_str();
  app.add_option("--max-error-rate", limits.max_error_rate, "Highest share of failed records a good step may have")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-loss", limits.max_loss,
                 "Highest share of records consumers may miss (checked with --consumers)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-failing-clients", limits.max_failing_clients,
                 "Clients without a connection (or failed consumers) a good step may have")
      ->capture_default_str();
  app.add_option("--min-achieved", limits.min_achieved,
                 "Achieved / offered below this is a throughput plateau (achieved: acked, or received with "
                 "--consumers)")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  app.add_option("--client-busy-max", limits.client_busy_max,
                 "Share of time wirestress's event loops may be busy before the client is the limit")
      ->check(CLI::Range(0.05, 1.0))
      ->capture_default_str();
  app.add_option("--ramp", ramp, "What grows: rate (messages/s over --clients) or connections (clients at "
                                 "--rate-per-client each)")
      ->check(CLI::IsMember({"rate", "connections"}))
      ->capture_default_str();
  app.add_option("--clients", clients, "With --ramp=rate: simulated producers sharing the rate")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--start-rate", start_rate, "With --ramp=rate: the first step's messages/s")
      ->check(CLI::Range(0.001, 1e9))
      ->capture_default_str();
  app.add_option("--max-rate", max_rate, "With --ramp=rate: never offer more than this")
      ->check(CLI::Range(0.001, 1e9))
      ->capture_default_str();
  app.add_option("--rate-per-client", rate_per_client, "With --ramp=connections: messages/s each client offers")
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
  app.add_option("--precision", settings.precision,
                 "Bisect until the first bad load is within this share above the last good one")
      ->check(CLI::Range(0.001, 1.0))
      ->capture_default_str();
  app.add_option("--max-steps", settings.max_steps, "Steps at most, ramp and bisection together")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--step-duration", step_duration, "Measured time per step (after its warm-up)")->capture_default_str();
  app.add_option("--warmup", warmup, "Warm-up per step, left out of its figures")->capture_default_str();
  app.add_option("--pause", pause, "Idle time between steps")->capture_default_str();
  app.add_option("--topic", topic, "Topic every step writes to (see --topic-per-step)")->capture_default_str();
  app.add_option("--topic-per-step", topic_per_step, "Step N writes to TOPIC-sN instead")->capture_default_str();
  app.add_option("--json", json_path, "Write every step and the ceiling found to FILE");
  app.add_flag("--progress", progress, "Print every step's per-interval lines");
  owned.add_to(app);

  std::vector<std::string> scenario;
  if (auto code = parse_command_flags(app, argc, argv, kCommand, scenario)) return *code;
  auto bad = [](const std::string& flag, const std::string& value, const std::string& accepted) {
    std::cerr << "wirestress ceiling: " << flag << ": '" << value << "' is not valid; " << accepted << "\n";
    return 2;
  };
  if (auto code = owned.reject(app, kCommand, "the ceiling sets each step's rate; use --start-rate and --max-rate",
                               "use --step-duration (time per step)")) {
    return *code;
  }
  const bool by_connections = ramp == "connections";
  for (const char* flag : by_connections ? std::vector<const char*>{"--clients", "--start-rate", "--max-rate"}
                                         : std::vector<const char*>{"--rate-per-client", "--start-clients",
                                                                    "--max-clients"}) {
    if (app.count(flag)) {
      return bad(flag, app.get_option(flag)->as<std::string>(),
                 std::string("only with --ramp=") + (by_connections ? "rate" : "connections"));
    }
  }
  std::chrono::nanoseconds ns{};
  if (!parse_duration(slo, ns) || ns.count() == 0) return bad("--slo-p99", slo, "use a duration above 0 such as 50ms");
  limits.slo_p99_ms = std::chrono::duration<double, std::milli>(ns).count();
  if (!parse_duration(step_duration, ns) || ns.count() == 0) {
    return bad("--step-duration", step_duration, "use a duration above 0 such as 500ms, 10s, 2m");
  }
  if (!parse_duration(warmup, ns)) return bad("--warmup", warmup, "use a duration such as 0, 2s, 10s");
  if (!parse_duration(pause, ns)) return bad("--pause", pause, "use a duration such as 0, 1s");
  if (topic.empty()) return bad("--topic", topic, "use a non-empty topic name");
  settings.whole_numbers = by_connections;
  settings.start = by_connections ? start_clients : start_rate;
  settings.max = by_connections ? max_clients : max_rate;
  if (settings.max < settings.start) {
    return bad(by_connections ? "--max-clients" : "--max-rate", number_text(settings.max),
               "use at least the start value (" + number_text(settings.start) + ")");
  }

  // The flags of a step at `load`; checked once (at the start load) before anything runs.
  ScenarioFlags flags(kCommand, scenario);
  auto step_flags = [&](double load, size_t index) {
    const uint32_t n = by_connections ? static_cast<uint32_t>(load) : clients;
    const double rate = by_connections ? load * rate_per_client : load;
    return std::vector<std::string>{"--clients=" + std::to_string(n), "--rate=" + number_text(rate),
                                    "--duration=" + step_duration, "--warmup=" + warmup,
                                    "--topic=" + (topic_per_step ? topic + "-s" + std::to_string(index) : topic)};
  };
  for (double load : {settings.start, settings.max}) {
    const ParseOutcome parsed = flags.parse(step_flags(load, 0));
    if (!parsed.options) {
      std::cerr << parsed.output << "\n";
      return 2;
    }
  }
  std::string error;
  const Options base = *flags.parse(step_flags(settings.start, 0)).options;
  auto embedded = start_embedded_broker_if_needed(base, flags, kCommand, error);
  if (!error.empty()) {
    std::cerr << "wirestress ceiling: " << error << "\n";
    return 1;
  }

  std::atomic<bool> interrupted{false};
  install_interrupt_handlers(&interrupted);
  CeilingSearch search(settings);
  Json out;
  out["kind"] = "ceiling";
  out["ceiling"] = {{"ramp", ramp}};  // filled in at the end
  out["limits"] = {{"slo_p99_ms", limits.slo_p99_ms},
                   {"max_error_rate", limits.max_error_rate},
                   {"max_loss", limits.max_loss},
                   {"max_failing_clients", limits.max_failing_clients},
                   {"min_achieved", limits.min_achieved},
                   {"client_busy_max", limits.client_busy_max}};
  out["search"] = {{"start", settings.start},          {"max", settings.max},
                   {"step_factor", settings.factor},   {"precision", settings.precision},
                   {"max_steps", settings.max_steps},  {"step_duration_s", duration_seconds(step_duration)},
                   {"warmup_s", duration_seconds(warmup)}, {"pause_s", duration_seconds(pause)},
                   {"bootstrap", broker_list(flags.parse(step_flags(settings.start, 0)).options->run)},
                   {"scenario_flags", scenario}};
  if (by_connections) {
    out["search"]["rate_per_client"] = rate_per_client;
  } else {
    out["search"]["clients"] = clients;
  }
  out["steps"] = Json::array();

  const auto started = std::chrono::steady_clock::now();
  auto since_start = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  std::printf("ceiling: %s ramp from %s %s, x%g per step, %s per step after a %s warm-up; SLO p99 <= %g ms, "
              "errors <= %g%%, loss <= %g%%\n",
              ramp.c_str(), number_text(settings.start).c_str(), by_connections ? "clients" : "msg/s", settings.factor,
              step_duration.c_str(), warmup.c_str(), limits.slo_p99_ms, 100 * limits.max_error_rate,
              100 * limits.max_loss);
  std::printf("%4s %-6s %8s %12s %12s %7s %7s %7s %9s %9s %6s %6s  %s\n", "step", "phase", "clients", "offered/s",
              "achieved/s", "err%", "loss%", "failing", "p50 ms", "p99 ms", "busy", "window", "verdict");
  std::fflush(stdout);

  std::map<double, size_t> step_at_load;  // which step ran each load (for the limiting step's reasons)
  std::vector<std::vector<Violation>> step_violations;
  while (!interrupted) {
    const auto load = search.next();
    if (!load) break;
    const size_t index = out["steps"].size();
    if (index > 0 && !pause_unless_interrupted(duration_seconds(pause), interrupted)) break;
    const auto run_flags = step_flags(*load, index);
    const Options options = *flags.parse(run_flags).options;
    const char* phase = search.bisecting() ? "bisect" : "ramp";
    const double started_s = since_start();
    ScenarioRun run = run_scenario(options, [&](const driver::IntervalReport& r) {
      if (progress) std::cout << interval_line(r, options.run) << std::endl;
    });
    if (!run.ok) {
      std::cerr << "wirestress ceiling: step " << index << ": " << run.error << "\n";
      return 1;
    }
    if (!run.notice.empty() && index == 0) std::cerr << "wirestress ceiling: " << run.notice << "\n";
    if (interrupted) break;  // a step cut short says nothing about its load
    const LoadFigures f = load_figures(run.json);
    const auto violations = check_limits(f, limits);
    const std::string window = f.window_use >= 0 ? number_text(std::round(100 * f.window_use)) + "%" : "-";
    std::printf("%4zu %-6s %8u %12.0f %12.0f %7.3f %7.3f %7llu %9.2f %9.2f %5.0f%% %6s  %s\n", index, phase,
                options.run.clients, f.offered_msgs_per_s, f.achieved_msgs_per_s, 100 * f.error_rate, 100 * f.loss,
                static_cast<unsigned long long>(f.failing_clients), f.latency_ms[0], f.latency_ms[2],
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
    step["clients"] = options.run.clients;
    step["offered_msgs_per_s"] = options.run.rate;
    step["topic"] = options.run.topic;
    step["started_s"] = started_s;
    step["ok"] = violations.empty();
    step["violations"] = Json::array();
    for (const auto& v : violations) step["violations"].push_back({{"reason", v.reason}, {"detail", v.detail}});
    step["command"] = flags.command_line(run_flags);
    step["figures"] = figures_json(f);
    step["result"] = std::move(run.json);
    out["steps"].push_back(std::move(step));
    if (!json_path.empty() && !write_json_file(json_path, out)) {  // kept current after every step
      std::cerr << "wirestress ceiling: --json: cannot write " << json_path << "\n";
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
  const double best_rate = best > 0 ? (by_connections ? best * rate_per_client : best) : 0;
  ceiling["max_sustainable_msgs_per_s"] = best_rate;
  if (best_step != step_at_load.end()) {
    ceiling["achieved_msgs_per_s"] = out["steps"][best_step->second]["figures"]["achieved_msgs_per_s"];
    ceiling["best_step"] = best_step->second;
  }
  if (by_connections) {
    ceiling["max_connections"] = static_cast<uint32_t>(best);
    ceiling["rate_per_client"] = rate_per_client;
  } else {
    ceiling["clients"] = clients;
  }
  ceiling["limited_by"] = limited_by;
  ceiling["limit_detail"] = detail;
  if (bad_load) ceiling["first_failing_load"] = *bad_load;
  ceiling["reached_max"] = search.reached_max();
  ceiling["steps"] = out["steps"].size();
  ceiling["interrupted"] = interrupted.load();
  ceiling["elapsed_s"] = since_start();
  if (!json_path.empty() && !write_json_file(json_path, out)) {
    std::cerr << "wirestress ceiling: --json: cannot write " << json_path << "\n";
    return 1;
  }

  if (by_connections) {
    std::printf("\nceiling: %u connections at %s msg/s each (%.0f msg/s)", static_cast<uint32_t>(best),
                number_text(rate_per_client).c_str(), best_rate);
  } else {
    std::printf("\nceiling: %.0f msg/s over %u clients", best_rate, clients);
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

}  // namespace ws::tools
