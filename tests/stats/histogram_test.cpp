// HdrHistogram: precision promises, coordinated-omission correction, merging and the bucket layout
// that .hlog readers rebuild from the header. Reference numbers are HdrHistogram's own tests
// (HistogramTest.java, hdr_histogram_test.c).
#include "stats/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace ws::stats {
namespace {

constexpr int64_t kHour = int64_t{3600} * 1000 * 1000;  // 1 h in microseconds
constexpr int kFigures = 3;

HdrHistogram hour_histogram() { return HdrHistogram(1, kHour, kFigures); }

// Latency-like values: log-normal around 1 ms with a long tail, in microseconds.
std::vector<int64_t> latency_like_values(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(1000.0), 1.0);
  std::vector<int64_t> values(n);
  for (auto& v : values) v = std::min<int64_t>(static_cast<int64_t>(dist(rng)), kHour);
  return values;
}

// What HdrHistogram_c's hdr_record_corrected_values does, one value at a time.
void record_corrected_reference(HdrHistogram& h, int64_t value, int64_t interval) {
  ASSERT_TRUE(h.record(value));
  if (interval <= 0 || value <= interval) return;
  for (int64_t missing = value - interval; missing >= interval; missing -= interval) {
    ASSERT_TRUE(h.record(missing));
  }
}

std::vector<double> percentile_grid() {
  std::vector<double> grid;
  for (int i = 0; i <= 1000; ++i) grid.push_back(i / 10.0);
  for (double p : {99.9, 99.99, 99.999, 99.9999}) grid.push_back(p);
  std::sort(grid.begin(), grid.end());
  return grid;
}

TEST(HdrHistogram, RejectsInvalidConfiguration) {
  EXPECT_THROW(HdrHistogram(0, kHour, 3), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(-5, kHour, 3), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1, kHour, 0), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1, kHour, 6), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1, kHour, -1), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1000, 1999, 3), std::invalid_argument);  // < 2 * lowest
  EXPECT_THROW(HdrHistogram(1, 1, 3), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1, -1, 3), std::invalid_argument);
  // unit_magnitude 60 + sub_bucket_half_count_magnitude 10 > 61.
  EXPECT_THROW(HdrHistogram(int64_t{1} << 60, INT64_MAX, 3), std::invalid_argument);
  EXPECT_NO_THROW(HdrHistogram(1000, 2000, 3));
  EXPECT_NO_THROW(HdrHistogram(1, INT64_MAX, 5));
}

TEST(HdrHistogram, LayoutMatchesReference) {
  const auto h = hour_histogram();
  EXPECT_EQ(h.lowest_discernible_value(), 1);
  EXPECT_EQ(h.highest_trackable_value(), kHour);
  EXPECT_EQ(h.significant_figures(), 3);
  EXPECT_EQ(h.unit_magnitude(), 0);
  EXPECT_EQ(h.sub_bucket_count(), 2048);
  EXPECT_EQ(h.sub_bucket_half_count(), 1024);
  EXPECT_EQ(h.sub_bucket_half_count_magnitude(), 10);
  EXPECT_EQ(h.sub_bucket_mask(), 2047);
  EXPECT_EQ(h.bucket_count(), 22);
  // HistogramTest.testGetEstimatedFootprintInBytes: (ceil(log2(3.6e9 / 2048)) + 2) * 2048 / 2.
  EXPECT_EQ(h.counts_len(), 23552);
  EXPECT_EQ(h.counts().size(), 23552u);
  EXPECT_LT(h.memory_size(), 23552 * 8 + 256u);

  // hdr_histogram_test.c test_create: hdr_alloc(36000000, 4) has 212992 counts.
  EXPECT_EQ(HdrHistogram(1, 36000000, 4).counts_len(), 212992);

  const HdrHistogram scaled(1000, kHour, 3);  // log2(1000) = 9.97 -> unit magnitude 9
  EXPECT_EQ(scaled.unit_magnitude(), 9);
  EXPECT_EQ(scaled.sub_bucket_mask(), int64_t{2047} << 9);

  const HdrHistogram wide(1, INT64_MAX, 3);
  EXPECT_EQ(wide.bucket_count(), 53);  // 2048 << 52 == 2^63 > INT64_MAX
}

