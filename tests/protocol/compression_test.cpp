#include "protocol/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ws::protocol {
namespace {

constexpr Codec kAllCodecs[] = {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4,
                                Codec::kZstd};
constexpr Codec kCompressingCodecs[] = {Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd};
constexpr size_t kNoLimit = SIZE_MAX;

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }
std::string string_of(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Text shaped like JSON record values: repetitive keys, varying numbers.
std::vector<uint8_t> record_like_bytes(size_t n) {
  std::mt19937 rng(42);
  std::string text;
  while (text.size() < n) {
    text += R"({"user_id":)" + std::to_string(rng() % 100000) + R"(,"event":"page_view","ts":)" +
            std::to_string(1700000000000ull + rng() % 1000000) + R"(,"path":"/item/)" +
            std::to_string(rng() % 5000) + "\"}\n";
  }
  text.resize(n);
  return bytes_of(text);
}

std::vector<uint8_t> compressed(Codec codec, const std::vector<uint8_t>& in,
                                Lz4HeaderChecksum lz4 = Lz4HeaderChecksum::kStandard) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(compress(codec, in, out, lz4)) << codec_name(codec);
  return out;
}

std::vector<uint8_t> slice(const std::vector<uint8_t>& b, size_t from, size_t n) {
  return {b.begin() + static_cast<std::ptrdiff_t>(from),
          b.begin() + static_cast<std::ptrdiff_t>(from + n)};
}

uint32_t be32_at(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
}

// ---- names ---------------------------------------------------------------------------------

TEST(Codec, ValuesAreKafkaAttributeBits) {
  EXPECT_EQ(static_cast<int>(Codec::kNone), 0);
  EXPECT_EQ(static_cast<int>(Codec::kGzip), 1);
  EXPECT_EQ(static_cast<int>(Codec::kSnappy), 2);
  EXPECT_EQ(static_cast<int>(Codec::kLz4), 3);
  EXPECT_EQ(static_cast<int>(Codec::kZstd), 4);
}

TEST(Codec, NamesRoundTrip) {
  EXPECT_STREQ(codec_name(Codec::kNone), "none");
  EXPECT_STREQ(codec_name(Codec::kGzip), "gzip");
  EXPECT_STREQ(codec_name(Codec::kSnappy), "snappy");
  EXPECT_STREQ(codec_name(Codec::kLz4), "lz4");
  EXPECT_STREQ(codec_name(Codec::kZstd), "zstd");
  for (Codec codec : kAllCodecs) EXPECT_EQ(parse_codec(codec_name(codec)), codec);
  EXPECT_EQ(parse_codec("brotli"), std::nullopt);
  EXPECT_EQ(parse_codec(""), std::nullopt);
  EXPECT_STREQ(codec_name(static_cast<Codec>(7)), "unknown");
}

TEST(Codec, OutOfRangeCodecIsRefused) {
  std::vector<uint8_t> out;
  EXPECT_FALSE(compress(static_cast<Codec>(5), bytes_of("x"), out));
  EXPECT_FALSE(decompress(static_cast<Codec>(5), bytes_of("x"), out, kNoLimit));
  EXPECT_TRUE(out.empty());
}

// ---- round trips ---------------------------------------------------------------------------

class RoundTrip : public testing::TestWithParam<Codec> {};

TEST_P(RoundTrip, EmptyOneByteCompressibleAndRandomInputs) {
  const Codec codec = GetParam();
  const std::vector<std::vector<uint8_t>> inputs = {
      {}, {0x7A}, record_like_bytes(100 * 1000), random_bytes(100 * 1000, 7)};
  for (const auto& input : inputs) {
    std::vector<uint8_t> packed = compressed(codec, input);
    std::vector<uint8_t> unpacked = {'o', 'l', 'd'};  // output is appended, not overwritten
    ASSERT_TRUE(decompress(codec, packed, unpacked, input.size())) << "size " << input.size();
    ASSERT_EQ(unpacked.size(), 3 + input.size());
    EXPECT_EQ(slice(unpacked, 3, input.size()), input) << "size " << input.size();
  }
}

TEST(Compress, RecordLikeInputShrinksByHalfOrMore) {
  auto input = record_like_bytes(100 * 1000);
  for (Codec codec : kCompressingCodecs) {
    EXPECT_LT(compressed(codec, input).size(), input.size() / 2) << codec_name(codec);
  }
}

