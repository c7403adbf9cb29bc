// SASL on the fake broker: every connection authenticates after ApiVersions, in both of Kafka's
// flows (SaslAuthenticate, or bare token frames after a v0 handshake), and what no retry can fix
// (wrong credentials, a mechanism the broker lacks, a broker without SASL) ends the run at once,
// named, instead of redialling until the connect deadline.
#include <gtest/gtest.h>

#include "driver/metrics.h"
#include "protocol/sasl_authenticate.h"
#include "protocol/sasl_handshake.h"
#include "tests/driver/rigs.h"

namespace ws::testing {
namespace {

driver::RunConfig sasl_config(const std::string& mechanism, const std::string& password = "pencil") {
  auto config = base_config();
  config.clients = 3;
  config.consumers = 1;
  config.rate = 300;
  config.duration = std::chrono::seconds(1);
  config.verify = true;
  config.security.protocol = driver::SecurityProtocol::kSaslPlaintext;
  config.security.sasl.mechanism = mechanism;
  config.security.sasl.username = "user";
  config.security.sasl.password = password;
  return config;
}

FakeKafka sasl_kafka() {
  FakeKafka k;
  k.sasl_users = {{"user", "pencil"}};
  return k;
}

uint64_t failures(WorkerRig& rig, driver::Failure f) { return rig.counters().failures[static_cast<size_t>(f)]; }

// What each connection sent before its first request of another kind.
std::vector<int16_t> opening_of(const WorkerRig& rig, net::ConnId conn) {
  std::vector<int16_t> keys;
  for (const auto& r : rig.kafka.requests) {
    if (r.conn != conn) continue;
    keys.push_back(r.api_key);
    if (keys.size() == 4) break;
  }
  return keys;
}

TEST(Sasl, ScramSha256AuthenticatesEveryConnectionBeforeAnythingElse) {
  WorkerRig rig(sasl_config("SCRAM-SHA-256"), sasl_kafka());
  rig.run_to_end();
  EXPECT_TRUE(rig.control->fatal().empty()) << rig.control->fatal();
  EXPECT_EQ(rig.counters().producers_connected, 3u);
  EXPECT_EQ(rig.counters().consumers_connected, 1u);
  EXPECT_GT(rig.measured().messages_acked, 0u);
  EXPECT_EQ(rig.worker->consumers()[0].intake().tally.lost, 0u);
  EXPECT_EQ(static_cast<uint64_t>(rig.kafka.sasl_logins), rig.counters().connections_established);
  // ApiVersions, SaslHandshake v1, then client-first and client-final in SaslAuthenticate.
  const std::vector<int16_t> expected{protocol::ApiVersionsRequest::kApiKey, protocol::SaslHandshakeRequest::kApiKey,
                                      protocol::SaslAuthenticateRequest::kApiKey,
                                      protocol::SaslAuthenticateRequest::kApiKey};
  for (const auto& r : rig.kafka.requests) {
    if (r.api_key == protocol::ProduceRequest::kApiKey) {
      EXPECT_EQ(opening_of(rig, r.conn), expected);
      break;
    }
  }
}

TEST(Sasl, PlainOverKafka010BareTokenFrames) {
  auto kafka = sasl_kafka();
  kafka.sasl_v0_only = true;  // no SaslAuthenticate: the token goes as a bare frame
  WorkerRig rig(sasl_config("PLAIN"), kafka);
  rig.run_to_end();
  EXPECT_TRUE(rig.control->fatal().empty()) << rig.control->fatal();
  EXPECT_EQ(rig.counters().producers_connected, 3u);
  EXPECT_GT(rig.measured().messages_acked, 0u);
  EXPECT_EQ(rig.kafka.count(protocol::SaslAuthenticateRequest::kApiKey), 0);
  EXPECT_GT(rig.kafka.sasl_logins, 0);
}

TEST(Sasl, ScramSha512OverBareFramesToo) {
  auto kafka = sasl_kafka();
  kafka.sasl_v0_only = true;
  WorkerRig rig(sasl_config("SCRAM-SHA-512"), kafka);
  rig.run_to_end();
  EXPECT_TRUE(rig.control->fatal().empty()) << rig.control->fatal();
  EXPECT_EQ(rig.counters().producers_connected, 3u);
}

// The run must end within seconds, not redial until --connect-deadline.
void expect_fatal_soon(WorkerRig& rig, const std::string& text, driver::Failure kind) {
  const int64_t start = rig.now;
  rig.run_to_end(10 * kSec);
  EXPECT_NE(rig.control->fatal().find(text), std::string::npos) << rig.control->fatal();
  EXPECT_LT(rig.now - start, 3 * kSec) << "ended by the refusal, not by a deadline";
  EXPECT_GE(failures(rig, kind), 1u);
  EXPECT_EQ(rig.counters().producers_connected, 0u);
  EXPECT_LE(rig.kafka.connects, 40) << "no redialling";
}

TEST(Sasl, AWrongPasswordEndsTheRunAtOnceWithTheBrokersReason) {
  WorkerRig rig(sasl_config("SCRAM-SHA-256", "wrong"), sasl_kafka());
  expect_fatal_soon(rig, "authentication_failed", driver::Failure::kAuthenticationFailed);
}

TEST(Sasl, AWrongPasswordOnKafka010WhichJustClosesEndsTheRunToo) {
  auto kafka = sasl_kafka();
  kafka.sasl_v0_only = true;
  WorkerRig rig(sasl_config("PLAIN", "wrong"), kafka);
  expect_fatal_soon(rig, "closed the connection during SASL authentication", driver::Failure::kAuthenticationFailed);
}

TEST(Sasl, AMechanismTheBrokerLacksNamesWhatItOffers) {
  auto kafka = sasl_kafka();
  kafka.sasl_mechanisms = {"PLAIN"};
  WorkerRig rig(sasl_config("SCRAM-SHA-512"), kafka);
  expect_fatal_soon(rig, "does not offer SCRAM-SHA-512 (it offers: PLAIN)", driver::Failure::kUnsupportedSaslMechanism);
}

TEST(Sasl, ABrokerWithoutSaslIsNamedNotRetried) {
  WorkerRig rig(sasl_config("PLAIN"));  // a plaintext listener: no SaslHandshake in ApiVersions
  expect_fatal_soon(rig, "has no SaslHandshake", driver::Failure::kUnsupportedSaslMechanism);
}

TEST(Sasl, Kafka09HasNoSaslMechanismWeSpeak) {
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  auto config = sasl_config("PLAIN");
  config.broker_version = driver::BrokerVersion::kV0_9;
  WorkerRig rig(config, kafka);
  expect_fatal_soon(rig, "Kafka 0.9", driver::Failure::kUnsupportedSaslMechanism);
}

}  // namespace
}  // namespace ws::testing
