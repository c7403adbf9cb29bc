// The consumer-group and idempotent-producer responses, and the consumer protocol's embedded
// bytes, in one target (each target costs CI a smoke run). Input: [selector byte][rest]. For the
// responses the rest is [version byte][body], as in the other response targets; for the consumer
// protocol it is the embedded bytes themselves (they carry their own int16 version).
// Decoding must never crash, and what decodes cleanly must survive an encode/decode round trip.
#include <algorithm>
#include <cstdlib>

#include "fuzz_common.h"
#include "protocol/consumer_protocol.h"
#include "protocol/find_coordinator.h"
#include "protocol/heartbeat.h"
#include "protocol/init_producer_id.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/offset_commit.h"
#include "protocol/offset_fetch.h"
#include "protocol/sync_group.h"

namespace {

using namespace ws::protocol;

// Re-encodes a cleanly decoded consumer-protocol message in the layout it was read with (a newer
// version is read as the newest known one) and checks that it decodes back the same.
template <typename Message, typename Encode, typename Decode>
void consumer_protocol_round_trip(Bytes bytes, Encode encode, Decode decode) {
  Message first;
  const ConsumerProtocolDecode d = decode(bytes, first);
  if (!d.ok() || d.version < 0) return;
  std::vector<uint8_t> encoded;
  encode(encoded, first, std::min(d.version, Message::kMaxVersion));
  Message second;
  if (!decode(encoded, second).ok() || !(first == second)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t* rest = data + 1;
  const size_t n = size - 1;
  switch (data[0] % 10) {
    case 0: ws::fuzz::round_trip<FindCoordinatorResponse>(rest, n); break;
    case 1: ws::fuzz::round_trip<JoinGroupResponse>(rest, n); break;
    case 2: ws::fuzz::round_trip<SyncGroupResponse>(rest, n); break;
    case 3: ws::fuzz::round_trip<HeartbeatResponse>(rest, n); break;
    case 4: ws::fuzz::round_trip<LeaveGroupResponse>(rest, n); break;
    case 5: ws::fuzz::round_trip<OffsetCommitResponse>(rest, n); break;
    case 6: ws::fuzz::round_trip<OffsetFetchResponse>(rest, n); break;
    case 7: ws::fuzz::round_trip<InitProducerIdResponse>(rest, n); break;
    case 8:
      consumer_protocol_round_trip<ConsumerProtocolSubscription>(
          Bytes(rest, n), encode_consumer_subscription, decode_consumer_subscription);
      break;
    case 9:
      consumer_protocol_round_trip<ConsumerProtocolAssignment>(
          Bytes(rest, n), encode_consumer_assignment, decode_consumer_assignment);
      break;
  }
  return 0;
}
