#include "driver/idempotence.h"

#include "protocol/errors.h"
#include "protocol/init_producer_id.h"

namespace ws::driver {

void ProducerIdentity::request(ConnectionTable& links, LinkId link, int16_t version, int64_t now) {
  protocol::InitProducerIdRequest request;
  request.transactional_id = std::nullopt;
  request.transaction_timeout_ms = 60'000;  // unused without a transactional id; the Java default
  // v3+: a producer that had an id asks for the next epoch of the same id (KIP-360).
  request.producer_id = version >= 3 ? producer_id_ : -1;
  request.producer_epoch = version >= 3 ? epoch_ : int16_t{-1};
  InFlight meta;
  meta.intended_ns = now;
  links.append(link, request, version, meta);
  state_ = State::kRequesting;
}

ProducerIdentity::Outcome ProducerIdentity::on_response(protocol::Bytes body, int16_t version, int16_t& error_code) {
  protocol::InitProducerIdResponse response;
  protocol::Reader r(body);
  response.decode(r, version);
  if (!r.ok()) {
    state_ = State::kNeedsId;
    error_code = protocol::error::kCorruptMessage;
    return Outcome::kRetry;
  }
  error_code = response.error_code;
  switch (response.error_code) {
    case protocol::error::kNone:
      if (response.producer_id < 0 || response.producer_epoch < 0) {  // a broker's lie: ask again
        state_ = State::kNeedsId;
        error_code = protocol::error::kUnknownServerError;
        return Outcome::kRetry;
      }
      if (producer_id_ >= 0) ++resets_;
      producer_id_ = response.producer_id;
      epoch_ = response.producer_epoch;
      next_sequence_.clear();  // a new epoch or id: every partition starts at 0
      state_ = State::kAssigned;
      return Outcome::kAssigned;
    case protocol::error::kCoordinatorLoadInProgress:
    case protocol::error::kCoordinatorNotAvailable:
    case protocol::error::kNotCoordinator:
    case protocol::error::kConcurrentTransactions:
    case protocol::error::kRequestTimedOut:
      state_ = State::kNeedsId;
      return Outcome::kRetry;
    default:
      state_ = State::kNeedsId;
      return Outcome::kRefused;
  }
}

protocol::BatchProducer ProducerIdentity::next_batch(int32_t partition, uint32_t records) {
  int32_t& next = next_sequence_[partition];
  const protocol::BatchProducer batch{.id = producer_id_, .epoch = epoch_, .base_sequence = next};
  // Kafka's sequences wrap from INT32_MAX to 0.
  next = static_cast<int32_t>((static_cast<int64_t>(next) + records) % (int64_t{INT32_MAX} + 1));
  return batch;
}

void ProducerIdentity::sequences_broken() {
  if (state_ == State::kAssigned) state_ = State::kNeedsId;
}

}  // namespace ws::driver
