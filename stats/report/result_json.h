// What a run writes: the JSON result (--json), its per-interval records, and the CSV rows
// (--csv). Takes the run's result and configuration, never the command line's options.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "driver/config.h"
#include "driver/reporting.h"
#include "stats/histogram.h"
#include "stats/report/run_text.h"

namespace ws::report {

using Json = nlohmann::ordered_json;

Json latency_json(const stats::HdrHistogram& h);  // percentiles, max, mean in ms, and the count
// Reads back a histogram the result holds under `key` of `section` (base64 of compressed V2, as
// result_json writes them); false with `error` when it is missing or malformed.
bool decode_histogram(const Json& section, const char* key, stats::HdrHistogram& out, std::string& error);

// --csv: one header line, then one row per interval.
std::string csv_header();
std::string csv_row(const driver::IntervalReport& r, const driver::RunConfig& config);

// The "consume" section: received, rate, lost/duplicates/out of order/corrupt, failing consumers,
// end-to-end latency, per consumer.
Json consume_json(const driver::RunResult& result, const driver::RunConfig& config);
Json interval_json(const driver::IntervalReport& r, const driver::RunConfig& config);
// The JSON result: config, clients and phases, per-interval series (`intervals`, collected with
// interval_json during the run), totals and histograms, brokers, the run's verdict.
Json result_json(const driver::RunResult& result, const driver::RunConfig& config, const RunContext& context,
                 const ProcessFigures& process, Json intervals);

}  // namespace ws::report
