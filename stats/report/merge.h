// Combining the results of several runs made at the same time (e.g. one per load host) exactly:
// counters summed, latency histograms merged bucket by bucket, percentiles recomputed.
#pragma once

#include <string>
#include <vector>

namespace ws::report {

// Result JSONs into one (`json_out`, or stdout when empty). Returns the exit code; problems are
// one line on stderr naming the input.
int merge_json(const std::vector<std::string>& inputs, const std::string& json_out);
// .hlog interval logs, per tag: the merged percentiles as JSON (`json_out` or stdout) and, with
// `hlog_out`, one merged log.
int merge_hlog(const std::vector<std::string>& inputs, const std::string& json_out, const std::string& hlog_out);

}  // namespace ws::report