TEST(HdrHistogram, CountsIndexMatchesReferenceLayout) {
  const auto h = hour_histogram();
  // Bucket 0 has unit resolution up to 2047; bucket b >= 1 covers [1024 << b, 2048 << b) in steps
  // of 2^b and starts at index (b + 1) * 1024.
  EXPECT_EQ(h.counts_index_for(0), 0);
  EXPECT_EQ(h.counts_index_for(1000), 1000);
  EXPECT_EQ(h.counts_index_for(2047), 2047);
  EXPECT_EQ(h.counts_index_for(2048), 2048);
  EXPECT_EQ(h.counts_index_for(2049), 2048);
  EXPECT_EQ(h.counts_index_for(4095), 3071);
  EXPECT_EQ(h.value_at_index(3071), 4094);
  // 1e8: 27 bits -> bucket 16, sub-bucket 1e8 >> 16 = 1525 -> index 17 * 1024 + 501.
  EXPECT_EQ(h.counts_index_for(100000000), 17909);
  EXPECT_EQ(h.value_at_index(17909), 1525 << 16);
  EXPECT_LT(h.counts_index_for(kHour), h.counts_len());

  // Index <-> value is a bijection over the whole array, for every precision and unit.
  for (int figures = 1; figures <= 5; ++figures) {
    for (int64_t lowest : {int64_t{1}, int64_t{1000}, int64_t{1024}}) {
      const HdrHistogram g(lowest, kHour, figures);
      for (int32_t i = 0; i < g.counts_len(); ++i) {
        const int64_t v = g.value_at_index(i);
        ASSERT_EQ(g.counts_index_for(v), i) << figures << " " << lowest;
        ASSERT_EQ(g.lowest_equivalent_value(v), v);
        if (i + 1 < g.counts_len()) {
          ASSERT_EQ(g.next_non_equivalent_value(v), g.value_at_index(i + 1));
        }
      }
    }
  }
}

TEST(HdrHistogram, EquivalentValueRanges) {
  // HistogramTest.java: testSizeOfEquivalentValueRange, testLowestEquivalentValue,
  // testScaledHighestEquivalentValue, testMedianEquivalentValue.
  const auto h = hour_histogram();
  EXPECT_EQ(h.size_of_equivalent_value_range(1), 1);
  EXPECT_EQ(h.size_of_equivalent_value_range(2500), 2);
  EXPECT_EQ(h.size_of_equivalent_value_range(8191), 4);
  EXPECT_EQ(h.size_of_equivalent_value_range(8192), 8);
  EXPECT_EQ(h.size_of_equivalent_value_range(10000), 8);
  EXPECT_EQ(h.lowest_equivalent_value(10007), 10000);
  EXPECT_EQ(h.lowest_equivalent_value(10009), 10008);
  EXPECT_EQ(h.highest_equivalent_value(8180), 8183);
  EXPECT_EQ(h.highest_equivalent_value(8191), 8191);
  EXPECT_EQ(h.highest_equivalent_value(8193), 8199);
  EXPECT_EQ(h.highest_equivalent_value(9995), 9999);
  EXPECT_EQ(h.highest_equivalent_value(10007), 10007);
  EXPECT_EQ(h.highest_equivalent_value(10008), 10015);
  EXPECT_EQ(h.median_equivalent_value(4), 4);
  EXPECT_EQ(h.median_equivalent_value(5), 5);
  EXPECT_EQ(h.median_equivalent_value(4000), 4001);
  EXPECT_EQ(h.median_equivalent_value(8000), 8002);
  EXPECT_EQ(h.median_equivalent_value(10007), 10004);
  EXPECT_TRUE(h.values_are_equivalent(10000, 10007));
  EXPECT_FALSE(h.values_are_equivalent(10007, 10008));

  // Scaled: lowest discernible value 1024 (testScaled*, testHighestEquivalentValue).
  const HdrHistogram s(1024, kHour, kFigures);
  EXPECT_EQ(s.size_of_equivalent_value_range(1 * 1024), 1 * 1024);
  EXPECT_EQ(s.size_of_equivalent_value_range(2500 * 1024), 2 * 1024);
  EXPECT_EQ(s.size_of_equivalent_value_range(8191 * 1024), 4 * 1024);
  EXPECT_EQ(s.size_of_equivalent_value_range(8192 * 1024), 8 * 1024);
  EXPECT_EQ(s.size_of_equivalent_value_range(10000 * 1024), 8 * 1024);
  EXPECT_EQ(s.lowest_equivalent_value(10007 * 1024), 10000 * 1024);
  EXPECT_EQ(s.lowest_equivalent_value(10009 * 1024), 10008 * 1024);
  EXPECT_EQ(s.highest_equivalent_value(8180 * 1024), 8183 * 1024 + 1023);
  EXPECT_EQ(s.highest_equivalent_value(8191 * 1024), 8191 * 1024 + 1023);
  EXPECT_EQ(s.highest_equivalent_value(8193 * 1024), 8199 * 1024 + 1023);
  EXPECT_EQ(s.highest_equivalent_value(9995 * 1024), 9999 * 1024 + 1023);
  EXPECT_EQ(s.highest_equivalent_value(10007 * 1024), 10007 * 1024 + 1023);
  EXPECT_EQ(s.highest_equivalent_value(10008 * 1024), 10015 * 1024 + 1023);
  EXPECT_EQ(s.median_equivalent_value(4 * 1024), 4 * 1024 + 512);
  EXPECT_EQ(s.median_equivalent_value(5 * 1024), 5 * 1024 + 512);
  EXPECT_EQ(s.median_equivalent_value(4000 * 1024), 4001 * 1024);
  EXPECT_EQ(s.median_equivalent_value(8000 * 1024), 8002 * 1024);
  EXPECT_EQ(s.median_equivalent_value(10007 * 1024), 10004 * 1024);
}

