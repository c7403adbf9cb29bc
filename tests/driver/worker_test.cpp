// A whole worker on the fake loop and a fake clock: phases, producers, the metadata cache, the
// acks=0 flush barrier, the connect deadline and the failures a user must see.
#include <gtest/gtest.h>

#include "driver/reporting.h"
#include "protocol/errors.h"
#include "tests/driver/rigs.h"

namespace ws::testing {
namespace {

using driver::Failure;
using driver::Phase;

TEST(Worker, NothingIsProducedUntilEveryClientIsReadyThenTheMeasuredTimeStarts) {
  auto config = base_config();
  config.clients = 40;
  config.max_connecting = 4;
  config.rate = 4000;
  config.duration = std::chrono::seconds(2);
  WorkerRig rig(config);
  EXPECT_EQ(rig.phase(), Phase::kConnecting);
  // Until the last client is ready nothing is sent, whatever the schedule says.
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() != Phase::kConnecting; }, 5 * kSec));
  EXPECT_EQ(rig.counters().producers_connected, 40u);
  EXPECT_EQ(rig.kafka.count(protocol::ProduceRequest::kApiKey), 0);
  const int64_t connected = rig.control->timeline.connected_ns();
  EXPECT_GT(connected, rig.start) << "connecting took time: the measured time starts after it";
  EXPECT_EQ(rig.control->timeline.measure_start_ns(), connected);
  rig.run_to_end();
  EXPECT_GT(rig.kafka.count(protocol::ProduceRequest::kApiKey), 0);
  // 4,000 msg/s for 2 s, counted from the end of connecting.
  EXPECT_NEAR(static_cast<double>(rig.measured().messages_sent), 8000, 80);
  EXPECT_EQ(rig.measured().messages_acked, rig.measured().messages_sent);
}

TEST(Worker, TheWarmUpFollowsConnectingAndIsLeftOutOfTheMeasuredCounts) {
  auto config = base_config();
  config.clients = 2;
  config.rate = 1000;
  config.warmup = std::chrono::seconds(1);
  config.duration = std::chrono::seconds(2);
  WorkerRig rig(config);
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == Phase::kWarmUp; }, 5 * kSec));
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == Phase::kMeasuring; }, 2 * kSec));
  rig.run_to_end();
  const uint64_t warmup_sent = rig.mailbox.baseline.messages_sent;  // at the start of the measured time
  EXPECT_NEAR(static_cast<double>(warmup_sent), 1000, 20);
  EXPECT_NEAR(static_cast<double>(rig.measured().messages_sent), 2000, 20);
  EXPECT_EQ(rig.counters().messages_sent, warmup_sent + rig.measured().messages_sent);
}

TEST(Worker, ClientsNotReadyAtTheConnectDeadlineAreReportedAndTheRunGoesOn) {
  auto config = base_config();
  config.clients = 6;
  config.connect_deadline = std::chrono::seconds(3);
  config.duration = std::chrono::seconds(1);
  config.rate = 600;
  config.partitioner = driver::PartitionerKind::kFixed;  // one partition, one leader per client
  FakeKafka kafka;
  // Two brokers; partitions 1 and 3 are led by broker 1, which never completes a connect.
  kafka.brokers = {FakeKafka::Broker{.node_id = 0, .port = 9092}, FakeKafka::Broker{.node_id = 1, .port = 9093}};
  kafka.brokers[1].blackhole = true;
  kafka.partitions = 4;
  kafka.leaders = {0, 1, 0, 1};
  WorkerRig rig(config, kafka);
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() != Phase::kConnecting; }, 10 * kSec));
  EXPECT_GE(rig.now - rig.start, 3 * kSec);
  EXPECT_EQ(rig.control->timeline.connected_ns(), rig.control->timeline.connect_deadline_ns());
  rig.run_to_end();
  // Producers 1, 3, 5 write partitions 1, 3, 1: their leader never answered.
  EXPECT_EQ(rig.counters().producers_connected, 3u);
  EXPECT_GT(rig.measured().messages_acked, 0u) << "the ready clients ran";
  driver::RunResult result;
  result.clients = config.clients;
  result.totals = rig.counters();
  result.counters = rig.measured();
  EXPECT_EQ(result.producers_never_connected(), 3u);
  const auto verdict = driver::judge(result, config);
  EXPECT_EQ(verdict.status, driver::ExitStatus::kDegraded);
  ASSERT_FALSE(verdict.reasons.empty());
  EXPECT_NE(verdict.reasons.front().find("3 of 6 clients never connected"), std::string::npos);
}

