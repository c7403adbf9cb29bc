// Consumers in consumer groups (--group-mode) on the fake loop, against the fake group coordinator:
// who is assigned what, what they fetch, how they follow rebalances, a coordinator that moves or
// forgets them, what they commit and that they leave, and the group judged as a whole.
#include <gtest/gtest.h>

#include <deque>
#include <set>

#include "driver/group_report.h"
#include "protocol/consumer_protocol.h"
#include "protocol/errors.h"
#include "tests/driver/fake_group_coordinator.h"
#include "tests/driver/rigs.h"

namespace ws::testing {
namespace {

using driver::GroupMode;

std::string consumer_id(int i) { return "wirestress-consumer-" + std::to_string(i); }

driver::RunConfig group_config(GroupMode mode, uint32_t consumers) {
  auto c = base_config();
  c.clients = 1;
  c.consumers = consumers;
  c.rate = 200;
  c.duration = std::chrono::seconds(1);
  c.verify = true;
  c.group.mode = mode;
  c.group.prefix = "test";
  c.group.heartbeat_interval = std::chrono::milliseconds(100);
  c.group.session_timeout = std::chrono::seconds(1);
  c.group.commit_interval = std::chrono::milliseconds(200);
  return c;
}

// A worker rig whose cluster has a group coordinator.
struct GroupRig {
  FakeGroupCoordinator coordinator;
  std::unique_ptr<WorkerRig> rig;
  // Partitions named by each consumer's fetch answers, in order (client id -> fetches).
  std::map<std::string, std::vector<std::vector<int32_t>>> fetched;