TEST(HdrHistogram, EquivalenceRangeKeepsPromisedPrecisionAtEveryMagnitude) {
  std::mt19937_64 rng(7);
  for (int figures = 1; figures <= 5; ++figures) {
    int64_t ten_pow = 1;
    for (int i = 0; i < figures; ++i) ten_pow *= 10;
    for (int64_t lowest : {int64_t{1}, int64_t{1000}}) {
      const HdrHistogram h(lowest, INT64_MAX / 4, figures);
      for (int magnitude = 0; magnitude < 61; ++magnitude) {
        const int64_t base = int64_t{1} << magnitude;
        const auto v =
            static_cast<int64_t>(base + static_cast<int64_t>(rng() % static_cast<uint64_t>(base)));
        const int64_t low = h.lowest_equivalent_value(v);
        const int64_t high = h.highest_equivalent_value(v);
        const int64_t size = h.size_of_equivalent_value_range(v);
        ASSERT_LE(low, v);
        ASSERT_GE(high, v);
        ASSERT_EQ(high - low + 1, size);
        ASSERT_LE(low, h.median_equivalent_value(v));
        ASSERT_LE(h.median_equivalent_value(v), high);
        ASSERT_TRUE(h.values_are_equivalent(low, high));
        ASSERT_FALSE(h.values_are_equivalent(low, high + 1));
        // Resolution is the unit (below lowest discernible) or at most 10^-figures of the value.
        const int64_t unit = int64_t{1} << h.unit_magnitude();
        ASSERT_TRUE(size == unit || size * ten_pow <= v) << "figures " << figures << " value " << v;
      }
    }
  }
}

TEST(HdrHistogram, PercentilesOfUniformDataWithinPromisedPrecision) {
  auto h = hour_histogram();
  constexpr int64_t kN = 1000000;
  for (int64_t v = 1; v <= kN; ++v) ASSERT_TRUE(h.record(v));
  EXPECT_EQ(h.total_count(), kN);

  auto expect_near_relative = [](int64_t actual, double expected) {
    EXPECT_LE(std::abs(static_cast<double>(actual) - expected), expected * 0.001)
        << actual << " vs " << expected;
  };
  expect_near_relative(h.value_at_percentile(50), 500000);
  expect_near_relative(h.value_at_percentile(90), 900000);
  expect_near_relative(h.value_at_percentile(99), 990000);
  expect_near_relative(h.value_at_percentile(99.9), 999000);
  expect_near_relative(h.value_at_percentile(99.99), 999900);
  EXPECT_TRUE(h.values_are_equivalent(h.max(), kN));
  EXPECT_EQ(h.max(), h.highest_equivalent_value(kN));
  EXPECT_EQ(h.value_at_percentile(100), h.max());
  EXPECT_EQ(h.value_at_percentile(150), h.max());
  EXPECT_EQ(h.value_at_percentile(0), 1);
  EXPECT_EQ(h.min(), 1);
  EXPECT_NEAR(h.mean(), 500000.5, 500000.5 * 0.001);
  // Every percentile is within 0.1% of the exact order statistic, and never below it.
  for (double p : percentile_grid()) {
    if (p == 0.0) continue;
    const int64_t exact = std::max<int64_t>(std::llround(p / 100.0 * kN), 1);
    const int64_t got = h.value_at_percentile(p);
    ASSERT_GE(got, exact) << p;
    ASSERT_LE(static_cast<double>(got - exact),
              std::max<double>(static_cast<double>(exact) * 0.001, 1.0))
        << p;
  }
}

