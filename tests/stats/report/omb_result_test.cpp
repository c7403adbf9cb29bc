// --omb-result: the run as OpenMessaging Benchmark's TestResult JSON. Read back, it has
// TestResult.java's fields, the per-period rates of the run's measured intervals, latencies in
// milliseconds and the publish delay in whole microseconds, as OMB writes them. A sweep's or
// ceiling's cell, made from the run's --json result, is the same result as a single run's.
#include "stats/report/omb_result.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <functional>

#include "driver/metrics.h"
#include "driver/reporting.h"
#include "stats/report/run_text.h"

namespace ws {
namespace {

// TestResult.java's fields, as OMB writes them.
const std::vector<std::string> kTestResultFields = {
    "workload", "driver", "messageSize", "topics", "partitions", "producersPerTopic", "consumersPerTopic",
    "publishRate", "publishErrorRate", "consumeRate", "backlog",
    "publishLatencyAvg", "publishLatency50pct", "publishLatency75pct", "publishLatency95pct",
    "publishLatency99pct", "publishLatency999pct", "publishLatency9999pct", "publishLatency99999pct",
    "publishLatencyMax",
    "publishDelayLatencyAvg", "publishDelayLatency50pct", "publishDelayLatency75pct", "publishDelayLatency95pct",
    "publishDelayLatency99pct", "publishDelayLatency999pct", "publishDelayLatency9999pct",
    "publishDelayLatency99999pct", "publishDelayLatencyMax",
    "aggregatedPublishLatencyAvg", "aggregatedPublishLatency50pct", "aggregatedPublishLatency75pct",
    "aggregatedPublishLatency95pct", "aggregatedPublishLatency99pct", "aggregatedPublishLatency999pct",
    "aggregatedPublishLatency9999pct", "aggregatedPublishLatency99999pct", "aggregatedPublishLatencyMax",
    "aggregatedPublishDelayLatencyAvg", "aggregatedPublishDelayLatency50pct", "aggregatedPublishDelayLatency75pct",
    "aggregatedPublishDelayLatency95pct", "aggregatedPublishDelayLatency99pct", "aggregatedPublishDelayLatency999pct",
    "aggregatedPublishDelayLatency9999pct", "aggregatedPublishDelayLatency99999pct", "aggregatedPublishDelayLatencyMax",
    "aggregatedPublishLatencyQuantiles", "aggregatedPublishDelayLatencyQuantiles",
    "endToEndLatencyAvg", "endToEndLatency50pct", "endToEndLatency75pct", "endToEndLatency95pct",
    "endToEndLatency99pct", "endToEndLatency999pct", "endToEndLatency9999pct", "endToEndLatency99999pct",
    "endToEndLatencyMax", "aggregatedEndToEndLatencyQuantiles",
    "aggregatedEndToEndLatencyAvg", "aggregatedEndToEndLatency50pct", "aggregatedEndToEndLatency75pct",
    "aggregatedEndToEndLatency95pct", "aggregatedEndToEndLatency99pct", "aggregatedEndToEndLatency999pct",
    "aggregatedEndToEndLatency9999pct", "aggregatedEndToEndLatency99999pct", "aggregatedEndToEndLatencyMax"};

struct RecordedRun {
  driver::RunConfig config;
  std::vector<driver::Metrics> interval_metrics;
  driver::RunResult result;

