// The group leader's partition assignment: what the Java client's RangeAssignor and
// RoundRobinAssignor compute from the members' subscriptions and the topics' partition counts.
// Pure code (no I/O, no clock): the group member calls it when the coordinator makes it leader.
//
//   range       per topic, the members subscribed to it sorted by member id; member i of n takes
//               the i-th contiguous range, the first (partitions % n) ranges one partition longer;
//   roundrobin  every partition of every subscribed topic (topics sorted by name, partitions in
//               order) dealt in turn to the members sorted by member id, skipping a member not
//               subscribed to the partition's topic.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "driver/group_config.h"

namespace ws::driver {

struct MemberSubscription {
  std::string_view member_id;
  std::vector<std::string_view> topics;
};

struct TopicPartitionCount {
  std::string_view topic;
  int32_t partitions = 0;
};

struct AssignedTopic {
  std::string_view topic;
  std::vector<int32_t> partitions;  // ascending
  bool operator==(const AssignedTopic&) const = default;
};

// One entry per member, in the order of `members`; each lists its topics by name. Topics a member
// subscribes to that `counts` does not know are assigned to nobody (Java skips them too).
std::vector<std::vector<AssignedTopic>> assign_partitions(AssignorKind assignor,
                                                          std::span<const MemberSubscription> members,
                                                          std::span<const TopicPartitionCount> counts);

}  // namespace ws::driver
