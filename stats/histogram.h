// HdrHistogram (Gil Tene's algorithm) with exactly HdrHistogram_c's bucket layout, so counts
// indexes and value-equivalence ranges match the reference and the .hlog V2 logs that
// HdrHistogram's tools read. Values are plain integers in whatever unit the caller picks.
//
// One histogram belongs to one thread: recording is O(1) with no locks, atomics or allocation.
// Threads keep their own histograms and add() them together at interval ticks and at the end.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace ws::stats {

// Allocates zeroed memory with calloc and leaves default-constructed elements as they are, so a
// new counts array of 184 KiB costs what the pages it touches cost, not a memset of all of them:
// fresh pages from the kernel are zero already, and glibc's calloc clears only reused memory.
// A short run builds dozens of histograms; zeroing them was 11% of the CPU of 500 clients sending
// 100 records each (perf, bench/compare.py scenario 8).
template <typename T>
struct ZeroedAllocator {
  using value_type = T;
  ZeroedAllocator() = default;
  template <typename U>
  ZeroedAllocator(const ZeroedAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    if (void* p = std::calloc(n, sizeof(T))) return static_cast<T*>(p);
    throw std::bad_alloc();
  }
  void deallocate(T* p, size_t) noexcept { std::free(p); }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
      ::new (static_cast<void*>(p)) U;  // default-initialised: the zero calloc left stays
    } else {
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
  }
  friend bool operator==(const ZeroedAllocator&, const ZeroedAllocator&) noexcept { return true; }
};

class HdrHistogram {
 public:
  // Tracks values in [0, highest_trackable_value] with `significant_figures` decimal digits of
  // precision; values below lowest_discernible_value share its resolution.
  // Throws std::invalid_argument unless lowest_discernible_value >= 1,
  // highest_trackable_value >= 2 * lowest_discernible_value, significant_figures in 1..5, and the
  // layout fits 64-bit values (as hdr_calculate_bucket_config checks).
  HdrHistogram(int64_t lowest_discernible_value, int64_t highest_trackable_value,
               int significant_figures);

  // Copies are full snapshots (copy-assigning between histograms of the same configuration reuses
  // the destination's storage). For interval reporting without copying, keep two histograms,
  // swap() them at the tick and reset() the one that becomes active again.
  // A moved-from histogram may only be assigned to or destroyed.
  HdrHistogram(const HdrHistogram&) = default;
  HdrHistogram& operator=(const HdrHistogram&) = default;
  HdrHistogram(HdrHistogram&&) noexcept = default;
  HdrHistogram& operator=(HdrHistogram&&) noexcept = default;
  ~HdrHistogram() = default;
  void swap(HdrHistogram& other) noexcept;

  // --- Recording (hot path: O(1), no allocation, no locks) ---

  // Returns false and records nothing if value < 0 or value > highest_trackable_value(); the
  // rejected count is added to out_of_range_count().
  bool record(int64_t value) noexcept;
  // As record(), `count` times at once. count == 0 is a no-op; count < 0 returns false (and is not
  // an out-of-range value).
  bool record_n(int64_t value, int64_t count) noexcept;

  // Coordinated-omission correction as HdrHistogram's recordValueWithExpectedInterval /
  // hdr_record_corrected_values: records `value`, then, if value > expected_interval, also the
  // values the stalled caller would have measured had it kept its schedule:
  // value - k * expected_interval for k = 1, 2, ... while >= expected_interval.
  // expected_interval <= 0 disables the correction. The result is identical to that loop, but
  // back-filled values that land in one counts slot are added at once, so the cost is bounded by
  // the number of slots (a few thousand), not by value / expected_interval.
  bool record_corrected(int64_t value, int64_t expected_interval) noexcept;
  bool record_corrected_n(int64_t value, int64_t count, int64_t expected_interval) noexcept;

  // Adds every count of `other`. With the same bucket layout (same significant figures and same
  // power of two below the lowest discernible value; the highest trackable values may differ as
  // long as other's values fit here) the counts arrays are added slot by slot, which is exact;
  // otherwise each recorded slot of `other` is re-recorded by its lowest value (as hdr_add).
  // Returns false if some of other's values did not fit here: those counts are dropped and added
  // to out_of_range_count(). other.out_of_range_count() is carried over too, so a merged
  // histogram reports every value its sources rejected. Safe when &other == this.
  bool add(const HdrHistogram& other) noexcept;

