// wirestress: parse options, start an embedded broker if none was given, run, report.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>

#include "driver/runner.h"
#include "tools/embedded_broker.h"
#include "tools/metrics_server.h"
#include "tools/options.h"
#include "tools/report.h"

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
  auto parsed = ws::tools::parse_options(argc, argv);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.output << "\n";
    return parsed.exit_code;
  }
  ws::tools::Options options = std::move(*parsed.options);
  ws::driver::RunConfig& config = options.run;

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
