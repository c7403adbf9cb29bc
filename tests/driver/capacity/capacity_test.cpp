// What sweep and ceiling conclude from a run: its figures (read from the result JSON), the limit it
// broke first, and where the search goes next.
#include "driver/capacity/figures.h"
#include "driver/capacity/progress.h"
#include "driver/capacity/sweep.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <tuple>

namespace ws::capacity {
namespace {

// A producer-only result as `wirestress --json` writes it: 3 s measured after a 1 s warm-up.
Json run_result(double rate, double acked, double sent, double failed = 0, double unsent = 0) {
  Json j;
  j["config"] = {{"clients", 10}, {"rate", rate}, {"duration_s", 3.0}, {"warmup_s", 1.0}, {"acks", 1},
                 {"max_in_flight", 5}, {"consumers", 0}};
  j["produce"] = {{"messages_sent", sent},
                  {"messages_acked", acked},
                  {"messages_failed", failed},
                  {"requests_acked", acked},
                  {"messages_unsent_due", unsent},
                  {"throughput_msgs_per_s", acked / 3.05},
                  {"latency_ms", {{"p50", 1.0}, {"p90", 2.0}, {"p99", 4.0}, {"p999", 8.0}, {"max", 9.0}}},
                  {"service_latency_ms", {{"p99", 3.0}, {"mean", 1.0}}}};
  j["run"] = {{"elapsed_s", 3.05}, {"client_busy_fraction", 0.2}};
  j["intervals"] = Json::array();
  for (double t : {1.0, 2.0, 3.0, 4.0, 4.05}) {
    j["intervals"].push_back({{"elapsed_s", t}, {"phase", t <= 1.0 ? "warmup" : "measure"}, {"connections_open", 10}});
  }
  return j;
}

TEST(LoadFigures, ProducerOnlyRatesCountTheMeasuredTimeNotTheDrain) {
  const LoadFigures f = load_figures(run_result(10000, 30000, 30000));
  EXPECT_EQ(f.clients, 10u);
  EXPECT_DOUBLE_EQ(f.offered_msgs_per_s, 10000);
  EXPECT_DOUBLE_EQ(f.achieved_msgs_per_s, 10000);  // 30,000 acked over 3 s, not 3.05 s
  EXPECT_DOUBLE_EQ(f.acked_msgs_per_s, 10000);
  EXPECT_DOUBLE_EQ(f.loss, 0);
  EXPECT_FALSE(f.loss_from_consumers);
  EXPECT_EQ(f.failing_clients, 0u);
  EXPECT_DOUBLE_EQ(f.latency_ms[kP99], 4.0);
  EXPECT_DOUBLE_EQ(f.client_busy, 0.2);
  // 10,000 requests/s x 1 ms in flight = 10 requests over 10 clients x 5 slots.
  EXPECT_NEAR(f.window_use, 0.2, 1e-9);
}

TEST(LoadFigures, ProducerOnlyLossIsFailedOverSentAndAcksZeroCountsWrittenRecords) {
  Json j = run_result(10000, 29000, 30000, 300);
  LoadFigures f = load_figures(j);
  EXPECT_DOUBLE_EQ(f.error_rate, 0.01);
  EXPECT_DOUBLE_EQ(f.loss, 0.01);
  j["config"]["acks"] = 0;
  j["produce"]["messages_acked"] = 0;
  f = load_figures(j);
  EXPECT_DOUBLE_EQ(f.achieved_msgs_per_s, 10000);
  EXPECT_LT(f.window_use, 0);  // no responses: no window to measure
}

TEST(LoadFigures, ClientsWithoutAConnectionWhileMeasuringAreFailing) {
  Json j = run_result(10000, 30000, 30000);
  j["intervals"][2]["connections_open"] = 7;  // a measure tick with 3 clients down
  j["intervals"][4]["connections_open"] = 0;  // the drain at the end: clients closing, not failing
  EXPECT_EQ(load_figures(j).failing_clients, 3u);
  j["intervals"][0]["connections_open"] = 0;  // still connecting during the warm-up: fine
  EXPECT_EQ(load_figures(j).failing_clients, 3u);
}

TEST(LoadFigures, WithConsumersAchievedIsTheReceiveRateAndLossComesFromThem) {
  Json j = run_result(10000, 30000, 30000);
  j["config"]["consumers"] = 2;
  j["consume"] = {{"messages_received", 54000}, {"throughput_msgs_per_s", 17700}, {"loss_pct", 10.0},
                  {"failing_clients", 1}, {"e2e_latency_ms", {{"p99", 12.5}, {"count", 5}}}};
  for (auto& iv : j["intervals"]) iv["connections_open"] = 12;
  const LoadFigures f = load_figures(j);
  EXPECT_DOUBLE_EQ(f.received_msgs_per_s, 9000);  // 54,000 over 3 s over 2 consumers
  EXPECT_DOUBLE_EQ(f.achieved_msgs_per_s, 9000);
  EXPECT_DOUBLE_EQ(f.loss, 0.10);
  EXPECT_TRUE(f.loss_from_consumers);
  EXPECT_EQ(f.failing_clients, 1u);
  EXPECT_DOUBLE_EQ(f.e2e_p99_ms, 12.5);
}

TEST(LoadFigures, TheReceiveRateLeavesOutWarmUpRecordsStillInTransit) {
  Json j = run_result(10000, 30000, 30000);
  j["config"]["consumers"] = 2;
  // 6,000 of the 54,000 received were sent during the warm-up (--verify tells them apart).
  j["consume"] = {{"messages_received", 54000}, {"messages_measured", 48000}, {"loss_pct", 0.0}};
  for (auto& iv : j["intervals"]) iv["connections_open"] = 12;
  EXPECT_DOUBLE_EQ(load_figures(j).received_msgs_per_s, 8000);  // 48,000 over 3 s over 2 consumers
}

// The seed study's per-subscriber figures: each consumer's rate (per_consumer is over the run
// including its drain, 3.05 s here), the slowest one, and those that failed, got nothing or lost.
TEST(LoadFigures, EachConsumersRateTheSlowestAndTheFailingConsumers) {
  Json j = run_result(1000, 3000, 3000);
  j["config"]["consumers"] = 4;
  j["run"]["elapsed_s"] = 3.05;
  j["consume"] = {{"messages_received", 9000}, {"messages_measured", 9000}, {"loss_pct", 2.0}, {"failing_clients", 1}};
  auto consumer = [](int id, double measured, double lost, bool failed) {
    return Json{{"id", id}, {"received", measured}, {"throughput_msgs_per_s", measured / 3.05}, {"lost", lost},
                {"failed", failed}};
  };
  j["consume"]["per_consumer"] = {consumer(0, 3000, 0, false), consumer(1, 3000, 0, false),
                                  consumer(2, 2400, 600, false), consumer(3, 600, 0, true)};
  for (auto& iv : j["intervals"]) iv["connections_open"] = 5;
  const LoadFigures f = load_figures(j);
  EXPECT_DOUBLE_EQ(f.received_msgs_per_s, 750);      // 9,000 over 3 s over 4 consumers
  EXPECT_NEAR(f.received_min_msgs_per_s, 200, 1e-9);  // consumer 3: 600 over the 3 s measured
  EXPECT_EQ(f.failing_consumers, 2u);                 // 2 lost records, 3 failed
  const Json out = figures_json(f);
  EXPECT_NEAR(out["received_min_msgs_per_s"].get<double>(), 200, 1e-9);
  EXPECT_EQ(out["failing_consumers"], 2);
  // One consumer never reported at all: it is failing, and the slowest received nothing.
  j["config"]["consumers"] = 5;
  EXPECT_EQ(load_figures(j).failing_consumers, 3u);
  EXPECT_DOUBLE_EQ(load_figures(j).received_min_msgs_per_s, 0);
  // A consumer that received nothing in the measured time fails as well.
  j["config"]["consumers"] = 4;
  j["consume"]["per_consumer"][0]["throughput_msgs_per_s"] = 0;
  EXPECT_EQ(load_figures(j).failing_consumers, 3u);
}

TEST(LoadFigures, GroupsGiveMembersStabilityAndJoinLatency) {
  Json j = run_result(1000, 3000, 3000);
  EXPECT_EQ(load_figures(j).groups, 0u);
  EXPECT_FALSE(figures_json(load_figures(j)).contains("groups"));
  j["config"]["consumers"] = 100;
  j["groups"] = {{"mode", "own"}, {"groups", 100}, {"members", 100}, {"groups_stable", 99},
                 {"members_never_assigned", 1},
                 {"time_to_stable_s", {{"p50", 1.5}, {"max", 4.25}, {"count", 99}}},
                 {"join_latency_ms", {{"p50", 12.0}, {"p99", 80.0}}}};
  const LoadFigures f = load_figures(j);
  EXPECT_EQ(f.groups, 100u);
  EXPECT_EQ(f.group_members, 100u);
  EXPECT_EQ(f.groups_stable, 99u);
  EXPECT_EQ(f.members_never_assigned, 1u);
  EXPECT_DOUBLE_EQ(f.time_to_stable_p50_s, 1.5);
  EXPECT_DOUBLE_EQ(f.time_to_stable_max_s, 4.25);
  EXPECT_DOUBLE_EQ(f.join_p99_ms, 80);
  EXPECT_DOUBLE_EQ(figures_json(f)["groups"]["time_to_stable_max_s"].get<double>(), 4.25);
  j["groups"]["time_to_stable_s"]["count"] = 0;  // no group became stable
  EXPECT_LT(load_figures(j).time_to_stable_max_s, 0);
  EXPECT_TRUE(figures_json(load_figures(j))["groups"]["time_to_stable_max_s"].is_null());
}

TEST(LoadFigures, AMissingOrForeignJsonReadsAsZeros) {
  const LoadFigures f = load_figures(Json::parse(R"({"produce": "x", "config": [1]})"));
  EXPECT_EQ(f.clients, 0u);
  EXPECT_DOUBLE_EQ(f.achieved_msgs_per_s, 0);
}

std::vector<std::string> reasons(const LoadFigures& f, const CeilingLimits& limits = {}) {
  std::vector<std::string> out;
  for (const auto& v : check_limits(f, limits)) out.push_back(v.reason);
  return out;
}

LoadFigures healthy() {
  LoadFigures f;
  f.clients = 10;
  f.offered_msgs_per_s = f.achieved_msgs_per_s = 10000;
  f.latency_ms[kP99] = 5;
  f.client_busy = 0.2;
  f.window_use = 0.1;
  return f;
}

TEST(CheckLimits, AHealthyStepBreaksNothing) { EXPECT_TRUE(check_limits(healthy(), {}).empty()); }

TEST(CheckLimits, EachLimitNamesItsReason) {
  LoadFigures f = healthy();
  f.latency_ms[kP99] = 51;
  EXPECT_EQ(reasons(f), std::vector<std::string>{"latency"});
  f = healthy();
  f.error_rate = 0.002;
  EXPECT_EQ(reasons(f), std::vector<std::string>{"errors"});
  f = healthy();
  f.failing_clients = 1;
  EXPECT_EQ(reasons(f), std::vector<std::string>{"errors"});
  f = healthy();
  f.loss = 0.01;  // from producer failures only: counted as errors, not loss
  EXPECT_TRUE(reasons(f).empty());
  f.loss_from_consumers = true;
  EXPECT_EQ(reasons(f), std::vector<std::string>{"loss"});
  f = healthy();
  f.achieved_msgs_per_s = 8999;
  EXPECT_EQ(reasons(f), std::vector<std::string>{"throughput_plateau"});
  f = healthy();
  f.client_busy = 0.95;
  EXPECT_EQ(reasons(f), std::vector<std::string>{"client"});
}

TEST(CheckLimits, ABrokerAtCapacityIsAPlateauBeforeLatency) {
  LoadFigures f = healthy();
  f.achieved_msgs_per_s = 6000;
  f.latency_ms[kP99] = 900;
  f.behind_schedule = 0.4;
  f.window_use = 1.0;  // every in-flight slot taken: the broker holds the client back
  EXPECT_EQ(reasons(f), (std::vector<std::string>{"throughput_plateau", "latency"}));
}

TEST(CheckLimits, BehindScheduleWithAFreeWindowBlamesTheClientNotTheBroker) {
  LoadFigures f = healthy();
  f.achieved_msgs_per_s = 6000;
  f.latency_ms[kP99] = 900;
  f.behind_schedule = 0.4;
  f.window_use = 0.05;  // the broker answered at once; the client did not send
  f.service_p99_ms = 2;
  EXPECT_EQ(reasons(f), (std::vector<std::string>{"client", "throughput_plateau", "latency"}));
  // A broker stall: the window was free on average, but requests waited on the broker for long.
  f.service_p99_ms = 380;
  EXPECT_EQ(reasons(f), (std::vector<std::string>{"throughput_plateau", "latency"}));
  f.service_p99_ms = 2;
  // A saturated client comes first, whatever else broke.
  f.client_busy = 0.97;
  f.error_rate = 0.5;
  EXPECT_EQ(reasons(f).front(), "client");
}

TEST(CheckLimits, LimitsAreTheUsersNotFixed) {
  LoadFigures f = healthy();
  f.latency_ms[kP99] = 80;
  CeilingLimits limits;
  limits.slo_p99_ms = 100;
  EXPECT_TRUE(reasons(f, limits).empty());
  limits.slo_p99_ms = 79.9;
  EXPECT_EQ(reasons(f, limits), std::vector<std::string>{"latency"});
}

// Runs a search against a broker that sustains any load up to `capacity`.
CeilingSearch search_against(double capacity, SearchSettings settings, std::vector<double>* loads = nullptr) {
  CeilingSearch search(settings);
  while (auto load = search.next()) {
    if (loads) loads->push_back(*load);
    search.record(*load, *load <= capacity);
  }
  return search;
}

TEST(CeilingSearch, DoublesThenBisectsToWithinThePrecision) {
  std::vector<double> loads;
  const auto search = search_against(20000, {}, &loads);
  // 1k 2k 4k 8k 16k 32k, then bisection between 16k and 32k.
  ASSERT_GE(loads.size(), 7u);
  EXPECT_EQ(std::vector<double>(loads.begin(), loads.begin() + 6),
            (std::vector<double>{1000, 2000, 4000, 8000, 16000, 32000}));
  EXPECT_DOUBLE_EQ(loads[6], 24000);
  EXPECT_LE(search.best_ok(), 20000);
  EXPECT_GE(search.best_ok(), 20000 / 1.05);
  ASSERT_TRUE(search.first_bad());
  EXPECT_LE(*search.first_bad() - search.best_ok(), 0.05 * search.best_ok());
  EXPECT_LE(search.steps(), 12);
}

TEST(CeilingSearch, ClientCountsStayWholeNumbers) {
  SearchSettings settings;
  settings.start = 10;
  settings.whole_numbers = true;
  settings.precision = 0.01;
  std::vector<double> loads;
  const auto search = search_against(137, settings, &loads);
  for (double l : loads) EXPECT_EQ(l, std::floor(l));
  EXPECT_EQ(search.best_ok(), 137);
  EXPECT_EQ(*search.first_bad(), 138);
}

TEST(CeilingSearch, StopsAtTheMaximumOrWhenTheFirstStepFails) {
  SearchSettings settings;
  settings.max = 5000;
  auto search = search_against(1e9, settings);
  EXPECT_TRUE(search.reached_max());
  EXPECT_EQ(search.best_ok(), 5000);  // 1k 2k 4k, then the maximum itself
  EXPECT_FALSE(search.first_bad());

  search = search_against(500, {});
  EXPECT_EQ(search.steps(), 1);
  EXPECT_EQ(search.best_ok(), 0);
  EXPECT_EQ(*search.first_bad(), 1000);
}

TEST(CeilingSearch, MaxStepsBoundsTheRunTime) {
  SearchSettings settings;
  settings.max_steps = 4;
  settings.precision = 0.0001;
  EXPECT_EQ(search_against(20000, settings).steps(), 4);
}

TEST(RoundBetween, PicksRoundValuesStrictlyInside) {
  EXPECT_DOUBLE_EQ(round_between(16000, 32000, false), 24000);
  EXPECT_DOUBLE_EQ(round_between(20000, 21000, false), 20500);
  EXPECT_DOUBLE_EQ(round_between(16000, 24000, false), 20000);
  const double v = round_between(10, 13, true);
  EXPECT_TRUE(v == 11 || v == 12) << v;
  EXPECT_DOUBLE_EQ(round_between(10, 12, true), 11);
}

TEST(ParseNumberList, AcceptsPositiveListsOnly) {
  std::vector<double> v;
  EXPECT_TRUE(parse_number_list("10,50,300,500", v));
  EXPECT_EQ(v, (std::vector<double>{10, 50, 300, 500}));
  EXPECT_TRUE(parse_number_list("0.5", v));
  EXPECT_EQ(v, std::vector<double>{0.5});
  for (const char* bad : {"", ",", "10,", ",10", "10,,20", "-5", "0", "abc", "10x", "1e400", "nan", " 5"}) {
    EXPECT_FALSE(parse_number_list(bad, v)) << bad;
  }
}

TEST(CapacityProgress, ASweepLineSaysWhichCellHowFarAndWhenTheWholeEnds) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  CapacityProgress progress("sweep", 4, 5.0, 2.0, sink);
  progress.begin_cell(1, "10 clients at 1000 msg/s");
  const std::string line = progress.line(2.0, 998, 1.5);
  EXPECT_NE(line.find("sweep: cell 2/4 10 clients at 1000 msg/s, 0:02 of 0:05, 998 msg/s, p99 1.50 ms"),
            std::string::npos) << line;
  // 3 s left of this cell, then two more cells of 5 s, each after a 2 s pause.
  EXPECT_NE(line.find("ETA 0:17"), std::string::npos) << line;
  CapacityProgress ceiling("ceiling", std::nullopt, 12.0, 1.0, sink);
  ceiling.begin_cell(6, "bisect");
  const std::string step = ceiling.line(3.0, 20000, 4.0);
  EXPECT_NE(step.find("ceiling: step 7 bisect, 0:03 of 0:12"), std::string::npos) << step;
  EXPECT_EQ(step.find("ETA"), std::string::npos) << "a ceiling's steps are not known ahead";
  std::fclose(sink);
}

TEST(CapacityProgress, LaterCellsTakeAsLongAsTheCellsDoneTook) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  CapacityProgress progress("sweep", 4, 5.0, 2.0, sink);
  // The first cell took 9 s, 4 s more than its warm-up and step (500 consumers connecting).
  progress.record_cell_time(9.0);
  progress.begin_cell(1, "1 client, 500 consumers at 1000 msg/s");
  const std::string line = progress.line(2.0, 1000, 1.5, 998);
  EXPECT_NE(line.find("sweep: cell 2/4 1 client, 500 consumers at 1000 msg/s, 0:02 of 0:05, 1000 msg/s, "
                      "received 998 msg/s per consumer, p99 1.50 ms"),
            std::string::npos) << line;
  // 7 s left of this cell (9 - 2), then two more of 9 s, each after a 2 s pause.
  EXPECT_NE(line.find("ETA 0:29"), std::string::npos) << line;
  EXPECT_NE(progress.line(1.0, 0, 0, -1, "connecting").find(", connecting 0:01 of 0:05, 0 msg/s, p99"),
            std::string::npos);
  std::fclose(sink);
}

