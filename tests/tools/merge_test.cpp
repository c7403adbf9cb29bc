// `wirestress merge`: results of runs on several load hosts combine exactly.
#include "tools/commands.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "driver/metrics.h"
#include "stats/hlog.h"

namespace ws::tools {
namespace {

using Json = nlohmann::ordered_json;

Json result_with(const stats::HdrHistogram& latency, int64_t acked, const char* error_name) {
  Json j;
  j["produce"]["messages_acked"] = acked;
  j["produce"]["throughput_msgs_per_s"] = 100.5;
  j["produce"]["errors_by_code"][error_name] = 2;
  j["produce"]["latency_histogram"] = stats::to_base64(stats::compress_v2(latency));
  j["produce"]["service_latency_histogram"] = stats::to_base64(stats::compress_v2(latency));
  j["connections"]["established"] = 10;
  j["run"]["elapsed_s"] = 5.0;
  return j;
}

TEST(Merge, TwoHostsCombineExactly) {
  const auto dir = std::filesystem::temp_directory_path() / ("ws_merge_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> fast(6, 0.5), slow(9, 1.0);
  auto a = driver::make_latency_histogram(), b = driver::make_latency_histogram(),
       all = driver::make_latency_histogram();
  for (int i = 0; i < 20000; ++i) {
    const auto v = static_cast<int64_t>(fast(rng));
    a.record(v);
    all.record(v);
  }
  for (int i = 0; i < 5000; ++i) {
    const auto v = static_cast<int64_t>(slow(rng));
    b.record(v);
    all.record(v);
  }
  Json ja = result_with(a, 20000, "NOT_LEADER_OR_FOLLOWER"), jb = result_with(b, 5000, "NOT_LEADER_OR_FOLLOWER");
  // Consumers on both hosts: counts add, end-to-end histograms merge, per-consumer rows concatenate.
  for (auto [j, h, lost] : {std::tuple{&ja, &a, 0}, std::tuple{&jb, &b, 30}}) {
    (*j)["consume"] = {{"consumers", 2},
                       {"messages_received", 970},
                       {"lost", lost},
                       {"duplicates", 0},
                       {"failing_clients", lost > 0 ? 1 : 0},
                       {"e2e_latency_histogram", stats::to_base64(stats::compress_v2(*h))},
                       {"per_consumer", Json::array({Json{{"id", 0}}, Json{{"id", 1}}})}};
  }
  std::ofstream(dir / "a.json") << ja.dump();
  std::ofstream(dir / "b.json") << jb.dump();
  const std::string out = (dir / "m.json").string(), in_a = (dir / "a.json").string(),
                    in_b = (dir / "b.json").string(), json_flag = "--json=" + out;
  const char* argv[] = {"merge", in_a.c_str(), in_b.c_str(), json_flag.c_str()};
  ASSERT_EQ(run_merge(4, argv), 0);
  const Json m = Json::parse(std::ifstream(out));
  EXPECT_EQ(m["produce"]["messages_acked"].get<int64_t>(), 25000);
  EXPECT_DOUBLE_EQ(m["produce"]["throughput_msgs_per_s"].get<double>(), 201.0);  // hosts add up
  EXPECT_EQ(m["produce"]["errors_by_code"]["NOT_LEADER_OR_FOLLOWER"].get<int64_t>(), 4);
  EXPECT_EQ(m["connections"]["established"].get<int64_t>(), 20);
  // Percentiles of the merge are those of all samples in one histogram, not an average.
  const auto& lat = m["produce"]["latency_ms"];
  EXPECT_EQ(lat["count"].get<int64_t>(), all.total_count());
  EXPECT_DOUBLE_EQ(lat["p50"].get<double>(), static_cast<double>(all.value_at_percentile(50)) / 1000.0);
  EXPECT_DOUBLE_EQ(lat["p99"].get<double>(), static_cast<double>(all.value_at_percentile(99)) / 1000.0);
  EXPECT_DOUBLE_EQ(lat["max"].get<double>(), static_cast<double>(all.max()) / 1000.0);
  EXPECT_DOUBLE_EQ(lat["p95"].get<double>(), static_cast<double>(all.value_at_percentile(95)) / 1000.0);
  EXPECT_GE(lat["p95"].get<double>(), lat["p90"].get<double>());
  EXPECT_LE(lat["p95"].get<double>(), lat["p99"].get<double>());
  EXPECT_DOUBLE_EQ(lat["mean"].get<double>(), all.mean() / 1000.0);
  const auto& c = m["consume"];
  EXPECT_EQ(c["consumers"].get<int64_t>(), 4);
  EXPECT_EQ(c["messages_received"].get<int64_t>(), 1940);
  EXPECT_EQ(c["failing_clients"].get<int64_t>(), 1);
  EXPECT_DOUBLE_EQ(c["loss_pct"].get<double>(), 100.0 * 30 / (30 + 1940));
  EXPECT_EQ(c["e2e_latency_ms"]["count"].get<int64_t>(), all.total_count());
  EXPECT_EQ(c["per_consumer"].size(), 4u);
  std::filesystem::remove_all(dir);
}

TEST(Merge, BadInputsAreRefusedWithExitCodes) {
  const char* none[] = {"merge"};
  EXPECT_EQ(run_merge(1, none), 2);
  const char* mixed[] = {"merge", "a.json", "b.hlog"};
  EXPECT_EQ(run_merge(3, mixed), 2);
  const char* unknown[] = {"merge", "a.json", "--frobnicate"};
  EXPECT_EQ(run_merge(3, unknown), 2);
  const char* missing[] = {"merge", "/nonexistent/x.json"};
  EXPECT_EQ(run_merge(2, missing), 1);
}

// A directory of its own per test, removed at the end.
class MergeFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ws_merge_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const Json& j) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << j.dump();
    return path;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs `wirestress merge ARGS...`; keeps stderr for the refusal line.
  int merge(const std::vector<std::string>& args) {
    std::vector<const char*> argv{"merge"};
    for (const auto& a : args) argv.push_back(a.c_str());
    ::testing::internal::CaptureStderr();
    const int code = run_merge(static_cast<int>(argv.size()), argv.data());
    stderr_ = ::testing::internal::GetCapturedStderr();
    return code;
  }

