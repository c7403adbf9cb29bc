#include "driver/group_report.h"

#include <algorithm>
#include <map>
#include <set>

#include "driver/metrics.h"

namespace ws::driver {
namespace {

// Sorts and merges `ranges` in place; returns how many numbers they cover.
uint64_t merge_ranges(std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  std::sort(ranges.begin(), ranges.end());
  size_t out = 0;
  for (const auto& r : ranges) {
    if (out > 0 && r.first <= ranges[out - 1].second) {
      ranges[out - 1].second = std::max(ranges[out - 1].second, r.second);
    } else {
      ranges[out++] = r;
    }
  }
  ranges.resize(out);
  uint64_t covered = 0;
  for (const auto& r : ranges) covered += r.second - r.first;
  return covered;
}

void record_us(stats::HdrHistogram& h, double seconds) { h.record(static_cast<int64_t>(std::max(0.0, seconds) * 1e6)); }

// Rebalances, stability and assignment checks of one group, from its members' generations.
void judge_generations(GroupSummary& g, const std::vector<const ConsumerTally*>& members, GroupReport& report) {
  std::map<int32_t, std::vector<const GenerationRecord*>> by_generation;
  std::map<uint32_t, int32_t> partitions_of_topic;  // topic -> partitions
  for (const ConsumerTally* m : members) {
    const GroupMemberTally& t = m->group;
    partitions_of_topic[t.topic] = std::max(partitions_of_topic[t.topic], t.topic_partitions);
    if (t.generations.empty()) {
      ++g.members_never_assigned;
      continue;
    }
    if (t.generations.back().partitions.empty()) ++g.members_without_partitions;
    for (const auto& record : t.generations) {
      by_generation[record.generation].push_back(&record);
      record_us(report.join_latency_us, static_cast<double>(record.join_latency_us) / 1e6);
      record_us(report.sync_latency_us, static_cast<double>(record.sync_latency_us) / 1e6);
    }
  }
  g.generations = static_cast<uint32_t>(by_generation.size());
  g.rebalances = g.generations > 0 ? g.generations - 1 : 0;
  bool first = true;
  for (const auto& [generation, records] : by_generation) {
    // Within one generation no partition may have two holders (the assignors never do that).
    std::set<std::pair<uint32_t, int32_t>> held;
    double start = 1e300, start_rejoined = 1e300, end = 0;
    for (const GenerationRecord* r : records) {
      start = std::min(start, r->join_started_s);
      if (r->rejoined) start_rejoined = std::min(start_rejoined, r->join_started_s);
      end = std::max(end, r->assigned_s);
    }
    for (const ConsumerTally* m : members) {
      for (const auto& r : m->group.generations) {
        if (r.generation != generation) continue;
        for (const int32_t p : r.partitions) g.assignment_conflicts += !held.emplace(m->group.topic, p).second;
      }
    }
    if (!first) {
      // A rebalance starts when the first member that held an assignment gives it up.
      const double duration = end - (start_rejoined < 1e300 ? start_rejoined : start);
      g.rebalance_time_s += std::max(0.0, duration);
      record_us(report.rebalance_duration_us, duration);
    }
    first = false;
  }
  // Stable: every member's last assignment is of one generation.
  g.stable = g.members_never_assigned == 0 && !members.empty();
  for (const ConsumerTally* m : members) {
    if (m->group.generations.empty()) continue;
    const GenerationRecord& last = m->group.generations.back();
    if (g.final_generation < 0) g.final_generation = last.generation;
    if (last.generation != g.final_generation) g.stable = false;
    g.time_to_stable_s = std::max(g.time_to_stable_s, last.assigned_s);
  }
  if (!g.stable) {
    g.time_to_stable_s = -1;
    return;
  }
  record_us(report.time_to_stable_us, g.time_to_stable_s);
  std::set<std::pair<uint32_t, int32_t>> covered;
  for (const ConsumerTally* m : members) {
    for (const int32_t p : m->group.generations.back().partitions) covered.emplace(m->group.topic, p);
  }
  for (const auto& [topic, partitions] : partitions_of_topic) {
    for (int32_t p = 0; p < partitions; ++p) g.partitions_unassigned += !covered.count({topic, p});
  }
}

}  // namespace

GroupReport::GroupReport()
    : join_latency_us(make_latency_histogram()),
      sync_latency_us(make_latency_histogram()),
      rebalance_duration_us(make_latency_histogram()),
      time_to_stable_us(make_latency_histogram()) {}

std::vector<SeenSequences> seen_sequences(const RecordIntake& intake, uint32_t run_id) {
  std::vector<SeenSequences> out;
  for (const auto& [key, tracker] : intake.sequences()) {
    if (static_cast<uint32_t>(key >> 32) != run_id) continue;
    SeenSequences seen{.producer = static_cast<uint32_t>(key)};
    uint64_t from = 0;
    for (const auto& [first, last] : tracker.gaps()) {
      if (first > from) seen.ranges.emplace_back(from, first);
      from = last;
    }
    if (from < tracker.next()) seen.ranges.emplace_back(from, tracker.next());
    out.push_back(std::move(seen));
  }
  std::sort(out.begin(), out.end(),
            [](const SeenSequences& a, const SeenSequences& b) { return a.producer < b.producer; });
  return out;
}

GroupReport build_group_report(std::vector<ConsumerTally>& consumers, const RunConfig& config,
                               std::span<const uint64_t> acked, uint32_t run_id) {
  GroupReport report;
  report.mode = config.group.mode;
  report.assignor = config.group.assignor;
  const bool shared = config.group.mode == GroupMode::kShared;
  report.verified = shared && config.verify;
  std::map<uint32_t, std::vector<ConsumerTally*>> by_group;
  for (auto& c : consumers) {
    if (c.group.in_group) by_group[c.group.group].push_back(&c);
  }
  for (auto& [id, members] : by_group) {
    GroupSummary g;
    g.id = id;
    g.name = config.group.group_id(id, run_id - config.shard.index);
    g.members = static_cast<uint32_t>(members.size());
    judge_generations(g, std::vector<const ConsumerTally*>(members.begin(), members.end()), report);
    for (const ConsumerTally* m : members) {
      g.rebalance_duplicates += m->group.rebalance_duplicates;
      g.churn_leaves += m->group.churns;
      g.churn_rejoins += m->group.churn_rejoins;
      g.members_rejoined += m->group.churn_rejoins > 0;
    }
    if (shared) {
      // The group as a whole, per producer of its topics: what no member received is lost; what
      // two members received was read again after a rebalance moved its partition.
      std::set<uint32_t> topics;
      uint64_t received = 0;
      for (const ConsumerTally* m : members) {
        topics.insert(m->group.topic);
        received += m->received;
      }
      uint64_t acked_here = 0;
      for (uint32_t p = 0; p < acked.size(); ++p) {
        if (!topics.count(config.producer_topic(p))) continue;
        acked_here += acked[p];
        if (!config.verify) continue;
        std::vector<std::pair<uint64_t, uint64_t>> all;
        uint64_t each = 0;
        for (const ConsumerTally* m : members) {
          const auto it = std::lower_bound(m->group.seen.begin(), m->group.seen.end(), p,
                                           [](const SeenSequences& s, uint32_t v) { return s.producer < v; });
          if (it == m->group.seen.end() || it->producer != p) continue;
          all.insert(all.end(), it->ranges.begin(), it->ranges.end());
          for (const auto& r : it->ranges) each += r.second - r.first;
        }
        const uint64_t distinct = merge_ranges(all);
        g.rebalance_duplicates += each - distinct;
        if (acked[p] > distinct) g.lost += acked[p] - distinct;
      }
      // Without --verify, the best a count can say: acknowledged minus received by the group.
      if (!config.verify) g.lost = acked_here > received ? acked_here - received : 0;
      for (ConsumerTally* m : members) m->lost = 0;
      members.front()->lost = g.lost;
    }
    report.members += g.members;
    report.members_never_assigned += g.members_never_assigned;
    report.members_without_assignment += g.members_without_partitions;
    report.groups_stable += g.stable;
    report.rebalances += g.rebalances;
    report.lost += g.lost;
    report.rebalance_duplicates += g.rebalance_duplicates;
    report.assignment_conflicts += g.assignment_conflicts;
    report.churn_leaves += g.churn_leaves;
    report.churn_rejoins += g.churn_rejoins;
    report.members_rejoined += g.members_rejoined;
    report.groups.push_back(std::move(g));
  }
  return report;
}

}  // namespace ws::driver