// A sweep over consumers at total rates: one producer, the consumer counts outer, the rates inner.
ScenarioBase sweep_base() {
  ScenarioBase base;
  base.config.bootstrap = {"127.0.0.1:9092"};
  base.flags = {"--bootstrap=127.0.0.1:9092", "--verify"};
  return base;
}

// One publisher, these consumer counts, these total rates.
SweepPlan seed_plan(std::vector<uint32_t> consumers, std::vector<double> rates) {
  SweepPlan plan;
  plan.clients = {1};
  plan.consumers = std::move(consumers);
  plan.rates = std::move(rates);
  plan.rate_is_total = true;
  return plan;
}

TEST(SweepCells, ConsumerCountsTimesTotalRatesInOrder) {
  SweepPlan plan = seed_plan({10, 50}, {1000, 1500});
  plan.step_duration = std::chrono::seconds(10);
  plan.topic = "seed";
  std::string error;
  const auto cells = sweep_cells(plan, sweep_base(), error);
  ASSERT_EQ(cells.size(), 4u) << error;
  const std::vector<std::tuple<uint32_t, uint32_t, double, std::string>> want = {
      {1, 10, 1000, "seed-c0"}, {1, 10, 1500, "seed-c1"}, {1, 50, 1000, "seed-c2"}, {1, 50, 1500, "seed-c3"}};
  for (size_t i = 0; i < cells.size(); ++i) {
    EXPECT_EQ(std::tuple(cells[i].clients, cells[i].consumers, cells[i].rate, cells[i].topic), want[i]) << i;
    EXPECT_EQ(cells[i].duration, std::chrono::seconds(10));
    EXPECT_EQ(cells[i].messages, 0u);
  }
  EXPECT_EQ(cell_label(cells[2]), "1 client, 50 consumers at 1000 msg/s");
}

