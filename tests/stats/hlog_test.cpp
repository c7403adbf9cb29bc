// .hlog V2 encoding and interval logs. Golden bytes and logs come from HdrHistogram 2.1.11 (Java,
// Debian's libhdrhistogram-java) encoding the same recordings; tests/hlog_java_check.sh checks the
// other direction (Java reading our logs).
#include "stats/hlog.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ws::stats {
namespace {

constexpr int64_t kHour = int64_t{3600} * 1000 * 1000;  // 1 h in microseconds

std::string to_hex(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (const uint8_t b : bytes) {
    s += kDigits[b >> 4];
    s += kDigits[b & 0xf];
  }
  return s;
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// A V2 encoding with arbitrary header fields and counts bytes, to craft malformed input.
struct RawEncoding {
  uint32_t cookie = 0x1c849313;
  std::optional<int32_t> payload_length;  // default: the real length of `counts`
  int32_t normalizing_index_offset = 0;
  int32_t significant_figures = 3;
  int64_t lowest = 1;
  int64_t highest = kHour;
  std::vector<uint8_t> counts;

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out;
    put_u32(out, cookie);
    put_u32(out,
            static_cast<uint32_t>(payload_length.value_or(static_cast<int32_t>(counts.size()))));
    put_u32(out, static_cast<uint32_t>(normalizing_index_offset));
    put_u32(out, static_cast<uint32_t>(significant_figures));
    put_u64(out, static_cast<uint64_t>(lowest));
    put_u64(out, static_cast<uint64_t>(highest));
    put_u64(out, 0x3ff0000000000000);  // 1.0
    out.insert(out.end(), counts.begin(), counts.end());
    return out;
  }
};

// The compressed form around arbitrary bytes.
std::vector<uint8_t> wrap(const std::vector<uint8_t>& encoding, uint32_t cookie = 0x1c849314) {
  uLongf size = compressBound(static_cast<uLong>(encoding.size()));
  std::vector<uint8_t> out(8 + size);
  EXPECT_EQ(
      compress2(out.data() + 8, &size, encoding.data(), static_cast<uLong>(encoding.size()), 9),
      Z_OK);
  out.resize(8 + size);
  std::vector<uint8_t> header;
  put_u32(header, cookie);
  put_u32(header, static_cast<uint32_t>(size));
  std::copy(header.begin(), header.end(), out.begin());
  return out;
}

std::vector<uint8_t> zig_zag(int64_t value) {
  uint64_t z = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  std::vector<uint8_t> out;
  for (int i = 0; i < 8 && (z >> 7) != 0; ++i) {
    out.push_back(static_cast<uint8_t>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<uint8_t>(z));
  return out;
}

HdrHistogram decode_or_fail(const std::vector<uint8_t>& compressed) {
  HdrHistogram h(1, 2, 1);
  std::string error;
  EXPECT_TRUE(decode_v2(compressed, h, error)) << error;
  return h;
}

// The recordings behind the Java goldens (Gold.java: the same calls on org.HdrHistogram.Histogram).
HdrHistogram tiny_histogram() {
  HdrHistogram h(1, 100, 1);
  h.record(3);
  h.record(3);
  h.record(5);
  return h;
}
HdrHistogram mixed_histogram() {
  HdrHistogram h(1, 3600000000, 3);
  for (int64_t v = 1; v <= 1000000; v = v * 3 + 7) h.record_n(v, v % 5 + 1);
  h.record(0);
  h.record(2047);
  h.record(2048);
  h.record(3599999999);
  return h;
}
HdrHistogram big_histogram() {
  HdrHistogram h(1000, std::numeric_limits<int64_t>::max(), 2);
  h.record_n(std::numeric_limits<int64_t>::max() / 3, int64_t{1} << 62);
  h.record_n(123456789, 5);
  return h;
}

// histogram.encodeIntoByteBuffer() and encodeIntoCompressedByteBuffer(BEST_COMPRESSION), base64.
constexpr const char* kJavaTinyRaw =
    "1c849313000000040000000000000001000000000000000100000000000000643ff000000000000005040002";
constexpr const char* kJavaEmptyRaw =
    "1c849313000000010000000000000003000000000000000100000000d693a4003ff000000000000000";
constexpr const char* kJavaMixedRaw =
    "1c849313000000290000000000000003000000000000000100000000d693a4003ff00000000000000204"
    "0f0233069f0108e30304af0b02f70e0202c90906cb1908cd1904e11802c91a068b1808bdc20102";
constexpr const char* kJavaBigRaw =
    "1c8493130000000e000000000000000200000000000003e87fffffffffffffff3ff0000000000000d517"
    "0afb44808080808080808080";
constexpr const char* kJavaMixedBase64 =
    "HISTFAAAAEp42pNpmSzMwMCgyQABzFCaEURcm7yEwf4DRICJhZ/"
    "JmG0+I8djZpb13Ezf+ZiYTnKynZbkOCvJ8lCC6aQUW7c"
    "Ex95DjEwA1/oPFg==";
constexpr const char* kJavaBigBase64 =
    "HISTFAAAACZ42pNpmSzMwMDAxwABTBCK+UX9fwiw/wARuSrO9dulAQYAcP4Rng==";

TEST(HlogEncoding, TinyHistogramBytes) {
  // 1 significant figure: 32 sub-buckets, unit magnitude 0, so value v is slot v below 32.
  // Counts up to the max's slot are [0, 0, 0, 2, 0, 1]: a run of three empty slots (-3 -> 0x05),
  // 2 (0x04), one empty slot (Java writes 0, not -1: 0x00), 1 (0x02).
  const std::vector<uint8_t> encoded = encode_v2(tiny_histogram());
  EXPECT_EQ(to_hex(encoded),
            "1c849313"          // cookie: V2 base 0x1c849303 | word size 1 << 4
            "00000004"          // payload length
            "00000000"          // normalizing index offset
            "00000001"          // significant figures
            "0000000000000001"  // lowest discernible value
            "0000000000000064"  // highest trackable value 100
            "3ff0000000000000"  // conversion ratio 1.0
            "05040002");
  EXPECT_EQ(to_hex(encoded), kJavaTinyRaw);
}

TEST(HlogEncoding, MatchesJavaBytes) {
  EXPECT_EQ(to_hex(encode_v2(HdrHistogram(1, 3600000000, 3))), kJavaEmptyRaw);
  EXPECT_EQ(to_hex(encode_v2(mixed_histogram())), kJavaMixedRaw);
  // A count of 2^62 zig-zags to 2^63: eight 0x80 bytes and a ninth holding the top 8 bits.
  EXPECT_EQ(to_hex(encode_v2(big_histogram())), kJavaBigRaw);
}

TEST(HlogEncoding, CompressedFormHasTheV2Cookie) {
  const std::vector<uint8_t> compressed = compress_v2(mixed_histogram());
  ASSERT_GT(compressed.size(), 10u);
  EXPECT_EQ(to_hex({compressed.begin(), compressed.begin() + 4}), "1c849314");
  const uint32_t length = (uint32_t{compressed[4]} << 24) | (uint32_t{compressed[5]} << 16) |
                          (uint32_t{compressed[6]} << 8) | compressed[7];
  EXPECT_EQ(length, compressed.size() - 8);
  EXPECT_EQ(compressed[8], 0x78);  // zlib header
  EXPECT_TRUE(to_base64(compressed).starts_with("HISTFAAA"));
}

TEST(HlogEncoding, DecodesJavaCompressedHistograms) {
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(from_base64(kJavaMixedBase64, bytes));
  EXPECT_EQ(decode_or_fail(bytes), mixed_histogram());
  ASSERT_TRUE(from_base64(kJavaBigBase64, bytes));
  const HdrHistogram big = decode_or_fail(bytes);
  EXPECT_EQ(big, big_histogram());
  EXPECT_EQ(big.total_count(), (int64_t{1} << 62) + 5);
}

void expect_round_trip(const HdrHistogram& h) {
  const std::vector<uint8_t> compressed = compress_v2(h);
  const HdrHistogram decoded = decode_or_fail(compressed);
  EXPECT_EQ(decoded, h);
  EXPECT_EQ(decoded.total_count(), h.total_count());
  EXPECT_EQ(decoded.value_at_percentile(99.9), h.value_at_percentile(99.9));
  std::vector<uint8_t> via_text;
  ASSERT_TRUE(from_base64(to_base64(compressed), via_text));
  EXPECT_EQ(via_text, compressed);
}

TEST(HlogEncoding, RoundTripsDistributions) {
  expect_round_trip(HdrHistogram(1, kHour, 3));  // empty

  HdrHistogram single(1, kHour, 3);
  single.record(1234);
  expect_round_trip(single);

  HdrHistogram zeros(1, kHour, 3);
  zeros.record_n(0, 17);
  expect_round_trip(zeros);

  HdrHistogram latency(1, kHour, 3);
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(1000.0), 1.5);
  for (int i = 0; i < 100000; ++i) {
    latency.record(std::min<int64_t>(std::llround(dist(rng)), kHour));
  }
  latency.record_corrected(5'000'000, 1000);
  expect_round_trip(latency);

  HdrHistogram dense(1, 10000, 2);  // every slot filled: no zero runs at all
  for (int64_t v = 0; v <= 10000; ++v) dense.record(v);
  expect_round_trip(dense);

  HdrHistogram coarse(1000, int64_t{1} << 40, 2);  // unit magnitude 9
  for (int64_t v = 1; v < (int64_t{1} << 40); v = v * 7 + 3) coarse.record_n(v, v % 1000 + 1);
  expect_round_trip(coarse);

  HdrHistogram fine(1, kHour, 5);
  for (int64_t v = 1; v < kHour; v = v * 2 + 1) fine.record(v);
  expect_round_trip(fine);

  // Huge values and counts that need 9-byte varints.
  HdrHistogram huge(1, std::numeric_limits<int64_t>::max(), 3);
  huge.record(std::numeric_limits<int64_t>::max());
  huge.record_n(int64_t{1} << 62, std::numeric_limits<int64_t>::max() / 4);
  huge.record_n(1, int64_t{1} << 56);
  huge.record(0);
  expect_round_trip(huge);
  expect_round_trip(big_histogram());
}

TEST(HlogEncoding, ZeroRunsShrinkSparseHistograms) {
  HdrHistogram sparse(1, kHour, 3);
  sparse.record(1);
  sparse.record(kHour);
  const int32_t slots = sparse.counts_index_for(kHour) + 1;  // slots the encoding covers
  ASSERT_GT(slots, 20000);
  // 40-byte header + count, one run (3-byte varint), count: nowhere near one byte per slot.
  const std::vector<uint8_t> encoded = encode_v2(sparse);
  EXPECT_LE(encoded.size(), 40u + 6u);
  EXPECT_LT(compress_v2(sparse).size(), 64u);
}

TEST(HlogEncoding, AcceptsCEncodersSingleEmptySlot) {
  // HdrHistogram_c writes a lone empty slot as -1 where Java writes 0; both mean the same.
  RawEncoding raw;
  raw.significant_figures = 1;
  raw.highest = 100;
  raw.counts = {0x05, 0x04, 0x01, 0x02};  // -3, 2, -1, 1
  EXPECT_EQ(decode_or_fail(wrap(raw.bytes())), tiny_histogram());
}

TEST(HlogDecode, RejectsEveryTruncation) {
  const std::vector<uint8_t> compressed = compress_v2(tiny_histogram());
  for (size_t n = 0; n < compressed.size(); ++n) {
    HdrHistogram h(1, 2, 1);
    std::string error;
    EXPECT_FALSE(decode_v2(std::span(compressed.data(), n), h, error)) << n;
    EXPECT_FALSE(error.empty());
  }
  // Same for the uncompressed encoding inside a well-formed zlib stream.
  const std::vector<uint8_t> encoded = encode_v2(mixed_histogram());
  for (size_t n = 0; n < encoded.size(); ++n) {
    HdrHistogram h(1, 2, 1);
    std::string error;
    EXPECT_FALSE(
        decode_v2(wrap({encoded.begin(), encoded.begin() + static_cast<long>(n)}), h, error))
        << n;
  }
}

TEST(HlogDecode, SurvivesCorruptedBytes) {
  const std::vector<uint8_t> good = compress_v2(mixed_histogram());
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = good;
      bad[i] = static_cast<uint8_t>(bad[i] ^ (1u << bit));
      HdrHistogram h(1, 2, 1);
      std::string error;
      if (decode_v2(bad, h, error)) {
        // Only bits zlib does not check may flip unnoticed (e.g. the FLEVEL hint).
        int64_t sum = 0;
        for (const int64_t c : h.counts()) sum += c;
        EXPECT_EQ(sum, h.total_count());
      }
    }
  }
}

