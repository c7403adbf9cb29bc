#include "tools/run_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "stats/hlog.h"
#include "stats/report/omb_result.h"
#include "stats/report/prometheus_text.h"
#include "stats/report/result_json.h"
#include "stats/report/run_text.h"
#include "tools/metrics_server.h"
#include "ws_version.h"

namespace ws::tools {
namespace {

std::atomic<RunEngine*> g_engine{nullptr};
std::atomic<int> g_signals{0};  // lock-free, so safe to touch from a signal handler

// First Ctrl-C: stop sending, drain, report. Second: leave at once.
void on_signal(int) {
  if (++g_signals > 1) _exit(130);
  if (RunEngine* engine = g_engine.load()) engine->request_stop();
}

}  // namespace

int run_and_report(const RunOptions& options, RunEngine& engine, const RunIdentity& identity) {
  const driver::RunConfig& config = options.run;
  const std::string& tool = identity.tool;
  // Result files are checked before the run, so a typo does not cost the run.
  for (const auto& [flag, path] : {std::pair{"--json", &options.json_path}, std::pair{"--csv", &options.csv_path},
                                   std::pair{"--hlog", &options.hlog_path},
                                   std::pair{"--omb-result", &options.omb_result_path}}) {
    if (*path == "-" && std::string_view(flag) == "--json") continue;  // stdout
    if (const std::string problem = check_output_path(flag, *path); !problem.empty()) {
      std::cerr << tool << ": " << problem << "\n";
      return 2;
    }
  }
  driver::latency_histogram_spec() = {
      std::chrono::duration_cast<std::chrono::microseconds>(options.latency_max).count(), options.latency_digits};

  std::string error, notice;
  if (!engine.prepare(error, notice)) {
    std::cerr << tool << ": " << error << "\n";
    return 1;
  }
  if (!notice.empty()) std::cerr << tool << ": " << notice << "\n";

  std::ofstream csv;
  if (!options.csv_path.empty()) {
    csv.open(options.csv_path);
    csv << report::csv_header();
  }
  // --prometheus: the server thread serves the text rendered at the last interval.
  std::mutex metrics_mutex;
  std::string metrics_text;
  driver::Metrics cumulative;  // summaries' _sum/_count must never go down
  MetricsServer metrics_server;
  if (options.prometheus_port >= 0) {
    if (!metrics_server.start(static_cast<uint16_t>(options.prometheus_port),
                              [&] {
                                std::lock_guard lock(metrics_mutex);
                                return metrics_text;
                              },
                              error, options.prometheus_bind)) {
      std::cerr << tool << ": --prometheus: " << error << "\n";
      return 1;
    }
    std::cerr << tool << ": serving Prometheus metrics on http://" << options.prometheus_bind << ":"
              << metrics_server.port() << "/metrics\n";
  }
  // --hlog: an HdrHistogram interval log, one line per interval and latency view.
  std::ofstream hlog_file;
  std::unique_ptr<stats::HlogWriter> hlog;
  if (!options.hlog_path.empty()) {
    hlog_file.open(options.hlog_path);
    hlog = std::make_unique<stats::HlogWriter>(hlog_file);
    const double now_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    hlog->write_header(now_s, tool + " latency in microseconds; Interval_Max in milliseconds");
  }

  g_engine.store(&engine);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  report::Json intervals = report::Json::array();
  // --omb-result: OMB names a run by its workload; without one, by its shape as OMB's names go.
  std::optional<report::OmbResultRecorder> omb;
  if (!options.omb_result_path.empty()) {
    const std::string name = report::omb_workload_name(config, options.workload ? options.workload->name : "");
    omb.emplace(config, report::OmbRunShape{name, static_cast<uint32_t>(options.embedded_partitions)});
  }
  long peak_threads = 0;
  driver::RunResult result = engine.run([&](const driver::IntervalReport& r) {
    peak_threads = std::max(peak_threads, report::current_thread_count());
    if (metrics_server.running()) {
      cumulative.add(*r.interval);
      std::string text = report::render_prometheus(r, config, &cumulative);
      std::lock_guard lock(metrics_mutex);
      metrics_text = std::move(text);
    }
    if (!options.quiet) std::cout << report::interval_line(r, config) << std::endl;
    if (!options.json_path.empty()) intervals.push_back(report::interval_json(r, config));
    if (omb) omb->add_interval(r);
    if (csv.is_open()) csv << report::csv_row(r, config) << std::flush;
    if (hlog) {
      // Split as the result splits samples (by each worker, at the instant the measured time
      // began), not by the interval's phase: the untagged lines add up to the JSON's counts.
      const double start_s = std::max(0.0, r.elapsed_s - r.interval_s);
      auto write = [&](const std::string& prefix, const driver::Metrics& part) {
        hlog->write_interval(prefix + "latency_us", start_s, r.elapsed_s - start_s, part.latency_us, 1000.0);
        hlog->write_interval(prefix + "service_latency_us", start_s, r.elapsed_s - start_s, part.service_latency_us,
                             1000.0);
      };
      const auto holds_samples = [](const driver::Metrics& m) { return m.latency_us.total_count() > 0; };
      if (r.phase == driver::Phase::kWarmUp || holds_samples(*r.before_measured)) write("warmup_", *r.before_measured);
      if (!r.warmup() || holds_samples(*r.measured)) write("", *r.measured);
      hlog_file.flush();
    }
  });
  g_engine.store(nullptr);

  report::ProcessFigures process = report::read_process_figures();
  process.threads = std::max(process.threads, peak_threads);
  report::RunContext context;
  context.tool = tool;
  context.broker = identity.broker;
  context.command_line = identity.command_line;
  context.version = WS_VERSION;
  context.verdict = driver::judge(result, config);
  std::cout << report::summary(result, config, context, process) << std::flush;
  if (context.verdict.status == driver::ExitStatus::kUsage && !result.fatal.empty()) {
    std::cerr << tool << ": " << result.fatal << "\n";  // the one line a script sees for exit 2
  }
  if (options.json_path == "-") {
    // Between markers, so that a collector can cut it out of a log (kubectl logs) with other lines.
    std::cout << kResultBeginMarker << "\n"
              << report::result_json(result, config, context, process, std::move(intervals)).dump(2) << "\n"
              << kResultEndMarker << "\n"
              << std::flush;
  } else if (!options.json_path.empty()) {
    std::ofstream out(options.json_path);
    out << report::result_json(result, config, context, process, std::move(intervals)).dump(2) << "\n";
    if (!out) {
      std::cerr << tool << ": --json: cannot write " << options.json_path << "\n";
      return 1;
    }
  }
  if (omb) {
    std::ofstream out(options.omb_result_path);
    out << omb->result(result).dump(2) << "\n";
    if (!out) {
      std::cerr << tool << ": --omb-result: cannot write " << options.omb_result_path << "\n";
      return 1;
    }
  }
  if ((csv.is_open() && !csv) || (hlog_file.is_open() && !hlog_file)) {
    std::cerr << tool << ": --csv/--hlog: writing failed (disk full?)\n";
    return 1;
  }
  return static_cast<int>(context.verdict.status);
}

}  // namespace ws::tools
