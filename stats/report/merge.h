// Combining the results of several runs made at the same time (e.g. one per load host) exactly:
// counters summed, latency histograms merged bucket by bucket, percentiles recomputed.
#pragma once

#include <string>
#include <vector>

namespace ws::report {

// Result JSONs of one kind (runs, sweeps or ceilings; sweeps and ceilings cell by cell) into one
// (`json_out` when given). Returns the exit code: 1 for an unreadable input, 2 for a refusal (the
// same run twice, different kinds, or different workload shapes unless `force`, which records the
// differences). Problems are one line on stderr naming the inputs.
int merge_json(const std::vector<std::string>& inputs, const std::string& json_out, bool force = false);
// .hlog interval logs, per tag: the merged percentiles as JSON (`json_out` or stdout) and, with
// `hlog_out`, one merged log.
int merge_hlog(const std::vector<std::string>& inputs, const std::string& json_out, const std::string& hlog_out);

}  // namespace ws::report
