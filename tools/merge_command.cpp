// `wirestress merge`: the command line of stats/report/merge.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "stats/report/merge.h"
#include "tools/commands.h"

namespace ws::tools {
namespace {

constexpr const char* kUsage =
    "usage: wirestress merge RESULT.json... [--json=OUT]\n"
    "       wirestress merge LOG.hlog... [--json=OUT] [--hlog=OUT]\n"
    "Combines results of runs made at the same time (e.g. one per load host): counters are summed,\n"
    "throughputs added, latency histograms merged exactly (from the histograms every --json result\n"
    "and .hlog carries), so the merged percentiles are those of all samples together.";

}  // namespace

int run_merge(int argc, const char* const* argv) {
  std::vector<std::string> inputs;
  std::string json_out, hlog_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage << "\n";
      return 0;
    } else if (a.rfind("--json=", 0) == 0) {
      json_out = a.substr(7);
    } else if (a.rfind("--hlog=", 0) == 0) {
      hlog_out = a.substr(7);
    } else if (a.rfind("--", 0) == 0) {
      std::cerr << "wirestress merge: unknown option " << a << " (accepted: --json=OUT, --hlog=OUT)\n";
      return 2;
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    std::cerr << "wirestress merge: no inputs (give RESULT.json files or .hlog files)\n";
    return 2;
  }
  const bool all_json = std::all_of(inputs.begin(), inputs.end(), [](auto& p) { return p.ends_with(".json"); });
  const bool all_hlog = std::all_of(inputs.begin(), inputs.end(), [](auto& p) { return p.ends_with(".hlog"); });
  if (!all_json && !all_hlog) {
    std::cerr << "wirestress merge: inputs: give only .json results or only .hlog logs\n";
    return 2;
  }
  if (all_json && !hlog_out.empty()) {
    std::cerr << "wirestress merge: --hlog: only with .hlog inputs\n";
    return 2;
  }
  return all_json ? report::merge_json(inputs, json_out) : report::merge_hlog(inputs, json_out, hlog_out);
}

}  // namespace ws::tools