TEST(HlogDecode, SurvivesMutatedEncodings) {
  // Valid zlib around mutated counts exercises the varint and index checks themselves.
  const std::vector<uint8_t> good = encode_v2(mixed_histogram());
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> bad = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = 40 + rng() % (bad.size() - 40);
      bad[at] = static_cast<uint8_t>(rng());
    }
    HdrHistogram h(1, 2, 1);
    std::string error;
    if (decode_v2(wrap(bad), h, error)) {
      int64_t sum = 0;
      for (const int64_t c : h.counts()) sum += c;
      EXPECT_EQ(sum, h.total_count());
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
}

TEST(HlogDecode, RejectsMalformedInput) {
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
  };
  auto one_count_encoding = [] {
    RawEncoding r;
    r.counts = {0x02};
    return r.bytes();
  };
  auto raw = [](auto edit) {
    RawEncoding r;
    r.counts = {0x02};
    edit(r);
    return wrap(r.bytes());
  };
  const std::vector<uint8_t> good = wrap(one_count_encoding());
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  std::vector<uint8_t> length_too_long = good;
  length_too_long[7] = static_cast<uint8_t>(length_too_long[7] + 1);
  std::vector<uint8_t> negative_length = good;
  negative_length[4] = 0x80;
  std::vector<uint8_t> after_stream_wrapped = wrap(one_count_encoding());
  after_stream_wrapped.push_back(0x00);  // inside the declared length, after the zlib stream
  after_stream_wrapped[7] = static_cast<uint8_t>(after_stream_wrapped[7] + 1);
  std::vector<uint8_t> int64_min_run(8, 0xff);
  int64_min_run.push_back(0xff);  // zig-zag of INT64_MIN

  const std::vector<Case> cases = {
      {"empty", {}},
      {"V1 cookie", wrap(one_count_encoding(), 0x1c849312)},
      {"garbage cookie", wrap(one_count_encoding(), 0x12345678)},
      {"byte after the declared length", trailing},
      {"declared length past the end", length_too_long},
      {"negative compressed length", negative_length},
      {"bytes after the zlib stream", after_stream_wrapped},
      {"not zlib", {0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 4, 1, 2, 3, 4}},
      {"encoding cookie", raw([](RawEncoding& r) { r.cookie = 0x1c849301; })},
      {"normalizing offset", raw([](RawEncoding& r) { r.normalizing_index_offset = 5; })},
      {"significant figures 0", raw([](RawEncoding& r) { r.significant_figures = 0; })},
      {"significant figures 9", raw([](RawEncoding& r) { r.significant_figures = 9; })},
      {"lowest 0", raw([](RawEncoding& r) { r.lowest = 0; })},
      {"highest < 2 * lowest", raw([](RawEncoding& r) { r.highest = 1; })},
      {"negative highest", raw([](RawEncoding& r) { r.highest = -5; })},
      {"negative payload length", raw([](RawEncoding& r) { r.payload_length = -2; })},
      {"payload length > inflated", raw([](RawEncoding& r) { r.payload_length = 2; })},
      {"payload length < inflated", raw([](RawEncoding& r) {
         r.counts = {0x02, 0x02};
         r.payload_length = 1;
       })},
      {"payload length beyond any histogram",
       raw([](RawEncoding& r) { r.payload_length = std::numeric_limits<int32_t>::max(); })},
      {"truncated varint", raw([](RawEncoding& r) {
         r.counts = {0x02, 0x80};
       })},
      {"INT64_MIN zero run", raw([&](RawEncoding& r) { r.counts = int64_min_run; })},
      {"zero run past the end", raw([](RawEncoding& r) {
         r.significant_figures = 1;
         r.highest = 100;
         r.counts = zig_zag(-1000);
       })},
      {"count past the end", raw([](RawEncoding& r) {
         r.significant_figures = 1;
         r.highest = 100;
         r.counts = zig_zag(-HdrHistogram(1, 100, 1).counts_len());
         const auto one = zig_zag(1);
         r.counts.insert(r.counts.end(), one.begin(), one.end());
       })},
      {"total overflows int64", raw([](RawEncoding& r) {
         r.counts = zig_zag(std::numeric_limits<int64_t>::max());
         const auto one = zig_zag(1);
         r.counts.insert(r.counts.end(), one.begin(), one.end());
       })},
  };
  for (const Case& c : cases) {
    HdrHistogram h(1, 1000, 2);
    h.record(7);
    const HdrHistogram before = h;
    std::string error;
    EXPECT_FALSE(decode_v2(c.bytes, h, error)) << c.what;
    EXPECT_FALSE(error.empty()) << c.what;
    EXPECT_EQ(h, before) << c.what << ": output changed on failure";
  }
  // A run that ends exactly at the last slot is fine.
  RawEncoding exact;
  exact.significant_figures = 1;
  exact.highest = 100;
  exact.counts = zig_zag(-HdrHistogram(1, 100, 1).counts_len());
  EXPECT_EQ(decode_or_fail(wrap(exact.bytes())).total_count(), 0);
}

