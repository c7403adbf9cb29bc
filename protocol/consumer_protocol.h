// The bytes a "consumer"-type group carries inside the group APIs (Kafka's ConsumerProtocol):
// each JoinGroup protocol's metadata is an int16 version then a ConsumerProtocolSubscription, and
// each SyncGroup assignment an int16 version then a ConsumerProtocolAssignment. The messages are
// generated (consumer_protocol_messages.h); this adds the version prefix and its rules.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/consumer_protocol_messages.h"
#include "protocol/wire.h"

namespace ws::protocol {

// JoinGroup's protocol_type for consumers; the protocol names are the assignors ("range", ...).
inline constexpr std::string_view kConsumerProtocolType = "consumer";

// Appends the version prefix and the message in that version's layout. `version` must be in
// [kMinVersion, kMaxVersion].
void encode_consumer_subscription(std::vector<uint8_t>& out, const ConsumerProtocolSubscription& s,
                                  int16_t version);
void encode_consumer_assignment(std::vector<uint8_t>& out, const ConsumerProtocolAssignment& a,
                                int16_t version);

struct ConsumerProtocolDecode {
  DecodeError error = DecodeError::kNone;
  int16_t version = -1;  // the version the bytes announced; -1 for empty bytes
  bool ok() const { return error == DecodeError::kNone; }
};

// Decodes one member's bytes into `out` (whose views then point into `bytes`).
// - A version newer than this codec knows is read with the newest layout it knows, and the bytes
//   after that are ignored: Kafka's consumers do the same, since versions only append fields.
//   A negative version is kBadValue; within the known versions leftover bytes are kTrailingBytes.
// - Empty bytes are what the coordinator sends a member the leader assigned nothing: an empty
//   assignment (version -1). An empty subscription is kTruncated: every member sends one.
ConsumerProtocolDecode decode_consumer_subscription(Bytes bytes, ConsumerProtocolSubscription& out);
ConsumerProtocolDecode decode_consumer_assignment(Bytes bytes, ConsumerProtocolAssignment& out);

}  // namespace ws::protocol
