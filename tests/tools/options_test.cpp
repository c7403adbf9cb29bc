// The command line a user types: defaults, accepted values, and one-line errors with exit code 2.
#include "tools/options.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace ws::tools {
namespace {

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"wirestress"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

TEST(Options, DefaultsMakeARunnableScenario) {
  auto out = parse({});
  ASSERT_TRUE(out.options);
  const auto& r = out.options->run;
  EXPECT_TRUE(r.bootstrap.empty());  // embedded broker
  EXPECT_EQ(r.clients, 1u);
  EXPECT_EQ(r.acks, 1);
  EXPECT_EQ(r.duration, std::chrono::seconds(10));
  EXPECT_GE(r.threads, 1u);
}

TEST(Options, TypicalCommandLine) {
  auto out = parse({"--bootstrap=10.0.0.1:9092,10.0.0.2:9092", "--topic=t", "--clients=10000", "--acks=0",
                    "--duration=2m", "--compression=lz4", "--linger=5ms", "--broker-version=0.9",
                    "--io=asio", "--rate=2500.5", "--warmup=15s", "--csv=out.csv"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(r.bootstrap, (std::vector<std::string>{"10.0.0.1:9092", "10.0.0.2:9092"}));
  EXPECT_EQ(r.clients, 10000u);
  EXPECT_EQ(r.acks, 0);
  EXPECT_EQ(r.duration, std::chrono::minutes(2));
  EXPECT_EQ(r.linger, std::chrono::milliseconds(5));
  EXPECT_EQ(r.compression, protocol::Codec::kLz4);
  EXPECT_EQ(r.broker_version, driver::BrokerVersion::kV0_9);
  EXPECT_EQ(r.io, driver::IoBackend::kAsio);
  EXPECT_DOUBLE_EQ(r.rate, 2500.5);
  EXPECT_EQ(r.warmup, std::chrono::seconds(15));
  EXPECT_EQ(out.options->csv_path, "out.csv");
  EXPECT_EQ(parse({"--acks=all"}).options->run.acks, -1);
  EXPECT_EQ(parse({"--broker-version=2.8"}).options->run.broker_version, driver::BrokerVersion::kV0_10);
}

TEST(Options, ClusterFlags) {
  auto out = parse({"--partitioner=round-robin", "--topics=4", "--source-addresses=127.0.0.2,::1", "--brokers=3",
                    "--partitions=6"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(r.partitioner_kind(), driver::PartitionerKind::kRoundRobin);
  EXPECT_EQ(r.topics, 4u);
  EXPECT_EQ(r.topic_name(3), r.topic + "-3");
  EXPECT_EQ(r.source_addresses, (std::vector<std::string>{"127.0.0.2", "::1"}));
  EXPECT_EQ(out.options->embedded_brokers, 3);
  // The Java client's defaults: sticky without keys, murmur2 with them.
  EXPECT_EQ(parse({}).options->run.partitioner_kind(), driver::PartitionerKind::kSticky);
  EXPECT_EQ(parse({"--key-size=8"}).options->run.partitioner_kind(), driver::PartitionerKind::kMurmur2);
}

// Every bad value: exit code 2, one line, naming the flag.
const std::string kLongTopic = "--topic=" + std::string(250, 't');
const std::string kTopic249 = "--topic=" + std::string(249, 't');
const std::string kLongClientId = "--client-id=" + std::string(40'000, 'c');

// --payload-file=FILE, FILE holding two text values.
std::string write_values_file() {
  const std::string path = ::testing::TempDir() + "options_test_values_" + std::to_string(::getpid()) + ".txt";
  std::ofstream(path) << "first value\nsecond value\n";
  return "--payload-file=" + path;
}
const std::string kPayloadFile = write_values_file();

TEST(Options, BadValuesNameTheFlagOnOneLine) {
  const std::pair<std::vector<const char*>, std::string> cases[] = {
      {{"--clients=0"}, "--clients"},
      {{"--clients=abc"}, "--clients"},
      {{"--acks=2"}, "--acks"},
      {{"--compression=brotli"}, "--compression"},
      {{"--duration=10x"}, "--duration"},
      {{"--warmup=soon"}, "--warmup"},
      {{"--latency-digits=7"}, "--latency-digits"},
      {{"--latency-max=10us"}, "--latency-max"},
      {{"--linger=-5ms"}, "--linger"},
      {{"--io=epoll"}, "--io"},
      {{"--broker-version=0.8"}, "--broker-version"},
      {{"--broker-version=banana"}, "--broker-version"},
      {{"--bootstrap=localhost"}, "--bootstrap"},
      {{"--max-in-flight=0"}, "--max-in-flight"},
      {{"--report-interval=1ms"}, "--report-interval"},
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--consume-from=middle"}, "--consume-from"},
      {{"--consumers=-1"}, "--consumers"},
      {{"--fetch-max-wait=later"}, "--fetch-max-wait"},
      {{"--fetch-max-bytes=10"}, "--fetch-max-bytes"},
      {{"--fetch-min-bytes=0"}, "--fetch-min-bytes"},
      {{"--verify", "--message-size=16"}, "--message-size"},
      {{"--partitioner=random"}, "--partitioner"},
      {{"--partitioner=murmur2"}, "--partitioner"},  // murmur2 needs keys (--key-size)
      {{"--topics=0"}, "--topics"},
      {{"--source-addresses=localhost"}, "--source-addresses"},
      {{"--source-addresses=127.0.0.2,"}, "--source-addresses"},
      {{"--source-addresses=127.0.0.2:4000"}, "--source-addresses"},
      {{"--source-addresses=192.0.2.77"}, "--source-addresses"},  // TEST-NET-1: not an address of this host
      {{"--brokers=0"}, "--brokers"},
      {{"--prometheus-bind=localhost"}, "--prometheus-bind"},  // an IP address, not a name
      {{"--prometheus-bind=127.0.0.1:9100"}, "--prometheus-bind"},
      {{"--prometheus-bind="}, "--prometheus-bind"},
      {{"--prometheus=0", "--prometheus-bind=192.0.2.77"}, "--prometheus-bind"},  // not an address of this host
      {{"--bootstrap=127.0.0.1:9092", "--partitions=6"}, "--partitions"},  // sizes the embedded broker only
      {{"--bootstrap=127.0.0.1:9092", "--brokers=3"}, "--brokers"},
      {{"--topic=has space"}, "--topic"},
      {{"--topic=.."}, "--topic"},
      {{"--topic=t\xc3\xa9"}, "--topic"},
      {{kLongTopic.c_str()}, "--topic"},                    // 250 characters
      {{kTopic249.c_str(), "--topics=2"}, "--topic"},       // 249 + "-1" is too long
      {{kLongClientId.c_str()}, "--client-id"},
      {{"--churn=-1"}, "--churn"},
      {{"--churn=1000"}, "--churn"},
      {{"--payload=text"}, "--payload"},
      {{"--payload=RANDOM"}, "--payload"},
      {{"--payload-compressibility=1.5"}, "--payload-compressibility"},
      {{"--payload-compressibility=-0.1"}, "--payload-compressibility"},
      {{"--payload-compressibility=half"}, "--payload-compressibility"},
      {{"--payload=random", "--payload-compressibility=0.5"}, "--payload-compressibility"},
      {{"--payload-file=/nonexistent/values.txt"}, "--payload-file"},
      {{"--payload-file=/dev/null"}, "--payload-file"},  // no value in it
      {{kPayloadFile.c_str(), "--message-size=100"}, "--message-size"},  // the file's values have their sizes
      {{kPayloadFile.c_str(), "--payload=random"}, "--payload"},
      {{"--payload-delimiter=,"}, "--payload-delimiter"},  // without --payload-file
      {{"--payload-pool-size=2000000"}, "--payload-pool-size"},
      {{"--payload-pool-size=100000", "--message-size=1000000"}, "--payload-pool-size"},  // 100 GB of values
      {{"--shards=0"}, "--shards"},
      {{"--shards=two"}, "--shards"},
      {{"--shards=3", "--shard=3"}, "--shard"},
      {{"--shards=3", "--shard=-1"}, "--shard"},
      {{"--shards=4", "--clients=3", "--shard=0"}, "--shards"},  // a shard would have no producer
      {{"--start-at=soon"}, "--start-at"},
      {{"--start-at=1800000000"}, "--start-at"},  // seconds, not milliseconds
      {{"--start-at=1000000000000"}, "--start-at"},  // 2001: long past
      {{"--start-at=+2d"}, "--start-at"},
      {{"--start-at=+25h"}, "--start-at"},
  };
  for (const auto& [args, flag] : cases) {
    std::vector<const char*> argv{"wirestress"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = parse_options(static_cast<int>(argv.size()), argv.data());
    SCOPED_TRACE(args[0]);
    EXPECT_FALSE(out.options);
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(out.output.find(flag), std::string::npos) << out.output;
    EXPECT_EQ(out.output.find('\n'), std::string::npos) << out.output;
  }
}

TEST(Options, WireLimitsAcceptTheLongestLegalValuesAndKeepErrorsShort) {
  const char* longest[] = {"wirestress", kTopic249.c_str()};
  EXPECT_TRUE(parse_options(2, longest).options);
  const char* long_id[] = {"wirestress", kLongClientId.c_str()};
  const auto out = parse_options(2, long_id);
  EXPECT_LT(out.output.size(), 200u) << "the 40,000-byte value is echoed: " << out.output.size() << " bytes";
}

TEST(Options, HelpDocumentsEveryFlagAndExitsZero) {
  auto out = parse({"--help"});
  EXPECT_FALSE(out.options);
  EXPECT_EQ(out.exit_code, 0);
  for (const char* flag : {"--bootstrap", "--topic", "--clients", "--rate", "--duration", "--messages", "--acks",
                           "--batch", "--linger", "--compression", "--message-size", "--key-size",
                           "--max-in-flight", "--threads", "--io", "--broker-version", "--json",
                           "--request-timeout", "--connect-timeout", "--drain-timeout", "--report-interval",
                           "--warmup", "--csv", "--max-connecting", "--quiet", "--partitions", "--hlog",
                           "--prometheus", "--latency-max", "--latency-digits", "--consumers",
                           "--consume-from", "--fetch-max-wait", "--fetch-min-bytes", "--fetch-max-bytes",
                           "--verify", "--partitioner", "--topics", "--source-addresses", "--brokers",
                           "--prometheus-bind", "--payload", "--payload-file", "--payload-delimiter",
                           "--payload-compressibility", "--payload-pool-size", "--shards", "--shard",
                           "--start-at"}) {
    EXPECT_NE(out.output.find(flag), std::string::npos) << flag;
  }
}

TEST(Options, ShardsTakeTheirPartOfTheTotalsAndTheIndexFromKubernetes) {
  auto out = parse({"--shards=3", "--shard=1", "--clients=10", "--consumers=4", "--rate=1000", "--messages=100"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(r.clients, 3u);  // 4, 3, 3
  EXPECT_EQ(r.shard.first_client, 4u);
  EXPECT_EQ(r.consumers, 1u);  // 2, 1, 1
  EXPECT_EQ(r.shard.first_consumer, 2u);
  EXPECT_DOUBLE_EQ(r.rate, 300);
  EXPECT_EQ(r.messages, 30u);
  EXPECT_EQ(r.shard.clients_total, 10u);

  ::setenv("JOB_COMPLETION_INDEX", "2", 1);
  auto job = parse({"--shards=3", "--clients=10"});
  auto explicit_index = parse({"--shards=3", "--shard=0", "--clients=10"});
  auto bad_index = parse({"--shards=2", "--clients=10"});
  ::unsetenv("JOB_COMPLETION_INDEX");
  ASSERT_TRUE(job.options) << job.output;
  EXPECT_EQ(job.options->run.shard.index, 2u);
  EXPECT_EQ(job.options->run.shard.first_client, 7u);
  ASSERT_TRUE(explicit_index.options);
  EXPECT_EQ(explicit_index.options->run.shard.index, 0u) << "--shard wins over the environment";
  EXPECT_EQ(bad_index.exit_code, 2);
  EXPECT_NE(bad_index.output.find("JOB_COMPLETION_INDEX"), std::string::npos) << bad_index.output;

  auto missing = parse({"--shards=2", "--clients=10"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("--shard"), std::string::npos) << missing.output;
}

TEST(Options, StartAtTakesUnixMillisecondsOrAnOffset) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string at = "--start-at=" + std::to_string(now_ms + 60'000);
  auto absolute = parse({at.c_str()});
  ASSERT_TRUE(absolute.options) << absolute.output;
  EXPECT_EQ(absolute.options->run.start_at_unix_ms, now_ms + 60'000);
  auto relative = parse({"--start-at=+30s"});
  ASSERT_TRUE(relative.options) << relative.output;
  EXPECT_NEAR(static_cast<double>(relative.options->run.start_at_unix_ms), static_cast<double>(now_ms + 30'000), 5'000);
  // A pod scheduled a little late still runs, and reports how late it began.
  const std::string past = "--start-at=" + std::to_string(now_ms - 10'000);
  EXPECT_TRUE(parse({past.c_str()}).options);
}

TEST(Options, PayloadFlags) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.options);
  EXPECT_EQ(defaults.options->run.payload, driver::PayloadKind::kPattern);  // as before these flags existed
  EXPECT_EQ(defaults.options->run.random_share(), 0.0);
  auto random = parse({"--payload=random"});
  ASSERT_TRUE(random.options) << random.output;
  EXPECT_EQ(random.options->run.random_share(), 1.0);
  auto mixed = parse({"--payload=zeros", "--payload-compressibility=0.3", "--payload-pool-size=50"});
  ASSERT_TRUE(mixed.options) << mixed.output;
  EXPECT_EQ(mixed.options->run.payload, driver::PayloadKind::kZeros);
  EXPECT_DOUBLE_EQ(mixed.options->run.random_share(), 0.3);
  EXPECT_EQ(mixed.options->run.payload_pool_size, 50u);
  auto file = parse({kPayloadFile.c_str(), "--payload-delimiter=\\n"});
  ASSERT_TRUE(file.options) << file.output;
  EXPECT_EQ("--payload-file=" + file.options->run.payload_file, kPayloadFile);
}

TEST(Options, PrometheusBindsToLoopbackUnlessTold) {
  EXPECT_EQ(parse({"--prometheus=0"}).options->prometheus_bind, "127.0.0.1");
  for (const char* address : {"0.0.0.0", "127.0.0.2"}) {
    const std::string flag = std::string("--prometheus-bind=") + address;
    auto out = parse({"--prometheus=0", flag.c_str()});
    ASSERT_TRUE(out.options) << out.output;
    EXPECT_EQ(out.options->prometheus_bind, address);
  }
}

TEST(Options, ConsumerOnlyRuns) {
  auto out = parse({"--clients=0", "--consumers=20", "--consume-from=earliest", "--messages=1000",
                    "--fetch-max-wait=100ms", "--fetch-min-bytes=1024", "--verify"});
  ASSERT_TRUE(out.options) << out.output;
  const auto& r = out.options->run;
  EXPECT_EQ(r.clients, 0u);
  EXPECT_EQ(r.consumers, 20u);
  EXPECT_TRUE(r.consume_from_earliest);
  EXPECT_EQ(r.fetch_max_wait, std::chrono::milliseconds(100));
  EXPECT_EQ(r.fetch_min_bytes, 1024u);
  EXPECT_TRUE(r.verify);
  EXPECT_FALSE(parse({}).options->run.consume_from_earliest);  // latest by default
}

TEST(Options, Durations) {
  std::chrono::nanoseconds d{};
  EXPECT_TRUE(parse_duration("500ms", d));
  EXPECT_EQ(d, std::chrono::milliseconds(500));
  EXPECT_TRUE(parse_duration("1.5s", d));
  EXPECT_EQ(d, std::chrono::milliseconds(1500));
  EXPECT_TRUE(parse_duration("1h", d));
  EXPECT_EQ(d, std::chrono::hours(1));
  EXPECT_TRUE(parse_duration("30", d));
  EXPECT_EQ(d, std::chrono::seconds(30));
  EXPECT_FALSE(parse_duration("", d));
  EXPECT_FALSE(parse_duration("s", d));
  EXPECT_FALSE(parse_duration("5 s", d));
  EXPECT_FALSE(parse_duration("5d", d));
}

}  // namespace
}  // namespace ws::tools
