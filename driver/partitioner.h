// Which partition a producer's next records go to, as the Java client decides it:
//  - sticky (default without keys): one partition for a whole batch, another one (at random,
//    among those that can take it) for the next batch (KIP-480);
//  - round-robin: the next partition for every record;
//  - murmur2 (default with keys): the Java client's hash of the key, so the same key lands on the
//    same partition as it would from Java (and from librdkafka's murmur2_random);
//  - fixed: always partition (producer index % partitions), one connection per client.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ws::driver {

enum class PartitionerKind : uint8_t { kSticky, kRoundRobin, kMurmur2, kFixed };
const char* partitioner_name(PartitionerKind k);
bool parse_partitioner(std::string_view text, PartitionerKind& out);

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), and the partition it picks.
int32_t kafka_murmur2(std::span<const uint8_t> key);
int32_t murmur2_partition(std::span<const uint8_t> key, int32_t partitions);

// One producer's partitioner state: a few bytes, no allocation.
class Partitioner {
 public:
  Partitioner(PartitionerKind kind, uint32_t producer, uint64_t seed);
  PartitionerKind kind() const { return kind_; }

  // The partition of the next record (for murmur2: of `key`), out of `partitions`. For sticky and
  // round-robin, `available(p)` says whether partition p can take records now (its leader's
  // connection is ready and has room): those that cannot are passed over while any can. -1: none
  // can (sticky, round-robin) and the record waits.
  template <typename Available>
  int32_t next(int32_t partitions, std::span<const uint8_t> key, Available available);
  // A batch was sent: sticky moves on to another partition.
  void batch_done() { sticky_ = -1; }

 private:
  uint32_t random_below(uint32_t n);

  PartitionerKind kind_;
  uint32_t producer_;
  int32_t sticky_ = -1;
  uint32_t round_robin_ = 0;
  uint64_t rng_;
};

template <typename Available>
int32_t Partitioner::next(int32_t partitions, std::span<const uint8_t> key, Available available) {
  if (partitions <= 0) return -1;
  switch (kind_) {
    case PartitionerKind::kFixed: return static_cast<int32_t>(producer_ % static_cast<uint32_t>(partitions));
    case PartitionerKind::kMurmur2: return murmur2_partition(key, partitions);
    case PartitionerKind::kRoundRobin:
      for (int32_t tried = 0; tried < partitions; ++tried) {
        const auto p = static_cast<int32_t>(round_robin_++ % static_cast<uint32_t>(partitions));
        if (available(p)) return p;
      }
      return -1;
    case PartitionerKind::kSticky:
      if (sticky_ >= partitions || (sticky_ >= 0 && !available(sticky_))) sticky_ = -1;
      if (sticky_ < 0) {
        // A random available partition: start at a random one and take the first that can.
        const auto start = static_cast<int32_t>(random_below(static_cast<uint32_t>(partitions)));
        for (int32_t i = 0; i < partitions; ++i) {
          const int32_t p = (start + i) % partitions;
          if (available(p)) {
            sticky_ = p;
            break;
          }
        }
      }
      return sticky_;
  }
  return -1;
}

}  // namespace ws::driver
