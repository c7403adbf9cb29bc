#include "stats/report/merge.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/metrics.h"
#include "stats/hlog.h"
#include "stats/report/result_json.h"

namespace ws::report {
namespace {

using Json = nlohmann::ordered_json;

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

// One result file as read: its path for messages, its JSON.
struct LoadedInput {
  std::string path;
  Json json;
};

// What merging a set of run results gave: the merged JSON, or the exit code (1 bad input, 2
// refused) with the one line that says why.
struct MergeOutcome {
  Json merged;
  int exit_code = 0;
  std::string message;
};

MergeOutcome failed(int exit_code, std::string message) { return {Json(), exit_code, std::move(message)}; }

// What a run's records looked like: runs that differ in any of these measured different things,
// so adding them up would describe a workload nobody ran.
constexpr const char* kShapeFields[] = {"message_size", "key_size", "acks", "idempotent", "compression", "batch",
                                        "payload", "payload_compressibility", "payload_file"};

std::string value_text(const Json& v) { return v.is_null() ? "(absent)" : v.dump(); }

// Sums a config's load figure over the inputs. 0 means unbounded (an unpaced --rate, no
// --messages limit), and unbounded plus anything stays unbounded.
Json sum_unless_unbounded(const std::vector<const Json*>& configs, const char* key) {
  double total = 0;
  for (const Json* c : configs) {
    const double v = c->value(key, 0.0);
    if (v <= 0) return 0;
    total += v;
  }
  return total;
}

// The per-interval series of several hosts by wall-clock second: intervals that began in the same
// second are added up. Each interval carries percentiles, not its histogram, so a merged
// interval's percentiles are the highest of its parts: an upper bound (`percentiles`), never an
// invention; its count, max and mean are exact.
Json merge_interval_series(const std::vector<const Json*>& results, int64_t start_unix_ms) {
  std::map<int64_t, std::vector<const Json*>> by_second;
  for (const Json* r : results) {
    if (!r->contains("intervals") || !r->at("intervals").is_array()) continue;
    for (const Json& iv : r->at("intervals")) {  // by reference: the groups point into the inputs
      if (iv.contains("time_unix_ms")) by_second[iv["time_unix_ms"].get<int64_t>() / 1000].push_back(&iv);
    }
  }
  Json series = Json::array();
  for (const auto& [second, parts] : by_second) {
    Json merged;
    merged["time_unix_ms"] = second * 1000;
    double end_ms = 0, busy = 0;
    std::string phase = parts.front()->value("phase", "");
    Json counts;
    for (const Json* iv : parts) {
      end_ms = std::max(end_ms, iv->value("time_unix_ms", 0.0) + 1000 * iv->value("interval_s", 0.0));
      busy += iv->value("client_busy", 0.0);
      if (iv->value("phase", "") != phase) phase = "mixed";
      Json numbers;
      for (const char* key : {"messages_sent", "messages_acked", "messages_failed", "bytes_sent", "requests_sent",
                              "errors", "throughput_msgs_per_s", "connections_open", "consume_received",
                              "consume_msgs_per_s", "consumers_fetching"}) {
        if (iv->contains(key)) numbers[key] = (*iv)[key];
      }
      add_numbers(counts, numbers);
    }
    merged["elapsed_s"] = (end_ms - static_cast<double>(start_unix_ms)) / 1000.0;
    merged["phase"] = phase;
    merged["inputs"] = parts.size();
    for (auto it = counts.begin(); it != counts.end(); ++it) merged[it.key()] = *it;
    for (const char* view : {"latency_ms", "service_latency_ms", "publish_delay_ms", "e2e_latency_ms"}) {
      Json latency;
      double count = 0, weighted_mean = 0, max = 0;
      for (const Json* iv : parts) {
        if (!iv->contains(view)) continue;
        const Json& l = (*iv)[view];
        const double n = l.value("count", 0.0);
        count += n;
        weighted_mean += n * l.value("mean", 0.0);
        max = std::max(max, l.value("max", 0.0));
        for (const char* p : {"p50", "p75", "p90", "p95", "p99", "p999", "p9999"}) {
          if (!l.contains(p)) continue;
          const double highest = latency.contains(p) ? latency[p].get<double>() : 0.0;
          latency[p] = std::max(highest, l[p].get<double>());
        }
      }
      if (latency.is_null()) continue;
      latency["max"] = max;
      latency["mean"] = count > 0 ? weighted_mean / count : 0.0;
      latency["count"] = static_cast<int64_t>(count);
      latency["percentiles"] = "upper_bound";
      merged[view] = latency;
    }
    // A share of each host's own workers: their average, not their sum.
    merged["client_busy"] = busy / static_cast<double>(parts.size());
    series.push_back(std::move(merged));
  }
  return series;
}

// Shards of one test (--shards): each exactly once. A shard given twice (a retried pod) would
// count its load twice: refused. A missing one is a warning (its load is simply not there).
MergeOutcome check_shards(const std::vector<LoadedInput>& inputs, Json& warnings) {
  std::map<uint32_t, const std::string*> seen;
  uint32_t count = 0;
  for (const auto& in : inputs) {
    const Json shard = in.json.value("run", Json::object()).value("shard", Json());
    if (!shard.is_object()) continue;
    const uint32_t index = shard.value("index", 0u);
    count = std::max(count, shard.value("count", 0u));
    const auto [it, fresh] = seen.emplace(index, &in.path);
    if (!fresh) {
      return failed(2, in.path + " and " + *it->second + " are both shard " + std::to_string(index) +
                           ": merge one result per shard (was a shard run twice?)");
    }
  }
  if (count > 0 && seen.size() < count) {
    std::string missing;
    for (uint32_t i = 0; i < count && missing.size() < 200; ++i) {
      if (!seen.contains(i)) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
    }
    warnings.push_back("only " + std::to_string(seen.size()) + " of " + std::to_string(count) +
                       " shards were merged (missing: " + missing + "): the figures are those shards' load only");
  }
  return {};
}

// Runs merged as one test must have measured the same window: more than 1% of its length apart,
// the sum describes load that never ran at one time.
void check_windows(const std::vector<LoadedInput>& inputs, Json& warnings) {
  int64_t first_start = INT64_MAX, last_start = 0, first_end = INT64_MAX, last_end = 0;
  double length_sum = 0;
  int windows = 0;
  for (const auto& in : inputs) {
    const Json run = in.json.value("run", Json::object());
    const int64_t start = run.value("measure_start_unix_ms", int64_t{0}), end = run.value("measure_end_unix_ms", int64_t{0});
    if (start <= 0 || end < start) continue;
    first_start = std::min(first_start, start);
    last_start = std::max(last_start, start);
    first_end = std::min(first_end, end);
    last_end = std::max(last_end, end);
    length_sum += static_cast<double>(end - start);
    ++windows;
  }
  if (windows < 2) return;
  const double length_ms = length_sum / windows;
  const double apart_ms = static_cast<double>(std::max(last_start - first_start, last_end - first_end));
  if (apart_ms > 0.01 * length_ms) {
    char text[300];
    std::snprintf(text, sizeof text,
                  "the measured windows differ by %.3f s, more than 1%% of the %.3f s measured: the inputs did not "
                  "run at the same time (give every shard the same --start-at)",
                  apart_ms / 1000, length_ms / 1000);
    warnings.push_back(text);
  }
}

// The "groups" sections of run results (--group-mode, stats/report/group_output.h) into one: the
// settings of the first, counts summed, the histograms pooled and their percentiles recomputed,
// every input's per_group entries one after the other (tagged with their input: shards of one
// run judge their own members of the same groups). Null when no input has groups.
MergeOutcome merge_groups(const std::vector<LoadedInput>& inputs) {
  struct Pooled {
    const char* histogram;  // in "histograms"
    const char* figure;     // the percentiles' key
    double unit_us;         // the figure's unit: 1000 for ms, 1e6 for s
  };
  static constexpr Pooled kPooled[] = {{"time_to_stable", "time_to_stable_s", 1e6},
                                       {"rebalance_duration", "rebalance_duration_ms", 1e3},
                                       {"join_latency", "join_latency_ms", 1e3},
                                       {"sync_latency", "sync_latency_ms", 1e3},
                                       {"heartbeat_latency", "heartbeat_latency_ms", 1e3},
                                       {"commit_latency", "commit_latency_ms", 1e3}};
  static constexpr const char* kCounts[] = {"groups",           "members",
                                            "members_never_assigned", "members_without_assignment",
                                            "groups_stable",    "rebalances",
                                            "member_rebalances", "coordinator_lookups",
                                            "assignment_conflicts", "lost",
                                            "rebalance_duplicates"};
  Json out, counts, per_group = Json::array();
  std::vector<stats::HdrHistogram> pooled;
  for (size_t i = 0; i < std::size(kPooled); ++i) pooled.push_back(driver::make_latency_histogram());
  bool any = false, verified = true;
  for (const auto& [path, j] : inputs) {
    if (!j.contains("groups") || !j["groups"].is_object()) continue;
    const Json& g = j["groups"];
    if (!any) {
      out = g;  // the settings (mode, assignor, timeouts, churn rate): the same run's on every shard
      any = true;
    }
    for (size_t i = 0; i < std::size(kPooled); ++i) {
      std::string error;
      stats::HdrHistogram h = driver::make_latency_histogram();
      if (!decode_histogram(g.value("histograms", Json::object()), kPooled[i].histogram, h, error)) {
        return failed(1, path + ": groups: " + error);
      }
      pooled[i].add(h);
    }
    Json these;
    for (const char* key : kCounts) {
      if (g.contains(key)) these[key] = g[key];
    }
    for (const char* key : {"responses", "errors"}) these[key] = g.value(key, Json::object());
    Json churn = g.value("churn", Json::object());
    churn.erase("rate_per_s");  // a setting of the run, not a count
    churn.erase("static");
    these["churn"] = churn;
    add_numbers(counts, these);
    if (g.contains("verified")) verified = verified && g["verified"].get<bool>();
    for (Json one : g.value("per_group", Json::array())) {
      one["input"] = path;
      per_group.push_back(std::move(one));
    }
  }
  if (!any) return {Json(), 0, ""};
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    if (it.key() == "churn") {
      for (auto c = it->begin(); c != it->end(); ++c) out["churn"][c.key()] = *c;
    } else {
      out[it.key()] = *it;
    }
  }
  if (out.contains("verified")) out["verified"] = verified;
  for (size_t i = 0; i < std::size(kPooled); ++i) {
    Json figure = latency_json(pooled[i]);
    if (kPooled[i].unit_us != 1e3) {
      for (auto& [key, value] : figure.items()) {
        if (key != "count") value = value.get<double>() * 1e3 / kPooled[i].unit_us;
      }
    }
    out[kPooled[i].figure] = figure;
    out["histograms"][kPooled[i].histogram] = stats::to_base64(stats::compress_v2(pooled[i]));
  }
  out["per_group"] = per_group;
  return {out, 0, ""};
}

// Run results made at the same time into one: counters summed, histograms merged, the config
// telling the combined load, every input's config kept.
MergeOutcome merge_runs(const std::vector<LoadedInput>& inputs, bool force) {
  std::vector<const Json*> configs, results;
  for (const auto& in : inputs) {
    results.push_back(&in.json);
    configs.push_back(in.json.contains("config") ? &in.json["config"] : nullptr);
  }
  static const Json kNoConfig = Json::object();
  for (auto& c : configs) {
    if (!c) c = &kNoConfig;
  }
  Json warnings = Json::array();
  if (MergeOutcome refused = check_shards(inputs, warnings); refused.exit_code != 0) return refused;
  check_windows(inputs, warnings);
  Json shape_differences = Json::array();
  for (const char* field : kShapeFields) {
    const Json first = configs[0]->value(field, Json());
    for (size_t i = 1; i < inputs.size(); ++i) {
      const Json other = configs[i]->value(field, Json());
      if (other == first) continue;
      if (!force) {
        return failed(2, "workload shapes differ: config." + std::string(field) + " is " + value_text(first) +
                             " in " + inputs[0].path + " but " + value_text(other) + " in " + inputs[i].path +
                             " (--force merges anyway and records the difference)");
      }
      Json values = Json::array();
      for (size_t k = 0; k < inputs.size(); ++k) {
        values.push_back({{"file", inputs[k].path}, {"value", configs[k]->value(field, Json())}});
      }
      shape_differences.push_back({{"field", field}, {"values", values}});
      break;
    }
  }

  stats::HdrHistogram latency = driver::make_latency_histogram();
  stats::HdrHistogram service = driver::make_latency_histogram();
  stats::HdrHistogram publish_delay = driver::make_latency_histogram();  // absent from older results
  stats::HdrHistogram e2e = driver::make_latency_histogram();
  Json produce, connections, failures, process, consume, clients, consumers, metadata, unanswered,
      per_consumer = Json::array(), input_list = Json::array();
  double elapsed = 0, busy = 0;
  int64_t start_unix_ms = 0, measure_start_unix_ms = 0, measure_end_unix_ms = 0;
  bool interrupted = false;
  for (const auto& [path, j] : inputs) {
    std::string error;
    stats::HdrHistogram l = driver::make_latency_histogram(), s = driver::make_latency_histogram();
    if (!j.contains("produce") || !decode_histogram(j["produce"], "latency_histogram", l, error) ||
        !decode_histogram(j["produce"], "service_latency_histogram", s, error)) {
      return failed(1, path + ": " + (error.empty() ? "no produce section" : error));
    }
    latency.add(l);
    service.add(s);
    if (j["produce"].contains("publish_delay_histogram")) {
      stats::HdrHistogram d = driver::make_latency_histogram();
      if (!decode_histogram(j["produce"], "publish_delay_histogram", d, error)) return failed(1, path + ": " + error);
      publish_delay.add(d);
    }
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
      if (!decode_histogram(c, "e2e_latency_histogram", h, error)) return failed(1, path + ": consume: " + error);
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
    for (auto [key, into] : {std::pair{"connections", &connections}, std::pair{"failures", &failures},
                             std::pair{"process", &process}, std::pair{"clients", &clients},
                             std::pair{"consumers", &consumers}, std::pair{"metadata", &metadata},
                             std::pair{"unanswered", &unanswered}}) {
      if (j.contains(key)) add_numbers(*into, j[key]);
    }
    const Json run = j.value("run", Json::object());
    elapsed = std::max(elapsed, run.value("elapsed_s", 0.0));
    busy += run.value("client_busy_fraction", 0.0);
    interrupted = interrupted || run.value("interrupted", false);
    const int64_t started = run.value("start_time_unix_ms", int64_t{0});
    if (started > 0 && (start_unix_ms == 0 || started < start_unix_ms)) start_unix_ms = started;
    const int64_t measured_from = run.value("measure_start_unix_ms", int64_t{0});
    if (measured_from > 0 && (measure_start_unix_ms == 0 || measured_from < measure_start_unix_ms)) {
      measure_start_unix_ms = measured_from;
    }
    measure_end_unix_ms = std::max(measure_end_unix_ms, run.value("measure_end_unix_ms", int64_t{0}));
    input_list.push_back({{"file", path},
                          {"run_id", run.value("run_id", Json())},
                          {"shard", run.value("shard", Json())},
                          {"measure_start_unix_ms", run.value("measure_start_unix_ms", Json())},
                          {"measure_end_unix_ms", run.value("measure_end_unix_ms", Json())},
                          {"clock", run.value("clock", Json())},
                          {"config", j.value("config", Json())}});
  }
  Json out;
  out["merged_from"] = Json::array();
  for (const auto& in : inputs) out["merged_from"].push_back(in.path);
  // The combined load, not the first host's: every other field is the same shape on every input
  // (or listed in shape_differences with --force).
  Json config = *configs[0];
  double clients_total = 0, consumers_total = 0;
  for (const Json* c : configs) {
    clients_total += c->value("clients", 0.0);
    consumers_total += c->value("consumers", 0.0);
  }
  config["clients"] = static_cast<int64_t>(clients_total);
  config["consumers"] = static_cast<int64_t>(consumers_total);
  config["rate"] = sum_unless_unbounded(configs, "rate");
  config["messages"] = sum_unless_unbounded(configs, "messages");
  out["config"] = config;
  out["inputs"] = input_list;
  if (!shape_differences.empty()) out["shape_differences"] = shape_differences;
  out["warnings"] = warnings;
  out["produce"] = produce;
  out["produce"]["latency_ms"] = latency_json(latency);
  out["produce"]["service_latency_ms"] = latency_json(service);
  out["produce"]["latency_histogram"] = stats::to_base64(stats::compress_v2(latency));
  out["produce"]["service_latency_histogram"] = stats::to_base64(stats::compress_v2(service));
  out["produce"]["publish_delay_ms"] = latency_json(publish_delay);
  out["produce"]["publish_delay_histogram"] = stats::to_base64(stats::compress_v2(publish_delay));
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
  if (!clients.is_null()) out["clients"] = clients;
  if (!consumers.is_null()) out["consumers"] = consumers;
  out["connections"] = connections;
  out["failures"] = failures;
  if (!metadata.is_null()) out["metadata"] = metadata;
  if (!unanswered.is_null()) out["unanswered"] = unanswered;
  out["run"] = {{"elapsed_s", elapsed},
                {"inputs", inputs.size()},
                {"start_time_unix_ms", start_unix_ms},
                {"measure_start_unix_ms", measure_start_unix_ms},
                {"measure_end_unix_ms", measure_end_unix_ms},
                {"client_busy_fraction", busy / static_cast<double>(inputs.size())},  // each host's own share
                {"interrupted", interrupted}};
  out["process"] = process;  // summed over the inputs (hosts)
  out["intervals"] = merge_interval_series(results, start_unix_ms);
  MergeOutcome groups = merge_groups(inputs);
  if (groups.exit_code != 0) return groups;
  if (!groups.merged.is_null()) out["groups"] = std::move(groups.merged);
  return {out, 0, ""};
}

enum class ResultKind { kRun, kSweep, kCeiling };

ResultKind kind_of(const Json& j) {
  const std::string kind = j.value("kind", "");
  if (kind == "sweep") return ResultKind::kSweep;
  if (kind == "ceiling") return ResultKind::kCeiling;
  return ResultKind::kRun;
}

const char* kind_name(ResultKind k) {
  return k == ResultKind::kSweep ? "sweep" : k == ResultKind::kCeiling ? "ceiling" : "run";
}

// The run ids a result holds: its own, or one per sweep cell or ceiling step.
std::vector<std::string> run_ids(const Json& j, ResultKind kind) {
  std::vector<std::string> ids;
  auto add = [&](const Json& result) {
    const Json run = result.value("run", Json::object());
    if (run.contains("run_id") && run["run_id"].is_string()) ids.push_back(run["run_id"].get<std::string>());
  };
  if (kind == ResultKind::kRun) {
    add(j);
  } else {
    for (const Json& cell : j.value(kind == ResultKind::kSweep ? "cells" : "steps", Json::array())) {
      add(cell.value("result", Json::object()));
    }
  }
  return ids;
}

// Sweeps or ceilings cell by cell: cells at the same coordinates (clients, consumers and offered
// rate per host) are merged as runs are; a cell not run by every input cannot be summed and is listed in
// `unmatched` instead.
MergeOutcome merge_cells(const std::vector<LoadedInput>& inputs, ResultKind kind, bool force) {
  const char* list = kind == ResultKind::kSweep ? "cells" : "steps";
  using Coordinates = std::tuple<int64_t, int64_t, double>;
  auto coordinates = [](const Json& cell) {
    // A seed-study sweep varies consumers at one client count: they tell its cells apart.
    return Coordinates{cell.value("clients", int64_t{0}), cell.value("consumers", int64_t{0}),
                       cell.value("offered_msgs_per_s", 0.0)};
  };
  std::map<Coordinates, std::vector<const Json*>> cells;
  std::vector<Coordinates> order;  // the first input's order
  for (const auto& in : inputs) {
    if (!in.json.contains(list) || !in.json.at(list).is_array()) continue;
    for (const Json& cell : in.json.at(list)) {  // by reference: the groups point into the inputs
      auto& found = cells[coordinates(cell)];
      if (found.empty() && &in == &inputs.front()) order.push_back(coordinates(cell));
      found.push_back(&cell);
    }
  }
  Json out;
  out["kind"] = kind_name(kind);
  const char* header = kind == ResultKind::kSweep ? "sweep" : "ceiling";
  out[header] = inputs[0].json.value(header, Json::object());
  out[header]["merged"] = true;
  if (kind == ResultKind::kCeiling) {
    // Each host searched on its own: the per-host verdicts are kept in `inputs`, the merged steps
    // keep their verdicts (a step is ok only where every host's was).
    for (const char* key : {"limits", "search"}) {
      if (inputs[0].json.contains(key)) out[key] = inputs[0].json[key];
    }
  }
  out["merged_from"] = Json::array();
  out["inputs"] = Json::array();
  for (const auto& in : inputs) {
    out["merged_from"].push_back(in.path);
    Json entry = {{"file", in.path}, {header, in.json.value(header, Json::object())}};
    out["inputs"].push_back(std::move(entry));
  }
  out[list] = Json::array();
  out["unmatched"] = Json::array();
  for (const auto& at : order) {
    const auto& parts = cells[at];
    if (parts.size() != inputs.size()) continue;
    std::vector<LoadedInput> runs;
    for (size_t i = 0; i < parts.size(); ++i) {
      runs.push_back({inputs[i].path + " " + list + "[" + std::to_string(parts[i]->value("index", 0)) + "]",
                      parts[i]->value("result", Json::object())});
    }
    MergeOutcome merged = merge_runs(runs, force);
    if (merged.exit_code != 0) return merged;
    Json cell = *parts[0];
    cell["index"] = out[list].size();
    cell["clients"] = merged.merged["config"]["clients"];
    if (cell.contains("consumers")) cell["consumers"] = merged.merged["config"].value("consumers", Json(0));
    cell["offered_msgs_per_s"] = merged.merged["config"]["rate"];
    if (kind == ResultKind::kCeiling) {
      bool ok = true;
      Json violations = Json::array();
      for (const Json* p : parts) {
        ok = ok && p->value("ok", true);
        for (const Json& v : p->value("violations", Json::array())) violations.push_back(v);
      }
      cell["ok"] = ok;
      cell["violations"] = violations;
    }
    cell.erase("figures");  // the report computes a cell's figures from its (merged) result
    cell.erase("command");
    cell["result"] = std::move(merged.merged);
    out[list].push_back(std::move(cell));
  }
  for (const auto& [at, parts] : cells) {
    if (parts.size() == inputs.size()) continue;
    out["unmatched"].push_back({{"clients", std::get<0>(at)},
                                {"consumers", std::get<1>(at)},
                                {"offered_msgs_per_s", std::get<2>(at)},
                                {"inputs", parts.size()}});
  }
  return {out, 0, ""};
}

}  // namespace

