// What consumer-group members count (driver/group_member.h), kept apart from the fetch figures:
//  - GroupCounters, inside RunCounters: requests answered and Kafka errors per group API, rebalances,
//    coordinator look-ups, members holding an assignment (published with every tick: /metrics);
//  - GroupLatencies, inside Metrics: heartbeat and commit round trips (HDR, per interval like the
//    other latencies; made on first use, so runs without groups carry no histogram);
//  - GroupMemberTally, inside ConsumerTally: one member's generations (when it joined, when its
//    assignment came, what it held) and, in shared groups with --verify, the records it received,
//    from which driver/group_report.h judges each group as a whole at the end.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "stats/histogram.h"

namespace ws::driver {

enum class GroupApi : uint8_t {
  kFindCoordinator,
  kJoinGroup,
  kSyncGroup,
  kHeartbeat,
  kOffsetCommit,
  kOffsetFetch,
  kLeaveGroup,
  kCount
};
inline constexpr size_t kGroupApiCount = static_cast<size_t>(GroupApi::kCount);
const char* group_api_name(GroupApi api);  // "find_coordinator", "join", "sync", "heartbeat", "commit", ...

struct GroupCounters {
  std::array<uint64_t, kGroupApiCount> answered{};  // responses, with or without an error
  // Kafka error codes answered, by API: (api, code) -> count.
  std::map<std::pair<GroupApi, int16_t>, uint64_t> errors;
  uint64_t rebalances = 0;           // a member gave up its assignment to join again
  uint64_t coordinator_lookups = 0;  // FindCoordinator answered with a coordinator
  uint64_t members_assigned = 0;     // gauge: members holding an assignment now
  // --churn-members: members that left to join again as restarted consumers, and those of them
  // that got an assignment again.
  uint64_t churn_leaves = 0;
  uint64_t churn_rejoins = 0;

  void add(const GroupCounters& o);
  void subtract(const GroupCounters& before);  // for counters_since(): the gauge stays
};

struct GroupLatencies {
  std::optional<stats::HdrHistogram> heartbeat_us;
  std::optional<stats::HdrHistogram> commit_us;

  // False (and nothing kept) when the value is out of the histogram's range.
  bool record_heartbeat(int64_t us) { return record(heartbeat_us, us); }
  bool record_commit(int64_t us) { return record(commit_us, us); }
  void add(const GroupLatencies& o);
  void reset();

 private:
  static bool record(std::optional<stats::HdrHistogram>& h, int64_t us);
};

// One generation of a member's group, as the member saw it. Times in seconds since the run began.
struct GenerationRecord {
  int32_t generation = -1;
  double join_started_s = 0;    // it began joining (first join, or a rebalance)
  double assigned_s = 0;        // its assignment for this generation arrived (SyncGroup answered)
  int64_t join_latency_us = 0;  // the JoinGroup that made it (the broker holds it until all joined)
  int64_t sync_latency_us = 0;
  bool rejoined = false;            // it held an assignment before: a rebalance, not its first join
  std::vector<int32_t> partitions;  // of its topic, ascending
};

// The sequence numbers a member received from one producer of this run: [first, last) ranges.
struct SeenSequences {
  uint32_t producer = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
};

struct GroupMemberTally {
  bool in_group = false;  // --group-mode own or shared
  uint32_t group = 0;     // n of <prefix>-<n>
  uint32_t topic = 0;
  int32_t topic_partitions = 0;               // partitions of its topic in the metadata it assigned from
  std::vector<GenerationRecord> generations;  // every assignment it got, in order
  // --verify: records it received again after a rebalance moved its position back (below what it
  // had read before): rebalance duplicates, not broker duplicates.
  uint64_t rebalance_duplicates = 0;
  uint32_t churns = 0;         // --churn-members: times it left to join again
  uint32_t churn_rejoins = 0;  // of which it got an assignment again
  std::vector<SeenSequences> seen;  // shared groups with --verify, filled at the end
};

}  // namespace ws::driver
