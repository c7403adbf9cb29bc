// The wirestress metrics as Prometheus text (what /metrics serves).
#include "stats/report/prometheus_text.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "driver/metrics.h"
#include "driver/reporting.h"
#include "protocol/errors.h"
#include "tests/stats/prometheus_samples.h"

namespace ws {
namespace {

using testing::expect_well_formed;
using testing::samples_of;
using testing::value_of;

// --- The wirestress metrics ---

driver::IntervalReport sample_report(driver::Metrics& interval) {
  driver::IntervalReport r;
  r.elapsed_s = 12.5;
  auto& t = r.total;
  t.messages_sent = 1000;
  t.messages_acked = 990;
  t.messages_failed = 7;
  t.bytes_sent = 123456789012;
  t.requests_sent = 100;
  t.requests_acked = 99;
  t.connections_attempted = 12;
  t.connections_established = 10;
  t.connections_failed = 2;
  t.reconnects = 1;
  t.metadata_refreshes = 6;
  t.leader_changes = 4;
  t.connections_open = 9;
  t.clients_producing = 8;
  t.failures[static_cast<size_t>(driver::Failure::kDisconnected)] = 3;
  t.errors_by_code[protocol::error::kNotLeaderOrFollower] = 5;
  t.errors_by_code[protocol::error::kMessageTooLarge] = 2;
  for (int64_t us = 1; us <= 1000; ++us) {
    interval.latency_us.record(us * 10);  // 10 us .. 10 ms from the intended time
    interval.service_latency_us.record(us);
  }
  r.interval = &interval;
  return r;
}

TEST(RenderPrometheus, WirestressMetrics) {
  driver::Metrics interval;
  const auto report = sample_report(interval);
  driver::RunConfig config;
  config.topic = "load \"test\"";
  config.clients = 10;
  config.rate = 2500.5;
  const std::string text = report::render_prometheus(report, config);
  SCOPED_TRACE(text);
  expect_well_formed(text);
  const auto s = samples_of(text);
  EXPECT_EQ(s.at("wirestress_produce_messages_sent_total"), "1000");
  EXPECT_EQ(s.at("wirestress_produce_messages_acked_total"), "990");
  EXPECT_EQ(s.at("wirestress_produce_messages_failed_total"), "7");
  EXPECT_EQ(s.at("wirestress_produce_bytes_sent_total"), "123456789012");
  EXPECT_EQ(s.at("wirestress_produce_requests_sent_total"), "100");
  EXPECT_EQ(s.at(R"(wirestress_produce_errors_total{code="NOT_LEADER_OR_FOLLOWER"})"), "5");
  EXPECT_EQ(s.at(R"(wirestress_produce_errors_total{code="MESSAGE_TOO_LARGE"})"), "2");
  EXPECT_EQ(s.at(R"(wirestress_failures_total{kind="disconnected"})"), "3");
  EXPECT_EQ(s.at(R"(wirestress_failures_total{kind="connect_failed"})"), "0");  // every kind, from the start
  EXPECT_EQ(s.at("wirestress_connections_attempted_total"), "12");
  EXPECT_EQ(s.at("wirestress_connections_established_total"), "10");
  EXPECT_EQ(s.at("wirestress_connections_failed_total"), "2");
  EXPECT_EQ(s.at("wirestress_connections_open"), "9");
  EXPECT_EQ(s.at("wirestress_metadata_refreshes_total"), "6");
  EXPECT_EQ(s.at("wirestress_leader_changes_total"), "4");
  EXPECT_EQ(s.at("wirestress_clients_producing"), "8");
  EXPECT_EQ(s.at("wirestress_clients_configured"), "10");
  EXPECT_EQ(s.at("wirestress_produce_target_messages_per_second"), "2500.5");
  EXPECT_EQ(s.at("wirestress_elapsed_seconds"), "12.5");
  EXPECT_EQ(s.at(R"(wirestress_run_info{acks="1",batch="1",compression="none",message_size="100",topic="load \"test\""})"),
            "1");
  EXPECT_NE(text.find("# TYPE wirestress_produce_messages_sent_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE wirestress_connections_open gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE wirestress_produce_latency_seconds summary\n"), std::string::npos);
  // Microseconds become seconds; within HdrHistogram's 3 significant figures.
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.5"})"), 5e-3, 5e-3 * 1e-3);
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.99"})"), 9.9e-3, 9.9e-3 * 1e-3);
  EXPECT_DOUBLE_EQ(value_of(s, R"(wirestress_produce_service_latency_seconds{quantile="0.5"})"), 500e-6);
  // p95 of 10 us .. 10 ms in 10 us steps is 9.5 ms, between p90 and p99; the mean is 5.005 ms.
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.95"})"), 9.5e-3, 9.5e-3 * 1e-3);
  EXPECT_GT(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.95"})"),
            value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.9"})"));
  EXPECT_LT(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.95"})"),
            value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.99"})"));
  EXPECT_NEAR(value_of(s, "wirestress_produce_latency_mean_seconds"), 5.005e-3, 5.005e-3 * 1e-3);
  EXPECT_DOUBLE_EQ(value_of(s, "wirestress_produce_service_latency_mean_seconds"), 500.5e-6);
  EXPECT_NE(text.find("# TYPE wirestress_produce_latency_mean_seconds gauge\n"), std::string::npos);
  EXPECT_EQ(s.at("wirestress_produce_latency_seconds_count"), "1000");
  EXPECT_EQ(s.at("wirestress_produce_service_latency_seconds_count"), "1000");
}

