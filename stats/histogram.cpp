#include "stats/histogram.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace ws::stats {
namespace {

int64_t power_of_ten(int exponent) {
  int64_t result = 1;
  for (int i = 0; i < exponent; ++i) result *= 10;
  return result;
}

// hdr_calculate_bucket_config's buckets_needed_to_cover_value.
int32_t buckets_needed_to_cover(int64_t value, int32_t sub_bucket_count, int32_t unit_magnitude) {
  int64_t smallest_untrackable_value = static_cast<int64_t>(sub_bucket_count) << unit_magnitude;
  int32_t buckets_needed = 1;
  while (smallest_untrackable_value <= value) {
    if (smallest_untrackable_value > INT64_MAX / 2) return buckets_needed + 1;
    smallest_untrackable_value <<= 1;
    ++buckets_needed;
  }
  return buckets_needed;
}

}  // namespace

HdrHistogram::HdrHistogram(int64_t lowest_discernible_value, int64_t highest_trackable_value,
                           int significant_figures)
    : lowest_discernible_value_(lowest_discernible_value),
      highest_trackable_value_(highest_trackable_value),
      significant_figures_(significant_figures) {
  if (lowest_discernible_value < 1) {
    throw std::invalid_argument("HdrHistogram: lowest_discernible_value must be >= 1");
  }
  if (significant_figures < 1 || significant_figures > 5) {
    throw std::invalid_argument("HdrHistogram: significant_figures must be in 1..5");
  }
  if (lowest_discernible_value > highest_trackable_value / 2) {
    throw std::invalid_argument(
        "HdrHistogram: highest_trackable_value must be >= 2 * lowest_discernible_value");
  }

  // The same floating-point formulas as HdrHistogram_c and the Java original, so that every
  // implementation derives the same layout from the three parameters a .hlog header carries.
  const int64_t largest_value_with_single_unit_resolution = 2 * power_of_ten(significant_figures);
  const auto sub_bucket_count_magnitude = static_cast<int32_t>(std::ceil(
      std::log(static_cast<double>(largest_value_with_single_unit_resolution)) / std::log(2.0)));
  sub_bucket_half_count_magnitude_ = std::max(sub_bucket_count_magnitude, 1) - 1;
  unit_magnitude_ =
      static_cast<int32_t>(std::log(static_cast<double>(lowest_discernible_value)) / std::log(2.0));
  if (unit_magnitude_ + sub_bucket_half_count_magnitude_ > 61) {
    throw std::invalid_argument(
        "HdrHistogram: lowest_discernible_value too large for significant_figures");
  }
  const int32_t sub_bucket_count = int32_t{1} << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count / 2;
  sub_bucket_mask_ = static_cast<int64_t>(sub_bucket_count - 1) << unit_magnitude_;
  bucket_count_ =
      buckets_needed_to_cover(highest_trackable_value, sub_bucket_count, unit_magnitude_);
  counts_len_ = (bucket_count_ + 1) * sub_bucket_half_count_;
  bucket_index_offset_ = unit_magnitude_ + sub_bucket_half_count_magnitude_ + 1;
  counts_.resize(static_cast<size_t>(counts_len_));  // zero: see ZeroedAllocator
}

void HdrHistogram::swap(HdrHistogram& other) noexcept {
  std::swap(lowest_discernible_value_, other.lowest_discernible_value_);
  std::swap(highest_trackable_value_, other.highest_trackable_value_);
  std::swap(significant_figures_, other.significant_figures_);
  std::swap(unit_magnitude_, other.unit_magnitude_);
  std::swap(sub_bucket_half_count_magnitude_, other.sub_bucket_half_count_magnitude_);
  std::swap(sub_bucket_half_count_, other.sub_bucket_half_count_);
  std::swap(sub_bucket_mask_, other.sub_bucket_mask_);
  std::swap(bucket_count_, other.bucket_count_);
  std::swap(counts_len_, other.counts_len_);
  std::swap(bucket_index_offset_, other.bucket_index_offset_);
  std::swap(total_count_, other.total_count_);
  std::swap(out_of_range_count_, other.out_of_range_count_);
  std::swap(min_nonzero_value_, other.min_nonzero_value_);
  std::swap(max_value_, other.max_value_);
  counts_.swap(other.counts_);
}