TEST(HdrHistogram, ValuesAboveHighestTrackableAreRejectedAndCounted) {
  HdrHistogram h(1, 1000000, 3);
  EXPECT_TRUE(h.record(1000000));
  EXPECT_FALSE(h.record(1000001));
  EXPECT_FALSE(h.record(INT64_MAX));
  EXPECT_FALSE(h.record(-1));
  EXPECT_FALSE(h.record(INT64_MIN));
  EXPECT_FALSE(h.record_n(2000000, 5));
  EXPECT_FALSE(h.record_corrected(5000000, 1000));
  EXPECT_EQ(h.total_count(), 1);
  EXPECT_EQ(h.out_of_range_count(), 1 + 1 + 1 + 1 + 5 + 1);
  EXPECT_TRUE(h.values_are_equivalent(h.max(), 1000000));
  EXPECT_EQ(h.count_at_value(1000001), 0);
  EXPECT_EQ(h.count_at_value(-1), 0);
  EXPECT_EQ(h.count_at_value(1000000), 1);
  // The highest trackable value's slot can hold values above it; they are still rejected.
  EXPECT_GT(h.highest_equivalent_value(1000000), 1000000);
  EXPECT_FALSE(h.record(h.highest_equivalent_value(1000000)));

  // record_n edge cases: zero is a no-op, negative counts are refused without counting.
  EXPECT_TRUE(h.record_n(10, 0));
  EXPECT_FALSE(h.record_n(10, -3));
  EXPECT_EQ(h.total_count(), 1);
  EXPECT_EQ(h.count_at_value(10), 0);
  EXPECT_EQ(h.out_of_range_count(), 11);
}

// hdr_histogram_test.c load_histograms(): 10,000 responses of 1 ms while sending every 10 ms,
// then one 100 s stall. Units are microseconds.
struct CorrectedFixture {
  HdrHistogram raw = hour_histogram();
  HdrHistogram corrected = hour_histogram();
  CorrectedFixture() {
    for (int i = 0; i < 10000; ++i) {
      raw.record(1000);
      corrected.record_corrected(1000, 10000);
    }
    raw.record(100000000);
    corrected.record_corrected(100000000, 10000);
  }
};