TEST(SweepCells, RatePerClientMultipliesAndEveryAxisNests) {
  SweepPlan plan;
  plan.clients = {2, 6};
  plan.consumers = {1, 3};
  plan.rates = {500, 3000};
  std::string error;
  const auto cells = sweep_cells(plan, sweep_base(), error);
  ASSERT_EQ(cells.size(), 8u) << error;
  EXPECT_EQ(std::tuple(cells[0].clients, cells[0].consumers, cells[0].rate), std::tuple(2u, 1u, 1000.0));
  EXPECT_EQ(std::tuple(cells[3].clients, cells[3].consumers, cells[3].rate), std::tuple(2u, 3u, 6000.0));
  EXPECT_EQ(std::tuple(cells[7].clients, cells[7].consumers, cells[7].rate), std::tuple(6u, 3u, 18000.0));
  EXPECT_EQ(cell_label(cells[0]), "2 clients, 1 consumer at 1000 msg/s");
  // Without a consumer list every cell has the scenario's consumers (none here).
  plan.consumers.clear();
  const auto producers_only = sweep_cells(plan, sweep_base(), error);
  ASSERT_EQ(producers_only.size(), 4u);
  EXPECT_EQ(producers_only[0].consumers, 0u);
  EXPECT_EQ(cell_label(producers_only[0]), "2 clients at 1000 msg/s");
}

