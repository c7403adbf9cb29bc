// What a run with --group-mode writes about its consumer groups: the JSON's "groups" section, the
// summary's group lines and the /metrics group series. From the run's GroupReport (the groups
// judged at the end), its counters and its heartbeat and commit histograms.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>

#include "driver/config.h"
#include "driver/reporting.h"
#include "stats/prometheus.h"

namespace ws::report {

// "groups": settings, members never assigned or without partitions, groups stable and the time to
// a stable group, rebalances and their durations, join/sync/heartbeat/commit latency, requests and
// errors by API and name, --churn-members' leaves and rejoins, and for shared groups lost and
// rebalance duplicates; per_group[]; the histograms behind the percentiles (for `wirestress merge`).
nlohmann::ordered_json groups_json(const driver::RunResult& result, const driver::RunConfig& config);
// The summary's "groups ..." lines.
void write_groups_summary(std::ostream& out, const driver::RunResult& result, const driver::RunConfig& config);
// wirestress_group_* series, from the latest tick's totals and histograms.
void append_group_metrics(stats::PrometheusText& out, const driver::IntervalReport& latest,
                          const driver::Metrics* run_so_far);

}  // namespace ws::report