TEST(Base64, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    const std::vector<uint8_t> bytes(plain.begin(), plain.end());
    EXPECT_EQ(to_base64(bytes), encoded);
    std::vector<uint8_t> decoded;
    ASSERT_TRUE(from_base64(encoded, decoded)) << encoded;
    EXPECT_EQ(decoded, bytes);
  }
  std::vector<uint8_t> decoded;
  ASSERT_TRUE(from_base64("Zm9vYmE", decoded));  // padding is optional, as for java.util.Base64
  EXPECT_EQ(std::string(decoded.begin(), decoded.end()), "fooba");
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(from_base64(to_base64(all), decoded));
  EXPECT_EQ(decoded, all);
}

TEST(Base64, RejectsInvalidText) {
  std::vector<uint8_t> out = {1, 2, 3};
  for (const char* bad : {"Z", "Zm9vY", "Zg=", "Zg===", "Z===", "Zm9v!", "Zm 9v",
                          "Zg==Zg==", "=Zg=", "Zm-v", "Zm_v"}) {
    EXPECT_FALSE(from_base64(bad, out)) << bad;
  }
  EXPECT_EQ(out, (std::vector<uint8_t>{1, 2, 3}));
}

// HistogramLogWriter's output for the same calls (Gold.java, TZ=UTC).
constexpr const char* kJavaLog =
    "#[Logged with Gold]\n"
    "#[Histogram log format version 1.3]\n"
    "#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n"
    "#[BaseTime: 1700000000.000 (seconds since epoch)]\n"
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
    "Tag=mixed,0.000,1.000,3600809.983,HISTFAAAAEp42pNpmSzMwMCgyQABzFCaEURcm7yEwf4DRICJhZ/"
    "JmG0+I8djZ"
    "pb13Ezf+ZiYTnKynZbkOCvJ8lCC6aQUW7cEx95DjEwA1/oPFg==\n"
    "Tag=tiny,1.000,1.000,5.000,HISTFAAAAB542pNpmSzMwMDAwgABjGh0iv0HCIOVhYEJAEmRAus=\n"
    "2.000,1.000,0.000,HISTFAAAAB942pNpmSzMwMDAyAABzFAazL82eQmD/QeoCABVgwSI\n";