bool HdrHistogram::record_corrected_n(int64_t value, int64_t count,
                                      int64_t expected_interval) noexcept {
  if (!record_n(value, count)) return false;
  if (expected_interval <= 0 || value <= expected_interval || count == 0) return true;

  // Back-fill value - k * interval (k >= 1) down to interval. All back-filled values between the
  // current one and the bottom of its slot (or `interval`) share a slot, so add them in one step.
  int64_t missing = value - expected_interval;
  int64_t filled = 0;
  while (missing >= expected_interval) {
    const int32_t index = index_for(missing);
    const int64_t slot_floor = std::max(value_at_index(index), expected_interval);
    const int64_t in_slot = (missing - slot_floor) / expected_interval + 1;
    counts_[index] += in_slot * count;
    filled += in_slot;
    missing -= in_slot * expected_interval;
  }
  total_count_ += filled * count;
  update_min_max(missing + expected_interval);  // the smallest back-filled value
  return true;
}

bool HdrHistogram::same_layout(const HdrHistogram& other) const noexcept {
  // A counts index means the same value range whenever these two agree; counts_len may differ.
  return unit_magnitude_ == other.unit_magnitude_ &&
         sub_bucket_half_count_magnitude_ == other.sub_bucket_half_count_magnitude_;
}

bool HdrHistogram::add(const HdrHistogram& other) noexcept {
  out_of_range_count_ += other.out_of_range_count_;
  if (other.total_count_ == 0) return true;

  if (same_layout(other) && other.max_value_ <= highest_trackable_value_) {
    // Every non-zero slot of `other` is at or below the slot of its max, which fits here.
    const int32_t last = other.last_used_index();
    const int64_t other_total = other.total_count_;
    const int64_t other_min = other.min_nonzero_value_;
    const int64_t other_max = other.max_value_;
    int64_t* dst = counts_.data();
    const int64_t* src = other.counts_.data();
    for (int32_t i = 0; i <= last; ++i) dst[i] += src[i];
    total_count_ += other_total;
    max_value_ = std::max(max_value_, other_max);
    min_nonzero_value_ = std::min(min_nonzero_value_, other_min);
    return true;
  }

  // Different layouts: re-record each slot of `other` by its lowest value (as hdr_add does).
  int64_t dropped = 0;
  other.for_each_recorded([&](int64_t value, int64_t count) {
    if (!record_n(value, count)) dropped += count;  // record_n counts it as out of range
  });
  return dropped == 0;
}

void HdrHistogram::reset() noexcept {
  const int32_t last = last_used_index();
  if (last >= 0) std::fill(counts_.begin(), counts_.begin() + last + 1, int64_t{0});
  total_count_ = 0;
  out_of_range_count_ = 0;
  min_nonzero_value_ = INT64_MAX;
  max_value_ = 0;
}

int64_t HdrHistogram::min() const noexcept {
  if (total_count_ == 0 || counts_[0] > 0) return 0;
  return lowest_equivalent_value(min_nonzero_value_);
}

int64_t HdrHistogram::max() const noexcept {
  if (max_value_ == 0) return 0;
  return highest_equivalent_value(max_value_);
}

int64_t HdrHistogram::slot_median(int32_t index) const noexcept {
  // median_equivalent_value(value_at_index(index)) without recomputing the bucket from the value.
  const int32_t bucket = std::max((index >> sub_bucket_half_count_magnitude_) - 1, 0);
  return value_at_index(index) + ((int64_t{1} << (bucket + unit_magnitude_)) >> 1);
}

double HdrHistogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  double total = 0.0;
  const int32_t last = last_used_index();
  for (int32_t i = 0; i <= last; ++i) {
    if (counts_[i] == 0) continue;
    total += static_cast<double>(counts_[i]) * static_cast<double>(slot_median(i));
  }
  return total / static_cast<double>(total_count_);
}

double HdrHistogram::stddev() const noexcept {
  if (total_count_ == 0) return 0.0;
  const double mean_value = mean();
  double deviation_total = 0.0;
  const int32_t last = last_used_index();
  for (int32_t i = 0; i <= last; ++i) {
    if (counts_[i] == 0) continue;
    const double deviation = static_cast<double>(slot_median(i)) - mean_value;
    deviation_total += deviation * deviation * static_cast<double>(counts_[i]);
  }
  return std::sqrt(deviation_total / static_cast<double>(total_count_));
}

int64_t HdrHistogram::count_for_percentile(double percentile) const noexcept {
  double requested = percentile < 100.0 ? percentile : 100.0;  // NaN counts as 100, as in hdr
  if (requested < 0.0) requested = 0.0;
  const double count = requested / 100.0 * static_cast<double>(total_count_) + 0.5;
  const int64_t rounded =
      count >= static_cast<double>(total_count_) ? total_count_ : static_cast<int64_t>(count);
  return std::max<int64_t>(rounded, 1);
}

int64_t HdrHistogram::percentile_result(double percentile, int64_t slot_value) const noexcept {
  return percentile == 0.0 ? lowest_equivalent_value(slot_value)
                           : highest_equivalent_value(slot_value);
}

