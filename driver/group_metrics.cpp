#include "driver/group_metrics.h"

#include "driver/metrics.h"

namespace ws::driver {

const char* group_api_name(GroupApi api) {
  switch (api) {
    case GroupApi::kFindCoordinator: return "find_coordinator";
    case GroupApi::kJoinGroup: return "join";
    case GroupApi::kSyncGroup: return "sync";
    case GroupApi::kHeartbeat: return "heartbeat";
    case GroupApi::kOffsetCommit: return "commit";
    case GroupApi::kOffsetFetch: return "offset_fetch";
    case GroupApi::kLeaveGroup: return "leave";
    case GroupApi::kCount: break;
  }
  return "unknown";
}

void GroupCounters::add(const GroupCounters& o) {
  for (size_t i = 0; i < answered.size(); ++i) answered[i] += o.answered[i];
  for (const auto& [key, n] : o.errors) errors[key] += n;
  rebalances += o.rebalances;
  coordinator_lookups += o.coordinator_lookups;
  members_assigned += o.members_assigned;
  churn_leaves += o.churn_leaves;
  churn_rejoins += o.churn_rejoins;
}

void GroupCounters::subtract(const GroupCounters& before) {
  for (size_t i = 0; i < answered.size(); ++i) answered[i] -= before.answered[i];
  for (auto& [key, n] : errors) {
    const auto it = before.errors.find(key);
    if (it != before.errors.end()) n -= it->second;
  }
  rebalances -= before.rebalances;
  coordinator_lookups -= before.coordinator_lookups;
  churn_leaves -= before.churn_leaves;
  churn_rejoins -= before.churn_rejoins;
}

bool GroupLatencies::record(std::optional<stats::HdrHistogram>& h, int64_t us) {
  if (!h) h.emplace(make_latency_histogram());
  return h->record(std::max<int64_t>(0, us));
}

void GroupLatencies::add(const GroupLatencies& o) {
  for (auto [mine, theirs] : {std::pair{&heartbeat_us, &o.heartbeat_us}, std::pair{&commit_us, &o.commit_us}}) {
    if (!*theirs) continue;
    if (!*mine) mine->emplace(make_latency_histogram());
    (*mine)->add(**theirs);
  }
}

void GroupLatencies::reset() {
  if (heartbeat_us) heartbeat_us->reset();
  if (commit_us) commit_us->reset();
}

}  // namespace ws::driver
