// --omb-result: a run written as OpenMessaging Benchmark (OMB) writes its TestResult JSON, so OMB's
// chart scripts and anything reading OMB results can set wirestress runs beside OMB's.
//
// OMB's fields and units: rates in messages/s per reporting period, backlog in messages, publish
// and end-to-end latencies in milliseconds (with decimals), publish delay in whole microseconds
// (OMB's WorkerStats records it in us and WorkloadGenerator writes it unconverted), quantile maps
// keyed by percentile. Mapping:
// - publishLatency* is OMB's send-to-acknowledgement time: wirestress's service latency (from the
//   actual send).
// - publishDelayLatency* is how late each send started against its schedule: wirestress's publish
//   delay (actual send less intended send, per acknowledged record, as OMB takes it).
// - endToEndLatency* needs the --verify stamp (a workload with consumers turns it on).
// - Periods are wirestress's report intervals (--report-interval, 1 s; OMB's are 10 s), measured
//   phase only (OMB leaves its warm-up out too). The per-period 99999pct lists stay empty, as
//   OMB leaves them; the aggregated 99999pct figures are filled.
// - backlog: records sent (acknowledged) times consumers per topic, less records received, as OMB
//   counts it per subscription; wirestress's consumers each read their whole topic.
// Everything is read from the run's --json result (what result_json() writes): a single run and
// every cell of a sweep or ceiling make their OMB result the same way.
#pragma once

#include <cstdint>
#include <optional>
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

// OMB's name for a workload wirestress made up from flags: its shape ("4 producers / 2 consumers
// on 2 topics"), or `workload` (an OMB workload file's name) when given.
std::string omb_workload_name(const driver::RunConfig& config, const std::string& workload);

// The OMB result of a run from its --json result `run` (the config that made it says the shape);
// nothing, with `error`, when `run` lacks the histograms (an older wirestress wrote it).
std::optional<Json> omb_result(const driver::RunConfig& config, const OmbRunShape& shape, const Json& run,
                               std::string& error);

// A single run's --omb-result: keeps the interval records while the run goes (interval
// histograms live only as long as the callback), then writes the whole result.
class OmbResultRecorder {
 public:
  OmbResultRecorder(const driver::RunConfig& config, OmbRunShape shape) : config_(config), shape_(std::move(shape)) {}
  void add_interval(const driver::IntervalReport& r);
  Json result(const driver::RunResult& result) const;

 private:
  const driver::RunConfig& config_;
  OmbRunShape shape_;
  Json intervals_ = Json::array();
};

// --omb-result=PREFIX for sweep and ceiling: one complete OMB result per cell or step, written to
// PREFIX-c00.json, PREFIX-c01.json ... (sweep) or PREFIX-s00.json ... (ceiling), numbered from 0
// as the command's table, its JSON and its topics (TOPIC-cN, TOPIC-sN) number them. A ".json"
// at the end of PREFIX is dropped. Each file's workload is named after its cell or step.
struct OmbResultFiles {
  std::string prefix;  // empty: none written
  OmbRunShape shape;   // workload: an OMB workload file's name, or empty (named by each run's shape)

  // `kind` is "cell" or "step"; its first letter tags the file. Empty without a prefix.
  std::string path(const std::string& kind, size_t index) const;
  // Writes the OMB result of the run `run` (its --json result) made with `config`: true when
  // written or no prefix was given, false with `error` otherwise.
  bool write(const std::string& kind, size_t index, const driver::RunConfig& config, const Json& run,
             std::string& error) const;
};

// HdrHistogram's percentile iteration with `ticks_per_half_distance` (OMB asks for 100): percentile
// -> value (in the histogram's unit), densest towards the tail, ending at 100 = max. Empty for an
// empty histogram.
std::vector<std::pair<double, int64_t>> omb_quantiles(const stats::HdrHistogram& h, int ticks_per_half_distance);

}  // namespace ws::report
