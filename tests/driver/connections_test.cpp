// ConnectionTable on the fake loop: connect slots, the handshake, the once-per-process version
// probe and the Kafka 0.9 fallback, backoff, timeouts and the response stream.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "protocol/errors.h"
#include "tests/driver/rigs.h"

namespace ws::testing {
namespace {

using driver::Failure;
using driver::LinkEvent;
using driver::LinkState;

// The regression behind `--clients=10000 --acks=0` connecting 398 clients: slots were freed only
// by a produce's answer, which acks=0 on Kafka 0.9 never gets. A slot is freed by the handshake.
TEST(ConnectionTable, SlotsAreFreedByTheHandshakeAnswerSoEveryKafka09Acks0LinkConnects) {
  auto config = base_config();
  config.max_connecting = 2;
  config.broker_version = driver::BrokerVersion::kV0_9;
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  TableRig rig(config, kafka);
  std::vector<driver::LinkId> links;
  for (int i = 0; i < 50; ++i) links.push_back(rig.open(static_cast<uint32_t>(i), 0, {.acks0_producer = true}));
  EXPECT_EQ(rig.kafka.connects, 2) << "only --max-connecting handshakes at once";
  rig.run_for(200 * kMs, kMs);
  for (const auto id : links) EXPECT_EQ(rig.table->link(id).state, LinkState::kReady);
  EXPECT_EQ(rig.kafka.connects, 50);
  EXPECT_EQ(rig.count(LinkEvent::kReady), 50);
  EXPECT_EQ(rig.table->connecting(), 0u);
  // Kafka 0.9 has no ApiVersions: every handshake was a Metadata request, answered.
  EXPECT_EQ(rig.kafka.count(protocol::MetadataRequest::kApiKey), 50);
  EXPECT_EQ(rig.kafka.count(protocol::ApiVersionsRequest::kApiKey), 0);
  EXPECT_EQ(rig.counters.connections_established, 50u);
}

TEST(ConnectionTable, ATcpConnectAloneDoesNotFreeTheSlot) {
  auto config = base_config();
  config.max_connecting = 1;
  FakeKafka kafka;
  kafka.brokers[0].silent = true;  // accepts, never answers the handshake
  TableRig rig(config, kafka);
  rig.open(0);
  rig.open(1);
  rig.run_for(500 * kMs);
  EXPECT_EQ(rig.kafka.connects, 1) << "the second link waits for the first one's handshake";
  EXPECT_EQ(rig.table->connecting(), 1u);
}

TEST(ConnectionTable, TheBrokersVersionsAreProbedOnceAndSharedByEveryLink) {
  auto config = base_config();
  config.max_connecting = 10;
  TableRig rig(config);
  for (uint32_t i = 0; i < 5; ++i) rig.open(i);
  EXPECT_EQ(rig.kafka.connects, 1) << "one connection probes; the others wait for its answer";
  rig.run_for(100 * kMs, kMs);
  EXPECT_EQ(rig.kafka.connects, 5);
  EXPECT_EQ(rig.count(LinkEvent::kReady), 5);
  driver::BrokerVersions v;
  ASSERT_EQ(rig.registry.versions(0, &v), driver::BrokerRegistry::Versions::kKnown);
  EXPECT_TRUE(v.has_api_versions);
  EXPECT_EQ(v.produce, 8);
  EXPECT_EQ(v.fetch, 11);
  EXPECT_EQ(v.list_offsets, protocol::kListOffsetsClientMax);  // capped at what the client asks for
  // Every connection still opens with ApiVersions, as real clients do.
  // The probe asked in v4 first and learnt v3 from the broker's answer; the others asked in v3.
  EXPECT_EQ(rig.kafka.count(protocol::ApiVersionsRequest::kApiKey), 6);
}

TEST(ConnectionTable, AutoModeFallsBackToKafka09WhenApiVersionsIsIgnoredForThreeSeconds) {
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  TableRig rig(base_config(), kafka);
  const auto id = rig.open();
  rig.run_for(2900 * kMs);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kHandshake) << "still waiting for ApiVersions";
  rig.run_for(400 * kMs);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kReady);
  EXPECT_FALSE(rig.table->link(id).versions.has_api_versions);
  EXPECT_EQ(rig.table->link(id).versions.produce, 1);
  EXPECT_EQ(rig.kafka.connects, 2) << "the probe connection is replaced";
  EXPECT_EQ(rig.counters.connections_failed, 0u) << "the fallback is not a failure";
  EXPECT_EQ(rig.count(LinkEvent::kLost), 0);
}

