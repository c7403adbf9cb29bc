// Every latency view a user reads (JSON, CSV, summary, progress line) carries p95 and the mean,
// and they agree with the recorded values: p95 between p90 and p99, the mean the arithmetic mean.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "driver/metrics.h"
#include "driver/reporting.h"
#include "stats/report/result_json.h"
#include "stats/report/run_text.h"

namespace ws {
namespace {

// 10 us .. 10 ms in 10 us steps (intended send), 1 us .. 1 ms (actual send), and the publish delay
// between them, 9 us .. 9 ms: p95 = 9.5, 0.95 and 8.55 ms, means 5.005, 0.5005 and 4.5045 ms.
void record_known(driver::Metrics& m) {
  for (int64_t us = 1; us <= 1000; ++us) {
    m.latency_us.record(us * 10);
    m.service_latency_us.record(us);
    m.publish_delay_us.record(us * 9);
  }
}

driver::IntervalReport report_of(const driver::Metrics& interval) {
  driver::IntervalReport r;
  r.elapsed_s = 3;
  r.interval_s = 1;
  r.phase = driver::Phase::kMeasuring;
  r.delta.messages_sent = r.delta.messages_acked = 1000;
  r.interval = &interval;
  return r;
}

std::vector<std::string> split(const std::string& line, char by) {
  std::vector<std::string> out;
  std::stringstream in(line);
  for (std::string item; std::getline(in, item, by);) out.push_back(item);
  return out;
}

TEST(LatencyViews, JsonHasP95BetweenP90AndP99AndTheMean) {
  driver::Metrics m;
  record_known(m);
  const auto j = report::latency_json(m.latency_us);
  EXPECT_NEAR(j["p95"].get<double>(), 9.5, 9.5e-3);
  EXPECT_GT(j["p95"].get<double>(), j["p90"].get<double>());
  EXPECT_LT(j["p95"].get<double>(), j["p99"].get<double>());
  EXPECT_NEAR(j["mean"].get<double>(), 5.005, 5.005e-3);
  // The keys in the order people read them.
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"p50", "p75", "p90", "p95", "p99", "p999", "p9999", "max", "mean", "count"}));
}

// The CSV row of one interval as a column name -> text map (names as the interval JSON's keys).
std::map<std::string, std::string> csv_columns(const driver::IntervalReport& r, const driver::RunConfig& config) {
  std::string header = report::csv_header(), row = report::csv_row(r, config);
  header.pop_back();  // the newline
  row.pop_back();
  const auto names = split(header, ','), values = split(row, ',');
  EXPECT_EQ(names.size(), values.size()) << header << "\n" << row;
  std::map<std::string, std::string> columns;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) columns[names[i]] = values[i];
  return columns;
}

TEST(LatencyViews, CsvColumnsMatchTheHeaderAndCarryP95AndMean) {
  driver::Metrics m;
  record_known(m);
  const driver::RunConfig config;
  auto columns = csv_columns(report_of(m), config);
  auto column = [&](const std::string& name) {
    if (!columns.contains(name)) {
      ADD_FAILURE() << "no column " << name;
      return 0.0;
    }
    return std::stod(columns[name]);
  };
  EXPECT_NEAR(column("latency_ms.p95"), 9.5, 9.5e-3);
  EXPECT_GT(column("latency_ms.p95"), column("latency_ms.p90"));
  EXPECT_LT(column("latency_ms.p95"), column("latency_ms.p99"));
  EXPECT_NEAR(column("latency_ms.mean"), 5.005, 0.006);
  EXPECT_NEAR(column("service_latency_ms.p95"), 0.95, 0.001);
  EXPECT_NEAR(column("service_latency_ms.mean"), 0.5005, 0.001);
  EXPECT_NEAR(column("publish_delay_ms.p95"), 8.55, 0.01);
  EXPECT_NEAR(column("publish_delay_ms.mean"), 4.5045, 0.005);
  // No consumers: their columns are empty, not a measured zero.
  EXPECT_EQ(columns.at("consume_msgs_per_s"), "");
  EXPECT_EQ(columns.at("e2e_latency_ms.p95"), "");
}

