// --idempotent on the fake loop: producer ids before producing, sequences the broker accepts, a
// new epoch after a lost batch, duplicates taken as written, and brokers without idempotence.
#include <gtest/gtest.h>

#include "protocol/errors.h"
#include "protocol/init_producer_id.h"
#include "tests/driver/rigs.h"

namespace ws::driver {
namespace {

using testing::base_config;
using testing::FakeKafka;
using testing::kSec;
using testing::WorkerRig;

RunConfig idempotent_config(uint32_t clients, uint64_t messages) {
  RunConfig config = base_config();
  config.clients = clients;
  config.idempotent = true;
  config.acks = -1;
  config.messages = messages;
  config.batch = 5;
  config.duration = std::chrono::nanoseconds(0);
  config.partitioner = PartitionerKind::kRoundRobin;
  return config;
}

FakeKafka idempotent_broker() {
  FakeKafka kafka;
  kafka.idempotence = true;
  return kafka;
}

TEST(Idempotence, EachProducerTakesAnIdThenNumbersEveryPartitionsBatchesFromZero) {
  WorkerRig rig(idempotent_config(3, 300), idempotent_broker());
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.kafka.count(protocol::InitProducerIdRequest::kApiKey), 3);
  EXPECT_EQ(rig.counters().producer_ids_assigned, 3u);
  EXPECT_EQ(rig.measured().messages_acked, 300u);
  EXPECT_EQ(rig.measured().messages_failed, 0u);
  EXPECT_EQ(rig.kafka.stored_records(), 300u) << "every batch's sequence was the one the broker expected";
  // The broker's next sequence per (producer, partition) is what each producer wrote there.
  uint64_t sequenced = 0;
  for (const auto& [key, next] : rig.kafka.next_sequence) sequenced += static_cast<uint64_t>(next);
  EXPECT_EQ(sequenced, 300u);
  EXPECT_EQ(rig.kafka.next_sequence.size(), 3u * 4u) << "3 producers x 4 partitions, round-robin";
  // Nothing is produced before the id: the first produce request of a connection follows it.
  bool init_seen = false;
  for (const auto& r : rig.kafka.requests) {
    if (r.api_key == protocol::InitProducerIdRequest::kApiKey) init_seen = true;
    if (r.api_key == protocol::ProduceRequest::kApiKey) {
      EXPECT_TRUE(init_seen);
      break;
    }
  }
}

TEST(Idempotence, ALostBatchGetsANewEpochAndTheSequencesStartAgain) {
  RunConfig config = idempotent_config(1, 200);
  config.partitioner = PartitionerKind::kFixed;  // one partition: the gap is there
  FakeKafka kafka = idempotent_broker();
  int produces = 0;
  kafka.produce_hook = [&](const testing::SeenRequest&) {
    return ++produces == 3 ? protocol::error::kNotLeaderOrFollower : protocol::error::kNone;
  };
  WorkerRig rig(config, kafka);
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.counters().producer_id_resets, 1u);
  EXPECT_EQ(rig.kafka.count(protocol::InitProducerIdRequest::kApiKey), 2);
  // KIP-360: the same id with the next epoch, not a new id.
  ASSERT_EQ(rig.kafka.producer_epochs.size(), 1u);
  EXPECT_EQ(rig.kafka.producer_epochs.begin()->second, 1);
  // The refused batch, and the ones already in flight behind it (sent before the refusal was
  // known: the broker refuses their sequences as out of order). Nothing sent after it fails.
  const auto& errors = rig.counters().errors_by_code;
  EXPECT_EQ(errors.at(protocol::error::kNotLeaderOrFollower), 1u);
  const uint64_t behind = errors.count(protocol::error::kOutOfOrderSequenceNumber)
                              ? errors.at(protocol::error::kOutOfOrderSequenceNumber)
                              : 0;
  EXPECT_LE(behind, config.max_in_flight - 1u);
  EXPECT_GT(rig.measured().messages_failed, 0u);
  EXPECT_LE(rig.measured().messages_failed, uint64_t{config.batch} * 2 * config.max_in_flight);
  EXPECT_EQ(rig.measured().messages_acked + rig.measured().messages_failed, 200u);
  // Under the new epoch the partition's sequences started at 0 and took every later record.
  const auto& [key, next] = *rig.kafka.next_sequence.begin();
  EXPECT_EQ(rig.kafka.next_sequence.size(), 1u);
  EXPECT_GT(next, 0);
  EXPECT_EQ(rig.kafka.stored_records(), rig.measured().messages_acked) << "what was acknowledged is in the log, once";
}

TEST(Idempotence, ABatchTheBrokerAlreadyHasCountsAsWritten) {
  RunConfig config = idempotent_config(1, 5);
  config.partitioner = PartitionerKind::kFixed;  // one batch
  FakeKafka kafka = idempotent_broker();
  kafka.produce_hook = [](const testing::SeenRequest&) { return protocol::error::kDuplicateSequenceNumber; };
  WorkerRig rig(config, kafka);
  rig.run_to_end(30 * kSec);
  EXPECT_EQ(rig.measured().messages_acked, 5u);
  EXPECT_EQ(rig.measured().messages_failed, 0u);
  EXPECT_EQ(rig.counters().produce_duplicate_sequences, 1u);
  EXPECT_EQ(rig.counters().producer_id_resets, 0u);
}

TEST(Idempotence, ACoordinatorNotYetAvailableIsAskedAgainAfterTheBackoff) {
  FakeKafka kafka = idempotent_broker();
  kafka.init_producer_id_error = protocol::error::kCoordinatorNotAvailable;
  WorkerRig rig(idempotent_config(1, 50), kafka);
  ASSERT_TRUE(rig.run_until([&] { return rig.kafka.count(protocol::InitProducerIdRequest::kApiKey) >= 2; }, 5 * kSec));
  EXPECT_EQ(rig.kafka.count(protocol::ProduceRequest::kApiKey), 0);
  rig.kafka.init_producer_id_error = 0;
  rig.run_to_end(30 * kSec);
  EXPECT_EQ(rig.measured().messages_acked, 50u);
  EXPECT_GE(rig.counters().errors_by_code.at(protocol::error::kCoordinatorNotAvailable), 2u);
}

TEST(Idempotence, BrokersWithoutItEndTheRunNamingTheFlagWithExitTwo) {
  for (const auto kind : {FakeKafka::Kind::kModern, FakeKafka::Kind::kKafka09}) {
    FakeKafka kafka;  // no InitProducerId
    kafka.kind = kind;
    WorkerRig rig(idempotent_config(2, 50), kafka);
    rig.run_to_end(30 * kSec);
    ASSERT_TRUE(rig.control->has_fatal());
    EXPECT_TRUE(rig.control->fatal_is_bad_flag());
    EXPECT_NE(rig.control->fatal().find("--idempotent"), std::string::npos) << rig.control->fatal();
    EXPECT_EQ(rig.kafka.count(protocol::ProduceRequest::kApiKey), 0);
  }
}

}  // namespace
}  // namespace ws::driver
