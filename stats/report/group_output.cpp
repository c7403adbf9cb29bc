#include "stats/report/group_output.h"

#include <cstdio>

#include "protocol/errors.h"
#include "stats/hlog.h"
#include "stats/report/result_json.h"
#include "stats/report/run_text.h"

namespace ws::report {
namespace {

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

const stats::HdrHistogram& or_empty(const std::optional<stats::HdrHistogram>& h) {
  static const stats::HdrHistogram kEmpty = driver::make_latency_histogram();
  return h ? *h : kEmpty;
}

// Seconds as milliseconds in a histogram of microseconds: "p50 12.3 ms ... max".
std::string percentiles_text(const stats::HdrHistogram& h_us) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.1f  p99 %.1f  max %.1f ms (%lld)",
                static_cast<double>(h_us.value_at_percentile(50)) / 1000.0,
                static_cast<double>(h_us.value_at_percentile(99)) / 1000.0, static_cast<double>(h_us.max()) / 1000.0,
                static_cast<long long>(h_us.total_count()));
  return buf;
}

}  // namespace

Json groups_json(const driver::RunResult& result, const driver::RunConfig& config) {
  const driver::GroupReport& g = *result.groups;
  const driver::GroupCounters& counters = result.totals.groups;  // the whole run: most joins come first
  Json j;
  j["mode"] = driver::group_mode_name(config.group.mode);
  j["assignor"] = driver::assignor_name(config.group.assignor);
  j["groups"] = g.groups.size();
  j["members"] = g.members;
  j["session_timeout_ms"] = ms(config.group.session_timeout);
  j["heartbeat_interval_ms"] = ms(config.group.heartbeat_interval);
  j["commit_interval_ms"] = ms(config.group.commit_interval);
  j["group_instance_id"] = config.group.is_static() ? Json(config.group.instance_prefix) : Json(nullptr);
  j["members_never_assigned"] = g.members_never_assigned;
  j["members_without_assignment"] = g.members_without_assignment;
  j["groups_stable"] = g.groups_stable;
  // Over the stable groups: seconds from the start of the run until every member had its
  // assignment of the group's final generation.
  Json stable = latency_json(g.time_to_stable_us);
  for (auto& [key, value] : stable.items()) {
    if (key != "count") value = value.get<double>() / 1000.0;
  }
  j["time_to_stable_s"] = stable;
  j["rebalances"] = g.rebalances;
  j["member_rebalances"] = counters.rebalances;  // assignments given up by members
  j["rebalance_duration_ms"] = latency_json(g.rebalance_duration_us);
  j["join_latency_ms"] = latency_json(g.join_latency_us);
  j["sync_latency_ms"] = latency_json(g.sync_latency_us);
  // Heartbeats and commits of the measured time (as every other latency of the result).
  j["heartbeat_latency_ms"] = latency_json(or_empty(result.metrics.group_latency.heartbeat_us));
  j["commit_latency_ms"] = latency_json(or_empty(result.metrics.group_latency.commit_us));
  // The histograms themselves (HdrHistogram V2, base64, microseconds), so that `wirestress merge`
  // pools them exactly.
  auto& histograms = j["histograms"] = Json::object();
  for (const auto& [name, h] : {std::pair<const char*, const stats::HdrHistogram*>{"time_to_stable", &g.time_to_stable_us},
                                {"rebalance_duration", &g.rebalance_duration_us},
                                {"join_latency", &g.join_latency_us},
                                {"sync_latency", &g.sync_latency_us},
                                {"heartbeat_latency", &or_empty(result.metrics.group_latency.heartbeat_us)},
                                {"commit_latency", &or_empty(result.metrics.group_latency.commit_us)}}) {
    histograms[name] = stats::to_base64(stats::compress_v2(*h));
  }
  j["coordinator_lookups"] = counters.coordinator_lookups;
  auto& answered = j["responses"] = Json::object();
  auto& errors = j["errors"] = Json::object();
  for (size_t api = 0; api < driver::kGroupApiCount; ++api) {
    const char* name = driver::group_api_name(static_cast<driver::GroupApi>(api));
    answered[name] = counters.answered[api];
    errors[name] = Json::object();
  }
  for (const auto& [key, n] : counters.errors)
    errors[driver::group_api_name(key.first)][protocol::error_name(key.second)] = n;
  j["assignment_conflicts"] = g.assignment_conflicts;
  // --churn-members: leaves to join again (the counters: the whole run, as the members' tallies)
  // and the members that got an assignment again after one.
  j["churn"] = {{"rate_per_s", config.group.churn_rate},
                {"static", config.group.is_static()},
                {"leaves", counters.churn_leaves},
                {"rejoins", counters.churn_rejoins},
                {"members_rejoined", g.members_rejoined}};
  if (config.group.mode == driver::GroupMode::kShared) {
    j["verified"] = g.verified;
    j["lost"] = g.lost;
    j["rebalance_duplicates"] = g.rebalance_duplicates;
  }
  auto& per = j["per_group"] = Json::array();
  for (const auto& group : g.groups) {
    Json one = {{"id", group.id},
                {"name", group.name},
                {"members", group.members},
                {"generation", group.final_generation},
                {"stable", group.stable},
                {"time_to_stable_s", group.stable ? Json(group.time_to_stable_s) : Json(nullptr)},
                {"generations", group.generations},
                {"rebalances", group.rebalances},
                {"rebalance_time_s", group.rebalance_time_s},
                {"members_never_assigned", group.members_never_assigned},
                {"members_without_partitions", group.members_without_partitions},
                {"partitions_unassigned", group.partitions_unassigned},
                {"assignment_conflicts", group.assignment_conflicts},
                {"churn_leaves", group.churn_leaves},
                {"churn_rejoins", group.churn_rejoins},
                {"members_rejoined", group.members_rejoined}};
    if (config.group.mode == driver::GroupMode::kShared) {
      one["lost"] = group.lost;
      one["rebalance_duplicates"] = group.rebalance_duplicates;
    }
    per.push_back(std::move(one));
  }
  return j;
}

