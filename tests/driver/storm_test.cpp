// The connection storm on the fake broker and a fake clock: every stage of the handshake is timed
// in the order it happens on the wire, attempts start at the offered rate whatever the broker
// does (open loop, with the overflow counted as dropped), and failures are named per stage.
#include <gtest/gtest.h>

#include "driver/storm.h"
#include "driver/storm_worker.h"
#include "protocol/metadata.h"
#include "protocol/sasl_authenticate.h"
#include "protocol/sasl_handshake.h"
#include "tests/driver/rigs.h"

namespace ws::testing {
namespace {

using driver::Failure;
using driver::StormStage;

struct StormRig {
  FakeKafka kafka;
  driver::StormConfig config;
  driver::RunConfig table_config;
  std::unique_ptr<driver::StormControl> control;
  driver::StormMailbox mailbox;
  std::unique_ptr<driver::StormWorker<FakeLoop>> worker;
  int64_t now = 50 * kSec;

  StormRig(driver::StormConfig c, FakeKafka k = FakeKafka{}) : kafka(std::move(k)), config(std::move(c)) {
    config.connection.threads = 1;
    table_config = config.table_config(1);
    FakeLoop::cluster() = &kafka;
    driver::BrokerRegistry::forget_process_cache();
    control = std::make_unique<driver::StormControl>(1, config.connection.broker_version);
    std::string error;
    control->brokers.add_bootstrap(config.connection.bootstrap, error);
    worker = std::make_unique<driver::StormWorker<FakeLoop>>(config, table_config, *control, mailbox,
                                                             net::LoopOptions{}, config.rate, config.max_pending, 0, 0);
    worker->open_loop(error);
    worker->start(now);
  }