TEST_P(RoundTrip, CompressAppendsAfterExistingBytes) {
  const Codec codec = GetParam();
  auto input = record_like_bytes(5000);
  std::vector<uint8_t> out = {1, 2, 3};
  ASSERT_TRUE(compress(codec, input, out));
  EXPECT_EQ(slice(out, 0, 3), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(slice(out, 3, out.size() - 3), compressed(codec, input));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, RoundTrip, testing::ValuesIn(kAllCodecs),
                         [](const auto& test) { return std::string(codec_name(test.param)); });

// ---- gzip ----------------------------------------------------------------------------------

TEST(Gzip, OutputIsAGzipStream) {
  auto packed = compressed(Codec::kGzip, bytes_of("hello"));
  ASSERT_GE(packed.size(), 18u);
  EXPECT_EQ(packed[0], 0x1f);
  EXPECT_EQ(packed[1], 0x8b);
  EXPECT_EQ(packed[2], 0x08);  // deflate
}

TEST(Gzip, DecodesStreamFromGzipCli) {
  // printf hello | gzip -n | xxd -i
  const std::vector<uint8_t> from_cli = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                         0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x86,
                                         0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00};
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kGzip, from_cli, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");
}

TEST(Gzip, DecodesStreamWithFileNameInTheHeader) {
  // printf hello > hello.txt; gzip -c hello.txt | xxd -i   (FNAME flag, mtime set)
  const std::vector<uint8_t> from_cli = {
      0x1f, 0x8b, 0x08, 0x08, 0x00, 0xf1, 0x53, 0x65, 0x00, 0x03, 0x68, 0x65,
      0x6c, 0x6c, 0x6f, 0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9,
      0xc9, 0x07, 0x00, 0x86, 0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00};
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kGzip, from_cli, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");
}

TEST(Gzip, RejectsWrongCrcAndWrongSizeInTheTrailer) {
  auto packed = compressed(Codec::kGzip, record_like_bytes(5000));
  for (size_t from_end : {8u, 4u}) {  // CRC-32, then ISIZE
    auto corrupted = packed;
    corrupted[corrupted.size() - from_end] ^= 0x01;
    std::vector<uint8_t> out;
    EXPECT_FALSE(decompress(Codec::kGzip, corrupted, out, kNoLimit)) << from_end;
    EXPECT_TRUE(out.empty());
  }
}