  std::filesystem::path dir_;
  std::string stderr_;
};

// One host's run: `clients` producers at `rate` msg/s in total, 1000 samples around `latency_us`.
Json host_run(const std::string& run_id, int clients, double rate, int64_t latency_us = 2000) {
  auto h = driver::make_latency_histogram();
  for (int i = 0; i < 1000; ++i) h.record(latency_us + i);
  Json j = result_with(h, 1000, "NONE");
  j["config"] = {{"topic", "t"},    {"clients", clients}, {"rate", rate},        {"acks", 1},
                 {"batch", 1},      {"compression", "none"}, {"message_size", 100}, {"key_size", 0},
                 {"payload", "random"}, {"consumers", 0}};
  j["run"]["run_id"] = run_id;
  j["run"]["start_time_unix_ms"] = 1'700'000'000'000;
  return j;
}

bool one_line(const std::string& text) { return !text.empty() && text.find('\n') == text.size() - 1; }

TEST_F(MergeFiles, ConfigSaysTheCombinedLoadAndKeepsEveryInputsConfig) {
  const auto a = write("a.json", host_run("0000000a", 10, 2000)), b = write("b.json", host_run("0000000b", 10, 3000));
  ASSERT_EQ(merge({a, b, "--json=" + path("m.json")}), 0) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  // 10+10 clients at 2000+3000 msg/s is 20 clients at 5000 msg/s, not the first host's figures.
  EXPECT_EQ(m["config"]["clients"].get<int64_t>(), 20);
  EXPECT_DOUBLE_EQ(m["config"]["rate"].get<double>(), 5000);
  EXPECT_EQ(m["config"]["consumers"].get<int64_t>(), 0);
  EXPECT_EQ(m["config"]["acks"].get<int>(), 1);
  ASSERT_EQ(m["inputs"].size(), 2u);
  EXPECT_EQ(m["inputs"][0]["file"], a);
  EXPECT_EQ(m["inputs"][0]["run_id"], "0000000a");
  EXPECT_EQ(m["inputs"][0]["config"]["rate"].get<double>(), 2000);
  EXPECT_EQ(m["inputs"][1]["file"], b);
  EXPECT_EQ(m["inputs"][1]["run_id"], "0000000b");
  EXPECT_EQ(m["inputs"][1]["config"]["rate"].get<double>(), 3000);
  EXPECT_EQ(m["produce"]["messages_acked"].get<int64_t>(), 2000);
  EXPECT_EQ(m["produce"]["latency_ms"]["count"].get<int64_t>(), 2000);
}

// One shard's "groups" section as group_output.cpp writes it: `members` members whose joins took
// `join_us` (+0..members-1 us) each, one group per shard in the per_group list.
Json groups_section(int members, int64_t join_us, int lost, const std::string& group_name) {
  auto join = driver::make_latency_histogram(), empty = driver::make_latency_histogram(),
       stable = driver::make_latency_histogram();
  for (int i = 0; i < members; ++i) join.record(join_us + i);
  stable.record(2'000'000);  // 2 s to a stable group
  Json g;
  g["mode"] = "shared";
  g["assignor"] = "range";
  g["groups"] = 1;
  g["members"] = members;
  g["groups_stable"] = 1;
  g["rebalances"] = 3;
  g["lost"] = lost;
  g["rebalance_duplicates"] = 2;
  g["verified"] = true;
  g["responses"] = {{"join", members}, {"heartbeat", 10}};
  g["errors"] = {{"heartbeat", {{"REBALANCE_IN_PROGRESS", 2}}}, {"join", Json::object()}};
  g["churn"] = {{"rate_per_s", 2.0}, {"static", false}, {"leaves", members}, {"rejoins", members},
                {"members_rejoined", members}};
  for (const char* name : {"rebalance_duration", "sync_latency", "heartbeat_latency", "commit_latency"}) {
    g["histograms"][name] = stats::to_base64(stats::compress_v2(empty));
  }
  g["histograms"]["join_latency"] = stats::to_base64(stats::compress_v2(join));
  g["histograms"]["time_to_stable"] = stats::to_base64(stats::compress_v2(stable));
  g["per_group"] = Json::array({{{"id", 0}, {"name", group_name}, {"members", members}}});
  return g;
}

TEST_F(MergeFiles, GroupsSumTheirCountsPoolTheirHistogramsAndListEveryInputsGroups) {
  Json ja = host_run("0000000a", 10, 2000), jb = host_run("0000000b", 10, 2000);
  ja["groups"] = groups_section(4, 10'000, 0, "g-0");
  jb["groups"] = groups_section(6, 50'000, 1, "g-0");
  const auto a = write("a.json", ja), b = write("b.json", jb);
  ASSERT_EQ(merge({a, b, "--json=" + path("m.json")}), 0) << stderr_;
  const Json g = Json::parse(std::ifstream(path("m.json")))["groups"];
  EXPECT_EQ(g["mode"], "shared");
  EXPECT_EQ(g["members"].get<int64_t>(), 10);
  EXPECT_EQ(g["groups_stable"].get<int64_t>(), 2);
  EXPECT_EQ(g["rebalances"].get<int64_t>(), 6);
  EXPECT_EQ(g["lost"].get<int64_t>(), 1);
  EXPECT_EQ(g["rebalance_duplicates"].get<int64_t>(), 4);
  EXPECT_EQ(g["responses"]["join"].get<int64_t>(), 10);
  EXPECT_EQ(g["errors"]["heartbeat"]["REBALANCE_IN_PROGRESS"].get<int64_t>(), 4);
  EXPECT_EQ(g["churn"]["leaves"].get<int64_t>(), 10);
  EXPECT_EQ(g["churn"]["members_rejoined"].get<int64_t>(), 10);
  EXPECT_DOUBLE_EQ(g["churn"]["rate_per_s"].get<double>(), 2.0) << "the run's rate, not a sum";
  EXPECT_TRUE(g["verified"].get<bool>());
  // Pooled: 4 joins near 10 ms and 6 near 50 ms; the median is one of the slow ones.
  EXPECT_EQ(g["join_latency_ms"]["count"].get<int64_t>(), 10);
  EXPECT_NEAR(g["join_latency_ms"]["p50"].get<double>(), 50.0, 0.5);
  EXPECT_NEAR(g["join_latency_ms"]["p999"].get<double>(), 50.0, 0.5);
  EXPECT_EQ(g["time_to_stable_s"]["count"].get<int64_t>(), 2);
  EXPECT_NEAR(g["time_to_stable_s"]["p50"].get<double>(), 2.0, 0.01) << "in seconds, as the runs wrote it";
  ASSERT_EQ(g["per_group"].size(), 2u);
  EXPECT_EQ(g["per_group"][0]["input"], a);
  EXPECT_EQ(g["per_group"][1]["input"], b);
  EXPECT_EQ(g["per_group"][1]["members"].get<int64_t>(), 6);
  // Without groups in any input there is no section; a section without its histograms is refused.
  const auto plain = write("p.json", host_run("0000000c", 10, 2000));
  ASSERT_EQ(merge({plain, write("q.json", host_run("0000000d", 10, 2000)), "--json=" + path("n.json")}), 0);
  EXPECT_FALSE(Json::parse(std::ifstream(path("n.json"))).contains("groups"));
  Json old = host_run("0000000e", 10, 2000);
  old["groups"] = groups_section(2, 1000, 0, "g-0");
  old["groups"].erase("histograms");
  EXPECT_EQ(merge({a, write("old.json", old), "--json=" + path("o.json")}), 1);
  EXPECT_NE(stderr_.find("groups"), std::string::npos) << stderr_;
  EXPECT_TRUE(one_line(stderr_)) << stderr_;
}

TEST_F(MergeFiles, AnUnpacedInputMakesTheCombinedRateUnpaced) {
  const auto a = write("a.json", host_run("0000000a", 10, 2000)), b = write("b.json", host_run("0000000b", 5, 0));
  ASSERT_EQ(merge({a, b, "--json=" + path("m.json")}), 0) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  EXPECT_EQ(m["config"]["clients"].get<int64_t>(), 15);
  EXPECT_DOUBLE_EQ(m["config"]["rate"].get<double>(), 0);  // 0 = unpaced: 2000 + unbounded is unbounded
}

TEST_F(MergeFiles, DifferentWorkloadShapesAreRefusedNamingTheField) {
  const std::pair<const char*, Json> changes[] = {{"message_size", 1000}, {"acks", -1},   {"compression", "lz4"},
                                                  {"batch", 10},          {"payload", "pattern"}};
  for (const auto& [field, value] : changes) {
    Json other = host_run("0000000b", 10, 3000);
    other["config"][field] = value;
    const auto a = write("a.json", host_run("0000000a", 10, 2000)), b = write("b.json", other);
    EXPECT_EQ(merge({a, b, "--json=" + path("m.json")}), 2) << field;
    EXPECT_TRUE(one_line(stderr_)) << stderr_;
    EXPECT_NE(stderr_.find(std::string("config.") + field), std::string::npos) << stderr_;
    EXPECT_NE(stderr_.find(host_run("a", 1, 1)["config"][field].dump()), std::string::npos) << stderr_;
    EXPECT_NE(stderr_.find(value.dump()), std::string::npos) << stderr_;
    EXPECT_FALSE(std::filesystem::exists(path("m.json")));
  }
}

TEST_F(MergeFiles, ForceMergesDifferentShapesAndRecordsTheDifference) {
  Json other = host_run("0000000b", 10, 3000);
  other["config"]["acks"] = -1;
  const auto a = write("a.json", host_run("0000000a", 10, 2000)), b = write("b.json", other);
  ASSERT_EQ(merge({a, b, "--force", "--json=" + path("m.json")}), 0) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  ASSERT_EQ(m["shape_differences"].size(), 1u);
  const Json& d = m["shape_differences"][0];
  EXPECT_EQ(d["field"], "acks");
  EXPECT_EQ(d["values"][0]["file"], a);
  EXPECT_EQ(d["values"][0]["value"].get<int>(), 1);
  EXPECT_EQ(d["values"][1]["file"], b);
  EXPECT_EQ(d["values"][1]["value"].get<int>(), -1);
}

TEST_F(MergeFiles, TheSameRunTwiceIsRefused) {
  const auto a = write("a.json", host_run("0000000a", 10, 2000));
  const auto copy = write("copy_of_a.json", host_run("0000000a", 10, 2000));  // same run id, other file
  EXPECT_EQ(merge({a, copy, "--json=" + path("m.json")}), 2);
  EXPECT_TRUE(one_line(stderr_)) << stderr_;
  EXPECT_NE(stderr_.find("0000000a"), std::string::npos) << stderr_;
  EXPECT_FALSE(std::filesystem::exists(path("m.json")));
}

// Shard `index` of `count`, measured from `start_ms` for 60 s.
Json shard_run(uint32_t index, uint32_t count, int64_t start_ms) {
  Json j = host_run("0000010" + std::to_string(index), 10, 1000);
  j["run"]["shard"] = {{"index", index}, {"count", count}};
  j["run"]["measure_start_unix_ms"] = start_ms;
  j["run"]["measure_end_unix_ms"] = start_ms + 60'000;
  return j;
}

TEST_F(MergeFiles, ShardsLinedUpMergeWithoutWarningAndRecordTheirWindows) {
  const auto a = write("a.json", shard_run(0, 2, 1'800'000'000'000)),
             b = write("b.json", shard_run(1, 2, 1'800'000'000'040));  // 40 ms apart
  ASSERT_EQ(merge({a, b, "--json=" + path("m.json")}), 0) << stderr_;
  EXPECT_EQ(stderr_, "");
  const Json m = Json::parse(std::ifstream(path("m.json")));
  EXPECT_TRUE(m["warnings"].empty());
  EXPECT_EQ(m["run"]["measure_start_unix_ms"].get<int64_t>(), 1'800'000'000'000);
  EXPECT_EQ(m["run"]["measure_end_unix_ms"].get<int64_t>(), 1'800'000'060'040);
  EXPECT_EQ(m["inputs"][1]["shard"]["index"].get<int>(), 1);
}

TEST_F(MergeFiles, WindowsMoreThanOnePercentApartAreWarnedAbout) {
  const auto a = write("a.json", shard_run(0, 2, 1'800'000'000'000)),
             b = write("b.json", shard_run(1, 2, 1'800'000'000'700));  // 0.7 s of 60 s
  ASSERT_EQ(merge({a, b, "--json=" + path("m.json")}), 0) << stderr_;
  EXPECT_NE(stderr_.find("warning: the measured windows differ by 0.700 s"), std::string::npos) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  ASSERT_EQ(m["warnings"].size(), 1u);
  EXPECT_NE(m["warnings"][0].get<std::string>().find("--start-at"), std::string::npos);
}

TEST_F(MergeFiles, AMissingShardIsWarnedAboutAndAShardTwiceIsRefused) {
  const auto a = write("a.json", shard_run(0, 3, 1'800'000'000'000)),
             c = write("c.json", shard_run(2, 3, 1'800'000'000'000));
  ASSERT_EQ(merge({a, c, "--json=" + path("m.json")}), 0) << stderr_;
  EXPECT_NE(stderr_.find("only 2 of 3 shards were merged (missing: 1)"), std::string::npos) << stderr_;
  Json again = shard_run(2, 3, 1'800'000'000'000);
  again["run"]["run_id"] = "0000ffff";  // shard 2 run a second time
  const auto c2 = write("c2.json", again);
  EXPECT_EQ(merge({a, c, c2, "--json=" + path("m2.json")}), 2);
  EXPECT_TRUE(one_line(stderr_)) << stderr_;
  EXPECT_NE(stderr_.find("both shard 2"), std::string::npos) << stderr_;
  EXPECT_FALSE(std::filesystem::exists(path("m2.json")));
}

TEST_F(MergeFiles, TheSameFileTwiceIsRefused) {
  const auto a = write("a.json", host_run("0000000a", 10, 2000));
  const std::string same_via_dot = (dir_ / "." / "a.json").string();
  EXPECT_EQ(merge({a, same_via_dot}), 2);
  EXPECT_TRUE(one_line(stderr_)) << stderr_;
  EXPECT_NE(stderr_.find("twice"), std::string::npos) << stderr_;
}

TEST_F(MergeFiles, AnOutputThatIsAnInputIsRefusedAndLeftAlone) {
  const auto a = write("a.json", host_run("0000000a", 10, 2000)), b = write("b.json", host_run("0000000b", 10, 3000));
  const auto before = std::filesystem::file_size(a);
  EXPECT_EQ(merge({a, b, "--json=" + a}), 2);
  EXPECT_TRUE(one_line(stderr_)) << stderr_;
  EXPECT_NE(stderr_.find("--json"), std::string::npos) << stderr_;
  EXPECT_EQ(std::filesystem::file_size(a), before);
  // .hlog merges: --hlog and --json outputs are checked alike.
  std::ofstream(path("x.hlog")) << "";
  std::ofstream(path("y.hlog")) << "";
  EXPECT_EQ(merge({path("x.hlog"), path("y.hlog"), "--hlog=" + path("y.hlog")}), 2);
  EXPECT_NE(stderr_.find("--hlog"), std::string::npos) << stderr_;
}

// An interval as a run's --json writes it.
Json interval_at(int64_t time_unix_ms, int64_t acked, double p99_ms, int64_t count, double busy) {
  return {{"time_unix_ms", time_unix_ms},
          {"elapsed_s", 1.0},
          {"interval_s", 1.0},
          {"phase", "measure"},
          {"messages_sent", acked},
          {"messages_acked", acked},
          {"throughput_msgs_per_s", static_cast<double>(acked)},
          {"latency_ms", {{"p50", p99_ms / 2}, {"p99", p99_ms}, {"max", p99_ms * 2}, {"mean", p99_ms / 2}, {"count", count}}},
          {"connections_open", 10},
          {"client_busy", busy}};
}

TEST_F(MergeFiles, IntervalSeriesAddUpByWallClockSecond) {
  constexpr int64_t t0 = 1'700'000'000'000;
  Json ja = host_run("0000000a", 10, 2000), jb = host_run("0000000b", 10, 3000);
  // Host A's ticks fall at .2 s, host B's at .9 s: each second's intervals add up, whatever the offset.
  ja["intervals"] = {interval_at(t0 + 200, 100, 4, 100, 0.2), interval_at(t0 + 1200, 110, 6, 110, 0.4)};
  jb["intervals"] = {interval_at(t0 + 900, 300, 8, 300, 0.6), interval_at(t0 + 1900, 310, 2, 310, 0.8),
                     interval_at(t0 + 2900, 50, 1, 50, 0.5)};
  ASSERT_EQ(merge({write("a.json", ja), write("b.json", jb), "--json=" + path("m.json")}), 0) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  const Json& series = m["intervals"];
  ASSERT_EQ(series.size(), 3u) << series.dump(1);
  EXPECT_EQ(series[0]["time_unix_ms"].get<int64_t>(), t0);
  EXPECT_EQ(series[0]["messages_acked"].get<int64_t>(), 400);
  EXPECT_DOUBLE_EQ(series[0]["throughput_msgs_per_s"].get<double>(), 400);
  EXPECT_EQ(series[0]["connections_open"].get<int64_t>(), 20);
  EXPECT_EQ(series[0]["inputs"].get<int>(), 2);
  EXPECT_NEAR(series[0]["client_busy"].get<double>(), 0.4, 1e-9);  // each host's own share: averaged
  EXPECT_EQ(series[0]["latency_ms"]["count"].get<int64_t>(), 400);
  EXPECT_DOUBLE_EQ(series[0]["latency_ms"]["max"].get<double>(), 16);
  EXPECT_DOUBLE_EQ(series[0]["latency_ms"]["mean"].get<double>(), (100 * 2.0 + 300 * 4.0) / 400);
  EXPECT_DOUBLE_EQ(series[0]["latency_ms"]["p99"].get<double>(), 8);  // bounded by the highest part
  EXPECT_EQ(series[0]["latency_ms"]["percentiles"], "upper_bound");
  EXPECT_EQ(series[1]["time_unix_ms"].get<int64_t>(), t0 + 1000);
  EXPECT_EQ(series[1]["messages_acked"].get<int64_t>(), 420);
  EXPECT_EQ(series[2]["time_unix_ms"].get<int64_t>(), t0 + 2000);
  EXPECT_EQ(series[2]["messages_acked"].get<int64_t>(), 50);
  EXPECT_EQ(series[2]["inputs"].get<int>(), 1);
  EXPECT_NEAR(series[2]["elapsed_s"].get<double>(), 3.9, 1e-9);  // the end of B's last interval
}

// A sweep result of one host: one cell per (clients, offered rate).
Json host_sweep(const std::string& host, const std::vector<std::pair<int, double>>& cells) {
  Json j;
  j["kind"] = "sweep";
  j["sweep"] = {{"clients", Json::array()}, {"interrupted", false}};
  j["cells"] = Json::array();
  for (size_t i = 0; i < cells.size(); ++i) {
    const auto [clients, rate] = cells[i];
    j["cells"].push_back({{"index", i},
                          {"clients", clients},
                          {"offered_msgs_per_s", rate},
                          {"figures", {{"achieved_msgs_per_s", 1}}},
                          {"result", host_run(host + std::to_string(i), clients, rate, 1000 * (i + 1))}});
  }
  return j;
}

TEST_F(MergeFiles, SweepsMergeCellByCell) {
  const auto a = write("a.json", host_sweep("a", {{10, 2000}, {10, 4000}, {10, 8000}}));
  const auto b = write("b.json", host_sweep("b", {{10, 2000}, {10, 4000}}));  // B stopped a cell early
  ASSERT_EQ(merge({a, b, "--json=" + path("m.json")}), 0) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  EXPECT_EQ(m["kind"], "sweep");
  ASSERT_EQ(m["cells"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const Json& cell = m["cells"][i];
    EXPECT_EQ(cell["clients"].get<int64_t>(), 20);
    EXPECT_DOUBLE_EQ(cell["offered_msgs_per_s"].get<double>(), 2 * (i == 0 ? 2000 : 4000));
    EXPECT_EQ(cell["result"]["config"]["clients"].get<int64_t>(), 20);
    EXPECT_EQ(cell["result"]["produce"]["messages_acked"].get<int64_t>(), 2000);
    // Both hosts' samples in one histogram: 1000 + 1000 at this cell's latency.
    EXPECT_EQ(cell["result"]["produce"]["latency_ms"]["count"].get<int64_t>(), 2000);
    EXPECT_NEAR(cell["result"]["produce"]["latency_ms"]["p50"].get<double>(), 1.0 * (i + 1) + 0.5, 0.01);
    EXPECT_FALSE(cell.contains("figures"));  // the report recomputes them from the merged result
  }
  ASSERT_EQ(m["unmatched"].size(), 1u);
  EXPECT_DOUBLE_EQ(m["unmatched"][0]["offered_msgs_per_s"].get<double>(), 8000);
}

// A seed-study sweep varies consumers at one client count and one rate: each consumer count is its
// own cell, not one cell summed over all of them.
TEST_F(MergeFiles, SweepCellsThatDifferOnlyInConsumersStayApart) {
  std::vector<std::string> files;
  for (const std::string host : {"a", "b"}) {
    Json j = host_sweep(host, {{1, 1000}, {1, 1000}});
    j["cells"][0]["consumers"] = 10;
    j["cells"][1]["consumers"] = 50;
    files.push_back(write(host + ".json", j));
  }
  ASSERT_EQ(merge({files[0], files[1], "--json=" + path("m.json")}), 0) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  ASSERT_EQ(m["cells"].size(), 2u);
  EXPECT_EQ(m["unmatched"].size(), 0u);
  for (const Json& cell : m["cells"]) EXPECT_EQ(cell["result"]["produce"]["messages_acked"].get<int64_t>(), 2000);
}

TEST_F(MergeFiles, CeilingStepsMergeAndAreOkOnlyWhereEveryHostWas) {
  Json a = host_sweep("a", {{10, 2000}}), b = host_sweep("b", {{10, 2000}});
  for (Json* j : {&a, &b}) {
    (*j)["kind"] = "ceiling";
    (*j)["ceiling"] = {{"ramp", "rate"}};
    (*j)["steps"] = (*j)["cells"];
    j->erase("cells");
    j->erase("sweep");
  }
  a["steps"][0]["ok"] = true;
  b["steps"][0]["ok"] = false;
  b["steps"][0]["violations"] = {{{"reason", "latency"}, {"detail", "p99 73 ms > 50 ms"}}};
  ASSERT_EQ(merge({write("a.json", a), write("b.json", b), "--json=" + path("m.json")}), 0) << stderr_;
  const Json m = Json::parse(std::ifstream(path("m.json")));
  ASSERT_EQ(m["steps"].size(), 1u);
  EXPECT_EQ(m["steps"][0]["clients"].get<int64_t>(), 20);
  EXPECT_FALSE(m["steps"][0]["ok"].get<bool>());
  EXPECT_EQ(m["steps"][0]["violations"].size(), 1u);
}

TEST_F(MergeFiles, ARunAndASweepAreRefused) {
  EXPECT_EQ(merge({write("a.json", host_run("0000000a", 10, 2000)), write("b.json", host_sweep("b", {{10, 2000}}))}), 2);
  EXPECT_TRUE(one_line(stderr_)) << stderr_;
}

}  // namespace
}  // namespace ws::tools