  explicit GroupRig(driver::RunConfig config, FakeKafka kafka = FakeKafka{}) {
    coordinator.install(kafka);
    kafka.answer_filter = [this](const SeenRequest& request, std::vector<uint8_t> frame) {
      if (request.api_key == protocol::FetchRequest::kApiKey) record_fetch(request, frame);
      FakeKafka::AnswerEdit edit;
      edit.reads.push_back(std::move(frame));
      return edit;
    };
    rig = std::make_unique<WorkerRig>(std::move(config), std::move(kafka));
    coordinator.clock = &rig->now;
  }
  void record_fetch(const SeenRequest& request, const std::vector<uint8_t>& frame) {
    auto answer = protocol::read_response_header(std::span<const uint8_t>(frame).subspan(4), request.api_key,
                                                 request.api_version);
    protocol::FetchResponse response;
    response.decode(answer.body, request.api_version);
    std::vector<int32_t> partitions;
    for (const auto& t : response.responses) {
      for (const auto& p : t.partitions) partitions.push_back(p.partition_index);
    }
    fetched[request.client_id].push_back(std::move(partitions));
  }
  const driver::ConsumerTally& tally(size_t i) { return rig->worker->consumers()[i].intake().tally; }
  const driver::GroupMember& member(size_t i) { return *rig->worker->consumers()[i].group(); }
  bool stable() {
    for (const auto& c : rig->worker->consumers()) {
      if (!c.group()->has_assignment()) return false;
    }
    return true;
  }
  // The groups judged as a whole, as the run's result does.
  driver::GroupReport report() {
    std::vector<driver::ConsumerTally> tallies;
    for (auto& c : rig->worker->consumers()) tallies.push_back(c.intake().tally);
    std::vector<uint64_t> acked(rig->config.clients);
    for (size_t p = 0; p < acked.size(); ++p) acked[p] = rig->control->producer_acked[p].load();
    return driver::build_group_report(tallies, rig->config, acked, rig->control->run_id);
  }
};

std::set<int32_t> as_set(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }

TEST(GroupMember, OwnModePutsEveryConsumerAloneInAGroupReadingEveryPartition) {
  for (const auto kind : {FakeKafka::Kind::kModern, FakeKafka::Kind::kKafka09}) {
    SCOPED_TRACE(kind == FakeKafka::Kind::kModern ? "modern" : "kafka 0.9");
    FakeKafka kafka;
    kafka.kind = kind;
    auto config = group_config(GroupMode::kOwn, 3);
    if (kind == FakeKafka::Kind::kKafka09) config.broker_version = driver::BrokerVersion::kV0_9;
    GroupRig g(config, kafka);
    g.rig->run_to_end();
    EXPECT_EQ(g.coordinator.group_ids(), (std::vector<std::string>{"test-0", "test-1", "test-2"}));
    const uint64_t acked = g.rig->counters().messages_acked;
    EXPECT_GT(acked, 100u);
    for (int i = 0; i < 3; ++i) {
      const auto assigned = g.coordinator.assignments_of(consumer_id(i));
      ASSERT_EQ(assigned.size(), 1u) << consumer_id(i);
      EXPECT_EQ(assigned[0]->group, "test-" + std::to_string(i));
      EXPECT_EQ(assigned[0]->partitions, (std::vector<int32_t>{0, 1, 2, 3}));
      EXPECT_EQ(g.tally(i).received, acked);
      EXPECT_TRUE(g.tally(i).failure.empty()) << g.tally(i).failure;
      EXPECT_EQ(g.tally(i).lost, 0u);
      EXPECT_EQ(g.tally(i).duplicates, 0u);
    }
    const auto report = g.report();
    EXPECT_EQ(report.groups_stable, 3u);
    EXPECT_EQ(report.members_never_assigned, 0u);
    EXPECT_EQ(report.time_to_stable_us.total_count(), 3);
    EXPECT_EQ(report.join_latency_us.total_count(), 3);
  }
}

TEST(GroupMember, TwoMembersOfASharedGroupSplitFourPartitionsAsTheJavaAssignorsDo) {
  struct Case {
    driver::AssignorKind assignor;
    FakeKafka::Kind kind;
    std::vector<int32_t> first, second;  // by member id: consumer 0's member sorts first
  };
  const Case cases[] = {
      {driver::AssignorKind::kRange, FakeKafka::Kind::kModern, {0, 1}, {2, 3}},
      {driver::AssignorKind::kRoundRobin, FakeKafka::Kind::kModern, {0, 2}, {1, 3}},
      {driver::AssignorKind::kRange, FakeKafka::Kind::kKafka09, {0, 1}, {2, 3}},
      {driver::AssignorKind::kRoundRobin, FakeKafka::Kind::kKafka09, {0, 2}, {1, 3}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(driver::assignor_name(c.assignor)) +
                 (c.kind == FakeKafka::Kind::kModern ? " modern" : " kafka 0.9"));
    FakeKafka kafka;
    kafka.kind = c.kind;
    auto config = group_config(GroupMode::kShared, 2);
    config.group.assignor = c.assignor;
    if (c.kind == FakeKafka::Kind::kKafka09) config.broker_version = driver::BrokerVersion::kV0_9;
    GroupRig g(config, kafka);
    g.coordinator.expected_members = 2;  // one generation with both
    g.rig->run_to_end();
    const auto first = g.coordinator.assignments_of(consumer_id(0));
    const auto second = g.coordinator.assignments_of(consumer_id(1));
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(first[0]->generation, second[0]->generation);
    EXPECT_EQ(first[0]->partitions, c.first);
    EXPECT_EQ(second[0]->partitions, c.second);
    // Each fetched only its own partitions; together they read every record once.
    for (const auto& [client, fetches] : g.fetched) {
      const auto& mine = client == consumer_id(0) ? c.first : c.second;
      for (const auto& f : fetches) EXPECT_EQ(f, mine) << client;
    }
    const uint64_t acked = g.rig->counters().messages_acked;
    EXPECT_EQ(g.tally(0).received + g.tally(1).received, acked);
    EXPECT_GT(g.tally(0).received, 0u);
    EXPECT_GT(g.tally(1).received, 0u);
    const auto report = g.report();
    ASSERT_EQ(report.groups.size(), 1u);
    EXPECT_TRUE(report.verified);
    EXPECT_EQ(report.lost, 0u);
    EXPECT_EQ(report.rebalance_duplicates, 0u);
    EXPECT_EQ(report.assignment_conflicts, 0u);
    EXPECT_EQ(report.groups[0].partitions_unassigned, 0u);
    EXPECT_TRUE(report.groups[0].stable);
  }
}

TEST(GroupMember, AHeartbeatAnsweredRebalanceInProgressMakesItRejoinAndReadOnlyItsNewAssignment) {
  GroupRig g(group_config(GroupMode::kShared, 2));
  // The first to join forms generation 1 alone (all four partitions); the second, whose coordinator
  // look-ups fail for a while, joins later and starts a rebalance, which the first hears of in a
  // heartbeat answer.
  g.coordinator.expected_members = 1;
  g.coordinator.not_available_for[consumer_id(1)] = 5;
  g.rig->run_to_end();
  int rebalances_heard = 0;
  for (const auto& [port, code] : g.coordinator.heartbeats)
    rebalances_heard += code == protocol::error::kRebalanceInProgress;
  EXPECT_GE(rebalances_heard, 1);
  const std::string alone = consumer_id(0);  // it held everything first
  const auto history = g.coordinator.assignments_of(alone);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1]->generation, history[0]->generation + 1);
  const std::set<int32_t> now_mine = as_set(history[1]->partitions);
  EXPECT_EQ(now_mine.size(), 2u);
  // Its fetches named all four partitions, then only its new two, never the others again.
  const auto& fetches = g.fetched[alone];
  ASSERT_FALSE(fetches.empty());
  EXPECT_EQ(fetches.front().size(), 4u);
  size_t switched = fetches.size();
  for (size_t i = 0; i < fetches.size(); ++i) {
    if (as_set(fetches[i]) == now_mine) {
      switched = i;
      break;
    }
  }
  ASSERT_LT(switched, fetches.size());
  for (size_t i = switched; i < fetches.size(); ++i) EXPECT_EQ(as_set(fetches[i]), now_mine) << "fetch " << i;
  const auto report = g.report();
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.groups[0].rebalances, 1u);
  EXPECT_TRUE(report.groups[0].stable);
  EXPECT_EQ(report.rebalance_duration_us.total_count(), 1);
  EXPECT_EQ(g.rig->counters().groups.rebalances, 1u);
}

