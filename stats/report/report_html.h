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

using Json = nlohmann::ordered_json;

// Runs a program (no shell) and says whether it exited 0; and whether one is on the PATH.
bool run_program(const std::vector<std::string>& args);
bool program_exists(const std::string& name);

}  // namespace ws::report
