// Consumers in a worker on the fake loop: positioning, readiness, reading to the end, the
// "behind" and "never connected" verdicts.
#include <gtest/gtest.h>

#include "protocol/errors.h"
#include "tests/driver/rigs.h"

namespace ws::testing {
namespace {

using driver::Phase;

const driver::ConsumerTally& tally(WorkerRig& rig, size_t i) { return rig.worker->consumers()[i].intake().tally; }

TEST(Consumer, IsReadyOnlyOncePositionedAndProducersWaitForIt) {
  auto config = base_config();
  config.clients = 1;
  config.consumers = 2;
  config.rate = 500;
  config.duration = std::chrono::seconds(1);
  config.verify = true;
  WorkerRig rig(config);
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() != Phase::kConnecting; }, 5 * kSec));
  EXPECT_EQ(rig.counters().consumers_connected, 2u);
  // Both consumers took their start offsets before the first record was produced.
  int list_offsets_before_produce = 0;
  for (const auto& r : rig.kafka.requests) {
    if (r.api_key == protocol::ProduceRequest::kApiKey) break;
    list_offsets_before_produce += r.api_key == protocol::ListOffsetsRequest::kApiKey;
  }
  EXPECT_EQ(list_offsets_before_produce, 2);
  rig.run_to_end();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(tally(rig, i).received, rig.counters().messages_acked) << "consumer " << i;
    EXPECT_TRUE(tally(rig, i).failure.empty()) << tally(rig, i).failure;
    EXPECT_EQ(tally(rig, i).lost, 0u);
    EXPECT_EQ(tally(rig, i).duplicates, 0u);
  }
}

TEST(Consumer, AConsumerOnlyRunWithoutMessagesIsNotBehindWhenItEnds) {
  auto config = base_config();
  config.clients = 0;
  config.consumers = 2;
  config.consume_from_earliest = true;
  config.duration = std::chrono::seconds(1);
  FakeKafka kafka;
  for (int i = 0; i < 100; ++i) kafka.records[0].push_back("record-" + std::to_string(i));
  WorkerRig rig(config, kafka);
  rig.run_to_end();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(tally(rig, i).received, 100u);
    EXPECT_TRUE(tally(rig, i).failure.empty()) << "a consumer-only run reads until the end: " << tally(rig, i).failure;
  }
}

TEST(Consumer, AConsumerOnlyRunShortOfItsMessagesIsBehindOneThatReadThemIsNot) {
  auto config = base_config();
  config.clients = 0;
  config.consumers = 1;
  config.consume_from_earliest = true;
  config.messages = 150;
  config.duration = std::chrono::seconds(1);
  FakeKafka kafka;
  for (int i = 0; i < 100; ++i) kafka.records[0].push_back("x");
  WorkerRig rig(config, kafka);
  rig.run_to_end();
  EXPECT_EQ(tally(rig, 0).received, 100u);
  EXPECT_EQ(tally(rig, 0).failure, "behind");

  config.messages = 50;
  WorkerRig enough(config, kafka);
  enough.run_to_end();
  EXPECT_EQ(tally(enough, 0).received, 50u);
  EXPECT_TRUE(tally(enough, 0).failure.empty());
  EXPECT_LT(enough.now - enough.start, 1 * kSec) << "it stops once it has its --messages";
}

TEST(Consumer, ConsumersThatNeverConnectedCountAsFailing) {
  auto config = base_config();
  config.clients = 1;
  config.consumers = 2;
  config.duration = std::chrono::seconds(1);
  config.connect_deadline = std::chrono::seconds(2);
  FakeKafka kafka;
  kafka.brokers = {FakeKafka::Broker{.node_id = 0, .port = 9092}, FakeKafka::Broker{.node_id = 1, .port = 9093}};
  kafka.brokers[1].blackhole = true;
  kafka.partitions = 1;
  kafka.leaders = {1};  // every partition on the broker that never answers
  WorkerRig rig(config, kafka);
  rig.run_to_end(30 * kSec);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(tally(rig, i).failure, "never_connected");
  EXPECT_EQ(rig.counters().consumers_connected, 0u);
}

TEST(Consumer, OneHundredThousandPartitionsAreSetUpSortedAndComplete) {
  auto config = base_config();
  config.clients = 0;
  config.consumers = 1;
  config.duration = std::chrono::milliseconds(100);
  FakeKafka kafka;
  kafka.partitions = 100'000;
  WorkerRig rig(config, kafka);
  ASSERT_TRUE(rig.run_until([&] { return rig.counters().consumers_connected == 1; }, 10 * kSec));
  const auto& cursors = rig.worker->consumers()[0].intake().cursors;
  ASSERT_EQ(cursors.size(), 100'000u);
  EXPECT_TRUE(std::is_sorted(cursors.begin(), cursors.end(),
                             [](const auto& a, const auto& b) { return a.partition < b.partition; }));
  EXPECT_EQ(cursors.front().partition, 0);
  EXPECT_EQ(cursors.back().partition, 99'999);
}

// A request that timed out on the replicas (or died with its connection) may be in the log: with
// such records about, reading as many records as were acknowledged is no proof that every
// acknowledged one arrived. The consumer reads on to the high watermark instead.
TEST(Consumer, FailedButWrittenRecordsDoNotEndAConsumerBeforeEveryAcknowledgedOne) {
  auto config = base_config();
  config.clients = 2;
  config.consumers = 1;
  config.acks = -1;
  config.rate = 20'000;
  config.duration = std::chrono::milliseconds(500);
  config.verify = true;
  FakeKafka kafka;
  kafka.partitions = 1;
  kafka.fetch_max_records = 5;  // the consumer falls behind and catches up after the producers
  int produces = 0;
  kafka.produce_hook = [&produces](const SeenRequest&) {
    return ++produces % 3 == 0 ? protocol::error::kRequestTimedOut : protocol::error::kNone;
  };
  WorkerRig rig(config, kafka);
  rig.run_to_end();
  ASSERT_GT(rig.counters().messages_failed, 0u);
  EXPECT_EQ(tally(rig, 0).lost, 0u);
  EXPECT_TRUE(tally(rig, 0).failure.empty()) << tally(rig, 0).failure;
  EXPECT_EQ(tally(rig, 0).received, rig.kafka.records[0].size()) << "read to the end of the log";
}

TEST(Consumer, FallingOutOfTheLogIsFailingAndItStartsAgainFromTheConsumeFromPosition) {
  auto config = base_config();
  config.clients = 0;
  config.consumers = 1;
  config.consume_from_earliest = true;
  config.duration = std::chrono::seconds(1);
  FakeKafka kafka;
  kafka.partitions = 1;
  for (int i = 0; i < 10; ++i) kafka.records[0].push_back("x");
  WorkerRig rig(config, kafka);
  ASSERT_TRUE(rig.run_until([&] { return tally(rig, 0).received == 10; }, 5 * kSec));
  // Retention deletes everything up to offset 20 while 10 more records arrive.
  for (int i = 0; i < 20; ++i) rig.kafka.records[0].push_back("y");
  rig.kafka.log_start[0] = 20;
  rig.run_to_end();
  EXPECT_EQ(tally(rig, 0).failure, "offset_out_of_range");
  EXPECT_EQ(tally(rig, 0).received, 20u) << "10, then the 10 kept after the log start";
  EXPECT_EQ(rig.counters().errors_by_code.at(protocol::error::kOffsetOutOfRange), 1u);
}

}  // namespace
}  // namespace ws::testing
