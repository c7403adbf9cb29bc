// The group leader's assignors against the results the Java client documents for its
// RangeAssignor and RoundRobinAssignor.
#include "driver/assignor.h"

#include <gtest/gtest.h>

namespace ws::driver {
namespace {

using Plan = std::vector<std::vector<AssignedTopic>>;

TEST(Assignor, RangeGivesEachMemberAContiguousRangePerTopicTheFirstOnesLonger) {
  // RangeAssignor's javadoc: C0 and C1 on t0 and t1 of 3 partitions each.
  const MemberSubscription members[] = {{"C0", {"t0", "t1"}}, {"C1", {"t0", "t1"}}};
  const TopicPartitionCount counts[] = {{"t0", 3}, {"t1", 3}};
  EXPECT_EQ(assign_partitions(AssignorKind::kRange, members, counts),
            (Plan{{{"t0", {0, 1}}, {"t1", {0, 1}}}, {{"t0", {2}}, {"t1", {2}}}}));
}

TEST(Assignor, RoundRobinDealsEveryPartitionInTurn) {
  // RoundRobinAssignor's javadoc, identical subscriptions: C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2].
  const MemberSubscription members[] = {{"C1", {"t1", "t0"}}, {"C0", {"t0", "t1"}}};  // any order in
  const TopicPartitionCount counts[] = {{"t0", 3}, {"t1", 3}};
  EXPECT_EQ(assign_partitions(AssignorKind::kRoundRobin, members, counts),
            (Plan{{{"t0", {1}}, {"t1", {0, 2}}}, {{"t0", {0, 2}}, {"t1", {1}}}}));
}

TEST(Assignor, RoundRobinSkipsMembersNotSubscribedToThePartitionsTopic) {
  // The javadoc's uneven example: C0 on t0; C1 on t0, t1; C2 on t0, t1, t2 (1, 2 and 3 partitions):
  // C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0, t2p1, t2p2].
  const MemberSubscription members[] = {{"C0", {"t0"}}, {"C1", {"t0", "t1"}}, {"C2", {"t0", "t1", "t2"}}};
  const TopicPartitionCount counts[] = {{"t0", 1}, {"t1", 2}, {"t2", 3}};
  EXPECT_EQ(assign_partitions(AssignorKind::kRoundRobin, members, counts),
            (Plan{{{"t0", {0}}}, {{"t1", {0}}}, {{"t1", {1}}, {"t2", {0, 1, 2}}}}));
}

TEST(Assignor, TwoMembersOverFourPartitionsSplitThemDisjointly) {
  const MemberSubscription members[] = {{"m-b", {"t"}}, {"m-a", {"t"}}};
  const TopicPartitionCount counts[] = {{"t", 4}};
  // By member id: m-a first.
  EXPECT_EQ(assign_partitions(AssignorKind::kRange, members, counts), (Plan{{{"t", {2, 3}}}, {{"t", {0, 1}}}}));
  EXPECT_EQ(assign_partitions(AssignorKind::kRoundRobin, members, counts), (Plan{{{"t", {1, 3}}}, {{"t", {0, 2}}}}));
}

TEST(Assignor, MoreMembersThanPartitionsLeavesSomeWithNothing) {
  const MemberSubscription members[] = {{"a", {"t"}}, {"b", {"t"}}, {"c", {"t"}}};
  const TopicPartitionCount counts[] = {{"t", 2}};
  for (const auto kind : {AssignorKind::kRange, AssignorKind::kRoundRobin}) {
    EXPECT_EQ(assign_partitions(kind, members, counts), (Plan{{{"t", {0}}}, {{"t", {1}}}, {}}));
  }
}

TEST(Assignor, UnknownTopicsRepeatedTopicsAndNoMembersAssignNothingAndNeverFail) {
  const MemberSubscription members[] = {{"a", {"t", "t", "unknown"}}, {"b", {}}};
  const TopicPartitionCount counts[] = {{"t", 2}, {"other", 5}};
  for (const auto kind : {AssignorKind::kRange, AssignorKind::kRoundRobin}) {
    // A topic named twice is subscribed once: "a" takes both partitions, not two shares.
    EXPECT_EQ(assign_partitions(kind, members, counts), (Plan{{{"t", {0, 1}}}, {}}));
    EXPECT_TRUE(assign_partitions(kind, {}, counts).empty());
  }
}

}  // namespace
}  // namespace ws::driver