// zlib's inflate stands in for the Java client and Kafka 0.9 (java.util.zip wraps zlib).
std::vector<uint8_t> zlib_gunzip(const std::vector<uint8_t>& packed, size_t expected_size) {
  std::vector<uint8_t> out(expected_size + 1);
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = const_cast<Bytef*>(packed.data());
  zs.avail_in = static_cast<uInt>(packed.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the gzip member";
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::vector<uint8_t> zlib_gzip(const std::vector<uint8_t>& in, int level) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::vector<std::vector<uint8_t>> interop_inputs() {
  return {{},
          {0x7A},
          record_like_bytes(1000),
          record_like_bytes(16 * 1024),
          record_like_bytes(1 << 20),
          random_bytes(100 * 1000, 8),
          std::vector<uint8_t>(300 * 1000, 0)};
}

TEST(Gzip, ZlibReadsWhatWeWrite) {
  for (const auto& input : interop_inputs()) {
    EXPECT_EQ(zlib_gunzip(compressed(Codec::kGzip, input), input.size()), input)
        << gzip_implementation() << ", size " << input.size();
  }
}

TEST(Gzip, WeReadWhatZlibWritesAtEveryLevel) {
  for (int level : {0, 1, 6, 9}) {
    for (const auto& input : interop_inputs()) {
      std::vector<uint8_t> out;
      ASSERT_TRUE(decompress(Codec::kGzip, zlib_gzip(input, level), out, input.size()))
          << "level " << level << ", size " << input.size();
      EXPECT_EQ(out, input) << "level " << level << ", size " << input.size();
    }
  }
}

TEST(Gzip, DecodesZlibWrappedStream) {
  // python3 -c "import zlib; print(zlib.compress(b'hello').hex())"
  const std::vector<uint8_t> zlib_stream = {0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
                                            0x07, 0x00, 0x06, 0x2c, 0x02, 0x15};
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kGzip, zlib_stream, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");
}

TEST(Gzip, ConcatenatedMembersDecodeToConcatenatedContent) {
  auto packed = compressed(Codec::kGzip, bytes_of("hello "));
  auto second = compressed(Codec::kGzip, bytes_of("world"));
  packed.insert(packed.end(), second.begin(), second.end());
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kGzip, packed, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello world");
}

// ---- snappy --------------------------------------------------------------------------------

TEST(Snappy, WritesXerialHeaderLikeTheJavaClient) {
  auto packed = compressed(Codec::kSnappy, bytes_of("hello"));
  const std::vector<uint8_t> header = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00,
                                       0,    0,   0,   1,   0,   0,   0,   1};
  ASSERT_GT(packed.size(), header.size());
  EXPECT_EQ(slice(packed, 0, header.size()), header);
  EXPECT_EQ(be32_at(packed, 16), packed.size() - 20);  // one block, length-prefixed
}

TEST(Snappy, EmptyInputIsHeaderOnly) {
  EXPECT_EQ(compressed(Codec::kSnappy, {}).size(), 16u);
}

TEST(Snappy, XerialBlocksHoldAtMost32KiB) {
  auto input = record_like_bytes(100 * 1000);
  auto packed = compressed(Codec::kSnappy, input);
  std::vector<size_t> block_sizes;
  for (size_t at = 16; at < packed.size();) {
    const uint32_t length = be32_at(packed, at);
    ASSERT_LE(at + 4 + length, packed.size());
    std::vector<uint8_t> block_content;  // each block is itself a raw snappy block
    ASSERT_TRUE(decompress(Codec::kSnappy, slice(packed, at + 4, length), block_content, kNoLimit));
    block_sizes.push_back(block_content.size());
    at += 4 + length;
  }
  EXPECT_EQ(block_sizes, (std::vector<size_t>{32768, 32768, 32768, 100000 - 3 * 32768}));
}

TEST(Snappy, DecodesRawSnappyBlock) {
  // Raw snappy for "hello": varint length 5, literal tag (5 - 1) << 2, the 5 bytes.
  const std::vector<uint8_t> raw = {0x05, 0x10, 'h', 'e', 'l', 'l', 'o'};
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kSnappy, raw, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");
}

TEST(Snappy, DecodesHandBuiltXerialStream) {
  const std::vector<uint8_t> xerial = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00, 0,   0,   0,
                                       1,    0,   0,   0,   1,   0,   0,   0,    7,   0x05, 0x10,
                                       'h',  'e', 'l', 'l', 'o'};
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kSnappy, xerial, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");
}

TEST(Snappy, RejectsXerialBlockLengthPastTheInput) {
  auto packed = compressed(Codec::kSnappy, bytes_of("hello hello hello"));
  packed[19] = static_cast<uint8_t>(packed[19] + 1);  // block length one byte too long
  std::vector<uint8_t> out;
  EXPECT_FALSE(decompress(Codec::kSnappy, packed, out, kNoLimit));
  packed[16] = 0xFF;  // negative block length
  EXPECT_FALSE(decompress(Codec::kSnappy, packed, out, kNoLimit));
  EXPECT_TRUE(out.empty());
}

// ---- lz4 -----------------------------------------------------------------------------------

TEST(Lz4, FrameHeaderMatchesJavaClient) {
  // Magic, FLG 0x60 (version 1, independent blocks, no checksums), BD 0x40 (64 KiB blocks), HC.
  auto packed = compressed(Codec::kLz4, bytes_of("hello"));
  EXPECT_EQ(slice(packed, 0, 7), (std::vector<uint8_t>{0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82}));
}

TEST(Lz4, LegacyKafkaHeaderChecksumCoversTheMagic) {
  auto input = record_like_bytes(70 * 1000);
  auto standard = compressed(Codec::kLz4, input, Lz4HeaderChecksum::kStandard);
  auto legacy = compressed(Codec::kLz4, input, Lz4HeaderChecksum::kLegacyKafka);
  ASSERT_EQ(standard.size(), legacy.size());
  // Second byte of XXH32(04 22 4D 18 60 40), computed independently of libxxhash.
  EXPECT_EQ(legacy[6], 0x1A);
  EXPECT_NE(legacy[6], standard[6]);
  legacy[6] = standard[6];
  EXPECT_EQ(legacy, standard);  // nothing else differs
}

