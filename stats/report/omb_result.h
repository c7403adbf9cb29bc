// --omb-result: a run written as OpenMessaging Benchmark (OMB) writes its TestResult JSON, so OMB's
// chart scripts and anything reading OMB results can set wirestress runs beside OMB's.
//
// OMB's fields and units: rates in messages/s per reporting period, backlog in messages, latencies
// in milliseconds (with decimals), quantile maps keyed by percentile. Mapping:
// - publishLatency* is OMB's send-to-acknowledgement time: wirestress's service latency (from the
//   actual send). OMB's publishDelayLatency* (how late a send started against its schedule) has
//   no histogram of its own in wirestress, so those fields are left out rather than made up.
// - endToEndLatency* needs the --verify stamp (a workload with consumers turns it on).
// - Periods are wirestress's report intervals (--report-interval, 1 s; OMB's are 10 s), measured
//   phase only (OMB leaves its warm-up out too).
// - backlog: records sent (acknowledged) times consumers per topic, less records received, as OMB
//   counts it per subscription; wirestress's consumers each read their whole topic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/reporting.h"
#include "stats/histogram.h"
#include "stats/report/result_json.h"

namespace ws::report {

// What the run's config does not say: the OMB workload's name and its partitions per topic.
struct OmbRunShape {
  std::string workload;
  uint32_t partitions_per_topic = 0;
};

// OMB's percentile columns: Avg, 50pct ... 99999pct, Max, as one period's figures in ms.
struct OmbLatencyColumns {
  std::vector<double> avg, p50, p75, p95, p99, p999, p9999, p99999, max;
  void add(const stats::HdrHistogram& h_us);
};

// Collects the per-period series while the run goes (interval histograms live only as long as
// the callback), then writes the whole result.
class OmbResultRecorder {
 public:
  OmbResultRecorder(const driver::RunConfig& config, OmbRunShape shape) : config_(config), shape_(std::move(shape)) {}
  void add_interval(const driver::IntervalReport& r);  // keeps the measured phase's intervals
  Json result(const driver::RunResult& result) const;

 private:
  const driver::RunConfig& config_;
  OmbRunShape shape_;
  std::vector<double> publish_rate_, publish_error_rate_, consume_rate_;
  std::vector<int64_t> backlog_;
  OmbLatencyColumns publish_, end_to_end_;
};

// HdrHistogram's percentile iteration with `ticks_per_half_distance` (OMB asks for 100): percentile
// -> value in ms, densest towards the tail, ending at 100 = max. Empty for an empty histogram.
std::vector<std::pair<double, double>> omb_quantiles(const stats::HdrHistogram& h_us, int ticks_per_half_distance);

}  // namespace ws::report
