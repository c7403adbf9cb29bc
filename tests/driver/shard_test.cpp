// --shards and --start-at: the totals split so that the shards' sums are the totals, clients
// numbered among all shards, the load held back until --start-at, and a late start judged.
#include <gtest/gtest.h>

#include <set>

#include "driver/record_intake.h"
#include "driver/reporting.h"
#include "driver/shard.h"
#include "protocol/produce.h"
#include "tests/driver/rigs.h"

namespace ws::driver {
namespace {

using testing::base_config;
using testing::kMs;
using testing::kSec;
using testing::WorkerRig;

TEST(Shards, EveryTotalSplitsExactlyAndEveryClientHasOneShard) {
  for (const uint32_t shards : {1u, 2u, 3u, 7u, 16u}) {
    for (const uint32_t clients : {16u, 17u, 100u, 10'001u}) {
      for (const uint64_t messages : {uint64_t{0}, uint64_t{1'000}, uint64_t{999'983}, uint64_t{1} << 62}) {
        RunConfig totals = base_config();
        totals.clients = clients;
        totals.consumers = shards + 3;
        totals.rate = 12'345.5;
        totals.messages = messages;
        ASSERT_FALSE(validate_shard(totals, shards, 0));
        uint64_t clients_sum = 0, consumers_sum = 0, messages_sum = 0;
        double rate_sum = 0;
        uint32_t next_client = 0, next_consumer = 0;
        for (uint32_t i = 0; i < shards; ++i) {
          RunConfig part = totals;
          apply_shard(part, shards, i);
          SCOPED_TRACE(std::to_string(shards) + " shards, " + std::to_string(clients) + " clients, shard " +
                       std::to_string(i));
          EXPECT_EQ(part.shard.first_client, next_client) << "shards hold consecutive client numbers";
          EXPECT_EQ(part.shard.first_consumer, next_consumer);
          EXPECT_GE(part.clients, clients / shards);
          EXPECT_LE(part.clients, clients / shards + 1);
          // Every client sends at the same rate and the same quota, give or take one record.
          EXPECT_NEAR(part.rate / part.clients, totals.rate / clients, 1e-9 * totals.rate);
          if (messages > 0 && messages < (uint64_t{1} << 40)) {
            EXPECT_NEAR(static_cast<double>(part.messages) / part.clients, static_cast<double>(messages) / clients,
                        1.0);
          }
          next_client += part.clients;
          next_consumer += part.consumers;
          clients_sum += part.clients;
          consumers_sum += part.consumers;
          messages_sum += part.messages;
          rate_sum += part.rate;
        }
        EXPECT_EQ(clients_sum, clients);
        EXPECT_EQ(consumers_sum, totals.consumers);
        EXPECT_EQ(messages_sum, messages);
        EXPECT_NEAR(rate_sum, totals.rate, 1e-6);
      }
    }
  }
}

TEST(Shards, ConsumerOnlyRunsKeepTheirPerConsumerMessages) {
  RunConfig totals = base_config();
  totals.clients = 0;
  totals.consumers = 4;
  totals.messages = 500;  // each consumer reads 500
  RunConfig part = totals;
  apply_shard(part, 2, 1);
  EXPECT_EQ(part.consumers, 2u);
  EXPECT_EQ(part.shard.first_consumer, 2u);
  EXPECT_EQ(part.messages, 500u);
}

TEST(Shards, ShardsThatWouldGetNoClientOrIndexOutOfRangeAreRefusedByFlag) {
  RunConfig totals = base_config();
  totals.clients = 3;
  EXPECT_EQ(validate_shard(totals, 4, 0)->flag, "--shards") << "a shard without producers";
  EXPECT_EQ(validate_shard(totals, 3, 3)->flag, "--shard");
  EXPECT_EQ(validate_shard(totals, 0, 0)->flag, "--shards");
  totals.consumers = 2;
  EXPECT_EQ(validate_shard(totals, 3, 0)->flag, "--shards") << "a shard without consumers";
  EXPECT_FALSE(validate_shard(totals, 2, 1));
}

TEST(Shards, ShardsOfOneStartShareARunIdBaseAndEachHasItsOwnId) {
  RunConfig a = base_config(), b = base_config();
  a.clients = b.clients = 4;
  a.start_at_unix_ms = b.start_at_unix_ms = 1'800'000'000'000;
  apply_shard(a, 2, 0);
  apply_shard(b, 2, 1);
  const RunControl control_a(a, 1), control_b(b, 1);
  EXPECT_EQ(control_b.run_id, control_a.run_id + 1);
  IntakeContext intake{.run_id = control_a.run_id, .shard = 0, .shard_count = 2};
  EXPECT_TRUE(intake.same_run(control_a.run_id));
  EXPECT_TRUE(intake.same_run(control_b.run_id)) << "the other shard's records are the run's own";
  EXPECT_FALSE(intake.same_run(control_b.run_id + 1));
  EXPECT_FALSE(intake.same_run(control_a.run_id - 1));
  RunConfig other = a;
  other.start_at_unix_ms += 1;
  EXPECT_NE(RunControl(other, 1).run_id, control_a.run_id) << "another start is another run";
}

TEST(Shards, ProducersOfAShardUseTheirNumbersAmongAllShardsOnTheWire) {
  RunConfig config = base_config();
  config.clients = 6;
  config.messages = 60;
  config.duration = std::chrono::nanoseconds(0);
  config.partitioner = PartitionerKind::kFixed;  // client i writes partition i % 4
  apply_shard(config, 3, 2);                     // clients 4 and 5
  WorkerRig rig(config);
  rig.run_to_end(30 * kSec);
  std::set<std::string> ids;
  for (const auto& r : rig.kafka.requests) {
    if (r.api_key == protocol::ProduceRequest::kApiKey) ids.insert(r.client_id);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"wirestress-4", "wirestress-5"}));
  EXPECT_EQ(rig.kafka.records[0].size(), 10u) << "client 4 writes partition 0";
  EXPECT_EQ(rig.kafka.records[1].size(), 10u) << "client 5 writes partition 1";
  EXPECT_TRUE(rig.kafka.records[2].empty());
}

TEST(StartAt, ConnectedClientsWaitForTheStartAndTheMeasuredTimeBeginsThere) {
  auto config = base_config();
  config.clients = 4;
  config.rate = 1000;
  config.duration = std::chrono::seconds(2);
  WorkerRig rig(config);
  const int64_t start_at = rig.now + 5 * kSec;
  rig.control->timeline.begin(rig.now, 0, config.duration.count(), config.connect_deadline.count(), start_at);
  ASSERT_TRUE(rig.run_until([&] { return rig.counters().producers_connected == 4; }, 2 * kSec));
  EXPECT_LT(rig.control->timeline.connected_ns(), start_at - 4 * kSec) << "connecting itself took little time";
  rig.run_until([] { return false; }, start_at - kMs - rig.now);
  EXPECT_EQ(rig.phase(), Phase::kConnecting) << "connected, waiting";
  EXPECT_EQ(rig.kafka.count(protocol::ProduceRequest::kApiKey), 0) << "nothing before --start-at";
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() != Phase::kConnecting; }, 10 * kSec));
  EXPECT_EQ(rig.now, start_at) << "the worker wakes at the start";
  EXPECT_EQ(rig.control->timeline.measure_start_ns(), start_at);
  rig.run_to_end();
  EXPECT_NEAR(static_cast<double>(rig.measured().messages_sent), 2000, 20);
}

