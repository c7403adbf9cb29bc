// Consumer groups (--group-mode and the flags around it), as plain settings inside RunConfig.
//   none    every consumer reads every partition alone, with no coordinator (the default);
//   own     every consumer is the only member of a group of its own (the coordinator load of a
//           fleet of independent subscribers);
//   shared  the consumers form --groups groups (consumer j in group j % groups) that split the
//           partitions, each member reading only what the group's leader assigned it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ws::driver {

struct ConfigError;
struct RunConfig;

enum class GroupMode : uint8_t { kNone, kOwn, kShared };
// The group leader's assignor, as the Java client's RangeAssignor and RoundRobinAssignor do it.
enum class AssignorKind : uint8_t { kRange, kRoundRobin };

const char* group_mode_name(GroupMode mode);       // "none", "own", "shared"
const char* assignor_name(AssignorKind assignor);  // "range", "roundrobin": the JoinGroup protocol name
bool parse_group_mode(std::string_view text, GroupMode& out);
bool parse_assignor(std::string_view text, AssignorKind& out);

struct GroupSettings {
  GroupMode mode = GroupMode::kNone;
  uint32_t groups = 1;  // shared: how many groups the consumers split into
  AssignorKind assignor = AssignorKind::kRange;
  // The Java client's defaults (session.timeout.ms was 30 s in 0.9, 10 s from 2.x on; Kafka 0.9's
  // broker accepts 6 s to 30 s). In JoinGroup v0 the session timeout is also the rebalance timeout.
  std::chrono::nanoseconds session_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds heartbeat_interval = std::chrono::seconds(3);
  // OffsetCommit of the member's positions this often (auto.commit.interval.ms); 0 = never.
  std::chrono::nanoseconds commit_interval = std::chrono::seconds(5);
  // Group ids are <prefix>-<n>. Empty: "wirestress-<run id in hex>", so that two runs never meet
  // in one group (and the broker's groups of old runs are told apart).
  std::string prefix;
  // -X group.id=G: one shared group whose id is exactly G (what a librdkafka user means by it);
  // empty: ids from the prefix.
  std::string exact_group_id;
  // --churn-members: members leave and join again as new ones (restarted consumers) at this many
  // per second in total over the run's measured time, in turn (consumer n at slots n, n + N, ...).
  double churn_rate = 0;
  // --group-instance-id: static membership (KIP-345, JoinGroup v5+): member n is <prefix>-<n>. A
  // churned static member sends no LeaveGroup: it closes and joins again under the same id.
  std::string instance_prefix;

  static constexpr size_t kMaxPrefixLength = 200;
  static constexpr size_t kMaxGroupIdLength = 249;  // Kafka's limit for topic names; ids have none
  static constexpr double kMaxChurnRate = 100'000;

  bool enabled() const { return mode != GroupMode::kNone; }
  // The group of consumer number `consumer` (counted over every shard of the run).
  uint32_t group_of(uint32_t consumer) const { return mode == GroupMode::kShared ? consumer % groups : consumer; }
  // The group id of group `group`; `run_base` names the run when no prefix was given.
  std::string group_id(uint32_t group, uint32_t run_base) const;
  bool is_static() const { return !instance_prefix.empty(); }
  // Consumer number `consumer`'s group.instance.id (empty without --group-instance-id).
  std::string instance_id(uint32_t consumer) const;
};

// The first group setting the run cannot use (RunConfig::validate() asks), or nothing.
std::optional<ConfigError> validate_group_settings(const RunConfig& config);

}  // namespace ws::driver