TEST(HdrHistogram, CorrectedRecordingMatchesReferenceExample) {
  const CorrectedFixture f;
  EXPECT_EQ(f.raw.total_count(), 10001);
  EXPECT_EQ(f.corrected.total_count(), 20000);  // the stall back-fills 9,999 values + itself
  EXPECT_EQ(f.raw.min(), 1000);
  EXPECT_EQ(f.corrected.min(), 1000);
  EXPECT_TRUE(f.raw.values_are_equivalent(f.raw.max(), 100000000));
  EXPECT_TRUE(f.corrected.values_are_equivalent(f.corrected.max(), 100000000));

  auto near = [](int64_t actual, double expected) {
    return std::abs(static_cast<double>(actual) - expected) <= expected * 0.001;
  };
  // test_percentiles.
  EXPECT_TRUE(near(f.raw.value_at_percentile(30.0), 1000.0));
  EXPECT_TRUE(near(f.raw.value_at_percentile(99.0), 1000.0));
  EXPECT_TRUE(near(f.raw.value_at_percentile(99.99), 1000.0));
  EXPECT_TRUE(near(f.raw.value_at_percentile(99.999), 100000000.0));
  EXPECT_TRUE(near(f.raw.value_at_percentile(100.0), 100000000.0));
  EXPECT_TRUE(near(f.corrected.value_at_percentile(30.0), 1000.0));
  EXPECT_TRUE(near(f.corrected.value_at_percentile(50.0), 1000.0));
  EXPECT_TRUE(near(f.corrected.value_at_percentile(75.0), 50000000.0));
  EXPECT_TRUE(near(f.corrected.value_at_percentile(90.0), 80000000.0));
  EXPECT_TRUE(near(f.corrected.value_at_percentile(99.0), 98000000.0));
  EXPECT_TRUE(near(f.corrected.value_at_percentile(99.999), 100000000.0));
  EXPECT_TRUE(near(f.corrected.value_at_percentile(100.0), 100000000.0));
  // The point of the correction: the uncorrected p99 hides the stall entirely.
  EXPECT_GT(f.corrected.value_at_percentile(99.0), 10000 * f.raw.value_at_percentile(99.0));

  // HistogramTest.java testGetMean / testGetStdDeviation, to 0.1%.
  const double raw_mean = (10000.0 * 1000 + 100000000.0) / 10001;
  const double raw_stddev = std::sqrt(
      (10000.0 * std::pow(1000.0 - raw_mean, 2) + std::pow(100000000.0 - raw_mean, 2)) / 10001);
  const double corrected_mean = (1000.0 + 50000000.0) / 2;
  double square_deviations = 10000 * std::pow(1000.0 - corrected_mean, 2);
  for (int64_t v = 10000; v <= 100000000; v += 10000) {
    square_deviations += std::pow(static_cast<double>(v) - corrected_mean, 2);
  }
  const double corrected_stddev = std::sqrt(square_deviations / 20000);
  EXPECT_NEAR(f.raw.mean(), raw_mean, raw_mean * 0.001);
  EXPECT_NEAR(f.corrected.mean(), corrected_mean, corrected_mean * 0.001);
  EXPECT_NEAR(f.raw.stddev(), raw_stddev, raw_stddev * 0.001);
  EXPECT_NEAR(f.corrected.stddev(), corrected_stddev, corrected_stddev * 0.001);
}

TEST(HdrHistogram, CorrectedRecordingBackFillsEveryInterval) {
  // HistogramTest.java testRecordValueWithExpectedInterval (testValueLevel 4, interval 1).
  auto h = hour_histogram();
  ASSERT_TRUE(h.record_corrected(4, 1));
  EXPECT_EQ(h.count_at_value(1), 1);
  EXPECT_EQ(h.count_at_value(2), 1);
  EXPECT_EQ(h.count_at_value(3), 1);
  EXPECT_EQ(h.count_at_value(4), 1);
  EXPECT_EQ(h.total_count(), 4);

  // No correction when the value is within the interval or the interval is not positive.
  auto g = hour_histogram();
  ASSERT_TRUE(g.record_corrected(10, 10));
  ASSERT_TRUE(g.record_corrected(500, 0));
  ASSERT_TRUE(g.record_corrected(500, -7));
  EXPECT_EQ(g.total_count(), 3);

  // record_corrected_n weights every back-filled value by the count.
  auto n = hour_histogram();
  ASSERT_TRUE(n.record_corrected_n(40, 3, 10));
  EXPECT_EQ(n.count_at_value(10), 3);
  EXPECT_EQ(n.count_at_value(40), 3);
  EXPECT_EQ(n.total_count(), 12);
}

TEST(HdrHistogram, CorrectedRecordingEqualsOneValueAtATimeLoop) {
  struct Case {
    int64_t lowest, value, interval;
  };
  const Case cases[] = {
      {1, 100000000, 10000}, {1, 3600000000, 1}, {1, 1000000, 3},       {1, 2047, 2},
      {1, 15, 10},           {1, 5000, 4999},    {1, 5000, 2500},       {1000, 100000000, 10000},
      {1000, 50000, 7},      {1, kHour, 999999}, {1, 123456789, 12345},
  };
  for (const auto& c : cases) {
    if (c.interval == 1 && c.value > 100000000) continue;  // the reference loop would take long
    HdrHistogram fast(c.lowest, kHour, kFigures);
    HdrHistogram reference(c.lowest, kHour, kFigures);
    ASSERT_TRUE(fast.record_corrected(c.value, c.interval));
    record_corrected_reference(reference, c.value, c.interval);
    ASSERT_EQ(fast, reference) << c.value << " / " << c.interval;
    ASSERT_EQ(fast.min(), reference.min());
  }
  // A one-hour stall at a 1 us schedule: 3.6e9 back-filled values, bounded work.
  auto h = hour_histogram();
  ASSERT_TRUE(h.record_corrected(kHour, 1));
  EXPECT_EQ(h.total_count(), kHour);
  EXPECT_EQ(h.min(), 1);
  EXPECT_TRUE(h.values_are_equivalent(h.value_at_percentile(50), kHour / 2));

  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    const auto value = static_cast<int64_t>(rng() % 5000000) + 1;
    const auto interval = static_cast<int64_t>(rng() % 20000) + 1;
    auto fast = hour_histogram();
    auto reference = hour_histogram();
    fast.record(17);
    reference.record(17);
    ASSERT_TRUE(fast.record_corrected(value, interval));
    record_corrected_reference(reference, value, interval);
    ASSERT_EQ(fast, reference) << value << " / " << interval;
  }
}

