// The run's JSON says which code computed what a result depends on: gzip's library and level (ISA-L
// igzip level 1 writes ~15x faster than zlib's level 6 at 128 KiB, and compresses less) and the
// CRC implementation, so two results from differently built binaries are not compared blindly.
#include <gtest/gtest.h>

#include <string>

#include "protocol/compression.h"
#include "protocol/crc.h"
#include "stats/report/result_json.h"

namespace ws {
namespace {

report::Json result_for(protocol::Codec codec) {
  driver::RunConfig config;
  config.compression = codec;
  driver::RunResult result;
  result.elapsed_s = 1;
  return report::result_json(result, config, report::RunContext{}, report::ProcessFigures{}, report::Json::array());
}

TEST(ResultJson, GzipRunsSayWhichLibraryAndLevelWroteTheBatches) {
  const auto j = result_for(protocol::Codec::kGzip);
  EXPECT_EQ(j["config"]["compression"], "gzip");
  EXPECT_EQ(j["config"]["compression_implementation"], protocol::gzip_implementation());
  const std::string name = j["config"]["compression_implementation"].get<std::string>();
  EXPECT_NE(name.find("level"), std::string::npos) << name;
}

TEST(ResultJson, OtherCodecsHaveNoGzipImplementation) {
  EXPECT_TRUE(result_for(protocol::Codec::kNone)["config"]["compression_implementation"].is_null());
  EXPECT_TRUE(result_for(protocol::Codec::kLz4)["config"]["compression_implementation"].is_null());
}

TEST(ResultJson, TheCrcImplementationIsRecorded) {
  EXPECT_EQ(result_for(protocol::Codec::kNone)["run"]["crc_implementation"], protocol::crc_implementation());
}

}  // namespace
}  // namespace ws