TEST(Lz4, DecodesBothHeaderChecksumVariants) {
  auto input = record_like_bytes(70 * 1000);
  for (auto variant : {Lz4HeaderChecksum::kStandard, Lz4HeaderChecksum::kLegacyKafka}) {
    std::vector<uint8_t> out;
    ASSERT_TRUE(decompress(Codec::kLz4, compressed(Codec::kLz4, input, variant), out, kNoLimit));
    EXPECT_EQ(out, input);
  }
}

TEST(Lz4, RejectsHeaderChecksumMatchingNeitherVariant) {
  auto packed = compressed(Codec::kLz4, bytes_of("hello"));
  packed[6] = 0x00;
  std::vector<uint8_t> out;
  EXPECT_FALSE(decompress(Codec::kLz4, packed, out, kNoLimit));
}

TEST(Lz4, DecodesFrameFromLz4Cli) {
  // printf hello | lz4 -q -c | xxd -i   (content checksum on, unlike Kafka's writer)
  const std::vector<uint8_t> from_cli = {0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x05,
                                         0x00, 0x00, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
                                         0x00, 0x00, 0x00, 0x00, 0xf9, 0x77, 0x00, 0xfb};
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kLz4, from_cli, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");

  auto corrupted = from_cli;
  corrupted.back() ^= 0x01;  // content checksum no longer matches
  EXPECT_FALSE(decompress(Codec::kLz4, corrupted, out, kNoLimit));
}

TEST(Lz4, RejectsBytesAfterTheFrame) {
  auto packed = compressed(Codec::kLz4, bytes_of("hello"));
  packed.push_back(0);
  std::vector<uint8_t> out;
  EXPECT_FALSE(decompress(Codec::kLz4, packed, out, kNoLimit));
}

// ---- zstd ----------------------------------------------------------------------------------

TEST(Zstd, DecodesFrameWithoutContentSizeFromZstdCli) {
  // printf hello | zstd -q -c | xxd -i   (streamed from stdin: no content size, with checksum)
  const std::vector<uint8_t> from_cli = {0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x29,
                                         0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
                                         0xa3, 0x6d, 0x9f, 0x88};
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kZstd, from_cli, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");
}

TEST(Zstd, ConcatenatedFramesDecodeToConcatenatedContent) {
  auto packed = compressed(Codec::kZstd, bytes_of("hello "));
  auto second = compressed(Codec::kZstd, bytes_of("world"));
  packed.insert(packed.end(), second.begin(), second.end());
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kZstd, packed, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello world");
}

// ---- untrusted input -----------------------------------------------------------------------

// A zstd frame asking for a 2^window_log window, holding "hello" (as the CLI frame above).
std::vector<uint8_t> zstd_hello_with_window(int window_log) {
  const auto descriptor = static_cast<uint8_t>((window_log - 10) << 3);
  return {0x28, 0xb5, 0x2f, 0xfd, 0x00, descriptor, 0x29, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f};
}

TEST(Zstd, AWindowLargerThanTheOutputCapNeedsIsRefusedBeforeItIsAllocated) {
  // libzstd allocates the window the header asks for before decoding: 128 MiB for 14 bytes.
  std::vector<uint8_t> out;
  EXPECT_FALSE(decompress(Codec::kZstd, zstd_hello_with_window(27), out, 1 << 20));
  EXPECT_TRUE(out.empty());
  // Up to 8 MiB windows are always accepted (the Java client's levels up to 19), larger ones when
  // the cap allows that much output.
  ASSERT_TRUE(decompress(Codec::kZstd, zstd_hello_with_window(23), out, 1 << 20));
  EXPECT_EQ(string_of(out), "hello");
  out.clear();
  ASSERT_TRUE(decompress(Codec::kZstd, zstd_hello_with_window(27), out, size_t{128} << 20));
  EXPECT_EQ(string_of(out), "hello");
}

