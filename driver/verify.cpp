#include "driver/verify.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace ws::driver {
namespace {

template <typename T>
void put(std::span<uint8_t> out, size_t at, T v) {
  // x86 and ARM Linux are little-endian, the layout's byte order; memcpy keeps it alignment-safe.
  static_assert(std::endian::native == std::endian::little);
  std::memcpy(out.data() + at, &v, sizeof v);
}
template <typename T>
T get(std::span<const uint8_t> in, size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

}  // namespace

void stamp_value(std::span<uint8_t> value, const VerifyStamp& stamp) {
  put(value, 8, stamp.run);
  put(value, 12, stamp.producer);
  put(value, 16, stamp.sequence);
  put(value, 24, stamp.send_time_us);
  put<uint64_t>(value, 0, XXH3_64bits(value.data() + 8, value.size() - 8));
}

StampCheck read_stamp(std::span<const uint8_t> value, VerifyStamp& out) {
  if (value.size() < kVerifyHeaderSize) return StampCheck::kTooShort;
  if (get<uint64_t>(value, 0) != XXH3_64bits(value.data() + 8, value.size() - 8)) return StampCheck::kBadHash;
  out.run = get<uint32_t>(value, 8);
  out.producer = get<uint32_t>(value, 12);
  out.sequence = get<uint64_t>(value, 16);
  out.send_time_us = get<int64_t>(value, 24);
  return StampCheck::kOk;
}

SequenceTracker::Outcome SequenceTracker::observe(uint64_t sequence) {
  if (sequence == next_) {
    ++next_;
    return Outcome::kInOrder;
  }
  if (sequence > next_) {
    gaps_.emplace_back(next_, sequence);
    missing_ += sequence - next_;
    next_ = sequence + 1;
    return Outcome::kJumped;
  }
  // Below next_: either it fills a gap (late) or it was seen already. Gaps are few (each is a
  // reordering or a loss), so a binary search over them is cheap.
  auto it = std::upper_bound(gaps_.begin(), gaps_.end(), sequence,
                             [](uint64_t s, const auto& gap) { return s < gap.first; });
  if (it == gaps_.begin()) return Outcome::kDuplicate;
  --it;
  if (sequence >= it->second) return Outcome::kDuplicate;
  --missing_;
  const auto [first, last] = *it;
  if (first + 1 == last) {
    gaps_.erase(it);
  } else if (sequence == first) {
    it->first = first + 1;
  } else if (sequence + 1 == last) {
    it->second = sequence;
  } else {
    it->second = sequence;
    gaps_.insert(it + 1, {sequence + 1, last});
  }
  return Outcome::kLate;
}

}  // namespace ws::driver