// Found by the worker fuzz target: with --connect-timeout under the probe's 3 s, every Kafka 0.9
// connection failed at the connect timeout and the fallback never happened.
TEST(ConnectionTable, AConnectTimeoutShorterThanTheProbeStillFallsBackToKafka09) {
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  auto config = base_config();
  config.connect_timeout = std::chrono::milliseconds(500);
  TableRig rig(config, kafka);
  const auto id = rig.open();
  rig.run_for(3300 * kMs);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kReady);
  EXPECT_EQ(rig.table->link(id).versions.produce, 1);
  EXPECT_EQ(rig.counters.connections_failed, 0u);
}

TEST(ConnectionTable, BrokersLearntFromAKafka09ClusterSkipTheThreeSecondProbe) {
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  TableRig rig(base_config(), kafka);
  rig.open();
  rig.run_for(3300 * kMs);
  ASSERT_EQ(rig.count(LinkEvent::kReady), 1);
  const uint32_t other = rig.registry.learn(7, "127.0.0.1", 29093);
  driver::BrokerVersions v;
  ASSERT_EQ(rig.registry.versions(other, &v), driver::BrokerRegistry::Versions::kKnown);
  EXPECT_FALSE(v.has_api_versions);
  EXPECT_EQ(v.produce, 1);

  // Once any broker answered ApiVersions, the cluster is not all 0.9: newcomers probe.
  driver::BrokerRegistry mixed;
  std::string error;
  ASSERT_TRUE(mixed.add_bootstrap({"127.0.0.1:29094", "127.0.0.1:29095"}, error));
  mixed.set_versions(0, driver::kafka_0_9_versions());
  driver::BrokerVersions newer;
  newer.produce = 8;
  mixed.set_versions(1, newer);
  EXPECT_EQ(mixed.versions(mixed.learn(3, "127.0.0.1", 29096)), driver::BrokerRegistry::Versions::kUnknown);
}

// A close is not a sign of Kafka 0.9 (which leaves the request unanswered): a TLS listener or an
// overloaded broker closes too, and must not be taken for 0.9 for the rest of the process.
TEST(ConnectionTable, ABrokerThatClosesOnApiVersionsIsAFailedConnectionNotKafka09) {
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kClosesOnApiVersions;
  TableRig rig(base_config(), kafka);
  const auto id = rig.open();
  rig.run_for(50 * kMs, kMs);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kWaiting);
  EXPECT_EQ(rig.counters.connections_failed, 1u);
  EXPECT_EQ(rig.registry.versions(0), driver::BrokerRegistry::Versions::kUnknown) << "the next attempt probes again";
}

TEST(ConnectionTable, ExplicitKafka09NeverSendsApiVersions) {
  auto config = base_config();
  config.broker_version = driver::BrokerVersion::kV0_9;
  TableRig rig(config);
  rig.open();
  rig.run_for(20 * kMs);
  EXPECT_EQ(rig.kafka.count(protocol::ApiVersionsRequest::kApiKey), 0);
  EXPECT_EQ(rig.count(LinkEvent::kReady), 1);
}