  void step() {
    worker->advance(now);
    std::vector<net::Event> events(1024);
    const size_t n = worker->loop().poll(events, 0);
    worker->handle(std::span<const net::Event>(events.data(), n), now);
  }
  // Runs until the storm is done (or `limit` of fake time), then finishes it as the thread does.
  void run_to_end(int64_t limit = 120 * kSec, int64_t tick = kMs) {
    const int64_t end = now + limit;
    while (now < end && !worker->done()) {
      step();
      now += tick;
    }
    worker->finish(now);
  }
  // Steps until the probe handshake is done and the storm proper begins.
  void run_until_storm() {
    while (worker->storm().phase() == driver::Storm::Phase::kProbe) {
      step();
      now += kMs;
    }
  }
  const driver::StormMetrics& metrics() { return worker->storm().metrics(); }
  const driver::StormStageCounts& stage(StormStage s) { return metrics().counters.stage(s); }
  const stats::HdrHistogram& latency(StormStage s) { return metrics().latency_us[static_cast<size_t>(s)]; }
  uint64_t failures(StormStage s, Failure f) { return stage(s).failures[static_cast<size_t>(f)]; }
};

driver::StormConfig storm_config(double rate, int64_t duration_ms) {
  driver::StormConfig c;
  c.connection = base_config();
  c.rate = rate;
  c.duration = std::chrono::milliseconds(duration_ms);
  c.max_pending = 1000;
  c.drain_timeout = std::chrono::seconds(2);
  return c;
}

// The API keys one connection sent, in order.
std::vector<int16_t> requests_of(const FakeKafka& kafka, net::ConnId conn, size_t first_index) {
  std::vector<int16_t> keys;
  for (size_t i = first_index; i < kafka.requests.size(); ++i) {
    if (kafka.requests[i].conn == conn) keys.push_back(kafka.requests[i].api_key);
  }
  return keys;
}

TEST(Storm, EveryStageIsTimedAndCountedInOrder) {
  auto config = storm_config(100, 1000);
  config.metadata = true;
  StormRig rig(config);
  rig.run_to_end();
  const auto& c = rig.metrics().counters;
  EXPECT_EQ(c.scheduled, 100u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(rig.metrics().start_lag_us.total_count(), 100);  // every attempt started on its 1 ms tick
  EXPECT_LE(rig.metrics().start_lag_us.max(), 1000);
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, 100u);
  EXPECT_EQ(rig.stage(StormStage::kTotal).failed, 0u);
  for (StormStage s : {StormStage::kTcp, StormStage::kApiVersions, StormStage::kMetadata, StormStage::kTotal}) {
    EXPECT_EQ(rig.stage(s).attempted, 100u) << driver::storm_stage_name(s);
    EXPECT_EQ(rig.stage(s).completed, 100u) << driver::storm_stage_name(s);
    EXPECT_EQ(rig.latency(s).total_count(), 100) << driver::storm_stage_name(s);
  }
  // Stages the plaintext handshake does not have are never attempted.
  EXPECT_EQ(rig.stage(StormStage::kTls).attempted, 0u);
  EXPECT_EQ(rig.stage(StormStage::kSasl).attempted, 0u);
  // The fake broker answers at the next poll, one 1 ms tick later: ApiVersions and Metadata each
  // take about a tick, and the total holds every stage.
  EXPECT_GE(rig.latency(StormStage::kApiVersions).value_at_percentile(50), 900);
  EXPECT_GE(rig.latency(StormStage::kMetadata).value_at_percentile(50), 900);
  EXPECT_GE(rig.latency(StormStage::kTotal).min(), rig.latency(StormStage::kApiVersions).min() +
                                                        rig.latency(StormStage::kMetadata).min());
  // On the wire, for every attempt: ApiVersions, then Metadata for the topic, then the close.
  const auto& requests = rig.kafka.requests;
  ASSERT_EQ(requests.size(), 2u + 2 * 100);  // the probe negotiates its ApiVersions version first
  for (size_t i = 2; i < requests.size(); i += 2) {
    EXPECT_EQ(requests[i].api_key, protocol::ApiVersionsRequest::kApiKey) << i;
    EXPECT_EQ(requests[i + 1].api_key, protocol::MetadataRequest::kApiKey) << i;
    EXPECT_EQ(requests[i + 1].conn, requests[i].conn) << i;
  }
  EXPECT_EQ(rig.worker->loop().open_connections(), 0);
  EXPECT_EQ(rig.metrics().counters.pending, 0u);
}

TEST(Storm, SaslIsAStageOfItsOwnBetweenApiVersionsAndMetadata) {
  auto config = storm_config(50, 1000);
  config.metadata = true;
  config.connection.security.protocol = driver::SecurityProtocol::kSaslPlaintext;
  config.connection.security.sasl = {"SCRAM-SHA-256", "user", "pencil", ""};
  FakeKafka kafka;
  kafka.sasl_users = {{"user", "pencil"}};
  StormRig rig(config, kafka);
  rig.run_to_end();
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, 50u);
  EXPECT_EQ(rig.stage(StormStage::kSasl).completed, 50u);
  // SaslHandshake and two SaslAuthenticate round trips: three ticks.
  EXPECT_GE(rig.latency(StormStage::kSasl).value_at_percentile(50), 2900);
  EXPECT_EQ(rig.kafka.sasl_logins, 51);  // the probe and every attempt
  const auto keys = requests_of(rig.kafka, rig.kafka.requests.back().conn, 0);
  const std::vector<int16_t> expected{protocol::ApiVersionsRequest::kApiKey, protocol::SaslHandshakeRequest::kApiKey,
                                      protocol::SaslAuthenticateRequest::kApiKey,
                                      protocol::SaslAuthenticateRequest::kApiKey, protocol::MetadataRequest::kApiKey};
  ASSERT_GE(keys.size(), expected.size());
  EXPECT_EQ(std::vector<int16_t>(keys.end() - static_cast<ptrdiff_t>(expected.size()), keys.end()), expected);
}

TEST(Storm, AttemptsStartAtTheOfferedRateWhateverTheBrokerDoes) {
  // A broker that accepts and never answers: attempts pile up to --max-pending, and the schedule
  // goes on regardless; what is due while the cap is reached is dropped, and counted.
  auto config = storm_config(1000, 2000);
  config.max_pending = 50;
  config.connection.broker_version = driver::BrokerVersion::kV0_10;
  config.connection.connect_timeout = std::chrono::milliseconds(500);
  config.drain_timeout = std::chrono::seconds(1);
  StormRig rig(config);
  rig.run_until_storm();
  rig.kafka.brokers[0].silent = true;
  rig.run_to_end();
  const auto& c = rig.metrics().counters;
  EXPECT_EQ(c.scheduled, 2000u);
  // Every 500 ms the 50 attempts in progress time out and 50 new ones start.
  EXPECT_GE(c.dropped, 1700u);
  EXPECT_EQ(c.scheduled, c.dropped + rig.stage(StormStage::kTotal).attempted);
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, 0u);
  // TCP worked; ApiVersions was never answered.
  EXPECT_EQ(rig.stage(StormStage::kTcp).failed, 0u);
  EXPECT_EQ(rig.stage(StormStage::kApiVersions).failed, rig.stage(StormStage::kTotal).attempted);
  EXPECT_EQ(rig.stage(StormStage::kApiVersions).completed, 0u);
  // The handshake timed out (--connect-timeout covers it): counted as the connection failing.
  EXPECT_EQ(rig.failures(StormStage::kApiVersions, Failure::kConnectFailed) +
                rig.failures(StormStage::kApiVersions, Failure::kRequestTimeout),
            rig.stage(StormStage::kApiVersions).failed);
}

TEST(Storm, PacingIsExactWhenTheBrokerKeepsUp) {
  StormRig rig(storm_config(2500, 2000));
  rig.run_to_end(60 * kSec, 100'000);  // 0.1 ms ticks
  EXPECT_EQ(rig.metrics().counters.scheduled, 5000u);
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, 5000u);
  EXPECT_EQ(rig.kafka.connects, 5001);  // and the probe
  // The storm lasted its duration: completions per second are the offered rate.
  const double elapsed = static_cast<double>(rig.worker->storm().storm_end_ns() - rig.worker->storm().storm_start_ns()) / 1e9;
  EXPECT_NEAR(5000 / elapsed, 2500, 50);
}