// `messages` records over `clients` unpaced producers, the run ending once they are sent.
driver::RunConfig counted_run(uint32_t clients, int16_t acks, uint32_t batch, uint64_t messages) {
  auto config = base_config();
  config.clients = clients;
  config.acks = acks;
  config.batch = batch;
  config.messages = messages;
  config.duration = std::chrono::nanoseconds(0);
  return config;
}

TEST(Worker, MessagesWithoutADurationRunUntilTheyAreSent) {
  auto config = base_config();
  config.clients = 3;
  config.messages = 6000;
  config.duration = std::chrono::nanoseconds(0);
  WorkerRig rig(config);
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.measured().messages_sent, 6000u);
  EXPECT_EQ(rig.measured().messages_acked, 6000u);
  EXPECT_EQ(rig.kafka.records[0].size() + rig.kafka.records[1].size() + rig.kafka.records[2].size() +
                rig.kafka.records[3].size(),
            6000u);
  EXPECT_NE(rig.control->timeline.stopped_ns(), driver::RunTimeline::kNever) << "the last producer stopped the run";
}

TEST(Worker, Acks0OnKafka09ConnectsEveryClientAndFlushesBeforeItCloses) {
  auto config = base_config();
  config.clients = 300;
  config.acks = 0;
  config.max_connecting = 8;
  config.messages = 3000;
  config.duration = std::chrono::nanoseconds(0);
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  WorkerRig rig(config, kafka);
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.counters().producers_connected, 300u);
  EXPECT_EQ(rig.kafka.stored_records(), 3000u) << "every acks=0 record reached the broker";
  // The probe, then one Metadata handshake per connection, then one flush barrier per producer.
  EXPECT_EQ(rig.kafka.count(protocol::ApiVersionsRequest::kApiKey), 1);
  EXPECT_GE(rig.kafka.count(protocol::MetadataRequest::kApiKey), 300 + 300);
  EXPECT_EQ(rig.counters().failures[static_cast<size_t>(Failure::kConnectFailed)], 0u);
}

// 500 unpaced acks=0 clients starting together each filled a write buffer of their own before the
// first poll: 3.2 MB of fresh pages, 18 µs a page fault on a VM with shadow paging (a third of the
// CPU of bench/compare.py's scenario 8). Writes made between two polls are now bounded, and a
// written buffer serves the next connection.
TEST(Worker, Acks0ClientsStartingTogetherShareAFewWriteBuffers) {
  const auto config = counted_run(300, 0, 1, 300 * 100);
  WorkerRig rig(config);
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.kafka.stored_records(), 30000u) << "every acks=0 record reached the broker";
  // 128 KiB between polls, and the write that crossed it (64 single-record requests).
  EXPECT_LE(rig.loop().most_bytes_between_polls, size_t{128 + 32} << 10);
}

TEST(Worker, IdleConnectionsHoldNoWriteBuffer) {
  // 10,000 clients at one record a minute spend their time idle: a connection gives its write
  // buffer back once the write is done, so they cost no write buffer each.
  auto config = base_config();
  config.clients = 300;
  config.rate = 5;  // msg/s over all: each client writes once a minute
  config.duration = std::chrono::seconds(60);
  WorkerRig rig(config);
  ASSERT_TRUE(rig.run_until([&] { return rig.counters().messages_acked >= 20; }, 30 * kSec));
  rig.step();  // the writes of the last poll are complete
  const driver::ConnectionTable& links = rig.worker->context().links;
  size_t held = 0;
  size_t writing = 0;
  for (size_t id = 0; id < links.size(); ++id) {
    if (links.writing(static_cast<driver::LinkId>(id))) ++writing;
    else held += links.link(static_cast<driver::LinkId>(id)).out.capacity();
  }
  EXPECT_EQ(held, 0u) << "write buffer bytes held by " << links.size() << " connections not writing";
  EXPECT_LT(writing, 10u);
}