TEST(ConnectionTable, UnsupportedApiVersionsVersionIsRetriedLowerOnTheSameConnection) {
  TableRig rig(base_config());
  const auto id = rig.open();  // asks with ApiVersions v4; the fake broker speaks up to v3
  rig.run_for(20 * kMs, kMs);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kReady);
  EXPECT_EQ(rig.kafka.connects, 1);
  ASSERT_EQ(rig.kafka.count(protocol::ApiVersionsRequest::kApiKey), 2);
  EXPECT_EQ(rig.kafka.requests[0].api_version, protocol::ApiVersionsRequest::kMaxVersion);
  EXPECT_EQ(rig.kafka.requests[1].api_version, 3);
}

TEST(ConnectionTable, BackoffDoublesWithJitterUpToTheMaximum) {
  auto config = base_config();
  config.reconnect_backoff = std::chrono::milliseconds(100);
  config.reconnect_backoff_max = std::chrono::seconds(2);
  TableRig rig(config);
  for (uint8_t failures = 1; failures <= 10; ++failures) {
    const double expected = std::min(100.0 * (1 << (failures - 1)), 2000.0) * kMs;
    for (int i = 0; i < 50; ++i) {
      const double b = static_cast<double>(rig.table->backoff_ns(failures));
      EXPECT_GE(b, 0.8 * expected - 1);
      EXPECT_LE(b, 1.2 * expected + 1);
    }
  }
}

// 1,000 clients opened 34,608 connections in 5 s against a broker that accepts and then fails:
// the backoff was reset by every TCP connect. Now only a good answer resets it.
TEST(ConnectionTable, ABrokerThatAcceptsThenClosesGetsFewerAndFewerAttempts) {
  auto config = base_config();
  config.reconnect_backoff = std::chrono::milliseconds(100);
  config.reconnect_backoff_max = std::chrono::seconds(5);
  FakeKafka kafka;
  kafka.brokers[0].close_after_connect = true;
  TableRig rig(config, kafka);
  const auto id = rig.open();
  rig.run_for(5 * kSec);
  // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 = 3.1 s (+-20%): at most 6 attempts in 5 s, not thousands.
  EXPECT_GE(rig.kafka.connects, 4);
  EXPECT_LE(rig.kafka.connects, 6);
  EXPECT_GE(rig.table->link(id).failures, 4);
  EXPECT_EQ(rig.counters.connections_failed, static_cast<uint64_t>(rig.kafka.connects));
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kConnectFailed)],
            static_cast<uint64_t>(rig.kafka.connects));
}

TEST(ConnectionTable, AGoodAnswerResetsTheBackoff) {
  FakeKafka kafka;
  kafka.brokers[0].refuse = true;
  TableRig rig(base_config(), kafka);
  const auto id = rig.open();
  rig.run_for(1 * kSec);
  EXPECT_GE(rig.table->link(id).failures, 2);
  rig.kafka.brokers[0].refuse = false;
  rig.run_for(3 * kSec);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kReady);
  EXPECT_EQ(rig.table->link(id).failures, 0);
}

TEST(ConnectionTable, ConnectTimeoutCountsAFailedConnection) {
  auto config = base_config();
  config.connect_timeout = std::chrono::seconds(1);
  FakeKafka kafka;
  kafka.brokers[0].blackhole = true;
  TableRig rig(config, kafka);
  const auto id = rig.open();
  rig.run_for(1050 * kMs);  // the timeout, and not yet the 100 ms backoff after it
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kConnectFailed)], 1u);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kWaiting);
  EXPECT_EQ(rig.count(LinkEvent::kLost, id), 1);
  EXPECT_EQ(rig.table->connecting(), 0u) << "the slot is released";
}