TEST(HlogWriter, WritesWhatHistogramLogWriterWrites) {
  std::ostringstream out;
  HlogWriter writer(out);
  writer.write_header(1700000000.0, "Logged with Gold");
  writer.write_interval("mixed", 0.0, 1.0, mixed_histogram(), 1000.0);
  writer.write_interval("tiny", 1.0, 1.0, tiny_histogram(), 1.0);
  writer.write_interval("", 2.0, 1.0, HdrHistogram(1, 3600000000, 3), 1.0);

  // Everything but the deflate bytes, which depend on the zlib build, must match exactly.
  auto without_payloads = [](const std::string& log) {
    std::istringstream in(log);
    std::string line;
    std::string result;
    while (std::getline(in, line)) {
      const size_t at = line.find(",HISTF");
      result += (at == std::string::npos ? line : line.substr(0, at + 6)) + "\n";
    }
    return result;
  };
  EXPECT_EQ(without_payloads(out.str()), without_payloads(kJavaLog));

  std::istringstream in(out.str());
  std::vector<HlogInterval> intervals;
  std::string error;
  ASSERT_TRUE(read_hlog(in, intervals, error)) << error;
  ASSERT_EQ(intervals.size(), 3u);
  EXPECT_EQ(intervals[0].histogram, mixed_histogram());
  EXPECT_EQ(intervals[1].histogram, tiny_histogram());
  EXPECT_EQ(intervals[2].histogram, HdrHistogram(1, 3600000000, 3));
}

