// `wirestress merge`: combine the results of several runs (e.g. one per load host) exactly:
// counters summed, latency histograms merged bucket by bucket, percentiles recomputed.
#pragma once

namespace ws::tools {

// argv[0] is "merge". Returns the process exit code (2 for bad usage).
int run_merge(int argc, const char* const* argv);

}  // namespace ws::tools