// A 1,000-record set was copied from the encoder's buffer into the write buffer for every request
// (a tenth of bench/compare.py's Fa CPU): it now goes out from where it was prepared, after the
// request's first bytes, in one gathered send.
TEST(Worker, LargeRecordSetsGoOutFromWhereTheyArePreparedAndArriveWhole) {
  auto config = counted_run(1, 0, 1000, 20'000);
  config.message_size = 100;
  WorkerRig rig(config);
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.kafka.stored_records(), 20'000u) << "every record decoded by the broker, checksums included";
  EXPECT_EQ(rig.loop().gathered_sends, 20u) << "each request's record set sent from the encoder's buffer";
}

// New writes are paced by the memory they take (128 KiB between polls). Counted in bytes sent, 300
// clients' 11 KB requests went out a dozen per poll: at 10,000 clients, 8 times as many
// io_uring_enter calls as the kernel floor and 1.6 times its CPU per message. Sets sent from the
// encoder's shared buffer take no memory of their own, so they are not held back.
TEST(Worker, ManyClientsSendingTheSameLargeSetAreNotHeldToAFewRequestsPerPoll) {
  auto config = counted_run(300, 1, 100, 300 * 1000);
  config.message_size = 100;
  WorkerRig rig(config);
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.measured().messages_acked, 300'000u);
  EXPECT_EQ(rig.kafka.stored_records(), 300'000u);
  EXPECT_GE(rig.loop().most_bytes_between_polls, size_t{1} << 20) << "at least 90 requests of 11 KB in a poll";
  EXPECT_LT(rig.worker->context().encoder.bytes_set_aside(), 3'000'000u)
      << "sets copied for sends still reading them: one per millisecond at most";
}

// Producers of one worker share its encoder, which rewrites one buffer for each request. While a
// send still reads that buffer (the socket is full), the next producer's set goes into another:
// rewritten in place, a held request would carry another producer's id and sequence.
TEST(Worker, ASetBeingSentIsNeverRewrittenForTheNextProducer) {
  auto config = counted_run(4, -1, 500, 4 * 3000);
  config.idempotent = true;
  config.message_size = 100;
  FakeKafka kafka;
  kafka.idempotence = true;
  WorkerRig rig(config, kafka);
  ASSERT_TRUE(rig.run_until([&] { return rig.counters().messages_acked >= 2000; }, 10 * kSec));
  const size_t before = rig.loop().gathered_sends;
  rig.loop().hold_sends(true);  // the broker reads these writes only when they complete
  rig.run_until([] { return false; }, 20 * kMs);
  EXPECT_GE(rig.loop().gathered_sends - before, 4u) << "every producer has a set being sent";
  rig.loop().hold_sends(false);
  rig.loop().release_sends();
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.measured().messages_failed, 0u);
  EXPECT_EQ(rig.counters().messages_acked, 12'000u);
  EXPECT_EQ(rig.kafka.stored_records(), 12'000u) << "no batch refused as a duplicate or out of order";
}

TEST(Worker, ANonRetriableTopicErrorFailsEveryClientAtOnce) {
  auto config = base_config();
  config.clients = 5;
  FakeKafka kafka;
  kafka.topic_error = 29;  // TOPIC_AUTHORIZATION_FAILED
  WorkerRig rig(config, kafka);
  rig.run_to_end(5 * kSec);
  EXPECT_LT(rig.now - rig.start, 1 * kSec);
  EXPECT_EQ(rig.counters().failures[static_cast<size_t>(Failure::kMetadataFailed)], 5u);
  EXPECT_EQ(rig.counters().producers_connected, 0u);
}

// Found by bench/compare.py --broker floor: every response and wake-up queued another wake-up for
// the same instant, each copy re-armed itself, and the CPU per message grew with the run's length.
TEST(Worker, APacedProducerKeepsOneWakeUpQueuedHoweverLongTheRun) {
  auto config = base_config();
  config.clients = 2;
  config.rate = 2000;
  config.duration = std::chrono::seconds(20);
  WorkerRig rig(config);
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == Phase::kMeasuring; }, 5 * kSec));
  const int64_t measuring_from = rig.now;
  ASSERT_TRUE(rig.run_until([&] { return rig.now - measuring_from >= 10 * kSec; }, 11 * kSec));
  EXPECT_GT(rig.measured().messages_acked, 19'000u);
  EXPECT_LE(rig.worker->context().timers.size(), 10u) << "one record wake-up per producer, plus the worker's own";
}

TEST(Worker, RecordsRefusedAsTooLargeEndTheRunNamingTheFlagsWithExitTwo) {
  auto config = base_config();
  config.clients = 4;
  config.rate = 400;
  config.message_size = 2'000'000;
  config.duration = std::chrono::seconds(30);
  FakeKafka kafka;
  kafka.produce_error = protocol::error::kMessageTooLarge;
  WorkerRig rig(config, kafka);
  rig.run_to_end(120 * kSec);
  EXPECT_LT(rig.now - rig.start, 10 * kSec) << "ended at the first refusal, not at --duration";
  ASSERT_TRUE(rig.control->has_fatal());
  EXPECT_NE(rig.control->fatal().find("--message-size=2000000"), std::string::npos) << rig.control->fatal();
  EXPECT_NE(rig.control->fatal().find("MESSAGE_TOO_LARGE"), std::string::npos);
  EXPECT_LE(rig.kafka.count(protocol::ProduceRequest::kApiKey), 8) << "no client kept sending";
  driver::RunResult result;
  result.clients = config.clients;
  result.totals = rig.counters();
  result.counters = rig.measured();
  result.fatal = rig.control->fatal();
  result.fatal_is_bad_flag = rig.control->fatal_is_bad_flag();
  EXPECT_EQ(driver::judge(result, config).status, driver::ExitStatus::kUsage);
}

TEST(Worker, NoBrokerListeningFailsWithinASecondNotAtTheDeadline) {
  auto config = base_config();
  config.clients = 5;
  FakeKafka kafka;
  kafka.brokers[0].refuse = true;
  WorkerRig rig(config, kafka);
  rig.run_to_end(120 * kSec);
  EXPECT_LT(rig.now - rig.start, 2 * kSec);
  EXPECT_TRUE(rig.control->has_fatal());
  EXPECT_NE(rig.control->fatal().find("no broker of --bootstrap answered"), std::string::npos);
  // Each bootstrap attempt counted once; the clients did not try on their own.
  EXPECT_EQ(rig.counters().failures[static_cast<size_t>(Failure::kConnectFailed)], 3u);
  for (const auto& p : rig.worker->producers()) EXPECT_EQ(p.state(), driver::Producer::State::kFailed);
  driver::RunResult result;
  result.clients = config.clients;
  result.totals = rig.counters();
  result.fatal = rig.control->fatal();
  EXPECT_EQ(driver::judge(result, config).status, driver::ExitStatus::kDegraded);
}

TEST(Worker, TheBootstrapListIsTriedInTurnWhenTheFirstIsDown) {
  auto config = base_config();
  config.bootstrap = {"127.0.0.1:9092", "127.0.0.1:9093"};
  config.clients = 4;
  config.duration = std::chrono::seconds(1);
  FakeKafka kafka;
  kafka.brokers = {FakeKafka::Broker{.node_id = 0, .port = 9092, .refuse = true},
                   FakeKafka::Broker{.node_id = 1, .port = 9093}};
  kafka.leaders = {1};
  WorkerRig rig(config, kafka);
  rig.run_to_end(20 * kSec);
  EXPECT_EQ(rig.counters().producers_connected, 4u);
  EXPECT_FALSE(rig.control->has_fatal());
}

TEST(Worker, ALeaderErrorPausesTheProducerUntilFresherMetadataThenItGoesOn) {
  auto config = base_config();
  config.clients = 1;
  config.rate = 100;
  config.duration = std::chrono::seconds(3);
  WorkerRig rig(config);
  int produces = 0;
  rig.kafka.produce_hook = [&](const SeenRequest&) {
    return ++produces == 5 ? protocol::error::kNotLeaderOrFollower : protocol::error::kNone;
  };
  rig.run_to_end();
  EXPECT_EQ(rig.counters().errors_by_code.at(protocol::error::kNotLeaderOrFollower), 1u);
  EXPECT_NEAR(static_cast<double>(rig.measured().messages_acked), 299, 3);
  EXPECT_GE(rig.worker->metadata().refreshes(), 2u) << "the error asked for a refresh";
}

TEST(Worker, ALeaderMoveRetargetsTheProducerToTheNewLeader) {
  auto config = base_config();
  config.clients = 1;
  config.rate = 100;
  config.duration = std::chrono::seconds(3);
  FakeKafka kafka;
  kafka.brokers = {FakeKafka::Broker{.node_id = 0, .port = 9092}, FakeKafka::Broker{.node_id = 1, .port = 9093}};
  kafka.partitions = 1;
  kafka.leaders = {0};
  WorkerRig rig(config, kafka);
  int produces = 0;
  rig.kafka.produce_hook = [&](const SeenRequest& r) {
    if (++produces == 50) rig.kafka.leaders = {1};  // the election happens now...
    return r.port == 9092 && produces >= 50 ? protocol::error::kNotLeaderOrFollower : protocol::error::kNone;
  };
  rig.run_to_end();
  int on_new = 0;
  for (const auto& r : rig.kafka.requests) on_new += r.port == 9093 && r.api_key == protocol::ProduceRequest::kApiKey;
  EXPECT_GT(on_new, 200) << "the producer moved to broker 1";
  EXPECT_EQ(rig.worker->metadata().leader_changes(), 1u);
}

TEST(Worker, ADisconnectFailsTheRecordsInFlightAndTheProducerReconnects) {
  auto config = base_config();
  config.clients = 1;
  config.rate = 200;
  config.duration = std::chrono::seconds(3);
  WorkerRig rig(config);
  ASSERT_TRUE(rig.run_until([&] { return rig.counters().messages_acked >= 100; }, 10 * kSec));
  const auto link = rig.worker->producers()[0].link();
  rig.loop().hold_sends(true);  // the next requests stay unanswered...
  rig.kafka.brokers[0].silent = true;
  rig.run_until([] { return false; }, 20 * kMs);
  rig.loop().close_from_broker(link);  // ...when the broker goes away
  rig.kafka.brokers[0].silent = false;
  rig.loop().hold_sends(false);
  rig.run_to_end();
  EXPECT_GT(rig.counters().messages_failed, 0u);
  EXPECT_EQ(rig.counters().failures[static_cast<size_t>(Failure::kDisconnected)], 1u);
  EXPECT_EQ(rig.counters().reconnects, 1u);
  EXPECT_GT(rig.counters().messages_acked, 400u) << "it carried on after reconnecting";
}

// --churn: clients reconnect on purpose while producing, each through the whole handshake, and
// lose nothing doing it (a connection closes only once its requests are answered).
TEST(Worker, ChurnReconnectsEveryClientAtTheRateAskedAndLosesNothing) {
  auto config = base_config();
  config.clients = 20;
  config.rate = 2000;  // 100 records/s per client
  config.duration = std::chrono::seconds(10);
  config.churn_per_s = 0.5;  // every ~2 s per client: ~100 reconnects in 10 s
  WorkerRig rig(config);
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == Phase::kMeasuring; }, 5 * kSec));
  const int connects_before = rig.kafka.connects;
  rig.run_to_end();
  const auto& c = rig.counters();
  // A Poisson count with mean 100: 60..140 is beyond 4 standard deviations.
  EXPECT_GE(c.connections_churned, 60u);
  EXPECT_LE(c.connections_churned, 140u);
  EXPECT_EQ(static_cast<uint64_t>(rig.kafka.connects - connects_before), c.connections_churned)
      << "every churn is one new connection through the handshake";
  EXPECT_EQ(c.reconnects, 0u) << "churn is not counted as a lost connection";
  EXPECT_EQ(c.messages_failed, 0u);
  EXPECT_EQ(c.messages_acked, c.messages_sent);
  EXPECT_GT(c.messages_acked, 19'000u) << "the records due while reconnecting went out afterwards";
}