TEST(SweepCells, GroupSettingsReachEveryCellAndAPrefixIsMadeThePerCellOnes) {
  const SweepPlan plan = seed_plan({100, 1000}, {1000});
  ScenarioBase base = sweep_base();
  base.config.group.mode = driver::GroupMode::kOwn;
  std::string error;
  auto cells = sweep_cells(plan, base, error);
  ASSERT_EQ(cells.size(), 2u) << error;
  for (const auto& c : cells) {
    EXPECT_EQ(c.group.mode, driver::GroupMode::kOwn);
    EXPECT_TRUE(c.group.prefix.empty()) << "each run's own prefix";
  }
  base.config.group.prefix = "seed";
  cells = sweep_cells(plan, base, error);
  ASSERT_EQ(cells.size(), 2u) << error;
  EXPECT_EQ(cells[0].group.prefix, "seed-c0");
  EXPECT_EQ(cells[1].group.prefix, "seed-c1");
}

TEST(SweepCells, TheFirstInvalidCellSaysWhichAndWhy) {
  const SweepPlan plan = seed_plan({10, 2}, {1000});
  ScenarioBase base = sweep_base();
  base.config.group.mode = driver::GroupMode::kShared;
  base.config.group.groups = 5;  // more groups than cell 1's 2 consumers
  std::string error;
  EXPECT_TRUE(sweep_cells(plan, base, error).empty());
  EXPECT_NE(error.find("wirestress sweep: cell 1 (1 client, 2 consumers at 1000 msg/s): --groups"), std::string::npos)
      << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace ws::capacity
