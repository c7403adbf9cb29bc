// What wirestress prints and writes: the per-interval line, the final summary, the JSON result.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "driver/runner.h"
#include "tools/options.h"

namespace ws::tools {

// Process-wide figures for the report (getrusage, /proc).
struct ProcessFigures {
  double cpu_user_s = 0;
  double cpu_sys_s = 0;
  long peak_rss_kib = 0;
  long threads = 0;  // the most seen while the run lasted
  long voluntary_context_switches = 0;    // waits (a thread blocked and another ran)
  long involuntary_context_switches = 0;  // preemptions
};
ProcessFigures read_process_figures();
long current_thread_count();
long proc_status_value(const char* field);  // a numeric field of /proc/self/status, 0 if absent

std::string interval_line(const driver::IntervalReport& r, const driver::RunConfig& config);
std::string summary(const driver::RunResult& result, const driver::RunConfig& config,
                    const ProcessFigures& process, const char* tool = "wirestress");

// The JSON result: config, per-interval series, totals. `intervals` is the array of interval
// objects collected during the run (see interval_json).
// --csv: one header line, then one row per interval.
std::string csv_header();
std::string csv_row(const driver::IntervalReport& r, const driver::RunConfig& config);

// The "consume" section: received, rate, lost/duplicates/out of order/corrupt, failing clients,
// end-to-end latency, per consumer.
nlohmann::ordered_json consume_json(const driver::RunResult& result, const driver::RunConfig& config);
nlohmann::ordered_json interval_json(const driver::IntervalReport& r, const driver::RunConfig& config);
nlohmann::ordered_json result_json(const driver::RunResult& result, const Options& options,
                                   const std::string& broker, const ProcessFigures& process,
                                   nlohmann::ordered_json intervals);

}  // namespace ws::tools