TEST(GroupMember, RebalancesWhileRecordsFlowLoseNothingAndReadTwiceOnlyWhatTheyCountApart) {
  auto config = group_config(GroupMode::kShared, 2);
  config.duration = std::chrono::seconds(3);
  GroupRig g(config);
  g.coordinator.expected_members = 2;
  ASSERT_TRUE(g.rig->run_until([&] { return g.tally(0).received + g.tally(1).received > 100; }, 20 * kSec));
  // Both members hear of a rebalance and keep their partitions: each goes on where it stopped.
  g.coordinator.heartbeat_errors = {protocol::error::kRebalanceInProgress};
  ASSERT_TRUE(g.rig->run_until([&] { return g.coordinator.assignments.size() == 4 && g.stable(); }, 20 * kSec));
  ASSERT_TRUE(g.rig->run_until([&] { return g.tally(0).received + g.tally(1).received > 250; }, 20 * kSec));
  // One member's session expires and it takes a while to join again: its partitions move to the
  // other (from its last commit) while records keep coming, then back.
  g.coordinator.expire_member(consumer_id(1));
  g.coordinator.join_errors_for[consumer_id(1)] = {protocol::error::kCoordinatorLoadInProgress,
                                                   protocol::error::kCoordinatorLoadInProgress,
                                                   protocol::error::kCoordinatorLoadInProgress};
  g.rig->run_to_end();
  bool moved = false;
  for (const auto* a : g.coordinator.assignments_of(consumer_id(0))) moved |= a->partitions.size() == 4;
  EXPECT_TRUE(moved) << "consumer 0 held every partition for a generation";
  const auto report = g.report();
  ASSERT_EQ(report.groups.size(), 1u);
  EXPECT_TRUE(report.groups[0].stable);
  EXPECT_GE(report.groups[0].rebalances, 3u);
  EXPECT_EQ(report.lost, 0u) << "the group as a whole received every acknowledged record";
  EXPECT_EQ(report.assignment_conflicts, 0u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(g.tally(i).duplicates, 0u) << "what a rebalance made it read again is counted apart";
    EXPECT_TRUE(g.tally(i).failure.empty()) << g.tally(i).failure;
  }
  // Read twice: what the expired member had read since its last commit (up to 200 ms of records).
  EXPECT_GT(report.rebalance_duplicates, 0u);
  EXPECT_LE(report.rebalance_duplicates, 60u);
}