TEST(HlogWriter, RejectsTagsReadersWouldSplit) {
  std::ostringstream out;
  HlogWriter writer(out);
  for (const char* tag : {"a,b", "a b", "a\nb", "a\rb"}) {
    EXPECT_THROW(writer.write_interval(tag, 0, 1, tiny_histogram(), 1.0), std::invalid_argument);
  }
  EXPECT_THROW(writer.write_interval("t", 0, 1, tiny_histogram(), 0.0), std::invalid_argument);
  EXPECT_EQ(out.str(), "");
}

TEST(HlogReader, ReadsJavaWrittenLog) {
  std::istringstream in(kJavaLog);
  std::vector<HlogInterval> intervals;
  std::string error;
  HlogHeader header;
  ASSERT_TRUE(read_hlog(in, intervals, error, &header)) << error;
  ASSERT_EQ(intervals.size(), 3u);
  EXPECT_EQ(intervals[0].tag, "mixed");
  EXPECT_EQ(intervals[0].start_s, 0.0);
  EXPECT_EQ(intervals[0].length_s, 1.0);
  EXPECT_EQ(intervals[0].histogram, mixed_histogram());
  EXPECT_EQ(intervals[1].tag, "tiny");
  EXPECT_EQ(intervals[1].start_s, 1.0);
  EXPECT_EQ(intervals[1].histogram, tiny_histogram());
  EXPECT_EQ(intervals[2].tag, "");
  EXPECT_EQ(intervals[2].start_s, 2.0);
  EXPECT_EQ(intervals[2].histogram.total_count(), 0);
  EXPECT_EQ(header.start_time_s, 1700000000.0);
  EXPECT_EQ(header.base_time_s, 1700000000.0);
}