TEST(ConnectionTable, ARequestTimeoutResetsTheConnectionAndReportsItsRequestsLost) {
  auto config = base_config();
  config.request_timeout = std::chrono::seconds(2);
  TableRig rig(config);
  const auto id = rig.open();
  rig.run_for(20 * kMs, kMs);
  ASSERT_EQ(rig.table->link(id).state, LinkState::kReady);
  rig.kafka.brokers[0].silent = true;
  protocol::MetadataRequest request;
  request.topics.emplace(1);
  (*request.topics)[0].name = "t";
  driver::InFlight meta;
  meta.intended_ns = rig.now;
  rig.table->append(id, request, 1, meta);
  rig.table->append(id, request, 1, meta);
  rig.table->flush(id, rig.now);
  rig.flush();
  rig.run_for(2500 * kMs);
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kRequestTimeout)], 1u);
  const auto lost = std::find_if(rig.seen.begin(), rig.seen.end(), [](const LinkEvent& e) { return e.kind == LinkEvent::kLost; });
  ASSERT_NE(lost, rig.seen.end());
  EXPECT_EQ(lost->why, Failure::kRequestTimeout);
  EXPECT_EQ(lost->lost_count, 2u);
}

TEST(ConnectionTable, ResponsesSplitAcrossReadsOrSharingOneAreMatchedInOrder) {
  TableRig rig(base_config());
  const auto id = rig.open();
  rig.run_for(20 * kMs, kMs);
  ASSERT_EQ(rig.table->link(id).state, LinkState::kReady);
  const int32_t first = rig.table->link(id).next_correlation_id;
  protocol::MetadataRequest request;
  driver::InFlight meta;
  rig.table->append(id, request, 1, meta);
  rig.table->append(id, request, 1, meta);
  rig.table->flush(id, rig.now);
  rig.kafka.brokers[0].silent = true;
  rig.flush();
  rig.seen.clear();
  protocol::MetadataResponse body;
  auto a = response_frame(first, protocol::MetadataRequest::kApiKey, 1, body);
  auto b = response_frame(first + 1, protocol::MetadataRequest::kApiKey, 1, body);
  std::vector<uint8_t> both(a.begin(), a.end());
  both.insert(both.end(), b.begin(), b.end());
  // Three reads: a's first 3 bytes, the rest of a with b's first half, b's second half.
  const size_t cut1 = 3, cut2 = a.size() + b.size() / 2;
  rig.loop->inject(id, std::vector<uint8_t>(both.begin(), both.begin() + cut1));
  rig.step();
  EXPECT_EQ(rig.count(LinkEvent::kResponse), 0);
  rig.loop->inject(id, std::vector<uint8_t>(both.begin() + cut1, both.begin() + static_cast<ptrdiff_t>(cut2)));
  rig.step();
  EXPECT_EQ(rig.count(LinkEvent::kResponse), 1);
  rig.loop->inject(id, std::vector<uint8_t>(both.begin() + static_cast<ptrdiff_t>(cut2), both.end()));
  rig.step();
  ASSERT_EQ(rig.count(LinkEvent::kResponse), 2);
  std::vector<int32_t> answered;
  for (const auto& e : rig.seen) {
    if (e.kind == LinkEvent::kResponse) answered.push_back(e.request.correlation_id);
  }
  EXPECT_EQ(answered, (std::vector<int32_t>{first, first + 1}));
}

TEST(ConnectionTable, AnOversizedFrameIsRefusedBeforeItIsRead) {
  TableRig rig(base_config());
  const auto id = rig.open();
  rig.run_for(20 * kMs, kMs);
  rig.loop->inject(id, {0x7f, 0xff, 0xff, 0xff});  // announces a 2 GiB frame
  rig.step();
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kResponseTooLarge)], 1u);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kWaiting);
}

// Pointed at an HTTP port, a client gets garbage, not silence: a failed connection, named for
// what the bytes were (the summary must not say the broker never answered).
TEST(ConnectionTable, ABadFirstAnswerFailsTheConnectionUnderItsOwnName) {
  FakeKafka kafka;
  kafka.brokers[0].silent = true;  // the handshake is answered by hand below
  TableRig rig(base_config(), kafka);
  const auto id = rig.open();
  rig.run_for(5 * kMs, kMs);
  rig.loop->inject(id, {0x7f, 0xff, 0xff, 0xff});
  rig.step();
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kResponseTooLarge)], 1u);
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kConnectFailed)], 0u);
  EXPECT_EQ(rig.counters.connections_failed, 1u);
}

