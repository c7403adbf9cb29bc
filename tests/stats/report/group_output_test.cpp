// What a --group-mode run writes about its groups: the JSON's "groups", the summary's group lines
// and the /metrics group series.
#include "stats/report/group_output.h"

#include <gtest/gtest.h>

#include <sstream>

#include "protocol/errors.h"
#include "stats/report/prometheus_text.h"
#include "tests/stats/prometheus_samples.h"

namespace ws {
namespace {

driver::RunConfig shared_config() {
  driver::RunConfig config;
  config.consumers = 4;
  config.verify = true;
  config.group.mode = driver::GroupMode::kShared;
  config.group.groups = 2;
  config.group.assignor = driver::AssignorKind::kRoundRobin;
  return config;
}

TEST(GroupOutput, MetricsCarryTheGroupCountersAndLatencies) {
  driver::Metrics interval;
  for (int64_t us = 1000; us <= 2000; us += 10) interval.group_latency.record_heartbeat(us);
  driver::IntervalReport r;
  r.interval = &interval;
  auto& g = r.total.groups;
  g.answered[static_cast<size_t>(driver::GroupApi::kHeartbeat)] = 120;
  g.errors[{driver::GroupApi::kHeartbeat, protocol::error::kRebalanceInProgress}] = 3;
  g.rebalances = 2;
  g.members_assigned = 4;
  g.churn_leaves = 7;
  g.churn_rejoins = 6;
  const std::string text = report::render_prometheus(r, shared_config());
  SCOPED_TRACE(text);
  testing::expect_well_formed(text);
  const auto s = testing::samples_of(text);
  EXPECT_EQ(s.at(R"(wirestress_group_responses_total{api="heartbeat"})"), "120");
  EXPECT_EQ(s.at(R"(wirestress_group_errors_total{api="heartbeat",code="REBALANCE_IN_PROGRESS"})"), "3");
  EXPECT_EQ(s.at("wirestress_group_rebalances_total"), "2");
  EXPECT_EQ(s.at("wirestress_group_members_assigned"), "4");
  EXPECT_EQ(s.at("wirestress_group_churn_leaves_total"), "7");
  EXPECT_EQ(s.at("wirestress_group_churn_rejoins_total"), "6");
  EXPECT_NEAR(testing::value_of(s, R"(wirestress_group_heartbeat_latency_seconds{quantile="0.5"})"), 0.0015, 0.0001);
  // Without groups there is no group series at all.
  EXPECT_EQ(report::render_prometheus(r, driver::RunConfig{}).find("wirestress_group_"), std::string::npos);
}

TEST(GroupOutput, JsonAndSummaryShowTheGroupsAsJudged) {
  auto config = shared_config();
  config.group.churn_rate = 2;
  driver::RunResult result;
  driver::GroupReport& report = result.groups.emplace();
  report.mode = driver::GroupMode::kShared;
  report.verified = true;
  report.members = 4;
  report.groups_stable = 1;
  report.members_without_assignment = 1;
  report.lost = 3;
  report.rebalance_duplicates = 5;
  report.rebalances = 1;
  report.time_to_stable_us.record(2'500'000);
  report.join_latency_us.record(12'000);
  report.sync_latency_us.record(3'000);
  report.rebalance_duration_us.record(400'000);
  driver::GroupSummary stable{.id = 0,
                              .name = "p-0",
                              .members = 2,
                              .final_generation = 3,
                              .stable = true,
                              .time_to_stable_s = 2.5,
                              .rebalances = 1};
  driver::GroupSummary unsettled{.id = 1, .name = "p-1", .members = 2, .final_generation = 4};
  stable.churn_leaves = stable.churn_rejoins = 3;
  stable.members_rejoined = 2;
  report.groups = {stable, unsettled};
  report.members_rejoined = 2;
  result.totals.groups.churn_leaves = 4;
  result.totals.groups.churn_rejoins = 3;
  result.totals.groups.errors[{driver::GroupApi::kOffsetCommit, protocol::error::kIllegalGeneration}] = 2;

  const auto j = report::groups_json(result, config);
  EXPECT_EQ(j["mode"], "shared");
  EXPECT_EQ(j["assignor"], "roundrobin");
  EXPECT_EQ(j["groups"], 2);
  EXPECT_EQ(j["groups_stable"], 1);
  EXPECT_EQ(j["members_without_assignment"], 1);
  EXPECT_NEAR(j["time_to_stable_s"]["p50"].get<double>(), 2.5, 0.01);
  EXPECT_NEAR(j["join_latency_ms"]["p50"].get<double>(), 12.0, 0.1);
  EXPECT_EQ(j["lost"], 3);
  EXPECT_EQ(j["rebalance_duplicates"], 5);
  EXPECT_EQ(j["errors"]["commit"]["ILLEGAL_GENERATION"], 2);
  EXPECT_EQ(j["errors"]["heartbeat"].size(), 0u);
  ASSERT_EQ(j["per_group"].size(), 2u);
  EXPECT_EQ(j["per_group"][0]["time_to_stable_s"], 2.5);
  EXPECT_TRUE(j["per_group"][1]["time_to_stable_s"].is_null()) << "a group never stable has no time to it";
  EXPECT_EQ(j["churn"]["rate_per_s"], 2.0);
  EXPECT_EQ(j["churn"]["leaves"], 4);
  EXPECT_EQ(j["churn"]["rejoins"], 3);
  EXPECT_EQ(j["churn"]["members_rejoined"], 2);
  EXPECT_EQ(j["churn"]["static"], false);
  EXPECT_TRUE(j["group_instance_id"].is_null());
  EXPECT_EQ(j["per_group"][0]["churn_leaves"], 3);
  EXPECT_EQ(j["per_group"][0]["members_rejoined"], 2);

  std::ostringstream summary;
  report::write_groups_summary(summary, result, config);
  const std::string text = summary.str();
  EXPECT_NE(text.find("groups             2 shared (roundrobin), 4 members, 1 stable, 1 rebalances"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lost 3, rebalance duplicates 5"), std::string::npos) << text;
  EXPECT_NE(text.find("group error        commit ILLEGAL_GENERATION x2"), std::string::npos) << text;
  EXPECT_NE(text.find("group churn        4 leaves, 3 rejoins at 2/s; 2 of 4 members rejoined"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace ws