TEST(HlogReader, RoundTripsTwoTags) {
  HdrHistogram a(1, kHour, 3);
  HdrHistogram b(1000, int64_t{1} << 40, 2);
  std::ostringstream out;
  HlogWriter writer(out);
  writer.write_header(1700000123.456, "wirestress test");
  std::vector<std::pair<std::string, HdrHistogram>> written;
  for (int tick = 0; tick < 3; ++tick) {
    a.reset();
    b.reset();
    for (int i = 0; i < 1000 * (tick + 1); ++i) {
      a.record(100 + i * 37 % 5000);
      b.record(int64_t{1000} * (i + 1) * (tick + 1));
    }
    writer.write_interval("latency_us", tick, 1.0, a, 1000.0);
    writer.write_interval("service_ns", tick + 0.25, 0.75, b, 1e6);
    written.emplace_back("latency_us", a);
    written.emplace_back("service_ns", b);
  }
  const std::string text = out.str();
  EXPECT_NE(text.find("\nTag=latency_us,2.000,1.000,"), std::string::npos) << text;
  EXPECT_NE(text.find("\nTag=service_ns,2.250,0.750,"), std::string::npos) << text;

  std::istringstream in(text);
  std::vector<HlogInterval> intervals;
  std::string error;
  HlogHeader header;
  ASSERT_TRUE(read_hlog(in, intervals, error, &header)) << error;
  ASSERT_EQ(intervals.size(), written.size());
  for (size_t i = 0; i < intervals.size(); ++i) {
    EXPECT_EQ(intervals[i].tag, written[i].first);
    EXPECT_EQ(intervals[i].start_s, static_cast<double>(i / 2) + (i % 2 == 1 ? 0.25 : 0.0));
    EXPECT_EQ(intervals[i].length_s, i % 2 == 1 ? 0.75 : 1.0);
    EXPECT_EQ(intervals[i].histogram, written[i].second) << i;
  }
  EXPECT_EQ(header.start_time_s, 1700000123.456);
  EXPECT_EQ(header.base_time_s, 1700000123.456);
}

