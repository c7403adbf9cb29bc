#include "stats/report/merge.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/metrics.h"
#include "stats/hlog.h"
#include "stats/report/result_json.h"

namespace ws::report {
namespace {

using Json = nlohmann::ordered_json;

bool decode_histogram(const Json& j, const char* key, stats::HdrHistogram& out, std::string& error) {
  if (!j.contains(key) || !j[key].is_string()) {
    error = std::string("no ") + key + " (made by an older wirestress?)";
    return false;
  }
  std::vector<uint8_t> bytes;
  if (!stats::from_base64(j[key].get<std::string>(), bytes)) {
    error = std::string(key) + " is not base64";
    return false;
  }
  return stats::decode_v2(bytes, out, error);
}

// Adds every number of `from` into `into`, recursively (for counter maps such as errors_by_code).
void add_numbers(Json& into, const Json& from) {
  if (!into.is_object()) into = Json::object();
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (it->is_number_integer() && (!into.contains(it.key()) || into[it.key()].is_number_integer())) {
      into[it.key()] = into.value(it.key(), int64_t{0}) + it->get<int64_t>();  // counts stay exact
    } else if (it->is_number()) {
      into[it.key()] = into.value(it.key(), 0.0) + it->get<double>();
    } else if (it->is_object()) {
      add_numbers(into[it.key()], *it);
    }
  }
}

}  // namespace

int merge_json(const std::vector<std::string>& inputs, const std::string& json_out) {
  stats::HdrHistogram latency = driver::make_latency_histogram();
  stats::HdrHistogram service = driver::make_latency_histogram();
  stats::HdrHistogram e2e = driver::make_latency_histogram();
  Json produce, connections, failures, process, consume, per_consumer = Json::array();
  double elapsed = 0;
  Json first_config;
  for (const auto& path : inputs) {
    std::ifstream in(path);
    Json j;
    try {
      j = Json::parse(in);
    } catch (const std::exception& e) {
      std::cerr << "wirestress merge: " << path << ": not JSON: " << e.what() << "\n";
      return 1;
    }
    std::string error;
    stats::HdrHistogram l = driver::make_latency_histogram(), s = driver::make_latency_histogram();
    if (!j.contains("produce") || !decode_histogram(j["produce"], "latency_histogram", l, error) ||
        !decode_histogram(j["produce"], "service_latency_histogram", s, error)) {
      std::cerr << "wirestress merge: " << path << ": " << (error.empty() ? "no produce section" : error) << "\n";
      return 1;
    }
    latency.add(l);
    service.add(s);
    Json counters;
    for (const char* key : {"messages_sent", "messages_acked", "messages_failed", "bytes_sent", "requests_sent",
                            "requests_acked", "messages_unsent_due", "latency_out_of_range",
                            "throughput_msgs_per_s", "throughput_mb_per_s"}) {
      if (j["produce"].contains(key)) counters[key] = j["produce"][key];
    }
    if (j["produce"].contains("errors_by_code")) counters["errors_by_code"] = j["produce"]["errors_by_code"];
    add_numbers(produce, counters);
    if (j.contains("consume")) {
      const Json& c = j["consume"];
      stats::HdrHistogram h = driver::make_latency_histogram();
      if (!decode_histogram(c, "e2e_latency_histogram", h, error)) {
        std::cerr << "wirestress merge: " << path << ": consume: " << error << "\n";
        return 1;
      }
      e2e.add(h);
      Json counts;
      for (const char* key : {"consumers", "messages_received", "messages_measured", "bytes_received", "fetches", "throughput_msgs_per_s",
                              "lost", "duplicates", "out_of_order", "corrupt", "other_runs", "failing_clients"}) {
        if (c.contains(key)) counts[key] = c[key];
      }
      add_numbers(consume, counts);
      for (Json p : c.value("per_consumer", Json::array())) {
        p["input"] = path;  // consumer ids restart at 0 in every input
        per_consumer.push_back(std::move(p));
      }
    }
    if (j.contains("connections")) add_numbers(connections, j["connections"]);
    if (j.contains("failures")) add_numbers(failures, j["failures"]);
    if (j.contains("process")) add_numbers(process, j["process"]);
    elapsed = std::max(elapsed, j.contains("run") ? j["run"].value("elapsed_s", 0.0) : 0.0);
    if (first_config.is_null() && j.contains("config")) first_config = j["config"];
  }
  Json out;
  out["merged_from"] = inputs;
  out["config"] = first_config;
  out["produce"] = produce;
  out["produce"]["latency_ms"] = latency_json(latency);
  out["produce"]["service_latency_ms"] = latency_json(service);
  out["produce"]["latency_histogram"] = stats::to_base64(stats::compress_v2(latency));
  out["produce"]["service_latency_histogram"] = stats::to_base64(stats::compress_v2(service));
  if (!consume.is_null()) {
    // Each input counted loss against its own producers (another host's records carry another
    // run id and are checked for gaps only).
    const double lost = consume.value("lost", 0.0), received = consume.value("messages_received", 0.0),
                 duplicates = consume.value("duplicates", 0.0);
    const double distinct = std::max(0.0, received - duplicates);
    consume["loss_pct"] = lost + distinct > 0 ? 100.0 * lost / (lost + distinct) : 0.0;
    consume["e2e_latency_ms"] = latency_json(e2e);
    consume["e2e_latency_histogram"] = stats::to_base64(stats::compress_v2(e2e));
    consume["per_consumer"] = per_consumer;
    out["consume"] = consume;
  }
  out["connections"] = connections;
  out["failures"] = failures;
  out["run"] = {{"elapsed_s", elapsed}, {"inputs", inputs.size()}};
  out["process"] = process;  // summed over the inputs (hosts)
  std::cout << "merged " << inputs.size() << " results: " << produce.value("messages_acked", 0.0)
            << " acked, " << produce.value("throughput_msgs_per_s", 0.0) << " msg/s, latency p50 "
            << out["produce"]["latency_ms"]["p50"] << " ms, p99 " << out["produce"]["latency_ms"]["p99"]
            << " ms, max " << out["produce"]["latency_ms"]["max"] << " ms\n";
  if (!json_out.empty()) {
    std::ofstream f(json_out);
    f << out.dump(2) << "\n";
    if (!f) {
      std::cerr << "wirestress merge: --json: cannot write " << json_out << "\n";
      return 1;
    }
  }
  return 0;
}