TEST(Worker, RequestsUnansweredAtTheDrainDeadlineAreCountedByKind) {
  auto config = base_config();
  config.clients = 2;
  config.rate = 200;
  config.duration = std::chrono::seconds(1);
  config.drain_timeout = std::chrono::seconds(1);
  FakeKafka kafka;
  WorkerRig rig(config, kafka);
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == Phase::kMeasuring; }, 5 * kSec));
  rig.run_until([] { return false; }, 500 * kMs);
  rig.kafka.brokers[0].silent = true;  // the broker stops answering half way
  rig.run_to_end(10 * kSec);
  EXPECT_GT(rig.counters().unanswered_by_api.at(protocol::ProduceRequest::kApiKey), 0u);
  EXPECT_LE(rig.counters().unanswered_by_api.at(protocol::ProduceRequest::kApiKey), 2u * config.max_in_flight);
}

TEST(Worker, CtrlCWhileConnectingStopsTheRunWithNothingMeasured) {
  auto config = base_config();
  config.clients = 3;
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;  // connecting takes the 3 s probe
  WorkerRig rig(config, kafka);
  rig.run_until([] { return false; }, 1 * kSec);
  rig.control->stop_requested.store(true);
  rig.run_to_end(20 * kSec);
  EXPECT_TRUE(rig.control->timeline.stopped_during_connecting());
  EXPECT_EQ(rig.counters().messages_sent, 0u);
  EXPECT_LT(rig.now - rig.start, 3 * kSec);
}

