#include "stats/report/omb_result.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "driver/metrics.h"
#include "stats/report/run_text.h"

namespace ws::report {
namespace {

// Java's Double.toString for the percentiles we make ("50.0", "99.90234375"): how Jackson writes
// a Map<Double, ...> key, so a reader keyed by OMB's own strings finds ours.
std::string java_double_key(double value) {
  char text[64];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  std::string key(text, ec == std::errc() ? end : text);
  if (key.find_first_of(".e") == std::string::npos) key += ".0";
  return key;
}

// OMB's units: latencies in ms with decimals (List<Double>), the publish delay in whole us
// (List<Long>; its averages stay doubles).
enum class Unit { kMillis, kMicros };

Json from_us(int64_t us, Unit unit) {
  return unit == Unit::kMillis ? Json(static_cast<double>(us) / 1000.0) : Json(us);
}

// OMB's percentile columns, in TestResult's order: the field suffix, the key of wirestress's latency
// view (latency_json, in ms) and the percentile (below 0: the mean, above 100: the max).
struct Column {
  const char* suffix;
  const char* view_key;  // null: not in the interval records (OMB leaves that period list empty too)
  double percentile;
};
constexpr Column kColumns[] = {{"Avg", "mean", -1},        {"50pct", "p50", 50},       {"75pct", "p75", 75},
                               {"95pct", "p95", 95},        {"99pct", "p99", 99},       {"999pct", "p999", 99.9},
                               {"9999pct", "p9999", 99.99}, {"99999pct", nullptr, 99.999}, {"Max", "max", 101}};

// <prefix>Avg ... <prefix>Max: one value per period from the periods' latency views (ms).
void write_series(Json& j, const std::string& prefix, const std::vector<const Json*>& views, Unit unit) {
  for (const Column& c : kColumns) {
    Json list = Json::array();
    for (const Json* view : c.view_key != nullptr ? views : std::vector<const Json*>{}) {
      const double value_ms = view != nullptr ? view->value(c.view_key, 0.0) : 0.0;  // no samples: 0, as OMB
      if (unit == Unit::kMillis) {
        list.push_back(value_ms);
      } else if (c.percentile < 0) {
        list.push_back(value_ms * 1000.0);
      } else {
        list.push_back(static_cast<int64_t>(std::llround(value_ms * 1000.0)));
      }
    }
    j[prefix + c.suffix] = std::move(list);
  }
}

// aggregated<Prefix>Avg ... Max from the whole measured time's histogram (us).
void write_aggregated(Json& j, const std::string& prefix, const stats::HdrHistogram& h, Unit unit) {
  for (const Column& c : kColumns) {
    if (c.percentile < 0) {
      j[prefix + c.suffix] = unit == Unit::kMillis ? h.mean() / 1000.0 : h.mean();
    } else {
      j[prefix + c.suffix] = from_us(c.percentile > 100 ? h.max() : h.value_at_percentile(c.percentile), unit);
    }
  }
}

Json quantile_map(const stats::HdrHistogram& h, Unit unit) {
  Json map = Json::object();
  for (const auto& [percentile, value] : omb_quantiles(h, 100)) map[java_double_key(percentile)] = from_us(value, unit);
  return map;
}

// The result from the run's interval records (interval_json) and its measured time's histograms.
Json omb_json(const driver::RunConfig& config, const OmbRunShape& shape, const Json& intervals,
              const stats::HdrHistogram& publish, const stats::HdrHistogram& publish_delay,
              const stats::HdrHistogram& end_to_end) {
  const uint32_t topics = std::max(1u, config.topics);
  // Producer i writes topic i % topics and consumer j reads topic j % topics, every record of it:
  // each record is owed to the consumers of one topic.
  const double consumers_per_topic = static_cast<double>(config.consumers) / topics;
  const char* delivered_key = config.acks == 0 ? "messages_sent" : "messages_acked";  // as delivered()
  const std::string measuring = driver::phase_name(driver::Phase::kMeasuring);
  std::vector<double> publish_rate, publish_error_rate, consume_rate;
  std::vector<int64_t> backlog;
  std::vector<const Json*> publish_views, delay_views, e2e_views;
  uint64_t delivered_total = 0, received_total = 0;  // since the start, warm-up included
  for (const Json& iv : intervals) {
    delivered_total += iv.value(delivered_key, uint64_t{0});
    received_total += iv.value("consume_received", uint64_t{0});
    if (iv.value("phase", "") != measuring) continue;
    const double seconds = std::max(iv.value("interval_s", 0.0), 1e-9);
    publish_rate.push_back(iv.value("throughput_msgs_per_s", 0.0));
    publish_error_rate.push_back(iv.value("messages_failed", 0.0) / seconds);
    consume_rate.push_back(iv.value("consume_msgs_per_s", 0.0));
    const double owed = static_cast<double>(delivered_total) * consumers_per_topic;
    backlog.push_back(std::max<int64_t>(0, std::llround(owed - static_cast<double>(received_total))));
    const auto view = [&](const char* key) { return iv.contains(key) ? &iv[key] : nullptr; };
    publish_views.push_back(view("service_latency_ms"));
    delay_views.push_back(view("publish_delay_ms"));
    e2e_views.push_back(view("e2e_latency_ms"));
  }
  Json j;
  j["workload"] = shape.workload;
  j["driver"] = "wirestress";
  j["messageSize"] = config.message_size;
  j["topics"] = config.topics;
  j["partitions"] = shape.partitions_per_topic;
  j["producersPerTopic"] = config.clients / topics;
  j["consumersPerTopic"] = config.consumers / topics;
  j["publishRate"] = publish_rate;
  j["publishErrorRate"] = publish_error_rate;
  j["consumeRate"] = consume_rate;
  j["backlog"] = backlog;
  write_series(j, "publishLatency", publish_views, Unit::kMillis);
  write_series(j, "publishDelayLatency", delay_views, Unit::kMicros);
  write_aggregated(j, "aggregatedPublishLatency", publish, Unit::kMillis);
  write_aggregated(j, "aggregatedPublishDelayLatency", publish_delay, Unit::kMicros);
  j["aggregatedPublishLatencyQuantiles"] = quantile_map(publish, Unit::kMillis);
  j["aggregatedPublishDelayLatencyQuantiles"] = quantile_map(publish_delay, Unit::kMicros);
  write_series(j, "endToEndLatency", e2e_views, Unit::kMillis);
  j["aggregatedEndToEndLatencyQuantiles"] = quantile_map(end_to_end, Unit::kMillis);
  write_aggregated(j, "aggregatedEndToEndLatency", end_to_end, Unit::kMillis);
  return j;
}

}  // namespace

std::string omb_workload_name(const driver::RunConfig& config, const std::string& workload) {
  if (!workload.empty()) return workload;
  return std::to_string(config.clients) + " producers / " + std::to_string(config.consumers) + " consumers on " +
         std::to_string(config.topics) + " topics";
}

std::optional<Json> omb_result(const driver::RunConfig& config, const OmbRunShape& shape, const Json& run,
                               std::string& error) {
  stats::HdrHistogram publish = driver::make_latency_histogram(), delay = driver::make_latency_histogram(),
                      e2e = driver::make_latency_histogram();
  if (!run.contains("produce")) {
    error = "no produce section";
    return std::nullopt;
  }
  if (!decode_histogram(run["produce"], "service_latency_histogram", publish, error) ||
      !decode_histogram(run["produce"], "publish_delay_histogram", delay, error)) {
    return std::nullopt;
  }
  if (run.contains("consume") && !decode_histogram(run["consume"], "e2e_latency_histogram", e2e, error)) {
    return std::nullopt;
  }
  return omb_json(config, shape, run.value("intervals", Json::array()), publish, delay, e2e);
}

void OmbResultRecorder::add_interval(const driver::IntervalReport& r) {
  intervals_.push_back(interval_json(r, config_));  // every phase: the backlog counts from the start
}

Json OmbResultRecorder::result(const driver::RunResult& result) const {
  const auto& m = result.metrics;
  return omb_json(config_, shape_, intervals_, m.service_latency_us, m.publish_delay_us, m.e2e_latency_us);
}

std::string OmbResultFiles::path(const std::string& kind, size_t index) const {
  if (prefix.empty()) return "";
  std::string base = prefix;
  if (base.ends_with(".json")) base.resize(base.size() - 5);
  char tag[32];
  std::snprintf(tag, sizeof tag, "-%c%02zu.json", kind.empty() ? 'x' : kind.front(), index);
  return base + tag;
}

bool OmbResultFiles::write(const std::string& kind, size_t index, const driver::RunConfig& config, const Json& run,
                           std::string& error) const {
  if (prefix.empty()) return true;
  OmbRunShape named = shape;
  named.workload = omb_workload_name(config, shape.workload) + ", " + kind + " " + std::to_string(index);
  const std::optional<Json> j = omb_result(config, named, run, error);
  if (!j) return false;
  const std::string file = path(kind, index);
  std::ofstream out(file);
  out << j->dump(2) << "\n";
  if (!out) {
    error = "cannot write " + file;
    return false;
  }
  return true;
}

std::vector<std::pair<double, int64_t>> omb_quantiles(const stats::HdrHistogram& h, int ticks_per_half_distance) {
  std::vector<std::pair<double, int64_t>> out;
  if (h.total_count() == 0) return out;
  // Each halving of the distance to 100% gets the same number of ticks, as HdrHistogram's
  // PercentileIterator does. Stop short of 100 (six nines); the max closes the list.
  std::vector<double> percentiles;
  for (double p = 0; p < 99.9999;) {
    percentiles.push_back(p);
    const double halvings = std::floor(std::log2(100.0 / (100.0 - p))) + 1;
    p += 100.0 / (ticks_per_half_distance * std::pow(2.0, halvings));
  }
  std::vector<int64_t> values(percentiles.size());
  h.value_at_percentiles(percentiles, values);
  const int64_t max = h.max();
  for (size_t i = 0; i < percentiles.size() && values[i] < max; ++i) out.emplace_back(percentiles[i], values[i]);
  out.emplace_back(100.0, max);
  return out;
}

}  // namespace ws::report