  // Clears all counts and out_of_range_count(); keeps the configuration and storage. Zeroes only
  // the slots up to the largest recorded value, not all counts_len().
  void reset() noexcept;

  // --- Queries ---

  int64_t total_count() const noexcept { return total_count_; }
  // Counts rejected by record*()/add() since construction or reset(), including those that
  // histograms merged in with add() had rejected.
  int64_t out_of_range_count() const noexcept { return out_of_range_count_; }

  // As in HdrHistogram: min() is the lowest equivalent value of the smallest recorded value and
  // max() the highest equivalent value of the largest (so they are exact only up to the
  // histogram's precision). Both are 0 for an empty histogram.
  int64_t min() const noexcept;
  int64_t max() const noexcept;
  // Computed from each slot's median equivalent value, as hdr_mean/hdr_stddev. 0 when empty.
  double mean() const noexcept;
  double stddev() const noexcept;

  // hdr_value_at_percentile: the highest equivalent value of the first slot at which the
  // cumulative count reaches round(percentile / 100 * total_count) (at least 1); for percentile 0
  // the lowest equivalent value of the first recorded slot. Percentiles above 100 (and NaN) mean
  // 100, so value_at_percentile(100) == max(). 0 when empty. O(counts_len()).
  int64_t value_at_percentile(double percentile) const noexcept;
  // Many percentiles in one pass; each result equals value_at_percentile(percentiles[i]).
  // Returns false (writing nothing) unless the spans have equal sizes and percentiles ascend.
  bool value_at_percentiles(std::span<const double> percentiles,
                            std::span<int64_t> values) const noexcept;

  // Count in the slot holding `value`; 0 for values outside [0, highest_trackable_value()].
  int64_t count_at_value(int64_t value) const noexcept;

  // --- Value equivalence (values in one counts slot are equivalent). Arguments must be >= 0. ---

  int64_t lowest_equivalent_value(int64_t value) const noexcept;
  int64_t highest_equivalent_value(int64_t value) const noexcept;
  int64_t median_equivalent_value(int64_t value) const noexcept;
  // lowest_equivalent_value(value) + size_of_equivalent_value_range(value).
  int64_t next_non_equivalent_value(int64_t value) const noexcept;
  int64_t size_of_equivalent_value_range(int64_t value) const noexcept;
  bool values_are_equivalent(int64_t a, int64_t b) const noexcept;

  // --- Configuration and raw layout (for encoders such as the .hlog V2 writer) ---

  int64_t lowest_discernible_value() const noexcept { return lowest_discernible_value_; }
  int64_t highest_trackable_value() const noexcept { return highest_trackable_value_; }
  int significant_figures() const noexcept { return significant_figures_; }
  int32_t unit_magnitude() const noexcept { return unit_magnitude_; }
  int32_t sub_bucket_half_count_magnitude() const noexcept {
    return sub_bucket_half_count_magnitude_;
  }
  int32_t sub_bucket_half_count() const noexcept { return sub_bucket_half_count_; }
  int32_t sub_bucket_count() const noexcept { return sub_bucket_half_count_ * 2; }
  int64_t sub_bucket_mask() const noexcept { return sub_bucket_mask_; }
  int32_t bucket_count() const noexcept { return bucket_count_; }
  int32_t counts_len() const noexcept { return counts_len_; }
  // The whole counts array, counts_len() long, in HdrHistogram_c's index order
  // (normalizing index offset 0).
  std::span<const int64_t> counts() const noexcept { return counts_; }
  int64_t count_at_index(int32_t index) const noexcept { return counts_[index]; }
  // Index of the slot holding `value`; requires 0 <= value <= highest_trackable_value().
  int32_t counts_index_for(int64_t value) const noexcept { return index_for(value); }
  // Lowest value of the slot at `index` (hdr_value_at_index); requires 0 <= index < counts_len().
  int64_t value_at_index(int32_t index) const noexcept;
  // Adds `count` to the slot at `index`, keeping total/min/max consistent; for decoders that
  // rebuild a histogram from its counts. Returns false for an index outside [0, counts_len()) or
  // a negative count.
  bool add_count_at_index(int32_t index, int64_t count) noexcept;

  // Calls fn(value, count) for every non-empty slot in ascending order, where value is the slot's
  // lowest equivalent value (as hdr_iter_recorded reports it).
  template <typename Fn>
  void for_each_recorded(Fn&& fn) const;

