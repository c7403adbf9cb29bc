#include "driver/partitioner.h"

namespace ws::driver {

const char* partitioner_name(PartitionerKind k) {
  switch (k) {
    case PartitionerKind::kSticky: return "sticky";
    case PartitionerKind::kRoundRobin: return "round-robin";
    case PartitionerKind::kMurmur2: return "murmur2";
    case PartitionerKind::kFixed: return "fixed";
  }
  return "unknown";
}

bool parse_partitioner(std::string_view text, PartitionerKind& out) {
  for (const auto k : {PartitionerKind::kSticky, PartitionerKind::kRoundRobin, PartitionerKind::kMurmur2,
                       PartitionerKind::kFixed}) {
    if (text == partitioner_name(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

int32_t kafka_murmur2(std::span<const uint8_t> key) {
  // Java's int arithmetic: 32-bit wrap-around, so unsigned here; >>> is a logical shift.
  const uint32_t m = 0x5bd1e995;
  const uint32_t length = static_cast<uint32_t>(key.size());
  uint32_t h = 0x9747b28cU ^ length;
  const uint32_t length4 = length / 4;
  for (uint32_t i = 0; i < length4; ++i) {
    const uint32_t i4 = i * 4;
    uint32_t k = static_cast<uint32_t>(key[i4]) | static_cast<uint32_t>(key[i4 + 1]) << 8 |
                 static_cast<uint32_t>(key[i4 + 2]) << 16 | static_cast<uint32_t>(key[i4 + 3]) << 24;
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = length & ~3U;
  switch (length % 4) {
    case 3: h ^= static_cast<uint32_t>(key[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(key[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(key[tail]);
      h *= m;
      break;
    default: break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t murmur2_partition(std::span<const uint8_t> key, int32_t partitions) {
  // Utils.toPositive: the sign bit cleared (not Math.abs, which keeps MIN_VALUE negative).
  const auto positive = static_cast<uint32_t>(kafka_murmur2(key)) & 0x7fffffffU;
  return static_cast<int32_t>(positive % static_cast<uint32_t>(partitions));
}

Partitioner::Partitioner(PartitionerKind kind, uint32_t producer, uint64_t seed)
    : kind_(kind), producer_(producer), round_robin_(producer), rng_((seed ^ (uint64_t{producer} << 32)) | 1) {}

uint32_t Partitioner::random_below(uint32_t n) {
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return static_cast<uint32_t>(((rng_ * 0x2545F4914F6CDD1DULL) >> 32) % n);
}

}  // namespace ws::driver