void write_groups_summary(std::ostream& out, const driver::RunResult& result, const driver::RunConfig& config) {
  const driver::GroupReport& g = *result.groups;
  const driver::GroupCounters& counters = result.totals.groups;
  char buf[256];
  std::snprintf(buf, sizeof buf, "  groups             %zu %s (%s), %u members, %u stable, %llu rebalances\n",
                g.groups.size(), driver::group_mode_name(config.group.mode),
                driver::assignor_name(config.group.assignor), g.members, g.groups_stable,
                static_cast<unsigned long long>(g.rebalances));
  out << buf;
  if (g.time_to_stable_us.total_count() > 0) {
    std::snprintf(buf, sizeof buf, "  time to stable     p50 %.2f  max %.2f s after the start\n",
                  static_cast<double>(g.time_to_stable_us.value_at_percentile(50)) / 1e6,
                  static_cast<double>(g.time_to_stable_us.max()) / 1e6);
    out << buf;
  }
  out << "  join latency       " << percentiles_text(g.join_latency_us) << "\n";
  out << "  sync latency       " << percentiles_text(g.sync_latency_us) << "\n";
  if (const auto& h = result.metrics.group_latency.heartbeat_us; h && h->total_count() > 0) {
    out << "  heartbeat latency  " << percentiles_text(*h) << "\n";
  }
  if (const auto& h = result.metrics.group_latency.commit_us; h && h->total_count() > 0) {
    out << "  commit latency     " << percentiles_text(*h) << "\n";
  }
  if (g.rebalance_duration_us.total_count() > 0) {
    out << "  rebalance time     " << percentiles_text(g.rebalance_duration_us) << "\n";
  }
  if (config.group.churn_rate > 0 || counters.churn_leaves > 0) {
    std::snprintf(buf, sizeof buf,
                  "  group churn        %llu leaves, %llu rejoins at %g/s%s; %u of %u members rejoined\n",
                  static_cast<unsigned long long>(counters.churn_leaves),
                  static_cast<unsigned long long>(counters.churn_rejoins), config.group.churn_rate,
                  config.group.is_static() ? " (static: no LeaveGroup)" : "", g.members_rejoined, g.members);
    out << buf;
  }
  if (g.members_never_assigned || g.members_without_assignment) {
    out << "  group members      " << g.members_never_assigned << " never assigned, " << g.members_without_assignment
        << " assigned no partition\n";
  }
  if (g.verified) {
    out << "  group delivery     lost " << with_commas(g.lost) << ", rebalance duplicates "
        << with_commas(g.rebalance_duplicates) << " (each group as a whole)\n";
  }
  if (g.assignment_conflicts) {
    out << "  group conflicts    " << g.assignment_conflicts << " partitions held by two members in one generation\n";
  }
  for (const auto& [key, n] : counters.errors) {
    out << "  group error        " << driver::group_api_name(key.first) << " " << protocol::error_name(key.second)
        << " x" << with_commas(n) << "\n";
  }
}

void append_group_metrics(stats::PrometheusText& out, const driver::IntervalReport& latest,
                          const driver::Metrics* run_so_far) {
  const driver::GroupCounters& t = latest.total.groups;
  for (size_t api = 0; api < driver::kGroupApiCount; ++api) {
    out.counter("wirestress_group_responses_total", "Group API responses received, by API.", t.answered[api],
                {{"api", driver::group_api_name(static_cast<driver::GroupApi>(api))}});
  }
  for (const auto& [key, n] : t.errors) {
    out.counter("wirestress_group_errors_total", "Group API errors, by API and Kafka error name.", n,
                {{"api", driver::group_api_name(key.first)}, {"code", protocol::error_name(key.second)}});
  }
  out.counter("wirestress_group_rebalances_total", "Assignments group members gave up to join again.", t.rebalances);
  out.counter("wirestress_group_coordinator_lookups_total", "FindCoordinator answers naming a coordinator.",
              t.coordinator_lookups);
  out.counter("wirestress_group_churn_leaves_total", "Group members that left to join again (--churn-members).",
              t.churn_leaves);
  out.counter("wirestress_group_churn_rejoins_total",
              "Churned group members that got an assignment again (--churn-members).", t.churn_rejoins);
  out.gauge("wirestress_group_members_assigned", "Group members holding an assignment.", t.members_assigned);
  const driver::Metrics* recent = latest.interval;
  const driver::Metrics* lifetime = run_so_far != nullptr ? run_so_far : recent;
  auto pick = [](const driver::Metrics* m, auto member) -> const stats::HdrHistogram& {
    return m != nullptr ? or_empty(m->group_latency.*member) : or_empty(std::nullopt);
  };
  out.summary(
      "wirestress_group_heartbeat_latency_seconds", "Heartbeat round trips; quantiles over the last report interval.",
      pick(recent, &driver::GroupLatencies::heartbeat_us), pick(lifetime, &driver::GroupLatencies::heartbeat_us), 1e-6);
  out.summary(
      "wirestress_group_commit_latency_seconds", "OffsetCommit round trips; quantiles over the last report interval.",
      pick(recent, &driver::GroupLatencies::commit_us), pick(lifetime, &driver::GroupLatencies::commit_us), 1e-6);
}

}  // namespace ws::report