TEST(GroupMember, NotCoordinatorMakesItLookTheCoordinatorUpAgainAndFollowItWithoutRejoining) {
  FakeKafka kafka;
  kafka.brokers = {FakeKafka::Broker{.node_id = 0, .port = 9092}, FakeKafka::Broker{.node_id = 1, .port = 9093}};
  auto config = group_config(GroupMode::kOwn, 1);
  config.duration = std::chrono::seconds(2);
  GroupRig g(config, kafka);
  ASSERT_TRUE(g.rig->run_until([&] { return g.coordinator.heartbeats.size() >= 3; }, 20 * kSec));
  const size_t joins = g.coordinator.joins.size();
  EXPECT_EQ(g.coordinator.finds, 1);
  g.coordinator.coordinator_node = 1;  // the group moves to broker 1: broker 0 answers NOT_COORDINATOR
  g.rig->run_to_end();
  EXPECT_EQ(g.coordinator.finds, 2);
  EXPECT_EQ(g.coordinator.joins.size(), joins) << "its membership survives the move";
  bool refused = false, answered_after = false;
  for (const auto& [port, code] : g.coordinator.heartbeats) {
    if (port == 9092 && code == protocol::error::kNotCoordinator) refused = true;
    if (refused && port == 9093 && code == protocol::error::kNone) answered_after = true;
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(answered_after);
  ASSERT_FALSE(g.coordinator.leaves.empty());
  EXPECT_TRUE(g.tally(0).failure.empty()) << g.tally(0).failure;
  EXPECT_EQ(g.tally(0).received, g.rig->counters().messages_acked);
}

TEST(GroupMember, UnknownMemberIdMakesItJoinAgainWithAnEmptyMemberId) {
  auto config = group_config(GroupMode::kOwn, 1);
  config.duration = std::chrono::seconds(2);
  GroupRig g(config);
  ASSERT_TRUE(g.rig->run_until([&] { return g.rig->phase() == driver::Phase::kMeasuring; }, 20 * kSec));
  ASSERT_TRUE(g.rig->run_until([&] { return g.tally(0).received > 50; }, 20 * kSec));
  const size_t joins = g.coordinator.joins.size();
  g.coordinator.expire_member(consumer_id(0));  // as if its session had expired
  g.rig->run_to_end();
  ASSERT_GT(g.coordinator.joins.size(), joins);
  EXPECT_EQ(g.coordinator.joins[joins].member_id, "") << "the forgotten member joins as a new one";
  const auto assigned = g.coordinator.assignments_of(consumer_id(0));
  ASSERT_EQ(assigned.size(), 2u);
  EXPECT_NE(assigned[0]->member, assigned[1]->member);
  EXPECT_EQ(assigned[1]->partitions, (std::vector<int32_t>{0, 1, 2, 3}));
  // It went on from the offsets it had committed: nothing lost, what it read again counted apart.
  EXPECT_TRUE(g.tally(0).failure.empty()) << g.tally(0).failure;
  EXPECT_EQ(g.tally(0).lost, 0u);
  EXPECT_EQ(g.tally(0).duplicates, 0u);
  EXPECT_EQ(g.report().groups[0].final_generation, assigned[1]->generation);
}

TEST(GroupMember, MoreMembersThanPartitionsLeavesOneReadyWithNothingToRead) {
  FakeKafka kafka;
  kafka.partitions = 2;
  GroupRig g(group_config(GroupMode::kShared, 3), kafka);
  g.coordinator.expected_members = 3;
  g.rig->run_to_end();
  EXPECT_EQ(g.rig->counters().consumers_connected, 3u) << "every member is ready, the empty one too";
  EXPECT_GT(g.rig->counters().messages_acked, 0u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(g.tally(i).failure.empty()) << i << ": " << g.tally(i).failure;
  const auto report = g.report();
  EXPECT_EQ(report.members_without_assignment, 1u);
  EXPECT_EQ(report.members_never_assigned, 0u);
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.groups[0].partitions_unassigned, 0u);
}

TEST(GroupMember, CommitsGoAtTheIntervalWithTheOffsetsReadAndLeaveGroupEndsTheRun) {
  auto config = group_config(GroupMode::kOwn, 1);
  config.duration = std::chrono::seconds(2);
  config.group.commit_interval = std::chrono::milliseconds(200);
  GroupRig g(config);
  g.rig->run_to_end();
  const auto& commits = g.coordinator.commits;
  std::vector<int64_t> times;  // one commit request carries every partition: look at partition 0
  int64_t last_offset = 0;
  for (const auto& c : commits) {
    if (c.partition != 0) continue;
    EXPECT_GE(c.offset, last_offset) << "offsets only move on";
    last_offset = c.offset;
    times.push_back(c.at_ns);
  }
  ASSERT_GE(times.size(), 9u) << "about one per 200 ms over 2 s of reading";
  for (size_t i = 1; i + 1 < times.size(); ++i) {
    EXPECT_GE(times[i] - times[i - 1], 199 * kMs) << "commit " << i;
    EXPECT_LE(times[i] - times[i - 1], 300 * kMs) << "commit " << i;
  }
  // The last commit holds where it stopped: the end of each partition, everything read.
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(g.coordinator.committed("test-0", p), static_cast<int64_t>(g.rig->kafka.records[p].size())) << p;
  }
  ASSERT_EQ(g.coordinator.leaves.size(), 1u);
  EXPECT_EQ(g.coordinator.leaves[0].first, "test-0");
  EXPECT_EQ(g.coordinator.leaves[0].second, g.coordinator.assignments.back().member);
  EXPECT_EQ(g.rig->counters().groups.members_assigned, 0u) << "nobody holds an assignment after leaving";
}

