// --workload=FILE.yaml: an OpenMessaging Benchmark workload mapped onto the run, flags beside it
// winning, and what wirestress cannot run refused with exit code 2.
#include "tools/omb_workload.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tools/options.h"

namespace ws::tools {
namespace {

const std::string kExamples = std::string(WS_SOURCE_DIR) + "/docs/examples/omb/";

// A workload file in the temporary directory, removed at the end of the test.
class WorkloadFile {
 public:
  explicit WorkloadFile(const std::string& text)
      : path_(::testing::TempDir() + "omb_workload_" + std::to_string(::getpid()) + "_" + std::to_string(next_++) +
              ".yaml") {
    std::ofstream(path_) << text;
  }
  ~WorkloadFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int next_ = 0;
  std::string path_;
};

ParseOutcome parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"wirestress"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

const char* const kTwoTopics = R"(name: two topics
topics: 2
partitionsPerTopic: 12
keyDistributor: "RANDOM_NANO"
messageSize: 512
useRandomizedPayloads: true
randomBytesRatio: 0.25
randomizedPayloadPoolSize: 200
subscriptionsPerTopic: 3
consumerPerSubscription: 2
producersPerTopic: 4
producerRate: 8000
consumerBacklogSizeGB: 0
testDurationMinutes: 2
warmupDurationMinutes: 0.5
)";

TEST(OmbWorkload, MapsEveryFieldOntoTheRun) {
  WorkloadFile file(kTwoTopics);
  auto out = parse({"--workload=" + file.path()});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(r.topics, 2u);
  EXPECT_EQ(out.options->embedded_partitions, 12);
  EXPECT_EQ(r.clients, 8u);     // producersPerTopic x topics
  EXPECT_EQ(r.consumers, 12u);  // subscriptionsPerTopic x consumerPerSubscription x topics
  EXPECT_DOUBLE_EQ(r.rate, 8000);  // OMB's producerRate is the total, as --rate
  EXPECT_EQ(r.message_size, 512u);
  EXPECT_EQ(r.key_size, 7u);  // keyed: murmur2, as the Java client hashes OMB's keys
  EXPECT_EQ(r.partitioner_kind(), driver::PartitionerKind::kMurmur2);
  EXPECT_EQ(r.payload, driver::PayloadKind::kZeros);  // OMB: random bytes first, zeros after
  EXPECT_DOUBLE_EQ(r.random_share(), 0.25);
  EXPECT_EQ(r.payload_pool_size, 200u);
  EXPECT_EQ(r.duration, std::chrono::minutes(2));
  EXPECT_EQ(r.warmup, std::chrono::seconds(30));
  EXPECT_TRUE(r.verify);  // OMB always measures end-to-end latency
  ASSERT_TRUE(out.options->workload);
  EXPECT_EQ(out.options->workload->name, "two topics");
  EXPECT_EQ(out.options->workload->consumers_per_topic(), 6u);
  // Each of the 2 x 3 subscriptions is a shared group of its 2 consumers, all on one topic.
  EXPECT_EQ(r.group.mode, driver::GroupMode::kShared);
  EXPECT_EQ(r.group.groups, 6u);
  for (uint32_t j = 0; j < r.consumers; ++j) {
    EXPECT_EQ(r.consumer_topic(j), r.group.group_of(j) % r.topics) << "consumer " << j;
  }
}

TEST(OmbWorkload, GroupFlagsBesideItChooseTheGroups) {
  WorkloadFile file(kTwoTopics);
  auto own = parse({"--workload=" + file.path(), "--group-mode=own"});
  ASSERT_TRUE(own.options) << own.output;
  EXPECT_EQ(own.options->run.group.mode, driver::GroupMode::kOwn);
  auto none = parse({"--workload=" + file.path(), "--group-mode=none"});
  ASSERT_TRUE(none.options) << none.output;
  EXPECT_EQ(none.options->run.group.mode, driver::GroupMode::kNone);
  // Group settings beside a workload apply to its subscriptions' groups.
  auto timed = parse({"--workload=" + file.path(), "--session-timeout=6s", "--group-prefix=omb"});
  ASSERT_TRUE(timed.options) << timed.output;
  EXPECT_EQ(timed.options->run.group.mode, driver::GroupMode::kShared);
  EXPECT_EQ(timed.options->run.group.session_timeout, std::chrono::seconds(6));
  auto fewer = parse({"--workload=" + file.path(), "--consumers=4"});  // fewer than the 6 subscriptions
  ASSERT_TRUE(fewer.options) << fewer.output;
  EXPECT_EQ(fewer.options->run.group.groups, 4u);
}

TEST(OmbWorkload, FlagsBesideItWin) {
  WorkloadFile file(kTwoTopics);
  auto out = parse({"--workload=" + file.path(), "--duration=3s", "--warmup=0s", "--rate=100", "--clients=1",
                    "--consumers=0", "--key-size=0", "--message-size=64", "--payload=random", "--partitions=3"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(r.duration, std::chrono::seconds(3));
  EXPECT_EQ(r.warmup, std::chrono::seconds(0));
  EXPECT_DOUBLE_EQ(r.rate, 100);
  EXPECT_EQ(r.clients, 1u);
  EXPECT_EQ(r.consumers, 0u);
  EXPECT_FALSE(r.verify);
  EXPECT_EQ(r.key_size, 0u);
  EXPECT_EQ(r.message_size, 64u);
  EXPECT_EQ(r.payload, driver::PayloadKind::kRandom);
  EXPECT_EQ(out.options->embedded_partitions, 3);
  EXPECT_EQ(r.topics, 2u);  // what no flag gave still comes from the workload
}

TEST(OmbWorkload, PerTopicCountsFollowTopicsGivenOnTheCommandLine) {
  WorkloadFile file(kTwoTopics);
  auto out = parse({"--workload=" + file.path(), "--topics=5"});
  ASSERT_TRUE(out.options) << out.output;
  EXPECT_EQ(out.options->run.clients, 20u);
  EXPECT_EQ(out.options->run.consumers, 30u);
}

TEST(OmbWorkload, UnsupportedBacklogExitsWithOneLine) {
  WorkloadFile file("topics: 1\npartitionsPerTopic: 1\nconsumerBacklogSizeGB: 64\n");
  auto out = parse({"--workload=" + file.path()});
  EXPECT_FALSE(out.options);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("consumerBacklogSizeGB"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("unsupported"), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find('\n'), std::string::npos) << out.output;
}

TEST(OmbWorkload, RefusesUnknownKeysBadValuesAndMissingFiles) {
  WorkloadFile typo("topics: 1\npartitionPerTopic: 4\n");
  auto out = parse({"--workload=" + typo.path()});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("partitionPerTopic"), std::string::npos) << out.output;

  WorkloadFile bad_key_distributor("keyDistributor: ZIPF\n");
  out = parse({"--workload=" + bad_key_distributor.path()});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("keyDistributor"), std::string::npos) << out.output;

  WorkloadFile not_a_number("topics: many\n");
  out = parse({"--workload=" + not_a_number.path()});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("topics"), std::string::npos) << out.output;

