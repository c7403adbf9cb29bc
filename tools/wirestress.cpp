// wirestress: parse options, start an embedded broker if none was given, run, report.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>

#include "driver/runner.h"
#include "stats/hlog.h"
#include "tools/embedded_broker.h"
#include "tools/ceiling.h"
#include "tools/merge.h"
#include "tools/metrics_server.h"
#include "tools/options.h"
#include "tools/report.h"
#include "tools/report_html.h"
#include "tools/sweep.h"

namespace {

ws::driver::ShardedRunner* g_runner = nullptr;
std::atomic<int> g_signals{0};  // lock-free, so safe to touch from a signal handler

// First Ctrl-C: stop sending, drain, report. Second: leave at once.
void on_signal(int) {
  if (++g_signals > 1) _exit(130);
  if (g_runner) g_runner->request_stop();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "merge") return ws::tools::run_merge(argc - 1, argv + 1);
  if (argc > 1 && std::string(argv[1]) == "sweep") return ws::tools::run_sweep(argc - 1, argv + 1);
  if (argc > 1 && std::string(argv[1]) == "ceiling") return ws::tools::run_ceiling(argc - 1, argv + 1);
  if (argc > 1 && std::string(argv[1]) == "report") return ws::tools::run_report(argc - 1, argv + 1);
  auto parsed = ws::tools::parse_options(argc, argv);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output << "\n";
    return parsed.exit_code;
  }
  ws::tools::Options options = std::move(*parsed.options);
  ws::driver::RunConfig& config = options.run;
  ws::driver::latency_histogram_spec() = {
      std::chrono::duration_cast<std::chrono::microseconds>(options.latency_max).count(), options.latency_digits};

  std::unique_ptr<ws::tools::EmbeddedBroker> embedded;
  if (config.bootstrap.empty()) {
    embedded = std::make_unique<ws::tools::EmbeddedBroker>();
    std::string error;
    if (!embedded->start(1, config.topic, options.embedded_partitions, error)) {
      std::cerr << "wirestress: " << error << "\n";
      return 1;
    }
    config.bootstrap.push_back(embedded->bootstrap());
    std::cerr << "wirestress: no --bootstrap given: using an embedded librdkafka mock broker at "
              << embedded->bootstrap() << " (topic " << config.topic << ", "
              << options.embedded_partitions << " partitions)\n";
  }
  std::string broker_list;
  for (const auto& b : config.bootstrap) broker_list += (broker_list.empty() ? "" : ",") + b;

  ws::driver::ShardedRunner runner(config);
  std::string error, notice;
  if (!runner.prepare(error, notice)) {
    std::cerr << "wirestress: " << error << "\n";
    return 1;
  }
  if (!notice.empty()) std::cerr << "wirestress: " << notice << "\n";

  g_runner = &runner;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::ofstream csv;
  if (!options.csv_path.empty()) {
    csv.open(options.csv_path);
    if (!csv) {
      std::cerr << "wirestress: --csv: cannot write " << options.csv_path << "\n";
      return 1;
    }
    csv << ws::tools::csv_header();
  }
  // --prometheus: the server thread serves the text rendered at the last interval.
  std::mutex metrics_mutex;
  std::string metrics_text;
  ws::driver::Metrics cumulative;  // summaries' _sum/_count must never go down
  ws::tools::MetricsServer metrics_server;
  if (options.prometheus_port >= 0) {
    if (!metrics_server.start(static_cast<uint16_t>(options.prometheus_port),
                              [&] {
                                std::lock_guard lock(metrics_mutex);
                                return metrics_text;
                              },
                              error)) {
      std::cerr << "wirestress: --prometheus: " << error << "\n";
      return 1;
    }
    std::cerr << "wirestress: serving Prometheus metrics on http://0.0.0.0:" << metrics_server.port()
              << "/metrics\n";
  }

  // --hlog: an HdrHistogram interval log, one line per interval and latency view.
  std::ofstream hlog_file;
  std::unique_ptr<ws::stats::HlogWriter> hlog;
  if (!options.hlog_path.empty()) {
    hlog_file.open(options.hlog_path);
    if (!hlog_file) {
      std::cerr << "wirestress: --hlog: cannot write " << options.hlog_path << "\n";
      return 1;
    }
    hlog = std::make_unique<ws::stats::HlogWriter>(hlog_file);
    const double now_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    hlog->write_header(now_s, "wirestress latency in microseconds; Interval_Max in milliseconds");
  }

  nlohmann::ordered_json intervals = nlohmann::ordered_json::array();
  long peak_threads = 0;
  auto result = runner.run([&](const ws::driver::IntervalReport& r) {
    peak_threads = std::max(peak_threads, ws::tools::current_thread_count());
    if (metrics_server.running()) {
      cumulative.add(*r.interval);
      std::string text = ws::tools::render_prometheus(r, config, &cumulative);
      std::lock_guard lock(metrics_mutex);
      metrics_text = std::move(text);
    }
    if (!options.quiet) std::cout << ws::tools::interval_line(r, config) << std::endl;
    if (!options.json_path.empty()) intervals.push_back(ws::tools::interval_json(r, config));
    if (csv.is_open()) csv << ws::tools::csv_row(r, config) << std::flush;
    if (hlog) {
      const double start_s = std::max(0.0, r.elapsed_s - r.interval_s);
      const std::string phase = r.warmup ? "warmup_" : "";
      hlog->write_interval(phase + "latency_us", start_s, r.elapsed_s - start_s, r.interval->latency_us, 1000.0);
      hlog->write_interval(phase + "service_latency_us", start_s, r.elapsed_s - start_s,
                           r.interval->service_latency_us, 1000.0);
      hlog_file.flush();
    }
  });
  g_runner = nullptr;

  auto process = ws::tools::read_process_figures();
  process.threads = std::max(process.threads, peak_threads);
  std::cout << ws::tools::summary(result, config, process) << std::flush;
  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path);
    out << ws::tools::result_json(result, options, broker_list, process, std::move(intervals)).dump(2) << "\n";
    if (!out) {
      std::cerr << "wirestress: --json: cannot write " << options.json_path << "\n";
      return 1;
    }
  }
  return 0;
}