TEST(GroupMember, AnAssignmentNamingPartitionsTheMetadataLacksIsReadAsWhatExistsAndGarbageAsNothing) {
  // A hostile coordinator: partitions 99 and -1 (absent), 2 twice, and a topic that is not its own.
  protocol::ConsumerProtocolAssignment lying;
  lying.assigned_partitions = {{"t", {99, -1, 2, 2}}, {"other", {0}}};
  std::vector<uint8_t> lying_bytes;
  protocol::encode_consumer_assignment(lying_bytes, lying, 0);
  const std::vector<std::vector<uint8_t>> answers = {lying_bytes, {0x00, 0x00, 0x7f, 0xff, 0xff, 0xff}};
  for (size_t a = 0; a < answers.size(); ++a) {
    SCOPED_TRACE(a == 0 ? "partitions not in the metadata" : "garbage");
    GroupRig g(group_config(GroupMode::kOwn, 1));
    g.coordinator.assignment_override = [&](const std::string&) { return std::optional(answers[a]); };
    g.rig->run_to_end();
    for (const auto& f : g.fetched[consumer_id(0)]) EXPECT_EQ(f, (std::vector<int32_t>{2}));
    if (a == 0) {
      EXPECT_FALSE(g.fetched[consumer_id(0)].empty());
    } else {
      EXPECT_TRUE(g.fetched[consumer_id(0)].empty()) << "an assignment it cannot read is an empty one";
      EXPECT_GE(g.rig->counters().failures[static_cast<size_t>(driver::Failure::kDecodeError)], 1u);
    }
    EXPECT_EQ(g.rig->counters().consumers_connected, 1u);
    EXPECT_FALSE(g.coordinator.leaves.empty());
  }
}

// --churn-members: how many of the fake coordinator's leaves came before the run's end (the end's
// own LeaveGroups come after the measured time).
size_t leaves_before(const FakeGroupCoordinator& c, int64_t until_ns) {
  size_t n = 0;
  for (const int64_t at : c.leave_times) n += at < until_ns;
  return n;
}