TEST(LatencyViews, CsvHasConsumerEndToEndClientBusyAndWallClockColumns) {
  driver::Metrics m;
  record_known(m);
  for (int64_t us = 1; us <= 1000; ++us) m.e2e_latency_us.record(us * 100);  // 0.1 .. 100 ms: p95 95 ms
  driver::RunConfig config;
  config.consumers = 2;
  driver::IntervalReport r = report_of(m);
  r.delta.consume_received = 1800;
  r.delta.loop_busy_ns = 250'000'000;  // a quarter of the one worker's second
  r.start_unix_ms = 1'700'000'000'123;
  auto columns = csv_columns(r, config);
  EXPECT_EQ(columns.at("time_unix_ms"), "1700000000123");
  EXPECT_EQ(columns.at("consume_received"), "1800");
  EXPECT_NEAR(std::stod(columns.at("consume_msgs_per_s")), 1800, 0.1);
  EXPECT_NEAR(std::stod(columns.at("e2e_latency_ms.p50")), 50, 0.1);
  EXPECT_NEAR(std::stod(columns.at("e2e_latency_ms.p95")), 95, 0.1);
  EXPECT_NEAR(std::stod(columns.at("e2e_latency_ms.p99")), 99, 0.1);
  EXPECT_NEAR(std::stod(columns.at("client_busy")), 0.25, 1e-4);
  // Every column is a key (nested ones joined by '.') of the interval's JSON record.
  const auto j = report::interval_json(r, config);
  for (const auto& [name, value] : columns) {
    const size_t dot = name.find('.');
    const bool found = dot == std::string::npos
                           ? j.contains(name)
                           : j.contains(name.substr(0, dot)) && j[name.substr(0, dot)].contains(name.substr(dot + 1));
    EXPECT_TRUE(found) << name;
  }
  EXPECT_EQ(j["time_unix_ms"].get<int64_t>(), 1'700'000'000'123);
}

// The number printed after `label` in `text`.
double number_after(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no '" << label << "' in " << text;
    return 0;
  }
  return std::stod(text.substr(at + label.size()));
}

TEST(LatencyViews, ProgressLineAndSummaryShowP95AndMean) {
  driver::Metrics m;
  record_known(m);
  const driver::RunConfig config;
  const std::string line = report::interval_line(report_of(m), config);
  EXPECT_GT(number_after(line, " p95 "), number_after(line, " p50 "));
  EXPECT_LT(number_after(line, " p95 "), number_after(line, " p99 "));
  EXPECT_NEAR(number_after(line, " p95 "), 9.5, 0.02) << line;
  EXPECT_NEAR(number_after(line, " mean "), 5.005, 0.01) << line;

  driver::RunResult result;
  result.elapsed_s = 1;
  record_known(result.metrics);
  const std::string text = report::summary(result, config, report::RunContext{}, report::ProcessFigures{});
  EXPECT_NE(text.find("  latency (ms)           p50       p90       p95       p99     p99.9       max      mean\n"),
            std::string::npos)
      << text;
  // The row under it: p50 p90 p95 p99 p99.9 max mean.
  std::istringstream row(text.substr(text.find("from intended send") + 18));
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
  ASSERT_TRUE(row >> p50 >> p90 >> p95 >> p99 >> p999 >> max >> mean) << text;
  EXPECT_GT(p95, p90);
  EXPECT_LT(p95, p99);
  EXPECT_NEAR(p95, 9.5, 0.02);
  EXPECT_NEAR(mean, 5.005, 0.01);
  // The publish delay's row (actual send less intended send), the same columns.
  std::istringstream delay_row(text.substr(text.find("  publish delay") + 15));
  ASSERT_TRUE(delay_row >> p50 >> p90 >> p95 >> p99 >> p999 >> max >> mean) << text;
  EXPECT_NEAR(p95, 8.55, 0.02);
  EXPECT_NEAR(mean, 4.5045, 0.01);
}

// The JSON result carries the publish delay next to the other latency views, with its histogram
// (which merge and --omb-result read back), and each interval record its own.
TEST(LatencyViews, JsonResultAndIntervalsCarryThePublishDelay) {
  driver::Metrics m;
  record_known(m);
  const driver::RunConfig config;
  driver::RunResult result;
  result.elapsed_s = 1;
  record_known(result.metrics);
  const auto j = report::result_json(result, config, report::RunContext{}, report::ProcessFigures{},
                                     report::Json::array({report::interval_json(report_of(m), config)}));
  EXPECT_NEAR(j["produce"]["publish_delay_ms"]["p95"].get<double>(), 8.55, 0.01);
  EXPECT_NEAR(j["produce"]["publish_delay_ms"]["mean"].get<double>(), 4.5045, 0.005);
  EXPECT_EQ(j["produce"]["publish_delay_ms"]["count"].get<int64_t>(), 1000);
  stats::HdrHistogram back = driver::make_latency_histogram();
  std::string error;
  ASSERT_TRUE(report::decode_histogram(j["produce"], "publish_delay_histogram", back, error)) << error;
  EXPECT_EQ(back.total_count(), 1000);
  EXPECT_NEAR(j["intervals"][0]["publish_delay_ms"]["p99"].get<double>(), 8.91, 0.01);
}

}  // namespace
}  // namespace ws
