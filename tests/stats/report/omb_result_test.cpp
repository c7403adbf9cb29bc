// --omb-result: the run as OpenMessaging Benchmark's TestResult JSON. Read back, it has
// TestResult.java's fields (less publishDelayLatency*, which wirestress does not measure), the
// per-period rates of the run's measured intervals, and latencies in milliseconds.
#include "stats/report/omb_result.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "driver/metrics.h"
#include "driver/reporting.h"

namespace ws {
namespace {

// TestResult.java's fields, as OMB writes them.
const std::vector<std::string> kTestResultFields = {
    "workload", "driver", "messageSize", "topics", "partitions", "producersPerTopic", "consumersPerTopic",
    "publishRate", "publishErrorRate", "consumeRate", "backlog",
    "publishLatencyAvg", "publishLatency50pct", "publishLatency75pct", "publishLatency95pct",
    "publishLatency99pct", "publishLatency999pct", "publishLatency9999pct", "publishLatency99999pct",
    "publishLatencyMax",
    "aggregatedPublishLatencyAvg", "aggregatedPublishLatency50pct", "aggregatedPublishLatency75pct",
    "aggregatedPublishLatency95pct", "aggregatedPublishLatency99pct", "aggregatedPublishLatency999pct",
    "aggregatedPublishLatency9999pct", "aggregatedPublishLatency99999pct", "aggregatedPublishLatencyMax",
    "aggregatedPublishLatencyQuantiles",
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

// A 1 s interval in `phase`: `acked` records acknowledged (each with service latency 1..acked ms
// in turn), `received` delivered to consumers, cumulative counts as given.
driver::IntervalReport interval(const driver::Metrics& m, driver::Phase phase, uint64_t acked, uint64_t received,
                                uint64_t total_acked, uint64_t total_received) {
  driver::IntervalReport r;
  r.interval_s = 1;
  r.phase = phase;
  r.delta.messages_sent = r.delta.messages_acked = acked;
  r.delta.consume_received = received;
  r.total.messages_sent = r.total.messages_acked = total_acked;
  r.total.consume_received = total_received;
  r.interval = &m;
  return r;
}

TEST(OmbResult, HasTestResultsFieldsAndTheRunsRates) {
  RecordedRun run;
  run.interval_metrics.resize(3);
  for (int64_t ms = 1; ms <= 100; ++ms) run.interval_metrics[1].service_latency_us.record(ms * 1000);
  for (int64_t ms = 1; ms <= 10; ++ms) run.interval_metrics[2].e2e_latency_us.record(ms * 1000);
  run.result.metrics.service_latency_us.add(run.interval_metrics[1].service_latency_us);
  run.result.metrics.e2e_latency_us.add(run.interval_metrics[2].e2e_latency_us);

  report::OmbResultRecorder recorder(run.config, {"my workload", 16});
  // The warm-up is left out, as OMB leaves its own out.
  recorder.add_interval(interval(run.interval_metrics[0], driver::Phase::kWarmUp, 999, 999, 999, 2997));
  recorder.add_interval(interval(run.interval_metrics[1], driver::Phase::kMeasuring, 2000, 6000, 2999, 8997));
  // Consumers fall behind: 3 consumers per topic owe 3 x 4999 = 14997 receipts, 9000 + 2997 came.
  recorder.add_interval(interval(run.interval_metrics[2], driver::Phase::kMeasuring, 2000, 3000, 4999, 11997));
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
  EXPECT_NEAR(q.back().second, 100, 0.1);
  EXPECT_TRUE(report::omb_quantiles(driver::make_latency_histogram(), 100).empty());
}

}  // namespace
}  // namespace ws