TEST(GroupMember, AChurnedMemberCommitsLeavesWithLeaveGroupAndJoinsAgainAsANewMember) {
  auto config = group_config(GroupMode::kShared, 2);
  config.duration = std::chrono::seconds(4);
  // No periodic commit in the measured time: only the commits before leaving (and before
  // rejoining) tell the next owner where to start. Without them the next owner would read from
  // --consume-from again (duplicates) or from the end (loss).
  config.group.commit_interval = std::chrono::seconds(30);
  config.group.churn_rate = 1;  // one member a second: each of the two about twice
  GroupRig g(config);
  g.coordinator.expected_members = 2;
  g.rig->run_to_end();
  const int64_t measure_end = g.rig->control->timeline.measure_end_ns();
  const auto& counters = g.rig->counters().groups;
  EXPECT_GE(counters.churn_leaves, 3u);
  EXPECT_LE(counters.churn_leaves, 5u);
  EXPECT_EQ(counters.churn_rejoins, counters.churn_leaves) << "every churned member got an assignment again";
  EXPECT_GE(leaves_before(g.coordinator, measure_end), counters.churn_leaves) << "each churn sent LeaveGroup";
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(consumer_id(i));
    EXPECT_GE(g.tally(i).group.churns, 1u);
    EXPECT_EQ(g.tally(i).group.churn_rejoins, g.tally(i).group.churns);
    // It joined again without a member id (a new member), and was assigned under a new one.
    size_t fresh_joins = 0;
    for (const auto& j : g.coordinator.joins) fresh_joins += j.client_id == consumer_id(i) && j.member_id.empty();
    EXPECT_GE(fresh_joins, 1u + g.tally(i).group.churns);
    const auto assigned = g.coordinator.assignments_of(consumer_id(i));
    std::set<std::string> member_ids;
    for (const auto* a : assigned) member_ids.insert(a->member);
    EXPECT_GE(member_ids.size(), 1u + g.tally(i).group.churns);
    EXPECT_TRUE(g.tally(i).failure.empty()) << g.tally(i).failure;
    EXPECT_EQ(g.tally(i).duplicates, 0u);
  }
  // Commit before leave: every LeaveGroup of the measured time follows, at the same instant, a
  // commit by the member leaving.
  for (size_t l = 0; l < g.coordinator.leaves.size(); ++l) {
    if (g.coordinator.leave_times[l] >= measure_end) continue;
    bool committed = false;
    for (const auto& c : g.coordinator.commits) {
      committed |= c.member == g.coordinator.leaves[l].second && c.at_ns == g.coordinator.leave_times[l];
    }
    EXPECT_TRUE(committed) << "leave " << l << " of " << g.coordinator.leaves[l].second;
  }
  const auto report = g.report();
  ASSERT_EQ(report.groups.size(), 1u);
  EXPECT_TRUE(report.groups[0].stable);
  EXPECT_EQ(report.lost, 0u) << "the group as a whole received every acknowledged record";
  EXPECT_EQ(report.rebalance_duplicates, 0u) << "each next owner started where the last one stopped";
  EXPECT_EQ(report.assignment_conflicts, 0u);
  EXPECT_EQ(report.members_rejoined, 2u);
  EXPECT_EQ(report.churn_leaves, counters.churn_leaves);
  EXPECT_GE(g.rig->counters().messages_acked, 500u);
}

TEST(GroupMember, ChurnTurnsGoRoundEveryMemberAtTheGivenRateOnlyInTheMeasuredTime) {
  auto config = group_config(GroupMode::kShared, 4);
  config.duration = std::chrono::seconds(4);
  config.warmup = std::chrono::seconds(1);
  config.group.churn_rate = 2;  // 8 turns over 4 s: each of the 4 members twice
  GroupRig g(config);
  g.coordinator.expected_members = 4;
  g.rig->run_to_end();
  const auto& timeline = g.rig->control->timeline;
  for (size_t l = 0; l < g.coordinator.leaves.size(); ++l) {
    if (g.coordinator.leave_times[l] < timeline.measure_end_ns()) {
      EXPECT_GE(g.coordinator.leave_times[l], timeline.measure_start_ns()) << "no churn in the warm-up";
    }
  }
  const uint64_t churns = g.rig->counters().groups.churn_leaves;
  EXPECT_GE(churns, 6u);
  EXPECT_LE(churns, 8u);
  for (int i = 0; i < 4; ++i) EXPECT_GE(g.tally(i).group.churns, 1u) << consumer_id(i);
  const auto report = g.report();
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.members_rejoined, 4u);
}