TEST(HdrHistogram, MergeEqualsRecordingEverythingIntoOne) {
  const auto a_values = latency_like_values(200000, 1);
  const auto b_values = latency_like_values(150000, 2);
  auto a = hour_histogram();
  auto b = hour_histogram();
  auto all = hour_histogram();
  for (int64_t v : a_values) {
    a.record(v);
    all.record(v);
  }
  for (int64_t v : b_values) {
    b.record_corrected(v, 20000);
    all.record_corrected(v, 20000);
  }
  ASSERT_TRUE(a.add(b));
  EXPECT_EQ(a, all);
  EXPECT_EQ(a.total_count(), all.total_count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  EXPECT_DOUBLE_EQ(a.stddev(), all.stddev());
  for (double p : percentile_grid())
    ASSERT_EQ(a.value_at_percentile(p), all.value_at_percentile(p)) << p;

  // Merging into a histogram with a larger range but the same precision is still exact.
  HdrHistogram wide(1, kHour * 1000, kFigures);
  ASSERT_TRUE(wide.add(all));
  for (double p : percentile_grid())
    ASSERT_EQ(wide.value_at_percentile(p), all.value_at_percentile(p)) << p;

  // Adding a histogram to itself doubles every count.
  auto twice = all;
  ASSERT_TRUE(twice.add(twice));
  EXPECT_EQ(twice.total_count(), 2 * all.total_count());
  for (int32_t i = 0; i < all.counts_len(); ++i)
    ASSERT_EQ(twice.count_at_index(i), 2 * all.count_at_index(i));

  // Adding an empty histogram changes nothing.
  auto same = all;
  ASSERT_TRUE(same.add(hour_histogram()));
  EXPECT_EQ(same, all);
}

TEST(HdrHistogram, MergeAcrossConfigurationsReRecordsAndReportsDropped) {
  // Different unit magnitude: slot values are re-recorded, each staying within its precision.
  const auto values = latency_like_values(50000, 5);
  HdrHistogram fine(1, kHour, 3);
  HdrHistogram coarse(1000, kHour, 2);
  for (int64_t v : values) fine.record(v);
  ASSERT_TRUE(coarse.add(fine));
  EXPECT_EQ(coarse.total_count(), fine.total_count());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double expected = static_cast<double>(fine.value_at_percentile(p));
    EXPECT_LE(std::abs(static_cast<double>(coarse.value_at_percentile(p)) - expected),
              std::max(expected * 0.01, 1024.0))
        << p;
  }

  // Values the destination cannot hold are dropped, counted, and make add() return false.
  HdrHistogram small(1, 10000, 2);
  auto big = hour_histogram();
  big.record_n(5000, 7);
  big.record_n(20000, 3);
  big.record(-1);  // rejected by `big`; carried over as out of range
  EXPECT_FALSE(small.add(big));
  EXPECT_EQ(small.total_count(), 7);
  EXPECT_EQ(small.count_at_value(5000), 7);
  EXPECT_EQ(small.out_of_range_count(), 3 + 1);

  // Same layout (same unit and precision, smaller range) but out-of-range contents: not exact.
  HdrHistogram small_same_layout(1, 10000, 3);
  EXPECT_FALSE(small_same_layout.add(big));
  EXPECT_EQ(small_same_layout.total_count(), 7);
}

