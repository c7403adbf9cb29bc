// Producers and consumers on a fake 3-broker cluster: partitioners, one connection per leader,
// multi-partition requests, leader moves, a broker dying mid-run.
#include <gtest/gtest.h>

#include <set>

#include "driver/partitioner.h"
#include "protocol/errors.h"
#include "tests/driver/rigs.h"

namespace ws::testing {
namespace {

using driver::Failure;
using driver::PartitionerKind;

// Kafka's own vectors for Utils.murmur2 (UtilsTest.testMurmur2).
TEST(Partitioner, Murmur2IsTheJavaClientsHash) {
  const std::pair<std::string, int32_t> cases[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (const auto& [key, expected] : cases) {
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size());
    EXPECT_EQ(driver::kafka_murmur2(bytes), expected) << key;
  }
}

TEST(Partitioner, StickyKeepsOneAvailablePartitionPerBatchRoundRobinMovesEveryRecord) {
  driver::Partitioner sticky(PartitionerKind::kSticky, 0, 1);
  const auto all = [](int32_t) { return true; };
  const int32_t first = sticky.next(6, {}, all);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sticky.next(6, {}, all), first);
  std::set<int32_t> seen;
  for (int batch = 0; batch < 200; ++batch) {
    sticky.batch_done();
    seen.insert(sticky.next(6, {}, all));
  }
  EXPECT_EQ(seen.size(), 6u) << "over many batches every partition gets some";
  // Partitions whose leader cannot take records are passed over.
  sticky.batch_done();
  for (int i = 0; i < 50; ++i) {
    sticky.batch_done();
    EXPECT_EQ(sticky.next(6, {}, [](int32_t p) { return p == 4; }), 4);
  }
  EXPECT_EQ(sticky.next(6, {}, [](int32_t) { return false; }), -1);

  driver::Partitioner rr(PartitionerKind::kRoundRobin, 3, 1);
  std::vector<int32_t> order;
  for (int i = 0; i < 6; ++i) order.push_back(rr.next(6, {}, all));
  EXPECT_EQ(order, (std::vector<int32_t>{3, 4, 5, 0, 1, 2}));
  EXPECT_EQ(rr.next(6, {}, [](int32_t p) { return p % 2 == 0; }), 4);
}

FakeKafka three_brokers(int partitions = 6) {
  FakeKafka k;
  k.brokers = {FakeKafka::Broker{.node_id = 0, .port = 9092}, FakeKafka::Broker{.node_id = 1, .port = 9093},
               FakeKafka::Broker{.node_id = 2, .port = 9094}};
  k.partitions = partitions;
  k.leaders = {0, 1, 2};  // partition p led by broker p % 3
  return k;
}

TEST(Cluster, ARoundRobinProducerKeepsOneConnectionPerLeaderAndWritesEveryPartition) {
  auto config = base_config();
  config.clients = 2;
  config.partitioner = PartitionerKind::kRoundRobin;
  config.batch = 6;
  config.messages = 6000;
  config.duration = std::chrono::nanoseconds(0);
  WorkerRig rig(config, three_brokers());
  rig.run_to_end(60 * kSec);
  for (const auto& p : rig.worker->producers()) EXPECT_EQ(p.connections(), 3u);
  for (int32_t p = 0; p < 6; ++p) EXPECT_EQ(rig.kafka.records[p].size(), 1000u) << "partition " << p;
  EXPECT_EQ(rig.measured().messages_acked, 6000u);
  // Six records per round over six partitions on three brokers: two partitions per request.
  EXPECT_GT(rig.kafka.produce_partitions_per_request[2], 900);
  EXPECT_EQ(rig.kafka.produce_partitions_per_request[1], 0);
}

TEST(Cluster, FixedKeepsOneConnectionAndOnePartitionPerClient) {
  auto config = base_config();
  config.clients = 6;
  config.partitioner = PartitionerKind::kFixed;
  config.messages = 600;
  config.duration = std::chrono::nanoseconds(0);
  WorkerRig rig(config, three_brokers());
  rig.run_to_end(60 * kSec);
  for (const auto& p : rig.worker->producers()) EXPECT_EQ(p.connections(), 1u);
  for (int32_t p = 0; p < 6; ++p) EXPECT_EQ(rig.kafka.records[p].size(), 100u);
}

TEST(Cluster, StickyWritesWholeBatchesAndEventuallyEveryPartition) {
  auto config = base_config();
  config.clients = 1;
  config.batch = 10;
  config.messages = 3000;
  config.duration = std::chrono::nanoseconds(0);
  WorkerRig rig(config, three_brokers());
  rig.run_to_end(60 * kSec);
  EXPECT_EQ(rig.worker->producers()[0].connections(), 3u);
  size_t total = 0;
  for (int32_t p = 0; p < 6; ++p) {
    EXPECT_GT(rig.kafka.records[p].size(), 100u) << "partition " << p;
    EXPECT_EQ(rig.kafka.records[p].size() % 10, 0u) << "whole batches of 10";
    total += rig.kafka.records[p].size();
  }
  EXPECT_EQ(total, 3000u);
}

TEST(Cluster, Murmur2PutsEachKeyWhereTheJavaClientWould) {
  auto config = base_config();
  config.clients = 3;
  config.key_size = 12;  // murmur2 by default with keys
  config.messages = 900;
  config.duration = std::chrono::nanoseconds(0);
  WorkerRig rig(config, three_brokers());
  rig.run_to_end(60 * kSec);
  size_t checked = 0;
  for (const auto& [partition, keys] : rig.kafka.keys) {
    for (const auto& key : keys) {
      const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size());
      ASSERT_EQ(driver::murmur2_partition(bytes, 6), partition) << key;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 900u);
}

// The regression behind "16 of 50 clients were dead for the rest of the run": a leader dies, the
// cluster moves its partitions, every producer follows and the dead address is not redialled for
// ever.
TEST(Cluster, WhenALeaderDiesProducersFollowTheNewLeadersAndStopDiallingTheDeadOne) {
  auto config = base_config();
  config.clients = 10;
  config.partitioner = PartitionerKind::kRoundRobin;
  config.acks = -1;
  config.rate = 2000;
  config.duration = std::chrono::seconds(6);
  WorkerRig rig(config, three_brokers());
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == driver::Phase::kMeasuring; }, 5 * kSec));
  rig.run_until([] { return false; }, 2 * kSec);
  rig.loop().kill_broker(9093);
  rig.run_until([] { return false; }, 500 * kMs);
  rig.kafka.leaders = {0, 2, 2};  // the controller moved broker 1's partitions to broker 2
  rig.run_to_end();
  const auto m = rig.measured();
  EXPECT_GE(static_cast<double>(m.messages_acked), 0.95 * 12000) << "no producer stranded";
  EXPECT_GT(m.messages_failed, 0u) << "what was in flight to the dead broker failed";
  for (const auto& p : rig.worker->producers()) {
    EXPECT_EQ(p.connections(), 2u) << "the dead broker's connection was dropped";
    EXPECT_EQ(p.link_to(1), UINT32_MAX);
  }
  EXPECT_EQ(rig.worker->metadata().leader_changes(), 2u);  // partitions 1 and 4
  EXPECT_LE(rig.kafka.connects, 10 * 3 + 1 + 10 * 3) << "no redialling storm";
}