int merge_json(const std::vector<std::string>& paths, const std::string& json_out, bool force) {
  std::vector<LoadedInput> inputs;
  for (const auto& path : paths) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "wirestress merge: " << path << ": cannot read\n";
      return 1;
    }
    try {
      inputs.push_back({path, Json::parse(in)});
    } catch (const std::exception& e) {
      std::cerr << "wirestress merge: " << path << ": not JSON: " << e.what() << "\n";
      return 1;
    }
  }
  const ResultKind kind = kind_of(inputs[0].json);
  std::map<std::string, std::string> seen_run_ids;  // run id -> the input that had it
  for (const auto& in : inputs) {
    if (kind_of(in.json) != kind) {
      std::cerr << "wirestress merge: " << in.path << " is a " << kind_name(kind_of(in.json)) << " result but "
                << inputs[0].path << " is a " << kind_name(kind) << " result: merge only one kind\n";
      return 2;
    }
    for (const auto& id : run_ids(in.json, kind)) {
      const auto [it, fresh] = seen_run_ids.emplace(id, in.path);
      if (!fresh) {
        std::cerr << "wirestress merge: " << in.path << " and " << it->second << " hold the same run (run id " << id
                  << "): each run may be merged once\n";
        return 2;
      }
    }
  }
  MergeOutcome outcome = kind == ResultKind::kRun ? merge_runs(inputs, force) : merge_cells(inputs, kind, force);
  if (outcome.exit_code != 0) {
    std::cerr << "wirestress merge: " << outcome.message << "\n";
    return outcome.exit_code;
  }
  const Json& out = outcome.merged;
  for (const auto& warning : out.value("warnings", Json::array())) {
    std::cerr << "wirestress merge: warning: " << warning.get<std::string>() << "\n";
  }
  if (kind == ResultKind::kRun) {
    std::cout << "merged " << inputs.size() << " results: " << out["produce"].value("messages_acked", 0.0)
              << " acked, " << out["produce"].value("throughput_msgs_per_s", 0.0) << " msg/s, latency p50 "
              << out["produce"]["latency_ms"]["p50"] << " ms, p99 " << out["produce"]["latency_ms"]["p99"]
              << " ms, max " << out["produce"]["latency_ms"]["max"] << " ms\n";
  } else {
    const char* list = kind == ResultKind::kSweep ? "cells" : "steps";
    std::cout << "merged " << inputs.size() << " " << kind_name(kind) << " results: " << out[list].size() << " "
              << list << " merged, " << out["unmatched"].size() << " not run by every input (left out)\n";
  }
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