// Found by fuzz_response_stream: a size prefix split across two reads was used to reserve the
// buffer before check_frame saw it whole, so a 750 MB announcement allocated 750 MB.
TEST(ConnectionTable, APrefixSplitAcrossReadsReservesNothingBeyondTheLimit) {
  auto config = base_config();
  config.max_response_bytes = 64 * 1024;
  config.max_receive_memory = 64 * 1024;  // reserving the announcement would break this budget
  TableRig rig(config);
  const auto id = rig.open();
  rig.run_for(20 * kMs, kMs);
  ASSERT_EQ(rig.table->link(id).state, LinkState::kReady);
  rig.loop->inject(id, {0x2f, 0x00});
  rig.step();
  rig.loop->inject(id, {0x00, 0x00, 0x01});
  rig.step();
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kResponseTooLarge)], 1u);
  EXPECT_LT(rig.table->link(id).partial.capacity(), 1u << 20);
  EXPECT_EQ(rig.table->buffered_bytes(), 0u);
}

TEST(ConnectionTable, TheResponseLimitIsTheUsersAndAFrameJustUnderItIsTaken) {
  auto config = base_config();
  config.max_response_bytes = 64 * 1024;
  TableRig rig(config);
  const auto id = rig.open();
  rig.run_for(20 * kMs, kMs);
  ASSERT_EQ(rig.table->link(id).state, LinkState::kReady);
  // 64 KiB + 1 announced: refused from the 4-byte prefix alone, before any body arrives.
  rig.loop->inject(id, {0x00, 0x01, 0x00, 0x01});
  rig.step();
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kResponseTooLarge)], 1u);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kWaiting);
  EXPECT_EQ(rig.table->buffered_bytes(), 0u);
}

// Split frames are the only receive memory the driver holds; a worker's links share a budget, and a
// link that would pass it is reset instead of the process running out of memory. A large frame's
// buffer is released once it has been handled.
TEST(ConnectionTable, SplitFramesShareTheWorkersReceiveBudgetAndLargeBuffersAreReleased) {
  auto config = base_config();
  config.max_response_bytes = 4 << 20;
  config.max_receive_memory = 4 << 20;  // one worker: a 4 MiB budget
  TableRig rig(config);
  const auto a = rig.open(0);
  const auto b = rig.open(1);
  rig.run_for(20 * kMs, kMs);
  ASSERT_TRUE(rig.table->ready(a) && rig.table->ready(b));
  // Each announces a 3 MiB frame and sends 2.5 MiB of it: the first fits, the second does not.
  auto prefix = [](uint32_t n) {
    return std::vector<uint8_t>{uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  };
  std::vector<uint8_t> part = prefix(3 << 20);
  part.resize(part.size() + (5 << 19), 0);
  rig.loop->inject(a, part);
  rig.step();
  EXPECT_TRUE(rig.table->ready(a));
  // The announced frame is reserved at once (growth by doubling would hold up to twice it).
  const size_t frame = (3u << 20) + 4;
  EXPECT_EQ(rig.table->buffered_bytes(), frame);
  EXPECT_EQ(rig.table->link(a).partial.capacity(), frame);
  rig.loop->inject(b, part);
  rig.step();
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kReceiveMemoryExhausted)], 1u);
  EXPECT_EQ(rig.table->link(b).state, LinkState::kWaiting);
  EXPECT_TRUE(rig.table->ready(a)) << "the link within the budget keeps its connection";
  EXPECT_EQ(rig.table->buffered_bytes(), frame);
  // The rest of a's frame arrives in pieces: no reallocation, and the budget does not move.
  std::vector<uint8_t> rest((3u << 20) - (5u << 19), 0);
  rig.loop->inject(a, std::vector<uint8_t>(rest.begin(), rest.begin() + 1000));
  rig.step();
  EXPECT_EQ(rig.table->link(a).partial.capacity(), frame);
  // a's connection is dropped (here: the broker closes it): its buffer goes back.
  rig.loop->close_from_broker(a);
  rig.step();
  EXPECT_EQ(rig.table->buffered_bytes(), 0u);
  EXPECT_LE(rig.table->link(a).partial.capacity(), 64u << 10);
}