int64_t HdrHistogram::value_at_percentile(double percentile) const noexcept {
  if (total_count_ == 0) return 0;
  const int64_t target = count_for_percentile(percentile);
  const int64_t* counts = counts_.data();
  int64_t cumulative = 0;
  for (int32_t i = 0; i < counts_len_; ++i) {
    cumulative += counts[i];
    if (cumulative >= target) return percentile_result(percentile, value_at_index(i));
  }
  return 0;  // unreachable while total_count_ equals the sum of counts_
}

bool HdrHistogram::value_at_percentiles(std::span<const double> percentiles,
                                        std::span<int64_t> values) const noexcept {
  if (percentiles.size() != values.size()) return false;
  for (size_t i = 1; i < percentiles.size(); ++i) {
    if (!(percentiles[i] >= percentiles[i - 1])) return false;
  }
  if (total_count_ == 0) {
    std::fill(values.begin(), values.end(), int64_t{0});
    return true;
  }
  // `values` first holds each percentile's target count (as hdr_value_at_percentiles does), so
  // the scan needs no allocation and no per-slot floating point.
  const size_t n = percentiles.size();
  for (size_t i = 0; i < n; ++i) values[i] = count_for_percentile(percentiles[i]);
  if (n == 0) return true;
  // Locals: the writes through `values` could otherwise alias the counts and force reloads.
  const int64_t* counts = counts_.data();
  const int32_t len = counts_len_;
  size_t next = 0;
  int64_t target = values[0];
  int64_t cumulative = 0;
  for (int32_t i = 0; i < len; ++i) {
    cumulative += counts[i];
    if (cumulative < target) continue;
    const int64_t slot_value = value_at_index(i);
    do {
      values[next] = percentile_result(percentiles[next], slot_value);
      if (++next == n) return true;
      target = values[next];
    } while (cumulative >= target);
  }
  return true;
}

int64_t HdrHistogram::count_at_value(int64_t value) const noexcept {
  if (static_cast<uint64_t>(value) > static_cast<uint64_t>(highest_trackable_value_)) return 0;
  return counts_[index_for(value)];
}

int64_t HdrHistogram::size_of_equivalent_value_range(int64_t value) const noexcept {
  value = std::max<int64_t>(value, 0);
  const int32_t bucket = bucket_index(value);
  const int64_t sub_bucket = value >> (bucket + unit_magnitude_);
  const int32_t adjusted_bucket = sub_bucket >= sub_bucket_count() ? bucket + 1 : bucket;
  return int64_t{1} << (unit_magnitude_ + adjusted_bucket);
}

int64_t HdrHistogram::lowest_equivalent_value(int64_t value) const noexcept {
  value = std::max<int64_t>(value, 0);
  const int32_t shift = bucket_index(value) + unit_magnitude_;
  return (value >> shift) << shift;
}

int64_t HdrHistogram::next_non_equivalent_value(int64_t value) const noexcept {
  // Unsigned: the top slot of a histogram reaching INT64_MAX ends at 2^63 (wraps to INT64_MIN).
  return static_cast<int64_t>(static_cast<uint64_t>(lowest_equivalent_value(value)) +
                              static_cast<uint64_t>(size_of_equivalent_value_range(value)));
}

int64_t HdrHistogram::highest_equivalent_value(int64_t value) const noexcept {
  return static_cast<int64_t>(static_cast<uint64_t>(lowest_equivalent_value(value)) +
                              static_cast<uint64_t>(size_of_equivalent_value_range(value)) - 1);
}

int64_t HdrHistogram::median_equivalent_value(int64_t value) const noexcept {
  return lowest_equivalent_value(value) + (size_of_equivalent_value_range(value) >> 1);
}

bool HdrHistogram::values_are_equivalent(int64_t a, int64_t b) const noexcept {
  return lowest_equivalent_value(a) == lowest_equivalent_value(b);
}

bool HdrHistogram::add_count_at_index(int32_t index, int64_t count) noexcept {
  if (index < 0 || index >= counts_len_ || count < 0) return false;
  if (count == 0) return true;
  counts_[index] += count;
  total_count_ += count;
  update_min_max(value_at_index(index));
  return true;
}

bool HdrHistogram::operator==(const HdrHistogram& other) const noexcept {
  return lowest_discernible_value_ == other.lowest_discernible_value_ &&
         highest_trackable_value_ == other.highest_trackable_value_ &&
         significant_figures_ == other.significant_figures_ && total_count_ == other.total_count_ &&
         min() == other.min() && max() == other.max() && counts_ == other.counts_;
}

}  // namespace ws::stats