  // Same configuration and same recorded data (counts, total, min(), max());
  // out_of_range_count() is not compared.
  bool operator==(const HdrHistogram& other) const noexcept;

  // Bytes owned by this histogram: the object plus its counts array.
  size_t memory_size() const noexcept {
    return sizeof(*this) + counts_.capacity() * sizeof(int64_t);
  }

 private:
  int32_t bucket_index(int64_t value) const noexcept {
    // Bits needed for value, minus the bits the first bucket covers with unit resolution.
    const int32_t bits = 64 - std::countl_zero(static_cast<uint64_t>(value | sub_bucket_mask_));
    return bits - bucket_index_offset_;
  }
  int32_t index_for(int64_t value) const noexcept {
    const int32_t bucket = bucket_index(value);
    const auto sub_bucket = static_cast<int32_t>(value >> (bucket + unit_magnitude_));
    return ((bucket + 1) << sub_bucket_half_count_magnitude_) +
           (sub_bucket - sub_bucket_half_count_);
  }
  void update_min_max(int64_t value) noexcept {
    if (value > max_value_) max_value_ = value;
    if (value < min_nonzero_value_ && value != 0) min_nonzero_value_ = value;
  }
  bool same_layout(const HdrHistogram& other) const noexcept;
  int64_t count_for_percentile(double percentile) const noexcept;
  int64_t percentile_result(double percentile, int64_t slot_value) const noexcept;
  int64_t slot_median(int32_t index) const noexcept;
  // Highest index that can be non-zero (the slot of the largest recorded value); -1 when empty.
  int32_t last_used_index() const noexcept {
    return total_count_ == 0 ? -1 : index_for(max_value_);
  }

  int64_t lowest_discernible_value_;
  int64_t highest_trackable_value_;
  int32_t significant_figures_;
  int32_t unit_magnitude_;
  int32_t sub_bucket_half_count_magnitude_;
  int32_t sub_bucket_half_count_;
  int64_t sub_bucket_mask_;
  int32_t bucket_count_;
  int32_t counts_len_;
  int32_t bucket_index_offset_;  // unit_magnitude + sub_bucket_half_count_magnitude + 1

  int64_t total_count_ = 0;
  int64_t out_of_range_count_ = 0;
  // Exact recorded extremes (as HdrHistogram_c's min_value/max_value); min excludes zero.
  int64_t min_nonzero_value_ = INT64_MAX;
  int64_t max_value_ = 0;
  std::vector<int64_t, ZeroedAllocator<int64_t>> counts_;
};

inline void swap(HdrHistogram& a, HdrHistogram& b) noexcept { a.swap(b); }

inline bool HdrHistogram::record(int64_t value) noexcept {
  // One unsigned compare rejects both negative and too-large values.
  if (static_cast<uint64_t>(value) > static_cast<uint64_t>(highest_trackable_value_)) [[unlikely]] {
    ++out_of_range_count_;
    return false;
  }
  ++counts_[index_for(value)];
  ++total_count_;
  update_min_max(value);
  return true;
}

inline bool HdrHistogram::record_n(int64_t value, int64_t count) noexcept {
  if (count <= 0) [[unlikely]] {
    return count == 0;
  }
  if (static_cast<uint64_t>(value) > static_cast<uint64_t>(highest_trackable_value_)) [[unlikely]] {
    out_of_range_count_ += count;
    return false;
  }
  counts_[index_for(value)] += count;
  total_count_ += count;
  update_min_max(value);
  return true;
}

inline bool HdrHistogram::record_corrected(int64_t value, int64_t expected_interval) noexcept {
  return record_corrected_n(value, 1, expected_interval);
}

inline int64_t HdrHistogram::value_at_index(int32_t index) const noexcept {
  int32_t bucket = (index >> sub_bucket_half_count_magnitude_) - 1;
  int32_t sub_bucket = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket < 0) {  // the first bucket's lower half
    sub_bucket -= sub_bucket_half_count_;
    bucket = 0;
  }
  return static_cast<int64_t>(sub_bucket) << (bucket + unit_magnitude_);
}

template <typename Fn>
void HdrHistogram::for_each_recorded(Fn&& fn) const {
  const int32_t last = last_used_index();
  for (int32_t i = 0; i <= last; ++i) {
    if (counts_[i] != 0) fn(value_at_index(i), counts_[i]);
  }
}

}  // namespace ws::stats
