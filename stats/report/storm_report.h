// What `wirestress storm` prints and writes: the progress line, the summary (per-stage latency
// percentiles and counts, the achieved handshakes/s) and the --json result, in the style of a
// run's (stats/report/result_json.h).
#pragma once

#include <string>

#include "driver/reporting.h"
#include "driver/storm.h"
#include "stats/report/result_json.h"
#include "stats/report/run_text.h"

namespace ws::report {

// 0 when handshakes completed; 3 (degraded) when none did, or a fatal condition ended the storm.
driver::Verdict judge_storm(const driver::StormResult& result);

// "[   3.0s] 5,000 scheduled | 4,990 completed | 0 failed | 0 dropped | 10 pending"
std::string storm_progress_line(const driver::StormProgress& p, double offered_rate);
std::string storm_summary(const driver::StormResult& result, const driver::StormConfig& config,
                          const RunContext& context, const ProcessFigures& process);
Json storm_json(const driver::StormResult& result, const driver::StormConfig& config, const RunContext& context,
                const ProcessFigures& process);

}  // namespace ws::report