// The publish delay (actual send less intended send, OMB's publishDelayLatency) is served as the
// latencies are: a summary over the last interval, its mean, and since-start buckets.
TEST(RenderPrometheus, PublishDelayBesideTheLatencies) {
  driver::Metrics interval;
  const auto report = sample_report(interval);
  for (int64_t us = 1; us <= 1000; ++us) interval.publish_delay_us.record(us * 9);  // 9 us .. 9 ms
  const std::string text = report::render_prometheus(report, driver::RunConfig{});
  SCOPED_TRACE(text);
  expect_well_formed(text);
  const auto s = samples_of(text);
  EXPECT_NE(text.find("# TYPE wirestress_produce_publish_delay_seconds summary\n"), std::string::npos);
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_publish_delay_seconds{quantile="0.95"})"), 8.55e-3, 8.55e-3 * 1e-3);
  EXPECT_EQ(s.at("wirestress_produce_publish_delay_seconds_count"), "1000");
  EXPECT_NEAR(value_of(s, "wirestress_produce_publish_delay_mean_seconds"), 4.5045e-3, 4.5045e-3 * 1e-3);
  EXPECT_EQ(s.at(R"(wirestress_produce_publish_delay_histogram_seconds_bucket{le="+Inf"})"), "1000");
}

TEST(RenderPrometheus, SummaryTotalsFromTheWholeRunWhenGiven) {
  driver::Metrics interval;
  const auto report = sample_report(interval);
  driver::Metrics run_so_far;
  run_so_far.latency_us.record_n(100, 4000);  // earlier intervals
  run_so_far.service_latency_us.record_n(100, 4000);
  run_so_far.add(interval);
  const auto s = samples_of(report::render_prometheus(report, driver::RunConfig{}, &run_so_far));
  EXPECT_EQ(s.at("wirestress_produce_latency_seconds_count"), "5000");
  EXPECT_EQ(s.at("wirestress_produce_service_latency_seconds_count"), "5000");
  // Quantiles still describe the last interval only.
  EXPECT_NEAR(value_of(s, R"(wirestress_produce_latency_seconds{quantile="0.5"})"), 5e-3, 5e-3 * 1e-3);
}

TEST(RenderPrometheus, BeforeTheFirstIntervalQuantilesAreNaN) {
  driver::IntervalReport report;  // no interval yet
  const std::string text = report::render_prometheus(report, driver::RunConfig{});
  expect_well_formed(text);
  const auto s = samples_of(text);
  EXPECT_EQ(s.at(R"(wirestress_produce_latency_seconds{quantile="0.99"})"), "NaN");
  EXPECT_EQ(s.at("wirestress_produce_latency_mean_seconds"), "NaN");
  EXPECT_EQ(s.at("wirestress_produce_latency_seconds_count"), "0");
  EXPECT_EQ(s.at("wirestress_produce_messages_sent_total"), "0");
  EXPECT_EQ(text.find("wirestress_produce_errors_total"), std::string::npos);  // no codes seen yet
}

// The bucket lines of one histogram series, in order: (le, cumulative count).
std::vector<std::pair<std::string, int64_t>> buckets_of(const std::string& text, const std::string& name) {
  std::vector<std::pair<std::string, int64_t>> out;
  const std::string prefix = name + "_bucket{le=\"";
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    const size_t le_end = text.find('"', at + prefix.size());
    const size_t value_at = text.find(' ', le_end) + 1;
    out.emplace_back(text.substr(at + prefix.size(), le_end - at - prefix.size()),
                     std::stoll(text.substr(value_at, text.find('\n', value_at) - value_at)));
    at = value_at;
  }
  return out;
}