TEST(HdrHistogram, ResetClearsEverythingAndHistogramIsReusable) {
  auto h = hour_histogram();
  for (int64_t v : latency_like_values(10000, 9)) h.record(v);
  h.record(0);
  h.record(-4);
  h.reset();
  EXPECT_EQ(h.total_count(), 0);
  EXPECT_EQ(h.out_of_range_count(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_EQ(h.value_at_percentile(99), 0);
  for (int64_t c : h.counts()) ASSERT_EQ(c, 0);
  EXPECT_EQ(h, hour_histogram());

  ASSERT_TRUE(h.record(4));
  EXPECT_EQ(h.count_at_value(4), 1);
  EXPECT_EQ(h.total_count(), 1);
  EXPECT_EQ(h.min(), 4);
  EXPECT_EQ(h.max(), 4);
}

TEST(HdrHistogram, CopyIsAnIndependentSnapshot) {
  auto active = hour_histogram();
  for (int64_t v : latency_like_values(1000, 11)) active.record(v);
  const HdrHistogram snapshot = active;  // interval tick: copy, then reset
  const auto p99 = active.value_at_percentile(99);
  active.reset();
  active.record(1);
  EXPECT_EQ(snapshot.total_count(), 1000);
  EXPECT_EQ(snapshot.value_at_percentile(99), p99);

  // Swap pattern: no copy, no allocation.
  auto spare = hour_histogram();
  for (int i = 0; i < 5; ++i) active.record(100);
  swap(active, spare);
  active.reset();
  EXPECT_EQ(spare.total_count(), 6);
  EXPECT_EQ(active.total_count(), 0);
  ASSERT_TRUE(active.record(7));
  EXPECT_EQ(active.count_at_value(7), 1);

  auto assigned = hour_histogram();
  assigned = spare;
  EXPECT_EQ(assigned, spare);
}

TEST(HdrHistogram, MeanAndStddevOfKnownData) {
  // 1..1000 are all below 2048, so every value has its own slot and the results are exact.
  auto h = hour_histogram();
  for (int64_t v = 1; v <= 1000; ++v) h.record(v);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
  EXPECT_NEAR(h.stddev(), std::sqrt((1000.0 * 1000.0 - 1) / 12), 1e-9);

  // Two point masses far apart: mean halfway, stddev half the distance, within precision.
  auto g = hour_histogram();
  g.record_n(1000000, 500);
  g.record_n(3000000, 500);
  EXPECT_NEAR(g.mean(), 2000000.0, 2000000.0 * 0.001);
  EXPECT_NEAR(g.stddev(), 1000000.0, 1000000.0 * 0.001);

  // A constant has no spread beyond its slot.
  auto c = hour_histogram();
  c.record_n(777, 1000);
  EXPECT_DOUBLE_EQ(c.mean(), 777.0);
  EXPECT_DOUBLE_EQ(c.stddev(), 0.0);
}

// The figures the reports add beside p50/p90/p99: p95 lies between p90 and p99 of a known
// distribution, and the mean is the arithmetic mean of what was recorded, within the precision.
TEST(HdrHistogram, P95AndMeanOfLatencyLikeData) {
  auto h = hour_histogram();
  const auto values = latency_like_values(100000, 7);
  double sum = 0;
  for (int64_t v : values) {
    ASSERT_TRUE(h.record(v));
    sum += static_cast<double>(v);
  }
  std::vector<int64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const int64_t exact_p95 = sorted[sorted.size() * 95 / 100 - 1];
  const int64_t p95 = h.value_at_percentile(95);
  EXPECT_GE(p95, h.value_at_percentile(90));
  EXPECT_LE(p95, h.value_at_percentile(99));
  EXPECT_TRUE(h.values_are_equivalent(p95, exact_p95)) << p95 << " vs " << exact_p95;
  EXPECT_NEAR(h.mean(), sum / static_cast<double>(values.size()), sum / static_cast<double>(values.size()) * 1e-3);
}

TEST(HdrHistogram, BatchPercentilesEqualSingleLookups) {
  auto h = hour_histogram();
  for (int64_t v : latency_like_values(100000, 13)) h.record_corrected(v, 5000);
  const auto grid = percentile_grid();
  std::vector<int64_t> values(grid.size());
  ASSERT_TRUE(h.value_at_percentiles(grid, values));
  for (size_t i = 0; i < grid.size(); ++i)
    ASSERT_EQ(values[i], h.value_at_percentile(grid[i])) << grid[i];

  const double unsorted[] = {99.0, 50.0};
  int64_t out[2] = {-1, -1};
  EXPECT_FALSE(h.value_at_percentiles(unsorted, out));
  EXPECT_EQ(out[0], -1);
  int64_t short_out[1];
  EXPECT_FALSE(h.value_at_percentiles(grid, short_out));

  const auto empty = hour_histogram();
  ASSERT_TRUE(empty.value_at_percentiles(grid, values));
  for (int64_t v : values) ASSERT_EQ(v, 0);
}

TEST(HdrHistogram, ZeroAndTinyValues) {
  auto h = hour_histogram();
  ASSERT_TRUE(h.record(0));
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.count_at_value(0), 1);
  ASSERT_TRUE(h.record(3));
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 3);
  EXPECT_EQ(h.value_at_percentile(50), 0);
  EXPECT_EQ(h.value_at_percentile(100), 3);

  // Below the lowest discernible value, values share its resolution.
  HdrHistogram coarse(1000, kHour, 3);
  ASSERT_TRUE(coarse.record(5));
  EXPECT_EQ(coarse.count_at_value(0), 1);
  EXPECT_EQ(coarse.max(), 511);  // unit magnitude 9: slot [0, 512)
}

