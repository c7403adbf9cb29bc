// Consumer groups judged as groups, at the end of a run, from the members' tallies (whichever
// worker each ran on): how long each group took to settle, its rebalances and how long they left
// it without an assignment, join and sync latencies, members that never got an assignment or got
// no partition, and, for shared groups with --verify, whether the group as a whole (the union of
// its members) received every acknowledged record, and how many twice because of a rebalance.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "driver/config.h"
#include "driver/group_metrics.h"
#include "driver/record_intake.h"
#include "stats/histogram.h"

namespace ws::driver {

struct GroupSummary {
  uint32_t id = 0;   // n of <prefix>-<n>
  std::string name;  // the group id
  uint32_t members = 0;
  int32_t final_generation = -1;
  // Every member ended with an assignment of the same generation; the group got there
  // time_to_stable_s after the start of the run (when its last member got that assignment).
  bool stable = false;
  double time_to_stable_s = -1;
  uint32_t generations = 0;  // distinct generations its members took part in
  uint32_t rebalances = 0;   // generations after its first
  // Summed over its rebalances: from the first member giving up its assignment to the last one
  // getting the next generation's.
  double rebalance_time_s = 0;
  uint32_t members_never_assigned = 0;
  uint32_t members_without_partitions = 0;  // assigned nothing in the end (more members than partitions)
  uint32_t assignment_conflicts = 0;        // partitions two members held in one generation
  uint32_t partitions_unassigned = 0;       // of its topics, in the final generation
  uint64_t lost = 0;                        // shared groups: acknowledged, received by no member
  uint64_t rebalance_duplicates = 0;        // received again because a rebalance moved a partition
  // --churn-members: its members' leaves to join again, those that got an assignment again, and
  // the members that did so at least once.
  uint32_t churn_leaves = 0;
  uint32_t churn_rejoins = 0;
  uint32_t members_rejoined = 0;
};

struct GroupReport {
  GroupReport();
  GroupMode mode = GroupMode::kNone;
  AssignorKind assignor = AssignorKind::kRange;
  bool verified = false;  // shared groups with --verify: lost and duplicates are exact
  uint32_t members = 0;
  uint32_t members_never_assigned = 0;
  uint32_t members_without_assignment = 0;  // their final assignment holds no partition
  uint32_t groups_stable = 0;
  uint64_t rebalances = 0;
  uint64_t lost = 0;
  uint64_t rebalance_duplicates = 0;
  uint32_t assignment_conflicts = 0;
  uint32_t churn_leaves = 0;
  uint32_t churn_rejoins = 0;
  uint32_t members_rejoined = 0;  // churned at least once and assigned again after it
  std::vector<GroupSummary> groups;  // by id
  stats::HdrHistogram join_latency_us;
  stats::HdrHistogram sync_latency_us;
  stats::HdrHistogram rebalance_duration_us;
  stats::HdrHistogram time_to_stable_us;
};

// Builds the report from every consumer's tally (ordered by id). `acked` holds the records each
// producer of this run had acknowledged. In shared groups a record is lost to the group, not to
// a member: the members' `lost` are replaced by their group's, carried by its first member, so
// that consume.lost adds up to the groups' loss.
GroupReport build_group_report(std::vector<ConsumerTally>& consumers, const RunConfig& config,
                               std::span<const uint64_t> acked, uint32_t run_id);

// The sequence numbers of this run's producers that `intake` received, as ranges per producer.
std::vector<SeenSequences> seen_sequences(const RecordIntake& intake, uint32_t run_id);

}  // namespace ws::driver
