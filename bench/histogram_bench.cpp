// What one latency sample costs a worker thread, and what interval reporting and merging cost.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "stats/histogram.h"

namespace ws::stats {
namespace {

constexpr int64_t kHourUs = int64_t{3600} * 1000 * 1000;

HdrHistogram hour_histogram() { return HdrHistogram(1, kHourUs, 3); }

// Latency-like microsecond values: log-normal around 1 ms with a long tail. 64 Ki values, a power
// of two so the index wraps with a mask.
const std::vector<int64_t>& latency_values() {
  static const std::vector<int64_t> values = [] {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(std::log(1000.0), 1.0);
    std::vector<int64_t> v(size_t{1} << 16);
    for (auto& x : v) x = std::min<int64_t>(static_cast<int64_t>(dist(rng)), kHourUs);
    return v;
  }();
  return values;
}

void BM_Record(benchmark::State& state) {
  auto h = hour_histogram();
  const auto& values = latency_values();
  const size_t mask = values.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.record(values[i++ & mask]));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Record);

// Corrected recording on a 10 ms schedule: most samples are below the interval (one record),
// the tail back-fills.
void BM_RecordCorrected(benchmark::State& state) {
  auto h = hour_histogram();
  const auto& values = latency_values();
  const int64_t interval = state.range(0);
  const size_t mask = values.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.record_corrected(values[i++ & mask], interval));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RecordCorrected)->Arg(10000)->Arg(1000);

// Worst case for correction: a 100 s stall on a 1 us schedule (1e8 back-filled values).
void BM_RecordCorrectedStall(benchmark::State& state) {
  auto h = hour_histogram();
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.record_corrected(100000000, 1));
  }
}
BENCHMARK(BM_RecordCorrectedStall);

HdrHistogram filled_histogram(uint64_t seed) {
  auto h = hour_histogram();
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(1000.0), 1.0);
  for (int i = 0; i < 1000000; ++i) {
    h.record(std::min<int64_t>(static_cast<int64_t>(dist(rng)), kHourUs));
  }
  return h;
}

void BM_ValueAtPercentile(benchmark::State& state) {
  const auto h = filled_histogram(1);
  const double percentile = static_cast<double>(state.range(0)) / 1000.0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.value_at_percentile(percentile));
  }
}
BENCHMARK(BM_ValueAtPercentile)->Arg(50000)->Arg(99000)->Arg(99990)->Arg(100000);

// The human summary's percentile set in one pass.
void BM_ValueAtPercentiles(benchmark::State& state) {
  const auto h = filled_histogram(1);
  const double percentiles[] = {50, 75, 90, 99, 99.9, 99.99, 99.999, 100};
  int64_t values[8];
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.value_at_percentiles(percentiles, values));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ValueAtPercentiles);

// Merging two 1 us .. 1 h histograms (same layout: slot-by-slot fast path).
void BM_AddSameLayout(benchmark::State& state) {
  auto total = filled_histogram(1);
  const auto other = filled_histogram(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(total.add(other));
  }
}
BENCHMARK(BM_AddSameLayout);

// Merging across layouts (1 us .. 1 h at 3 figures into 1 us .. 1 h at 2 figures): re-records.
void BM_AddDifferentLayout(benchmark::State& state) {
  HdrHistogram total(1, kHourUs, 2);
  const auto other = filled_histogram(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(total.add(other));
  }
}
BENCHMARK(BM_AddDifferentLayout);

// Interval tick: snapshot by copy-assignment into a preallocated histogram, then reset.
void BM_SnapshotAndReset(benchmark::State& state) {
  const auto source = filled_histogram(3);
  auto active = source;
  auto snapshot = hour_histogram();
  for (auto _ : state) {
    snapshot = active;
    active.reset();
    benchmark::DoNotOptimize(snapshot.total_count());
    state.PauseTiming();
    active = source;
    state.ResumeTiming();
  }
}
BENCHMARK(BM_SnapshotAndReset);

void BM_MeanStddev(benchmark::State& state) {
  const auto h = filled_histogram(4);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.mean());
    benchmark::DoNotOptimize(h.stddev());
  }
}
BENCHMARK(BM_MeanStddev);

}  // namespace
}  // namespace ws::stats