TEST(Storm, ABrokerThatNeverCompletesAHandshakeHasNoStorm) {
  FakeKafka kafka;
  kafka.brokers[0].refuse = true;
  StormRig rig(storm_config(100, 500), kafka);
  rig.run_to_end();
  EXPECT_EQ(rig.metrics().counters.scheduled, 0u);
  std::lock_guard lock(rig.mailbox.mutex);
  EXPECT_NE(rig.mailbox.fatal.find("no handshake completed with 127.0.0.1:9092 before the storm (connect_failed)"),
            std::string::npos)
      << rig.mailbox.fatal;
}

TEST(Storm, ARateThatDoesNotDivideASecondStillScheduledExactly) {
  StormRig rig(storm_config(300, 10'000));
  rig.run_to_end(60 * kSec, 100'000);
  EXPECT_EQ(rig.metrics().counters.scheduled, 3000u);
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, 3000u);
}

TEST(Storm, ARefusedConnectFailsTheTcpStageByName) {
  StormRig rig(storm_config(100, 500));
  rig.run_until_storm();
  rig.kafka.brokers[0].refuse = true;
  rig.run_to_end();
  EXPECT_EQ(rig.stage(StormStage::kTcp).attempted, 50u);
  EXPECT_EQ(rig.failures(StormStage::kTcp, Failure::kConnectFailed), 50u);
  EXPECT_EQ(rig.failures(StormStage::kTotal, Failure::kConnectFailed), 50u);
  EXPECT_EQ(rig.stage(StormStage::kApiVersions).attempted, 0u);
}

TEST(Storm, ABrokerThatClosesDuringTheHandshakeFailsThatStage) {
  auto config = storm_config(100, 500);
  config.connection.broker_version = driver::BrokerVersion::kV0_10;
  StormRig rig(config);
  rig.run_until_storm();
  rig.kafka.brokers[0].close_after_connect = true;
  rig.run_to_end();
  EXPECT_EQ(rig.stage(StormStage::kTcp).completed, 50u);
  EXPECT_EQ(rig.stage(StormStage::kApiVersions).failed, 50u);
  EXPECT_EQ(rig.stage(StormStage::kTotal).failed, 50u);
}

TEST(Storm, WrongCredentialsEndTheStormAtOnceWithTheReason) {
  auto config = storm_config(100, 5000);
  config.connection.security.protocol = driver::SecurityProtocol::kSaslPlaintext;
  config.connection.security.sasl = {"PLAIN", "user", "wrong", ""};
  FakeKafka kafka;
  kafka.sasl_users = {{"user", "pencil"}};
  StormRig rig(config, kafka);
  const int64_t start = rig.now;
  rig.run_to_end();
  EXPECT_LT(rig.now - start, kSec);
  std::lock_guard lock(rig.mailbox.mutex);
  EXPECT_NE(rig.mailbox.fatal.find("authentication_failed"), std::string::npos) << rig.mailbox.fatal;
}

TEST(Storm, Kafka09SkipsApiVersionsAndItsMetadataIsTheHandshake) {
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  auto config = storm_config(100, 1000);
  config.metadata = true;
  config.connection.broker_version = driver::BrokerVersion::kV0_9;
  StormRig rig(config, kafka);
  rig.run_to_end();
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, 100u);
  EXPECT_EQ(rig.metrics().counters.api_versions_skipped, 100u);
  EXPECT_EQ(rig.stage(StormStage::kApiVersions).attempted, 0u);
  EXPECT_EQ(rig.stage(StormStage::kMetadata).completed, 100u);
  EXPECT_EQ(rig.kafka.count(protocol::ApiVersionsRequest::kApiKey), 0);
}

TEST(Storm, TopicErrorsInMetadataAreCountedByCode) {
  FakeKafka kafka;
  kafka.topic_error = 3;  // UNKNOWN_TOPIC_OR_PARTITION
  auto config = storm_config(100, 200);
  config.metadata = true;
  StormRig rig(config, kafka);
  rig.run_to_end();
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, 20u);
  EXPECT_EQ(rig.metrics().counters.metadata_errors.at(3), 20u);
}

TEST(Storm, StopEndsTheScheduleAndLetsAttemptsInProgressFinish) {
  StormRig rig(storm_config(100, 10'000));
  for (int i = 0; i < 1000; ++i) {  // 1 s
    rig.step();
    rig.now += kMs;
  }
  rig.worker->storm().stop(rig.now);
  rig.run_to_end();
  EXPECT_NEAR(static_cast<double>(rig.metrics().counters.scheduled), 100, 2);
  EXPECT_EQ(rig.stage(StormStage::kTotal).completed, rig.metrics().counters.scheduled);
}

}  // namespace
}  // namespace ws::testing