TEST(StartAt, ALoadThatBeganLateIsDegradedAndOnTimeIsNot) {
  RunConfig config = base_config();
  config.clients = 1;
  config.duration = std::chrono::seconds(60);
  config.start_at_unix_ms = 1'800'000'000'000;
  RunResult result;
  result.clients = 1;
  result.counters.messages_sent = result.totals.messages_sent = 10;
  result.counters.messages_acked = 10;
  result.totals.producers_connected = 1;
  result.start_late_s = 0.5;  // within 1% of 60 s
  EXPECT_EQ(judge(result, config).status, ExitStatus::kOk);
  result.start_late_s = 0.7;
  const Verdict late = judge(result, config);
  EXPECT_EQ(late.status, ExitStatus::kDegraded);
  ASSERT_EQ(late.reasons.size(), 1u);
  EXPECT_NE(late.reasons[0].find("--start-at"), std::string::npos) << late.reasons[0];
}

TEST(StartAt, AStartBeforeEveryClientIsReadyWaitsForThem) {
  RunTimeline t;
  t.begin(0, kSec, 10 * kSec, 60 * kSec, 3 * kSec);
  EXPECT_TRUE(t.end_connecting(8 * kSec));
  EXPECT_EQ(t.load_start_ns(), 8 * kSec) << "the clients were not ready at the start";
  EXPECT_EQ(t.phase(8 * kSec), Phase::kWarmUp);
  EXPECT_EQ(t.measure_start_ns(), 9 * kSec);
}

}  // namespace
}  // namespace ws::driver