TEST(HdrHistogram, ExtremeValuesDoNotOverflow) {
  HdrHistogram h(1, INT64_MAX, 3);
  ASSERT_TRUE(h.record(INT64_MAX));
  ASSERT_TRUE(h.record(INT64_MAX - 1));
  ASSERT_TRUE(h.record(1));
  EXPECT_EQ(h.max(), INT64_MAX);
  EXPECT_EQ(h.highest_equivalent_value(INT64_MAX), INT64_MAX);
  EXPECT_EQ(h.value_at_percentile(100), INT64_MAX);
  EXPECT_EQ(h.value_at_percentile(0), 1);
  EXPECT_GT(h.mean(), 6e18);
  EXPECT_EQ(h.counts_index_for(INT64_MAX), h.counts_len() - 1);
  EXPECT_EQ(h.value_at_percentile(std::numeric_limits<double>::quiet_NaN()), INT64_MAX);
  EXPECT_EQ(h.value_at_percentile(-1e300), 1);
  EXPECT_EQ(h.value_at_percentile(1e300), INT64_MAX);
  ASSERT_TRUE(h.record_corrected(INT64_MAX, INT64_MAX / 3));
  EXPECT_EQ(h.total_count(), 3 + 3);
}

TEST(HdrHistogram, RecordedSlotsRebuildTheHistogram) {
  // What an .hlog encoder/decoder pair relies on: the counts array plus the configuration.
  auto original = hour_histogram();
  for (int64_t v : latency_like_values(20000, 17)) original.record_corrected(v, 3000);
  original.record(0);

  int64_t total = 0;
  int64_t previous = -1;
  double weighted_medians = 0;
  HdrHistogram by_value = hour_histogram();
  original.for_each_recorded([&](int64_t value, int64_t count) {
    weighted_medians +=
        static_cast<double>(count) * static_cast<double>(original.median_equivalent_value(value));
    EXPECT_GT(value, previous);
    EXPECT_GT(count, 0);
    EXPECT_EQ(original.count_at_value(value), count);
    previous = value;
    total += count;
    by_value.record_n(value, count);
  });
  EXPECT_EQ(total, original.total_count());
  EXPECT_EQ(by_value, original);
  // mean() is the count-weighted median equivalent value of the recorded slots.
  EXPECT_DOUBLE_EQ(original.mean(), weighted_medians / static_cast<double>(total));

  HdrHistogram by_index(original.lowest_discernible_value(), original.highest_trackable_value(),
                        original.significant_figures());
  const auto counts = original.counts();
  for (int32_t i = 0; i < original.counts_len(); ++i) {
    ASSERT_TRUE(by_index.add_count_at_index(i, counts[static_cast<size_t>(i)]));
  }
  EXPECT_EQ(by_index, original);
  for (double p : percentile_grid())
    ASSERT_EQ(by_index.value_at_percentile(p), original.value_at_percentile(p));
  EXPECT_FALSE(by_index.add_count_at_index(-1, 1));
  EXPECT_FALSE(by_index.add_count_at_index(original.counts_len(), 1));
  EXPECT_FALSE(by_index.add_count_at_index(0, -1));
}

TEST(HdrHistogram, EmptyHistogram) {
  const auto h = hour_histogram();
  EXPECT_EQ(h.total_count(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_EQ(h.value_at_percentile(50), 0);
  EXPECT_EQ(h.value_at_percentile(100), 0);
  int calls = 0;
  h.for_each_recorded([&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace ws::stats
