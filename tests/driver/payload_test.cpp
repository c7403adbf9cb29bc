// The values a run sends (driver/payload.h): what each --payload kind holds, how --payload-file is
// split, what --verify needs, and what a user checks with a codec: random values do not compress,
// pattern and zeros do, in the producer's own encoded requests.
#include "driver/payload.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "driver/produce_encoder.h"
#include "driver/verify.h"
#include "tests/driver/rigs.h"

namespace ws::driver {
namespace {

RunConfig config_of(PayloadKind kind, uint32_t size = 1000, double random_share = 0) {
  RunConfig c = testing::base_config();
  c.payload = kind;
  c.message_size = size;
  c.payload_random_share = random_share;
  return c;
}

std::string text(std::span<const uint8_t> v) { return {v.begin(), v.end()}; }

// A file in the test's temporary directory, removed at the end of the test.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& bytes) {
    path = ::testing::TempDir() + "payload_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::ofstream(path, std::ios::binary) << bytes;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

// The size of one produce request of `records` records the producer's encoder builds for `c`
// (RecordBatch v2, Produce v3), compressed with c.compression.
size_t encoded_request_size(RunConfig c, size_t records) {
  testing::TableRig rig(c);
  const LinkId link = rig.open();
  ProduceEncoder encoder(rig.config, 7, 0);
  std::vector<PendingRecord> pending(records);
  for (size_t i = 0; i < records; ++i) pending[i].sequence = i;
  return encoder.append(*rig.table, link, "t", pending, 0, 2, 3, InFlight{});
}

TEST(PayloadPool, PatternIsTheAlphabetRepeatedInOneValue) {
  const PayloadPool pool = PayloadPool::generate(config_of(PayloadKind::kPattern, 60), 1);
  ASSERT_EQ(pool.size(), 1u);
  EXPECT_EQ(text(pool.value(0)), "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh");
}

TEST(PayloadPool, ZerosAreZeroBytes) {
  const PayloadPool pool = PayloadPool::generate(config_of(PayloadKind::kZeros, 100), 1);
  ASSERT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.value(0).size(), 100u);
  for (uint8_t b : pool.value(0)) ASSERT_EQ(b, 0);
}

TEST(PayloadPool, RandomValuesAreDistinctAndCoverABatch) {
  RunConfig c = config_of(PayloadKind::kRandom, 100);
  c.batch = 5000;
  const PayloadPool pool = PayloadPool::generate(c, 1);
  EXPECT_EQ(pool.size(), 5000u) << "a record set of --batch records must not repeat a value";
  std::set<std::string> distinct;
  for (size_t i = 0; i < pool.size(); ++i) distinct.insert(text(pool.value(i)));
  EXPECT_EQ(distinct.size(), pool.size());
  // The same seed gives the same values (reproducible); another seed others.
  EXPECT_EQ(text(PayloadPool::generate(c, 1).value(3)), text(pool.value(3)));
  EXPECT_NE(text(PayloadPool::generate(c, 2).value(3)), text(pool.value(3)));
}

TEST(PayloadPool, AutomaticSizeStaysWithinItsMemory) {
  RunConfig c = config_of(PayloadKind::kRandom, 1 << 20);
  EXPECT_EQ(payload_pool_values(c), PayloadPool::kMaxPoolBytes >> 20);
  c.message_size = 100;
  EXPECT_EQ(payload_pool_values(c), PayloadPool::kDefaultValues);
  c.payload_pool_size = 3;
  EXPECT_EQ(payload_pool_values(c), 3u);
  EXPECT_EQ(PayloadPool::generate(c, 1).size(), 3u);
}

TEST(PayloadPool, CompressibilityPutsThatShareOfRandomBytesBeforeTheFiller) {
  const PayloadPool zeros = PayloadPool::generate(config_of(PayloadKind::kZeros, 1000, 0.25), 1);
  const PayloadPool pattern = PayloadPool::generate(config_of(PayloadKind::kPattern, 1000, 0.25), 1);
  for (const PayloadPool* pool : {&zeros, &pattern}) {
    ASSERT_GT(pool->size(), 1u);
    const auto v = pool->value(0);
    size_t filler_differs = 0, random_zero = 0;
    for (size_t i = 250; i < v.size(); ++i) {
      const uint8_t filler = pool == &zeros ? 0 : static_cast<uint8_t>('a' + i % 26);
      filler_differs += v[i] != filler;
    }
    for (size_t i = 0; i < 250; ++i) random_zero += v[i] == 0;
    EXPECT_EQ(filler_differs, 0u);
    EXPECT_LT(random_zero, 10u) << "the first quarter is random";
  }
}

TEST(PayloadPool, RatioZeroIsTodaysPatternAndOneIsRandom) {
  const auto base = PayloadPool::generate(config_of(PayloadKind::kPattern, 300), 1);
  EXPECT_EQ(text(PayloadPool::generate(config_of(PayloadKind::kPattern, 300, 0), 9).value(0)), text(base.value(0)));
  const auto all = PayloadPool::generate(config_of(PayloadKind::kZeros, 300, 1), 9);
  const auto random = PayloadPool::generate(config_of(PayloadKind::kRandom, 300), 9);
  EXPECT_EQ(text(all.value(0)), text(random.value(0)));
}

TEST(PayloadFile, TextIsOneValuePerLineAndEmptyLinesAreSkipped) {
  TempFile file("first value\n\nsecond, with a comma\nlast without newline");
  RunConfig c = config_of(PayloadKind::kPattern);
  c.payload_file = file.path;
  std::string error;
  const auto pool = PayloadPool::load(c, error);
  ASSERT_TRUE(pool) << error;
  ASSERT_EQ(pool->size(), 3u);
  EXPECT_EQ(text(pool->value(0)), "first value");
  EXPECT_EQ(text(pool->value(1)), "second, with a comma");
  EXPECT_EQ(text(pool->value(2)), "last without newline");
}

TEST(PayloadFile, BinaryFileIsOneValueAsItIs) {
  const std::string bytes("\x01\x00\n\xff\n\x00tail\n", 10);
  TempFile file(bytes);
  RunConfig c = config_of(PayloadKind::kPattern);
  c.payload_file = file.path;
  std::string error;
  const auto pool = PayloadPool::load(c, error);
  ASSERT_TRUE(pool) << error;
  ASSERT_EQ(pool->size(), 1u);
  EXPECT_EQ(text(pool->value(0)), bytes);
}

TEST(PayloadFile, DelimiterSplitsOrNoneKeepsTheWholeFile) {
  TempFile file("a1|b22|c333\r\nd\n");
  RunConfig c = config_of(PayloadKind::kPattern);
  c.payload_file = file.path;
  std::string error;
  c.payload_delimiter = "|";
  auto pool = PayloadPool::load(c, error);
  ASSERT_TRUE(pool) << error;
  ASSERT_EQ(pool->size(), 3u);
  EXPECT_EQ(text(pool->value(2)), "c333\r\nd\n");
  c.payload_delimiter = "\\r\\n";
  pool = PayloadPool::load(c, error);
  ASSERT_TRUE(pool) << error;
  ASSERT_EQ(pool->size(), 2u);
  EXPECT_EQ(text(pool->value(0)), "a1|b22|c333");
  c.payload_delimiter = "none";
  pool = PayloadPool::load(c, error);
  ASSERT_TRUE(pool) << error;
  ASSERT_EQ(pool->size(), 1u);
  EXPECT_EQ(text(pool->value(0)), "a1|b22|c333\r\nd\n");
}

TEST(PayloadFile, ErrorsNameTheFlag) {
  RunConfig c = config_of(PayloadKind::kPattern);
  std::string error;
  c.payload_file = "/nonexistent/values.txt";
  EXPECT_FALSE(PayloadPool::load(c, error));
  EXPECT_EQ(error.rfind("--payload-file: cannot read '/nonexistent/values.txt'", 0), 0u) << error;

  TempFile empty("\n\n");
  c.payload_file = empty.path;
  EXPECT_FALSE(PayloadPool::load(c, error));
  EXPECT_NE(error.find("holds no value"), std::string::npos) << error;

  TempFile short_line(std::string(40, 'x') + "\nshort\n");
  c.payload_file = short_line.path;
  EXPECT_TRUE(PayloadPool::load(c, error)) << "without --verify any size goes";
  c.verify = true;
  EXPECT_FALSE(PayloadPool::load(c, error));
  EXPECT_NE(error.find("value 2 of"), std::string::npos) << error;
  EXPECT_NE(error.find("--verify stamps the first 32"), std::string::npos) << error;
}

TEST(ProduceEncoder, VerifyStampsFitEveryPoolValueAndKeepItsFiller) {
  RunConfig c = config_of(PayloadKind::kPattern, 96, 0.75);  // random bytes past the stamp tell values apart
  c.verify = true;
  c.payload_pool_size = 4;
  testing::TableRig rig(c);
  const LinkId link = rig.open();
  auto pool = std::make_shared<const PayloadPool>(PayloadPool::generate(rig.config, 5));
  ProduceEncoder encoder(rig.config, 7, 0, pool);
  std::vector<PendingRecord> pending(8);
  for (size_t i = 0; i < pending.size(); ++i) pending[i].sequence = i;
  encoder.append(*rig.table, link, "t", pending, 3, 2, 3, InFlight{});
  // The request's records, decoded: each is a pool value in turn with a good stamp over it.
  const auto& out = rig.table->link(link).out;
  const std::string bytes(out.begin(), out.end());
  for (size_t i = 0; i < pending.size(); ++i) {
    const auto value = pool->value(i % pool->size());
    const std::string tail(value.begin() + kVerifyHeaderSize, value.end());
    const size_t at = bytes.find(tail);
    ASSERT_NE(at, std::string::npos) << "record " << i << " carries pool value " << i % pool->size();
    ASSERT_GE(at, kVerifyHeaderSize);
    VerifyStamp stamp;
    ASSERT_EQ(read_stamp({out.data() + at - kVerifyHeaderSize, value.size()}, stamp), StampCheck::kOk);
    EXPECT_EQ(stamp.producer, 3u);
  }
}

// What a user checks before trusting a compression result: gzip does not shrink random values
// (the request stays >= 90% of its uncompressed size) and shrinks pattern and zeros a lot.
// Batches of 100 records and single records (--batch=1, where only the value itself can compress).
TEST(ProduceEncoder, GzipShrinksPatternAndZerosButNotRandomValues) {
  for (const size_t records : {size_t{100}, size_t{1}}) {
    for (const auto& [kind, name, least, most] :
         {std::tuple{PayloadKind::kRandom, "random", 0.90, 1.1}, std::tuple{PayloadKind::kPattern, "pattern", 0.0, 0.35},
          std::tuple{PayloadKind::kZeros, "zeros", 0.0, 0.35}}) {
      RunConfig c = config_of(kind, 1000);
      c.batch = static_cast<uint32_t>(records);
      const size_t plain = encoded_request_size(c, records);
      c.compression = protocol::Codec::kGzip;
      const size_t gzip = encoded_request_size(c, records);
      const double ratio = static_cast<double>(gzip) / static_cast<double>(plain);
      std::printf("gzip: %s values, %zu records of 1000 bytes: request %zu -> %zu bytes (%.3f)\n", name, records,
                  plain, gzip, ratio);
      EXPECT_GE(ratio, least) << name << ", " << records << " records";
      EXPECT_LE(ratio, most) << name << ", " << records << " records";
    }
  }
}

}  // namespace
}  // namespace ws::driver