TEST(Worker, ZstdOnABrokerWithoutProduceV7FailsTheClientsAsUnsupported) {
  auto config = base_config();
  config.clients = 2;
  config.compression = protocol::Codec::kZstd;
  config.broker_version = driver::BrokerVersion::kV0_9;
  WorkerRig rig(config);
  rig.run_to_end(5 * kSec);
  EXPECT_EQ(rig.counters().failures[static_cast<size_t>(Failure::kUnsupported)], 2u);
  EXPECT_EQ(rig.counters().messages_sent, 0u);
}

TEST(Worker, PacedRecordsCarryTheirIntendedTimeSoAStallShowsInTheLatency) {
  auto config = base_config();
  config.clients = 1;
  config.rate = 1000;
  config.duration = std::chrono::seconds(2);
  config.max_in_flight = 1;
  WorkerRig rig(config);
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == Phase::kMeasuring; }, 5 * kSec));
  rig.run_until([] { return false; }, 500 * kMs);
  rig.loop().hold_sends(true);  // a 300 ms stall: the one request in flight is not answered
  rig.kafka.brokers[0].silent = true;
  rig.run_until([] { return false; }, 300 * kMs);
  rig.kafka.brokers[0].silent = false;
  rig.loop().hold_sends(false);
  // The held request gets its answer now (the broker replays it).
  const auto link = rig.worker->producers()[0].link();
  const auto& l = rig.worker->links().link(link);
  ASSERT_FALSE(l.in_flight.empty());
  protocol::ProduceResponse body;
  body.responses.resize(1);
  body.responses[0].name = "t";
  body.responses[0].partition_responses.resize(1);
  rig.loop().inject(link, response_frame(l.in_flight.front().correlation_id, protocol::ProduceRequest::kApiKey,
                                         l.in_flight.front().api_version, body));
  rig.loop().release_sends();
  rig.run_to_end();
  driver::Metrics measured;
  {
    std::lock_guard lock(rig.mailbox.mutex);
    measured.add_histograms(rig.mailbox.measured_interval);
  }
  // ~300 records waited for the stall: p99 from the intended time is near the stall, while the
  // service time of most requests stays at the fake broker's (zero) latency.
  EXPECT_GE(measured.latency_us.value_at_percentile(99), 200'000);
  EXPECT_LT(measured.service_latency_us.value_at_percentile(50), 2'000);
  // Held back behind the full window (one request in flight), the records due during the stall
  // were sent late, and with the fake broker's 1 ms answers the producer (one record a request)
  // never caught up: their publish delay (actual send less intended send, OMB's
  // publishDelayLatency) is the stall's 300 ms, one sample per acknowledged record, while the
  // records sent before it show none.
  const auto& delay = measured.publish_delay_us;
  EXPECT_EQ(delay.total_count(), measured.service_latency_us.total_count());
  EXPECT_LT(delay.value_at_percentile(10), 2'000);
  EXPECT_GE(delay.value_at_percentile(90), 250'000);
  EXPECT_LE(delay.max(), 310'000);
}

}  // namespace
}  // namespace ws::testing