  RecordedRun() {
    config.topics = 2;
    config.clients = 4;
    config.consumers = 6;  // 3 per topic
    config.message_size = 1024;
    config.acks = 1;
  }
};

// A 1 s interval in `phase`: `acked` records acknowledged, `received` delivered to consumers.
driver::IntervalReport interval(const driver::Metrics& m, driver::Phase phase, uint64_t acked, uint64_t received) {
  driver::IntervalReport r;
  r.interval_s = 1;
  r.phase = phase;
  r.delta.messages_sent = r.delta.messages_acked = acked;
  r.delta.consume_received = received;
  r.interval = &m;
  return r;
}

// A warm-up and two measured seconds: service latency 1..100 ms and publish delay 10..1000 us
// in the first, end-to-end latency 1..10 ms in the second.
void record_run(RecordedRun& run, const std::function<void(const driver::IntervalReport&)>& add_interval) {
  run.interval_metrics.resize(3);
  for (int64_t ms = 1; ms <= 100; ++ms) run.interval_metrics[1].service_latency_us.record(ms * 1000);
  for (int64_t us = 10; us <= 1000; us += 10) run.interval_metrics[1].publish_delay_us.record(us);
  for (int64_t ms = 1; ms <= 10; ++ms) run.interval_metrics[2].e2e_latency_us.record(ms * 1000);
  for (const auto& m : run.interval_metrics) run.result.metrics.add_histograms(m);
  // The warm-up is left out, as OMB leaves its own out; its records count in the backlog.
  add_interval(interval(run.interval_metrics[0], driver::Phase::kWarmUp, 999, 2997));
  add_interval(interval(run.interval_metrics[1], driver::Phase::kMeasuring, 2000, 6000));
  // Consumers fall behind: 3 consumers per topic owe 3 x 4999 = 14997 receipts, 2997 + 9000 came.
  add_interval(interval(run.interval_metrics[2], driver::Phase::kMeasuring, 2000, 3000));
}

TEST(OmbResult, HasTestResultsFieldsAndTheRunsRates) {
  RecordedRun run;
  report::OmbResultRecorder recorder(run.config, {"my workload", 16});
  record_run(run, [&](const driver::IntervalReport& r) { recorder.add_interval(r); });
  const report::Json j = recorder.result(run.result);

  std::set<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.insert(key);
  EXPECT_EQ(keys, std::set<std::string>(kTestResultFields.begin(), kTestResultFields.end()));

  EXPECT_EQ(j["workload"], "my workload");
  EXPECT_EQ(j["driver"], "wirestress");
  EXPECT_EQ(j["messageSize"], 1024);
  EXPECT_EQ(j["topics"], 2);
  EXPECT_EQ(j["partitions"], 16);
  EXPECT_EQ(j["producersPerTopic"], 2);
  EXPECT_EQ(j["consumersPerTopic"], 3);
  EXPECT_EQ(j["publishRate"], (std::vector<double>{2000, 2000}));
  EXPECT_EQ(j["consumeRate"], (std::vector<double>{6000, 3000}));
  EXPECT_EQ(j["publishErrorRate"], (std::vector<double>{0, 0}));
  EXPECT_EQ(j["backlog"], (std::vector<int64_t>{0, 3000}));

  // Milliseconds, per period and aggregated.
  ASSERT_EQ(j["publishLatency50pct"].size(), 2u);
  EXPECT_NEAR(j["publishLatency50pct"][0].get<double>(), 50, 0.1);
  EXPECT_NEAR(j["publishLatency99pct"][0].get<double>(), 99, 0.1);
  EXPECT_NEAR(j["publishLatencyMax"][0].get<double>(), 100, 0.1);
  EXPECT_NEAR(j["publishLatencyAvg"][0].get<double>(), 50.5, 0.1);
  EXPECT_EQ(j["publishLatencyMax"][1].get<double>(), 0);  // nothing acknowledged: zeros, as OMB
  EXPECT_NEAR(j["aggregatedPublishLatency95pct"].get<double>(), 95, 0.1);
  EXPECT_NEAR(j["aggregatedPublishLatencyMax"].get<double>(), 100, 0.1);
  EXPECT_NEAR(j["endToEndLatency50pct"][1].get<double>(), 5, 0.01);
  EXPECT_NEAR(j["aggregatedEndToEndLatencyMax"].get<double>(), 10, 0.01);
  // OMB fills no per-period 99999pct list; the aggregated one is there.
  EXPECT_TRUE(j["publishLatency99999pct"].empty());
  EXPECT_NEAR(j["aggregatedPublishLatency99999pct"].get<double>(), 100, 0.1);

  // The publish delay in whole microseconds (OMB's List<Long>), its averages as doubles.
  ASSERT_EQ(j["publishDelayLatency50pct"].size(), 2u);
  EXPECT_TRUE(j["publishDelayLatency50pct"][0].is_number_integer());
  EXPECT_EQ(j["publishDelayLatency50pct"][0].get<int64_t>(), 500);
  EXPECT_EQ(j["publishDelayLatency99pct"][0].get<int64_t>(), 990);
  EXPECT_EQ(j["publishDelayLatencyMax"][0].get<int64_t>(), 1000);
  EXPECT_NEAR(j["publishDelayLatencyAvg"][0].get<double>(), 505, 0.5);
  EXPECT_EQ(j["publishDelayLatencyMax"][1].get<int64_t>(), 0);
  EXPECT_TRUE(j["aggregatedPublishDelayLatency95pct"].is_number_integer());
  EXPECT_EQ(j["aggregatedPublishDelayLatency95pct"].get<int64_t>(), 950);
  EXPECT_EQ(j["aggregatedPublishDelayLatencyMax"].get<int64_t>(), 1000);
  EXPECT_NEAR(j["aggregatedPublishDelayLatencyAvg"].get<double>(), 505, 0.5);
  const auto& delays = j["aggregatedPublishDelayLatencyQuantiles"];
  ASSERT_TRUE(delays.contains("50.0"));
  EXPECT_EQ(delays["50.0"].get<int64_t>(), 500);
  EXPECT_EQ(delays["100.0"].get<int64_t>(), 1000);

  // Quantile maps keyed as Java writes a Double ("50.0"), ending at 100 = max.
  const auto& quantiles = j["aggregatedPublishLatencyQuantiles"];
  ASSERT_TRUE(quantiles.contains("50.0"));
  EXPECT_NEAR(quantiles["50.0"].get<double>(), 50, 0.1);
  ASSERT_TRUE(quantiles.contains("100.0"));
  EXPECT_NEAR(quantiles["100.0"].get<double>(), 100, 0.1);
  double previous = 0;
  for (const auto& [percentile, value] : quantiles.items()) {
    EXPECT_GE(value.get<double>(), previous) << percentile;
    previous = value.get<double>();
  }
}

TEST(OmbResult, QuantilesAreDensestTowardsTheTail) {
  stats::HdrHistogram h = driver::make_latency_histogram();
  for (int64_t us = 1; us <= 100000; ++us) h.record(us);
  const auto q = report::omb_quantiles(h, 100);
  ASSERT_GT(q.size(), 400u);
  // 100 ticks per halving of the distance to 100%: 0.5 apart below 50%, 0.25 up to 75%.
  EXPECT_DOUBLE_EQ(q[1].first, 0.5);
  EXPECT_DOUBLE_EQ(q[101].first - q[100].first, 0.25);
  EXPECT_DOUBLE_EQ(q.back().first, 100.0);
  EXPECT_NEAR(q.back().second, 100'000, 100);
  EXPECT_TRUE(report::omb_quantiles(driver::make_latency_histogram(), 100).empty());
}

// A sweep's cell or a ceiling's step has its run's --json result, not the run: the OMB result made
// from it is the single run's, field for field.
TEST(OmbResult, FromTheRunsJsonResultIsTheSingleRunsResult) {
  RecordedRun run;
  report::OmbResultRecorder recorder(run.config, {"my workload", 16});
  report::Json intervals = report::Json::array();
  record_run(run, [&](const driver::IntervalReport& r) {
    recorder.add_interval(r);
    intervals.push_back(report::interval_json(r, run.config));
  });
  const report::Json run_json =
      report::result_json(run.result, run.config, report::RunContext{}, report::ProcessFigures{}, intervals);
  std::string error;
  const auto from_json = report::omb_result(run.config, {"my workload", 16}, run_json, error);
  ASSERT_TRUE(from_json) << error;
  EXPECT_EQ(*from_json, recorder.result(run.result));

  report::Json old = run_json;  // an older wirestress wrote no publish delay histogram
  old["produce"].erase("publish_delay_histogram");
  EXPECT_FALSE(report::omb_result(run.config, {"my workload", 16}, old, error));
  EXPECT_NE(error.find("publish_delay_histogram"), std::string::npos) << error;
}

TEST(OmbResult, SweepAndCeilingWriteOneFilePerCellNamedByItsIndex) {
  const auto dir = std::filesystem::temp_directory_path() / ("omb_files_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  report::OmbResultFiles files{(dir / "omb.json").string(), {"", 16}};
  EXPECT_EQ(files.path("cell", 3), (dir / "omb-c03.json").string());
  EXPECT_EQ(files.path("step", 12), (dir / "omb-s12.json").string());

  RecordedRun run;
  report::Json intervals = report::Json::array();
  record_run(run, [&](const driver::IntervalReport& r) { intervals.push_back(report::interval_json(r, run.config)); });
  const report::Json run_json =
      report::result_json(run.result, run.config, report::RunContext{}, report::ProcessFigures{}, intervals);
  std::string error;
  ASSERT_TRUE(files.write("cell", 3, run.config, run_json, error)) << error;
  std::ifstream in(files.path("cell", 3));
  const report::Json j = report::Json::parse(in);
  EXPECT_EQ(j["workload"], "4 producers / 6 consumers on 2 topics, cell 3");
  EXPECT_EQ(j["publishRate"], (std::vector<double>{2000, 2000}));
  EXPECT_EQ(j["aggregatedPublishDelayLatencyMax"].get<int64_t>(), 1000);
  EXPECT_TRUE(report::OmbResultFiles{}.write("cell", 0, run.config, run_json, error));  // no prefix: nothing
  EXPECT_EQ(report::OmbResultFiles{}.path("cell", 0), "");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ws
