// --verify: what a producer stamps into every record value, and how a consumer checks one
// producer's sequence for loss, duplicates and reordering. Plain code, no I/O: unit-tested alone.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace ws::driver {

// Layout of a verified record value (little-endian):
//    0  u64  XXH3-64 of bytes [8, size): any changed byte after the hash is caught
//    8  u32  run id: random per wirestress run, so records of earlier runs on the topic are told apart
//   12  u32  producer (the producing client's global index)
//   16  u64  sequence number, per producer, from 0
//   24  i64  intended send time, Unix microseconds (the end-to-end latency starts here)
//   32  filler up to --message-size
inline constexpr uint32_t kVerifyHeaderSize = 32;

struct VerifyStamp {
  uint32_t run = 0;
  uint32_t producer = 0;
  uint64_t sequence = 0;
  int64_t send_time_us = 0;
};

// Writes the stamp and the hash into `value` (at least kVerifyHeaderSize bytes; the filler after
// the header is the caller's and is covered by the hash).
void stamp_value(std::span<uint8_t> value, const VerifyStamp& stamp);

enum class StampCheck : uint8_t { kOk, kTooShort, kBadHash };
StampCheck read_stamp(std::span<const uint8_t> value, VerifyStamp& out);

// The sequence numbers one consumer has seen from one producer. Everything below next() was seen
// except the gaps: records skipped over that may still arrive (late: out of order) or never do
// (lost). Memory grows with the number of gaps, not with the number of records.
class SequenceTracker {
 public:
  enum class Outcome : uint8_t {
    kInOrder,    // the next expected number
    kJumped,     // ahead of the next expected one: the numbers in between become a gap
    kLate,       // fills a gap: it arrived after a higher number (out of order)
    kDuplicate,  // seen before
  };
  Outcome observe(uint64_t sequence);

  uint64_t next() const { return next_; }           // one past the highest number seen
  uint64_t missing() const { return missing_; }     // numbers below next() never seen
  uint64_t distinct() const { return next_ - missing_; }
  // The numbers below next() never seen, as sorted, disjoint [first, last) ranges.
  const std::vector<std::pair<uint64_t, uint64_t>>& gaps() const { return gaps_; }

 private:
  uint64_t next_ = 0;
  uint64_t missing_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> gaps_;  // sorted, disjoint [first, last)
};

}  // namespace ws::driver
