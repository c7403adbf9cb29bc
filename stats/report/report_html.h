// `wirestress report RESULT.json -o report.html`: one self-contained HTML page (inline SVG, no
// script, nothing fetched when viewed) from a sweep, a ceiling or a single-run result, plus the same
// charts as SVG or PNG files for slides.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "stats/report/svg_chart.h"

namespace ws::report {

enum class ResultKind { kSweep, kCeiling, kRun, kUnknown };
ResultKind result_kind(const nlohmann::ordered_json& result);

// The charts a result makes: for a sweep, per client count, achieved rate, loss, failing clients
// and latency against the offered rate; for a ceiling the same per step with the ceiling and the
// SLO marked; for every kind the per-interval timelines (throughput, latency, connections, busy).
std::vector<Chart> report_charts(const nlohmann::ordered_json& result);

// The page: title, headline figures, the charts inline, the table of cells or steps.
std::string report_html(const nlohmann::ordered_json& result, const std::string& source_name);

// Several single-run results compared (`wirestress report A.json B.json ...`): the same scenario
// before and after a broker change, or wirestress against the librdkafka baseline.
struct LabelledRun {
  std::string label;
  nlohmann::ordered_json result;
};
// One series per run (same colour in every chart, in the runs' order), x = seconds into that
// run's measured time with what came before shaded: acknowledged msg/s, MB/s sent, latency p99 and
// p50, end-to-end p99 and p50 when consumers ran; and the latency by percentile of each run's
// whole histogram, x = 1/(1-p) on a log scale as HdrHistogram plots it.
std::vector<Chart> overlay_charts(const std::vector<LabelledRun>& runs);
// The page: a table with a row per run (figures, exit code and degraded reasons), each run's
// scenario, the charts inline.
std::string overlay_html(const std::vector<LabelledRun>& runs);

using Json = nlohmann::ordered_json;

// Runs a program (no shell) and says whether it exited 0; and whether one is on the PATH.
bool run_program(const std::vector<std::string>& args);
bool program_exists(const std::string& name);

}  // namespace ws::report
