#include "stats/report/omb_result.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "stats/report/run_text.h"

namespace ws::report {
namespace {

double ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

// Java's Double.toString for the percentiles we make ("50.0", "99.90234375"): how Jackson writes
// a Map<Double, Double> key, so a reader keyed by OMB's own strings finds ours.
std::string java_double_key(double value) {
  char text[64];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  std::string key(text, ec == std::errc() ? end : text);
  if (key.find_first_of(".e") == std::string::npos) key += ".0";
  return key;
}

struct LatencyFigures {
  double avg, p50, p75, p95, p99, p999, p9999, p99999, max;
};

LatencyFigures figures(const stats::HdrHistogram& h) {
  return {h.mean() / 1000.0,
          ms(h.value_at_percentile(50)),
          ms(h.value_at_percentile(75)),
          ms(h.value_at_percentile(95)),
          ms(h.value_at_percentile(99)),
          ms(h.value_at_percentile(99.9)),
          ms(h.value_at_percentile(99.99)),
          ms(h.value_at_percentile(99.999)),
          ms(h.max())};
}

// OMB's field names: <prefix>Avg, <prefix>50pct ... <prefix>Max.
constexpr const char* kSuffixes[] = {"Avg", "50pct", "75pct", "95pct", "99pct", "999pct", "9999pct", "99999pct", "Max"};

void write_series(Json& j, const std::string& prefix, const OmbLatencyColumns& c) {
  const std::vector<double>* columns[] = {&c.avg, &c.p50, &c.p75, &c.p95, &c.p99, &c.p999, &c.p9999, &c.p99999, &c.max};
  for (size_t i = 0; i < std::size(kSuffixes); ++i) j[prefix + kSuffixes[i]] = *columns[i];
}

void write_aggregated(Json& j, const std::string& prefix, const stats::HdrHistogram& h) {
  const LatencyFigures f = figures(h);
  const double values[] = {f.avg, f.p50, f.p75, f.p95, f.p99, f.p999, f.p9999, f.p99999, f.max};
  for (size_t i = 0; i < std::size(kSuffixes); ++i) j[prefix + kSuffixes[i]] = values[i];
}

Json quantile_map(const stats::HdrHistogram& h) {
  Json map = Json::object();
  for (const auto& [percentile, value_ms] : omb_quantiles(h, 100)) map[java_double_key(percentile)] = value_ms;
  return map;
}

}  // namespace

void OmbLatencyColumns::add(const stats::HdrHistogram& h_us) {
  const LatencyFigures f = figures(h_us);
  avg.push_back(f.avg);
  p50.push_back(f.p50);
  p75.push_back(f.p75);
  p95.push_back(f.p95);
  p99.push_back(f.p99);
  p999.push_back(f.p999);
  p9999.push_back(f.p9999);
  p99999.push_back(f.p99999);
  max.push_back(f.max);
}

std::vector<std::pair<double, double>> omb_quantiles(const stats::HdrHistogram& h_us, int ticks_per_half_distance) {
  std::vector<std::pair<double, double>> out;
  if (h_us.total_count() == 0) return out;
  // Each halving of the distance to 100% gets the same number of ticks, as HdrHistogram's
  // PercentileIterator does. Stop short of 100 (six nines); the max closes the list.
  std::vector<double> percentiles;
  for (double p = 0; p < 99.9999;) {
    percentiles.push_back(p);
    const double halvings = std::floor(std::log2(100.0 / (100.0 - p))) + 1;
    p += 100.0 / (ticks_per_half_distance * std::pow(2.0, halvings));
  }
  std::vector<int64_t> values(percentiles.size());
  h_us.value_at_percentiles(percentiles, values);
  const int64_t max = h_us.max();
  for (size_t i = 0; i < percentiles.size() && values[i] < max; ++i) out.emplace_back(percentiles[i], ms(values[i]));
  out.emplace_back(100.0, ms(max));
  return out;
}

void OmbResultRecorder::add_interval(const driver::IntervalReport& r) {
  if (r.phase != driver::Phase::kMeasuring) return;
  const double seconds = std::max(r.interval_s, 1e-9);
  publish_rate_.push_back(static_cast<double>(delivered(r.delta, config_)) / seconds);
  publish_error_rate_.push_back(static_cast<double>(r.delta.messages_failed) / seconds);
  consume_rate_.push_back(static_cast<double>(r.delta.consume_received) / seconds);
  // Producer i writes topic i % topics and consumer j reads topic j % topics, every record of it:
  // each record is owed to the consumers of one topic.
  const double consumers_per_topic = static_cast<double>(config_.consumers) / std::max(1u, config_.topics);
  const double owed = static_cast<double>(delivered(r.total, config_)) * consumers_per_topic;
  backlog_.push_back(std::max<int64_t>(0, std::llround(owed - static_cast<double>(r.total.consume_received))));
  publish_.add(r.interval->service_latency_us);
  end_to_end_.add(r.interval->e2e_latency_us);
}

Json OmbResultRecorder::result(const driver::RunResult& result) const {
  const uint32_t topics = std::max(1u, config_.topics);
  Json j;
  j["workload"] = shape_.workload;
  j["driver"] = "wirestress";
  j["messageSize"] = config_.message_size;
  j["topics"] = config_.topics;
  j["partitions"] = shape_.partitions_per_topic;
  j["producersPerTopic"] = config_.clients / topics;
  j["consumersPerTopic"] = config_.consumers / topics;
  j["publishRate"] = publish_rate_;
  j["publishErrorRate"] = publish_error_rate_;
  j["consumeRate"] = consume_rate_;
  j["backlog"] = backlog_;
  write_series(j, "publishLatency", publish_);
  write_aggregated(j, "aggregatedPublishLatency", result.metrics.service_latency_us);
  j["aggregatedPublishLatencyQuantiles"] = quantile_map(result.metrics.service_latency_us);
  write_series(j, "endToEndLatency", end_to_end_);
  j["aggregatedEndToEndLatencyQuantiles"] = quantile_map(result.metrics.e2e_latency_us);
  write_aggregated(j, "aggregatedEndToEndLatency", result.metrics.e2e_latency_us);
  return j;
}

}  // namespace ws::report
