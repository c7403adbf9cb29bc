// --idempotent: a producer's identity with the brokers and its sequence numbers (KIP-98), as the
// Java producer keeps them with enable.idempotence=true (its default since Kafka 3.0).
//
//   NeedsId -> Requesting -> Assigned          a batch lost or refused -> NeedsId (a new epoch)
//
// InitProducerId (any broker answers it for a producer without a transactional id) gives a
// producer id and epoch; every RecordBatch v2 then carries them and a base sequence that counts
// that partition's records from 0. The broker keeps the last sequences per producer and
// partition: a batch repeating them is a duplicate (DUPLICATE_SEQUENCE_NUMBER, written once), one
// skipping ahead is OUT_OF_ORDER_SEQUENCE_NUMBER. wirestress does not retry a failed batch, so
// its sequences leave a gap the broker would refuse every later batch for: the producer waits for
// its requests in flight, then asks for a new epoch (InitProducerId v3+ with the current id and
// epoch, KIP-360; before v3 a new id) and starts every partition at 0 again, as the Java producer
// resets when it cannot retry.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "driver/connections.h"
#include "protocol/records.h"

namespace ws::driver {

class ProducerIdentity {
 public:
  enum class State : uint8_t { kNeedsId, kRequesting, kAssigned };
  // What an InitProducerId answer means for the producer.
  enum class Outcome : uint8_t {
    kAssigned,  // batches may go
    kRetry,     // a coordinator loading or moving, a concurrent transaction: ask again later
    kRefused,   // an error no retry changes (authorization, a broker without idempotence)
  };

  State state() const { return state_; }
  bool assigned() const { return state_ == State::kAssigned; }
  int64_t producer_id() const { return producer_id_; }
  int16_t epoch() const { return epoch_; }
  uint32_t resets() const { return resets_; }  // new epochs or ids after a lost batch

  // Appends InitProducerId to `link` (kNeedsId -> kRequesting).
  void request(ConnectionTable& links, LinkId link, int16_t version, int64_t now);
  // Its answer; `error_code` says which error when not kAssigned.
  Outcome on_response(protocol::Bytes body, int16_t version, int16_t& error_code);
  // The request was lost with its connection, or timed out: ask again.
  void request_lost() { state_ = State::kNeedsId; }

  // The producer fields of the next batch of `records` records for `partition`, its sequences
  // taken (they wrap at INT32_MAX, as Kafka's do).
  protocol::BatchProducer next_batch(int32_t partition, uint32_t records);
  // A batch failed: the broker's sequences and this producer's no longer agree.
  void sequences_broken();

 private:
  State state_ = State::kNeedsId;
  int64_t producer_id_ = -1;
  int16_t epoch_ = -1;
  uint32_t resets_ = 0;
  // Per partition id (a map: the ids come from the broker's metadata, which may lie).
  std::unordered_map<int32_t, int32_t> next_sequence_;
};

}  // namespace ws::driver