int merge_hlog(const std::vector<std::string>& inputs, const std::string& json_out, const std::string& hlog_out) {
  std::map<std::string, stats::HdrHistogram> by_tag;
  double begin = 1e300, end = 0;
  for (const auto& path : inputs) {
    std::ifstream in(path);
    std::vector<stats::HlogInterval> intervals;
    std::string error;
    if (!in || !stats::read_hlog(in, intervals, error)) {
      std::cerr << "wirestress merge: " << path << ": " << (in ? error : "cannot read") << "\n";
      return 1;
    }
    for (const auto& iv : intervals) {
      auto it = by_tag.find(iv.tag);
      if (it == by_tag.end()) it = by_tag.emplace(iv.tag, driver::make_latency_histogram()).first;
      it->second.add(iv.histogram);
      begin = std::min(begin, iv.start_s);
      end = std::max(end, iv.start_s + iv.length_s);
    }
  }
  Json out;
  out["merged_from"] = inputs;
  for (const auto& [tag, h] : by_tag) {
    out["tags"][tag.empty() ? "(untagged)" : tag] = latency_json(h);
    std::cout << (tag.empty() ? "(untagged)" : tag) << ": count " << h.total_count() << ", p50 "
              << static_cast<double>(h.value_at_percentile(50)) / 1000.0 << ", p99 "
              << static_cast<double>(h.value_at_percentile(99)) / 1000.0 << ", max "
              << static_cast<double>(h.max()) / 1000.0 << " (values / 1000)\n";
  }
  if (!json_out.empty()) std::ofstream(json_out) << out.dump(2) << "\n";
  if (!hlog_out.empty()) {
    std::ofstream f(hlog_out);
    stats::HlogWriter writer(f);
    writer.write_header(0, "wirestress merge of " + std::to_string(inputs.size()) + " logs");
    for (const auto& [tag, h] : by_tag) writer.write_interval(tag, begin, end - begin, h, 1000.0);
  }
  return 0;
}

}  // namespace ws::report