TEST(HlogReader, SkipsCommentsLegendBlankLinesAndCarriageReturns) {
  const std::string b64 = to_base64(compress_v2(tiny_histogram()));
  std::istringstream in(
      "#[Histogram log format version 1.2]\r\n\r\n"
      "\"StartTimestamp\",\"EndTimestamp\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\r\n"
      "# a comment\n\n"
      "0.127,1.000,5.0," +
      b64 + "\r\n");  // HdrHistogram_c style line
  std::vector<HlogInterval> intervals;
  std::string error;
  ASSERT_TRUE(read_hlog(in, intervals, error)) << error;
  ASSERT_EQ(intervals.size(), 1u);
  EXPECT_EQ(intervals[0].tag, "");
  EXPECT_EQ(intervals[0].start_s, 0.127);
  EXPECT_EQ(intervals[0].histogram, tiny_histogram());
}

TEST(HlogReader, ReportsTheBadLine) {
  const std::string b64 = to_base64(compress_v2(tiny_histogram()));
  const std::string good = "Tag=t,0.000,1.000,5.000," + b64 + "\n";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"Tag=t\n", "tag without interval fields"},
      {"0.000,1.000," + b64 + "\n", "found 3"},
      {"0.000,1.000,5.0," + b64 + ",extra\n", "more than 4"},
      {"zero,1.000,5.0," + b64 + "\n", "not a number"},
      {"0.000,1.000,5.0,!!!!\n", "not valid base64"},
      {"0.000,1.000,5.0," + b64.substr(0, 20) + "\n", "histogram:"},
      {"0.000,1.000,5.0,Zm9vYmFy\n", "histogram:"},
  };
  for (const auto& [line, reason] : bad) {
    std::istringstream in("#[comment]\n" + good + line + good);
    std::vector<HlogInterval> intervals;
    std::string error;
    EXPECT_FALSE(read_hlog(in, intervals, error)) << line;
    EXPECT_TRUE(error.starts_with("line 3: ")) << error;
    EXPECT_NE(error.find(reason), std::string::npos) << error;
    EXPECT_EQ(intervals.size(), 1u);
  }
}

}  // namespace
}  // namespace ws::stats