TEST(ConnectionTable, AnUnexpectedCorrelationIdResetsButAcks0ProducersSkipUnsolicitedAnswers) {
  TableRig rig(base_config());
  const auto plain = rig.open(0);
  const auto acks0 = rig.open(1, 0, {.acks0_producer = true});
  rig.run_for(30 * kMs, kMs);
  protocol::MetadataResponse body;
  rig.loop->inject(plain, response_frame(999, protocol::MetadataRequest::kApiKey, 0, body));
  rig.loop->inject(acks0, response_frame(999, protocol::MetadataRequest::kApiKey, 0, body));
  rig.step();
  EXPECT_EQ(rig.counters.failures[static_cast<size_t>(Failure::kCorrelationMismatch)], 1u);
  EXPECT_EQ(rig.table->link(plain).state, LinkState::kWaiting);
  EXPECT_EQ(rig.table->link(acks0).state, LinkState::kReady);
}

TEST(ConnectionTable, UnansweredRequestsAreCountedByApi) {
  TableRig rig(base_config());
  const auto id = rig.open();
  rig.run_for(20 * kMs, kMs);
  rig.kafka.brokers[0].silent = true;
  protocol::MetadataRequest request;
  driver::InFlight meta;
  rig.table->append(id, request, 1, meta);
  rig.table->flush(id, rig.now);
  rig.flush();
  std::map<int16_t, uint64_t> unanswered;
  rig.table->count_unanswered(unanswered);
  EXPECT_EQ(unanswered[protocol::MetadataRequest::kApiKey], 1u);
}

TEST(ConnectionTable, ASendQueuedForADroppedConnectionIsNotWrittenToTheNextOne) {
  TableRig rig(base_config());
  const auto id = rig.open();
  rig.run_for(20 * kMs, kMs);
  protocol::MetadataRequest request;
  driver::InFlight meta;
  rig.table->append(id, request, 1, meta);
  rig.table->flush(id, rig.now);  // a send op is queued...
  rig.table->fail(id, Failure::kDecodeError, rig.now);  // ...and the connection dropped first
  const auto ops = rig.table->io_ops();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].kind, driver::IoOp::kSend);
  EXPECT_NE(ops[0].generation, rig.table->link(id).generation) << "the stale send is skipped by its generation";
  EXPECT_EQ(ops[1].kind, driver::IoOp::kClose);
}

TEST(ConnectionTable, ANameThatDoesNotResolveIsAFailedConnectionWithBackoff) {
  TableRig rig(base_config());
  const uint32_t bad = rig.registry.learn(7, "no-such-host.invalid", 9092);
  const auto id = rig.open(0, bad);
  EXPECT_EQ(rig.table->link(id).state, LinkState::kWaiting) << "the lookup runs off the loop";
  // The lookup's thread runs on the real clock: wait for its answer (bounded), then go on.
  for (int i = 0; i < 500 && rig.registry.address(bad) == driver::BrokerRegistry::Address::kResolving; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  rig.run_for(2 * kSec);
  EXPECT_GE(rig.counters.connections_failed, 1u);
  EXPECT_LE(rig.counters.connections_failed, 6u) << "with backoff, not a storm";
  EXPECT_EQ(rig.table->link(id).state, LinkState::kWaiting);
  EXPECT_FALSE(rig.registry.address_error(bad).empty());
}

}  // namespace
}  // namespace ws::testing