TEST(GroupMember, AChurnedStaticMemberSendsNoLeaveGroupAndJoinsAgainUnderItsInstanceId) {
  auto config = group_config(GroupMode::kShared, 2);
  config.duration = std::chrono::seconds(3);
  config.group.commit_interval = std::chrono::seconds(30);
  config.group.churn_rate = 1;
  config.group.instance_prefix = "inst";
  GroupRig g(config);
  g.coordinator.expected_members = 2;
  g.rig->run_to_end();
  const int64_t measure_end = g.rig->control->timeline.measure_end_ns();
  EXPECT_EQ(leaves_before(g.coordinator, measure_end), 0u) << "a static member closes without a word";
  const uint64_t churns = g.rig->counters().groups.churn_leaves;
  EXPECT_GE(churns, 2u);
  EXPECT_EQ(g.rig->counters().groups.churn_rejoins, churns);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(consumer_id(i));
    EXPECT_EQ(g.member(i).instance_id(), "inst-" + std::to_string(i));
    size_t joins = 0;
    for (const auto& j : g.coordinator.joins) {
      if (j.client_id != consumer_id(i)) continue;
      ++joins;
      EXPECT_EQ(j.instance_id, "inst-" + std::to_string(i)) << "every JoinGroup names its instance id";
    }
    EXPECT_GE(joins, 1u + g.tally(i).group.churns);
    EXPECT_TRUE(g.tally(i).failure.empty()) << g.tally(i).failure;
  }
  // It committed before closing: the commits of the measured time are all a churn's.
  EXPECT_GE(g.coordinator.commits.size(), churns);
  const auto report = g.report();
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.rebalance_duplicates, 0u);
  EXPECT_TRUE(report.groups[0].stable);
}

TEST(GroupMember, AChurnTurnMissedWhileRejoiningIsNotTakenAfterTheMeasuredTime) {
  auto config = group_config(GroupMode::kOwn, 1);
  config.duration = std::chrono::seconds(2);
  config.group.churn_rate = 1.1;  // turns at 0.91 s, 1.82 s (and 2.73 s, past the end)
  GroupRig g(config);
  ASSERT_TRUE(g.rig->run_until([&] { return g.rig->counters().groups.churn_leaves == 1; }, 20 * kSec));
  // Its rejoin takes until after the measured time (12 answers of 100 ms backoff): the turn at
  // 1.82 s falls while it joins, and once it holds an assignment again the churning is over.
  g.coordinator.join_errors_for[consumer_id(0)] = std::deque<int16_t>(12, protocol::error::kCoordinatorLoadInProgress);
  g.rig->run_to_end(60 * kSec);
  EXPECT_EQ(g.rig->counters().groups.churn_leaves, 1u);
  EXPECT_EQ(g.rig->counters().groups.churn_rejoins, 1u);
  EXPECT_EQ(g.tally(0).group.churn_rejoins, 1u);
  ASSERT_EQ(g.coordinator.assignments_of(consumer_id(0)).size(), 2u);
  const auto& timeline = g.rig->control->timeline;
  ASSERT_EQ(g.tally(0).group.generations.size(), 2u);
  EXPECT_GT(g.tally(0).group.generations[1].assigned_s,
            static_cast<double>(timeline.measure_end_ns() - timeline.start_ns()) / 1e9)
      << "assigned again only after the measured time, with a turn missed";
  EXPECT_TRUE(g.tally(0).failure.empty()) << g.tally(0).failure;
}

TEST(GroupMember, StaticMembershipOnABrokerWithoutJoinGroupV5EndsTheRunNamingTheFlag) {
  FakeKafka kafka;
  kafka.kind = FakeKafka::Kind::kKafka09;
  auto config = group_config(GroupMode::kOwn, 1);
  config.broker_version = driver::BrokerVersion::kV0_9;
  config.group.instance_prefix = "inst";
  GroupRig g(config, kafka);
  g.rig->run_to_end(30 * kSec);
  EXPECT_TRUE(g.coordinator.joins.empty()) << "no JoinGroup v0 pretending to be static";
  ASSERT_TRUE(g.rig->control->has_fatal());
  EXPECT_TRUE(g.rig->control->fatal_is_bad_flag()) << "exit 2";
  EXPECT_NE(g.rig->control->fatal().find("--group-instance-id"), std::string::npos) << g.rig->control->fatal();
  EXPECT_EQ(g.rig->control->fatal().find('\n'), std::string::npos) << "one line";
  EXPECT_EQ(g.tally(0).failure, "static_membership_unsupported_by_broker");
}

}  // namespace
}  // namespace ws::testing
