// `wirestress merge`: results of runs on several load hosts combine exactly.
#include "tools/commands.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

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

}  // namespace
}  // namespace ws::tools