  out = parse({"--workload=/nonexistent/workload.yaml"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("cannot read"), std::string::npos) << out.output;
}

TEST(OmbWorkload, ShippedExampleWithPayloadFileRunsFromAnyDirectory) {
  auto out = parse({"--workload=" + kExamples + "1-topic-16-partitions-1kb.yaml"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(out.options->embedded_partitions, 16);
  EXPECT_EQ(r.clients, 1u);
  EXPECT_EQ(r.consumers, 1u);
  EXPECT_DOUBLE_EQ(r.rate, 50000);
  EXPECT_EQ(r.duration, std::chrono::minutes(15));
  EXPECT_EQ(r.warmup, std::chrono::minutes(1));  // OMB's default when the file has none
  EXPECT_EQ(r.key_size, 0u);                     // NO_KEY: OMB's default
  EXPECT_EQ(r.partitioner_kind(), driver::PartitionerKind::kSticky);
  EXPECT_EQ(r.payload_file, kExamples + "payload/payload-1Kb.data");  // found beside the workload
  EXPECT_EQ(r.payload_delimiter, "none");  // OMB sends the whole file as each value

  // --message-size beside it: generated values of that size instead of the file's.
  out = parse({"--workload=" + kExamples + "1-topic-16-partitions-1kb.yaml", "--message-size=200"});
  ASSERT_TRUE(out.options) << out.output;
  EXPECT_TRUE(out.options->run.payload_file.empty());
  EXPECT_EQ(out.options->run.message_size, 200u);
}

TEST(OmbWorkload, EveryShippedExampleParses) {
  for (const char* name : {"1-topic-16-partitions-1kb.yaml", "1-topic-6-partitions-1kb-random-keys.yaml",
                           "10-topics-3-partitions-100b.yaml"}) {
    auto out = parse({"--workload=" + kExamples + name, "--omb-result=/tmp/omb.json"});
    EXPECT_TRUE(out.options) << name << ": " << out.output;
  }
}

TEST(OmbWorkload, OmbResultNeedsAFileName) {
  auto out = parse({"--omb-result", ""});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.output.find("--omb-result"), std::string::npos) << out.output;
}

}  // namespace
}  // namespace ws::tools