// Broker 1 is down from the start; Metadata still names it leader until the controller notices.
// Producers and consumers then connect to the leaders that remain, not wait for the dead one.
TEST(Cluster, ALeaderThatDiesWhileClientsConnectStrandsNone) {
  auto config = base_config();
  config.clients = 6;
  config.consumers = 2;
  config.partitioner = PartitionerKind::kRoundRobin;
  config.verify = true;
  config.acks = -1;
  config.rate = 600;
  config.duration = std::chrono::seconds(2);
  config.connect_deadline = std::chrono::seconds(20);
  auto kafka = three_brokers();
  kafka.brokers[1].refuse = true;
  WorkerRig rig(config, kafka);
  rig.run_until([] { return false; }, 500 * kMs);
  EXPECT_EQ(rig.phase(), driver::Phase::kConnecting) << "nobody can be ready with a leader down";
  rig.kafka.leaders = {0, 2, 2};
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() != driver::Phase::kConnecting; }, 10 * kSec))
      << "clients stranded in Connecting after their dead leader's partitions moved";
  rig.run_to_end();
  EXPECT_EQ(rig.counters().producers_connected, 6u);
  EXPECT_EQ(rig.counters().consumers_connected, 2u);
  for (auto& c : rig.worker->consumers()) {
    EXPECT_TRUE(c.intake().tally.failure.empty()) << c.intake().tally.failure;
    EXPECT_EQ(c.intake().tally.received, rig.counters().messages_acked);
  }
}

TEST(Cluster, AConsumerReadsPartitionsOnEveryLeaderWithOneConnectionEach) {
  auto config = base_config();
  config.clients = 2;
  config.consumers = 2;
  config.partitioner = PartitionerKind::kRoundRobin;
  config.verify = true;
  config.rate = 1000;
  config.duration = std::chrono::seconds(2);
  WorkerRig rig(config, three_brokers());
  rig.run_to_end();
  for (auto& c : rig.worker->consumers()) {
    const auto& t = c.intake().tally;
    EXPECT_EQ(c.connections(), 3u);
    EXPECT_TRUE(t.failure.empty()) << t.failure;
    EXPECT_EQ(t.lost, 0u);
    EXPECT_EQ(t.duplicates, 0u);
    EXPECT_EQ(t.out_of_order, 0u) << "round-robin interleaves partitions: in order within each";
    EXPECT_EQ(t.received, rig.counters().messages_acked);
  }
}

TEST(Cluster, AConsumerFollowsALeaderMoveWithoutLosingARecord) {
  auto config = base_config();
  config.clients = 1;
  config.consumers = 1;
  config.partitioner = PartitionerKind::kRoundRobin;
  config.verify = true;
  config.acks = -1;
  config.rate = 500;
  config.duration = std::chrono::seconds(4);
  WorkerRig rig(config, three_brokers());
  ASSERT_TRUE(rig.run_until([&] { return rig.phase() == driver::Phase::kMeasuring; }, 5 * kSec));
  rig.run_until([] { return false; }, 1 * kSec);
  rig.kafka.leaders = {0, 2, 2};  // a clean move (a preferred-leader election): nobody dies
  rig.run_to_end();
  const auto& t = rig.worker->consumers()[0].intake().tally;
  EXPECT_TRUE(t.failure.empty()) << t.failure;
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(rig.worker->consumers()[0].connections(), 2u);
  EXPECT_EQ(t.received, rig.counters().messages_acked);
}

TEST(Cluster, TopicsSpreadClientsAndConsumersOverTopics) {
  auto config = base_config();
  config.clients = 4;
  config.topics = 2;
  config.messages = 400;
  config.duration = std::chrono::nanoseconds(0);
  FakeKafka kafka;
  kafka.topic = "t-0";  // the fake serves one topic: topic-0's clients write, topic-1's wait
  WorkerRig rig(config, kafka);
  EXPECT_EQ(rig.worker->producers()[0].topic(), 0u);
  EXPECT_EQ(rig.worker->producers()[1].topic(), 1u);
  EXPECT_EQ(rig.worker->metadata().topic(1).name, "t-1");
}

}  // namespace
}  // namespace ws::testing
