// `wirestress report RESULT.json -o report.html`: one self-contained HTML page (inline SVG, no
// script, nothing fetched when viewed) from a sweep, a ceiling or a single-run result, plus the same
// charts as SVG or PNG files for slides.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/svg_chart.h"

namespace ws::tools {

enum class ResultKind { kSweep, kCeiling, kRun, kUnknown };
ResultKind result_kind(const nlohmann::ordered_json& result);

// The charts a result makes: for a sweep, per client count, achieved rate, loss, failing clients
// and latency against the offered rate; for a ceiling the same per step with the ceiling and the
// SLO marked; for every kind the per-interval timelines (throughput, latency, connections, busy).
std::vector<Chart> report_charts(const nlohmann::ordered_json& result);

// The page: title, headline figures, the charts inline, the table of cells or steps.
std::string report_html(const nlohmann::ordered_json& result, const std::string& source_name);

// argv[0] is "report". Returns the process exit code (2 for bad usage).
int run_report(int argc, const char* const* argv);

}  // namespace ws::tools