TEST(Zstd, SkippableFramesAroundDataAreAccepted) {
  // A skippable frame (magic 0x184D2A5x, then a 4-byte length) carries no data; zstd 1.x readers
  // pass over it, so the frame walk that refuses legacy frames must too. (Legacy frames themselves
  // are guarded by the fuzz seed zstd_legacy_v07: its 84 MB allocation trips -malloc_limit_mb.)
  const std::vector<uint8_t> skippable = {0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'};
  std::vector<uint8_t> packed = skippable;
  auto data = compressed(Codec::kZstd, bytes_of("hello"));
  packed.insert(packed.end(), data.begin(), data.end());
  packed.insert(packed.end(), skippable.begin(), skippable.end());
  std::vector<uint8_t> out;
  ASSERT_TRUE(decompress(Codec::kZstd, packed, out, kNoLimit));
  EXPECT_EQ(string_of(out), "hello");
}

class UntrustedInput : public testing::TestWithParam<Codec> {};

TEST_P(UntrustedInput, EveryTruncationIsRejected) {
  const Codec codec = GetParam();
  auto input = record_like_bytes(3000);  // one snappy block, several deflate symbols
  auto packed = compressed(codec, input);
  for (size_t length = 0; length < packed.size(); ++length) {
    // A xerial stream cut right after its header is a valid, empty stream.
    if (codec == Codec::kSnappy && length == 16) continue;
    std::vector<uint8_t> out = {9};
    EXPECT_FALSE(decompress(codec, slice(packed, 0, length), out, kNoLimit)) << "length " << length;
    EXPECT_EQ(out, std::vector<uint8_t>{9}) << "a failed call must leave the output untouched";
  }
}

TEST_P(UntrustedInput, RandomGarbageIsRejected) {
  const Codec codec = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(codec));
  for (int i = 0; i < 500; ++i) {
    auto garbage = random_bytes(16 + rng() % 2000, static_cast<uint32_t>(rng()));
    std::vector<uint8_t> out;
    EXPECT_FALSE(decompress(codec, garbage, out, 1 << 20)) << "case " << i;
    EXPECT_TRUE(out.empty());
  }
}

// Valid headers followed by garbage, and valid streams with flipped bytes, get past the cheap
// checks. Codecs without checksums may "succeed" on them; they must never crash or overrun.
TEST_P(UntrustedInput, CorruptedStreamsNeverCrashOrExceedTheLimit) {
  const Codec codec = GetParam();
  auto valid = compressed(codec, record_like_bytes(20 * 1000));
  std::mt19937 rng(99);
  constexpr size_t kLimit = 30 * 1000;
  for (int i = 0; i < 500; ++i) {
    auto corrupted = valid;
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
      corrupted[16 + rng() % (corrupted.size() - 16)] = static_cast<uint8_t>(rng());
    }
    std::vector<uint8_t> out;
    if (decompress(codec, corrupted, out, kLimit)) {
      EXPECT_LE(out.size(), kLimit);
    }

    auto header_then_garbage = slice(valid, 0, 16);
    auto garbage = random_bytes(rng() % 3000, static_cast<uint32_t>(rng()));
    header_then_garbage.insert(header_then_garbage.end(), garbage.begin(), garbage.end());
    out.clear();
    if (decompress(codec, header_then_garbage, out, kLimit)) {
      EXPECT_LE(out.size(), kLimit);
    }
  }
}

TEST_P(UntrustedInput, OutputLimitIsEnforced) {
  const Codec codec = GetParam();
  const std::vector<uint8_t> zeros(1 << 20, 0);
  auto packed = compressed(codec, zeros);
  std::vector<uint8_t> out = {9};
  EXPECT_FALSE(decompress(codec, packed, out, 1000));
  EXPECT_FALSE(decompress(codec, packed, out, zeros.size() - 1));
  EXPECT_EQ(out, std::vector<uint8_t>{9});
  EXPECT_TRUE(decompress(codec, packed, out, zeros.size()));  // exactly at the limit is fine
  EXPECT_EQ(out.size(), 1 + zeros.size());
}

INSTANTIATE_TEST_SUITE_P(CompressingCodecs, UntrustedInput, testing::ValuesIn(kCompressingCodecs),
                         [](const auto& test) { return std::string(codec_name(test.param)); });

TEST(UntrustedInputNone, OutputLimitIsEnforced) {
  std::vector<uint8_t> out;
  EXPECT_FALSE(decompress(Codec::kNone, bytes_of("hello"), out, 4));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(decompress(Codec::kNone, bytes_of("hello"), out, 5));
  EXPECT_EQ(string_of(out), "hello");
}

}  // namespace
}  // namespace ws::protocol
