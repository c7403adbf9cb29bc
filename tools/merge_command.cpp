// `wirestress merge`: the command line of stats/report/merge.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "stats/report/merge.h"
#include "tools/commands.h"

namespace ws::tools {
namespace {

constexpr const char* kUsage =
    "usage: wirestress merge RESULT.json... [--json=OUT] [--force]\n"
    "       wirestress merge LOG.hlog... [--json=OUT] [--hlog=OUT]\n"
    "Combines results of runs made at the same time (e.g. one per load host): counters are summed,\n"
    "throughputs added, latency histograms merged exactly (from the histograms every --json result\n"
    "and .hlog carries), so the merged percentiles are those of all samples together. The config says\n"
    "the combined load (clients, consumers and rate summed) and `inputs` keeps each input's config;\n"
    "the per-interval series are added up by wall-clock second; sweeps and ceilings merge cell by cell.\n"
    "Refused (exit 2): the same run or file twice, an output that is an input, and runs whose workload\n"
    "shapes differ (message size, key size, acks, compression, batch, payload) unless --force, which\n"
    "records the differences in `shape_differences`.";

// Whether two paths name one file (an output that does not exist yet is compared by its path).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code error;
  if (std::filesystem::exists(a, error) && std::filesystem::exists(b, error)) {
    return std::filesystem::equivalent(a, b, error);
  }
  return std::filesystem::weakly_canonical(a, error) == std::filesystem::weakly_canonical(b, error);
}

}  // namespace

int run_merge(int argc, const char* const* argv) {
  std::vector<std::string> inputs;
  std::string json_out, hlog_out;
  bool force = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage << "\n";
      return 0;
    } else if (a.rfind("--json=", 0) == 0) {
      json_out = a.substr(7);
    } else if (a.rfind("--hlog=", 0) == 0) {
      hlog_out = a.substr(7);
    } else if (a == "--force") {
      force = true;
    } else if (a.rfind("--", 0) == 0) {
      std::cerr << "wirestress merge: unknown option " << a << " (accepted: --json=OUT, --hlog=OUT, --force)\n";
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
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (same_file(inputs[i], inputs[k])) {
        std::cerr << "wirestress merge: " << inputs[i] << " is given twice (as " << inputs[k]
                  << "): each input may be merged once\n";
        return 2;
      }
    }
    for (const auto& [flag, out] : {std::pair{"--json", &json_out}, std::pair{"--hlog", &hlog_out}}) {
      if (!out->empty() && same_file(*out, inputs[i])) {
        std::cerr << "wirestress merge: " << flag << "=" << *out << " is also an input: it would be overwritten\n";
        return 2;
      }
    }
  }
  if (all_json && !hlog_out.empty()) {
    std::cerr << "wirestress merge: --hlog: only with .hlog inputs\n";
    return 2;
  }
  return all_json ? report::merge_json(inputs, json_out, force) : report::merge_hlog(inputs, json_out, hlog_out);
}

}  // namespace ws::tools