TEST(RenderPrometheus, LatencyHistogramsAreCumulativeAndEndWithInfEqualToCount) {
  driver::Metrics interval;
  const auto report = sample_report(interval);
  driver::Metrics run_so_far;
  run_so_far.latency_us.record_n(100, 4000);  // earlier intervals
  run_so_far.service_latency_us.record_n(100, 4000);
  run_so_far.add(interval);
  driver::RunConfig config;
  config.consumers = 1;
  const std::string text = report::render_prometheus(report, config, &run_so_far);
  SCOPED_TRACE(text);
  expect_well_formed(text);
  const auto s = samples_of(text);
  for (const char* name : {"wirestress_produce_latency_histogram_seconds",
                           "wirestress_produce_service_latency_histogram_seconds",
                           "wirestress_consume_e2e_latency_histogram_seconds"}) {
    SCOPED_TRACE(name);
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " histogram\n"), std::string::npos);
    const auto buckets = buckets_of(text, name);
    ASSERT_GE(buckets.size(), 2u);
    EXPECT_EQ(buckets.front().first, "0.0001");
    EXPECT_EQ(buckets.back().first, "+Inf");
    for (size_t i = 1; i < buckets.size(); ++i) EXPECT_GE(buckets[i].second, buckets[i - 1].second) << buckets[i].first;
    EXPECT_EQ(std::to_string(buckets.back().second), s.at(std::string(name) + "_count"));
  }
  // Run-so-far counts: 4000 at 100 us, then the interval's 1..1000 us (service) and 10 us..10 ms.
  EXPECT_EQ(s.at(R"(wirestress_produce_service_latency_histogram_seconds_bucket{le="0.0001"})"), "4100");
  EXPECT_EQ(s.at(R"(wirestress_produce_service_latency_histogram_seconds_bucket{le="0.0005"})"), "4500");
  EXPECT_EQ(s.at(R"(wirestress_produce_service_latency_histogram_seconds_bucket{le="0.001"})"), "5000");
  EXPECT_EQ(s.at(R"(wirestress_produce_service_latency_histogram_seconds_bucket{le="+Inf"})"), "5000");
  EXPECT_EQ(s.at(R"(wirestress_produce_latency_histogram_seconds_bucket{le="0.001"})"), "4100");
  // 10 ms shares a slot with 10.007 ms (3 significant figures): counted above 0.01, never below.
  EXPECT_EQ(s.at(R"(wirestress_produce_latency_histogram_seconds_bucket{le="0.01"})"), "4999");
  EXPECT_EQ(s.at(R"(wirestress_produce_latency_histogram_seconds_bucket{le="0.025"})"), "5000");
  EXPECT_EQ(s.at("wirestress_produce_latency_histogram_seconds_count"), "5000");
  // _sum in seconds: 4000 * 100 us + 1..1000 us (0.5005 s), within the histogram's precision.
  EXPECT_NEAR(value_of(s, "wirestress_produce_service_latency_histogram_seconds_sum"), 0.4 + 0.5005, 0.9 * 1e-3);
  // No consumer has read anything: an empty histogram, every bucket 0.
  EXPECT_EQ(s.at(R"(wirestress_consume_e2e_latency_histogram_seconds_bucket{le="+Inf"})"), "0");
}

TEST(RenderPrometheus, BuildInfoNamesVersionAndRevision) {
  const auto s = samples_of(report::render_prometheus(driver::IntervalReport{}, driver::RunConfig{}));
  bool found = false;
  for (const auto& [series, value] : s) {
    if (!series.starts_with("wirestress_build_info{")) continue;
    found = true;
    EXPECT_EQ(value, "1");
    EXPECT_NE(series.find("revision=\""), std::string::npos) << series;
    EXPECT_NE(series.find("version=\""), std::string::npos) << series;
    EXPECT_EQ(series.find("revision=\"\""), std::string::npos) << "empty revision: " << series;
  }
  EXPECT_TRUE(found);
}

TEST(RenderPrometheus, SecretsNeverAppear) {
  driver::Metrics interval;
  const auto report = sample_report(interval);
  driver::RunConfig config;
  config.consumers = 1;
  auto& sec = config.security;
  sec.protocol = driver::SecurityProtocol::kSaslSsl;
  sec.sasl.mechanism = "SCRAM-SHA-512";
  sec.sasl.username = "user-Zq7";
  sec.sasl.password = "pw-SECRET-1f9";
  sec.sasl.token = "token-SECRET-77a";
  sec.tls.key_password = "keypw-SECRET-3c";
  sec.tls.truststore_password = "trustpw-SECRET-9d";
  sec.tls.keystore_password = "storepw-SECRET-5e";
  const std::string text = report::render_prometheus(report, config, &interval);
  EXPECT_EQ(text.find("SECRET"), std::string::npos) << text;
  EXPECT_EQ(text.find("pw-"), std::string::npos) << text;
}

}  // namespace
}  // namespace ws
