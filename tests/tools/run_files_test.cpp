// The result files of one real run (embedded broker) agree with each other: the .hlog's samples add
// up to the JSON's latency count, the final partial interval included, and the CSV's columns are
// the interval JSON's keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "driver/runner.h"
#include "stats/hlog.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "tools/run_command.h"

namespace ws::tools {
namespace {

using Json = nlohmann::ordered_json;

class ShardedEngine : public RunEngine {
 public:
  explicit ShardedEngine(const driver::RunConfig& config) : runner_(config) {}
  bool prepare(std::string& error, std::string& notice) override { return runner_.prepare(error, notice); }
  driver::RunResult run(const std::function<void(const driver::IntervalReport&)>& on_interval) override {
    return runner_.run(on_interval);
  }
  void request_stop() override { runner_.request_stop(); }

 private:
  driver::ShardedRunner runner_;
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

// The value at a dotted path ("latency_ms.p95") of an interval record.
const Json* at_path(const Json& j, const std::string& dotted) {
  const Json* node = &j;
  std::stringstream in(dotted);
  for (std::string key; std::getline(in, key, '.');) {
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
  }
  return node;
}

TEST(RunFiles, HlogCountEqualsJsonCountAndCsvColumnsAreJsonKeys) {
  const auto dir = std::filesystem::temp_directory_path() / ("ws_run_files_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string json = (dir / "r.json").string(), hlog = (dir / "r.hlog").string(), csv = (dir / "r.csv").string();
  const std::string json_flag = "--json=" + json, hlog_flag = "--hlog=" + hlog, csv_flag = "--csv=" + csv;
  // A warm-up and consumers: samples recorded around both phase boundaries and in the drain.
  const char* argv[] = {"wirestress", "--clients=4",     "--consumers=1", "--rate=2000", "--warmup=1s",
                        "--duration=2s", "--quiet",      "--io=asio",     json_flag.c_str(), hlog_flag.c_str(),
                        csv_flag.c_str()};
  ParseOutcome parsed = parse_options(static_cast<int>(std::size(argv)), argv);
  ASSERT_TRUE(parsed.options) << parsed.output;
  RunOptions& options = *parsed.options;
  std::string error;
  auto broker = start_embedded_broker(options, "wirestress", error);
  ASSERT_TRUE(broker) << error;
  ShardedEngine engine(options.run);
  ::testing::internal::CaptureStdout();
  const int code = run_and_report(options, engine, RunIdentity{"wirestress", broker->bootstrap(), "test"});
  ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0);

  const Json result = Json::parse(std::ifstream(json));
  const int64_t json_count = result["produce"]["latency_ms"]["count"].get<int64_t>();
  ASSERT_GT(json_count, 1000);
  EXPECT_TRUE(result["run"]["run_id"].is_string());

  std::ifstream hlog_in(hlog);
  std::vector<stats::HlogInterval> intervals;
  ASSERT_TRUE(stats::read_hlog(hlog_in, intervals, error)) << error;
  int64_t latency = 0, service = 0;
  for (const auto& iv : intervals) {
    if (iv.tag == "latency_us") latency += iv.histogram.total_count();
    if (iv.tag == "service_latency_us") service += iv.histogram.total_count();
  }
  EXPECT_EQ(latency, json_count);
  EXPECT_EQ(service, result["produce"]["service_latency_ms"]["count"].get<int64_t>());

  // Every CSV row is an interval of the JSON; its columns are that interval's keys and values.
  std::ifstream csv_in(csv);
  std::string header_line;
  ASSERT_TRUE(std::getline(csv_in, header_line));
  const auto columns = split(header_line);
  for (const char* wanted : {"time_unix_ms", "consume_msgs_per_s", "e2e_latency_ms.p50", "e2e_latency_ms.p95",
                             "e2e_latency_ms.p99", "client_busy", "latency_ms.p95"}) {
    EXPECT_NE(std::find(columns.begin(), columns.end(), wanted), columns.end()) << wanted;
  }
  const Json& series = result["intervals"];
  size_t row_index = 0;
  for (std::string line; std::getline(csv_in, line); ++row_index) {
    ASSERT_LT(row_index, series.size());
    const auto values = split(line);
    ASSERT_EQ(values.size(), columns.size()) << line;
    for (size_t c = 0; c < columns.size(); ++c) {
      const Json* value = at_path(series[row_index], columns[c]);
      ASSERT_NE(value, nullptr) << "CSV column " << columns[c] << " is no key of the interval JSON";
      if (value->is_string()) {
        EXPECT_EQ(values[c], value->get<std::string>());
      } else {
        EXPECT_NEAR(std::stod(values[c]), value->get<double>(), 0.051 + 1e-3 * std::abs(value->get<double>()))
            << columns[c] << " in row " << row_index;
      }
    }
  }
  EXPECT_EQ(row_index, series.size());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ws::tools
