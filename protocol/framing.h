// Request/response framing: the size prefix, which header version each (API, version) uses, and
// the one table of APIs and versions wirestress implements (the librdkafka mock-broker model).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/api_versions.h"
#include "protocol/fetch.h"
#include "protocol/find_coordinator.h"
#include "protocol/header.h"
#include "protocol/heartbeat.h"
#include "protocol/init_producer_id.h"
#include "protocol/join_group.h"
#include "protocol/leave_group.h"
#include "protocol/list_offsets.h"
#include "protocol/metadata.h"
#include "protocol/offset_commit.h"
#include "protocol/offset_fetch.h"
#include "protocol/produce.h"
#include "protocol/sasl_authenticate.h"
#include "protocol/sasl_handshake.h"
#include "protocol/sync_group.h"
#include "protocol/wire.h"

namespace ws::protocol {

// The one table of APIs and versions (the librdkafka mock-broker model). For each API:
//  - [min_version, max_version]: what the codec encodes and decodes (generated from Kafka's specs);
//  - client_max: the highest version wirestress's clients ask for (below max_version where a newer
//    version needs something a stress client does not have, see the notes);
//  - kafka_0_9_max: what Kafka 0.9 speaks (it has no ApiVersions to say so); -1 = not at all;
//  - sink_max: what ws_kafka_sink answers; -1 = not at all.
struct ApiSupport {
  int16_t api_key;
  std::string_view name;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible;  // -1: never flexible
  int16_t client_max;
  int16_t kafka_0_9_max;
  int16_t sink_max;
};

// Fetch v13+ names topics by id, which needs Metadata v10+: v12 is the last that names them.
inline constexpr int16_t kFetchClientMax = 12;
// ListOffsets v4+ adds only leader epochs (and v8+ tiered-storage lookups) that a stress consumer
// does not use, and librdkafka 2.0.2's mock cluster writes v4+ responses with 4 extra bytes per
// partition (librdkafka itself asks for v2 at most). v3 is understood by every broker since 2.0.
inline constexpr int16_t kListOffsetsClientMax = 3;

inline constexpr ApiSupport kSupportedApis[] = {
    {ProduceRequest::kApiKey, "Produce", ProduceRequest::kMinVersion, ProduceRequest::kMaxVersion,
     ProduceRequest::kFirstFlexibleVersion, ProduceRequest::kMaxVersion, 1, 8},
    {FetchRequest::kApiKey, "Fetch", FetchRequest::kMinVersion, FetchRequest::kMaxVersion,
     FetchRequest::kFirstFlexibleVersion, kFetchClientMax, 1, -1},
    {ListOffsetsRequest::kApiKey, "ListOffsets", ListOffsetsRequest::kMinVersion,
     ListOffsetsRequest::kMaxVersion, ListOffsetsRequest::kFirstFlexibleVersion, kListOffsetsClientMax, 0, -1},
    // The sink stops Metadata at 4: enough for every client wirestress emulates, and no fields it
    // would have to invent.
    {MetadataRequest::kApiKey, "Metadata", MetadataRequest::kMinVersion,
     MetadataRequest::kMaxVersion, MetadataRequest::kFirstFlexibleVersion, MetadataRequest::kMaxVersion, 0, 4},
    {ApiVersionsRequest::kApiKey, "ApiVersions", ApiVersionsRequest::kMinVersion,
     ApiVersionsRequest::kMaxVersion, ApiVersionsRequest::kFirstFlexibleVersion, ApiVersionsRequest::kMaxVersion,
     -1, 3},
    // SASL (KIP-43, KIP-152): Handshake v0 is Kafka 0.10's flow, in which the tokens follow as bare
    // length-prefixed frames; v1 carries them in SaslAuthenticate requests. Kafka 0.9 has neither.
    // The sink answers both only when it runs with --sasl-users.
    {SaslHandshakeRequest::kApiKey, "SaslHandshake", SaslHandshakeRequest::kMinVersion,
     SaslHandshakeRequest::kMaxVersion, SaslHandshakeRequest::kFirstFlexibleVersion,
     SaslHandshakeRequest::kMaxVersion, -1, 1},
    {SaslAuthenticateRequest::kApiKey, "SaslAuthenticate", SaslAuthenticateRequest::kMinVersion,
     SaslAuthenticateRequest::kMaxVersion, SaslAuthenticateRequest::kFirstFlexibleVersion,
     SaslAuthenticateRequest::kMaxVersion, -1, 2},
    // Consumer groups. Kafka 0.9 has the group coordinator with JoinGroup, SyncGroup, Heartbeat and
    // LeaveGroup v0, OffsetCommit v0-2, OffsetFetch v0-1 and GroupCoordinator (FindCoordinator v0).
    // The request shape changes along the way: FindCoordinator v4+ asks for many keys at once
    // (coordinator_keys) and OffsetFetch v8+ for many groups (groups). The sink has no groups.
    {FindCoordinatorRequest::kApiKey, "FindCoordinator", FindCoordinatorRequest::kMinVersion,
     FindCoordinatorRequest::kMaxVersion, FindCoordinatorRequest::kFirstFlexibleVersion,
     FindCoordinatorRequest::kMaxVersion, 0, -1},
    {JoinGroupRequest::kApiKey, "JoinGroup", JoinGroupRequest::kMinVersion, JoinGroupRequest::kMaxVersion,
     JoinGroupRequest::kFirstFlexibleVersion, JoinGroupRequest::kMaxVersion, 0, -1},
    {SyncGroupRequest::kApiKey, "SyncGroup", SyncGroupRequest::kMinVersion, SyncGroupRequest::kMaxVersion,
     SyncGroupRequest::kFirstFlexibleVersion, SyncGroupRequest::kMaxVersion, 0, -1},
    {HeartbeatRequest::kApiKey, "Heartbeat", HeartbeatRequest::kMinVersion, HeartbeatRequest::kMaxVersion,
     HeartbeatRequest::kFirstFlexibleVersion, HeartbeatRequest::kMaxVersion, 0, -1},
    {LeaveGroupRequest::kApiKey, "LeaveGroup", LeaveGroupRequest::kMinVersion,
     LeaveGroupRequest::kMaxVersion, LeaveGroupRequest::kFirstFlexibleVersion,
     LeaveGroupRequest::kMaxVersion, 0, -1},
    {OffsetCommitRequest::kApiKey, "OffsetCommit", OffsetCommitRequest::kMinVersion,
     OffsetCommitRequest::kMaxVersion, OffsetCommitRequest::kFirstFlexibleVersion,
     OffsetCommitRequest::kMaxVersion, 2, -1},
    {OffsetFetchRequest::kApiKey, "OffsetFetch", OffsetFetchRequest::kMinVersion,
     OffsetFetchRequest::kMaxVersion, OffsetFetchRequest::kFirstFlexibleVersion,
     OffsetFetchRequest::kMaxVersion, 1, -1},
    // Idempotent producers (KIP-98): Kafka 0.11+.
    {InitProducerIdRequest::kApiKey, "InitProducerId", InitProducerIdRequest::kMinVersion,
     InitProducerIdRequest::kMaxVersion, InitProducerIdRequest::kFirstFlexibleVersion,
     InitProducerIdRequest::kMaxVersion, -1, -1},
};

const ApiSupport* find_api(int16_t api_key);

// Versions both sides speak: the highest version in both [our min, client_max] and
// [their_min, their_max], or -1 when the ranges do not meet (or wirestress lacks the API).
int16_t negotiate_version(int16_t api_key, int16_t their_min, int16_t their_max);

// What a client uses against Kafka 0.9 (no ApiVersions): kafka_0_9_max, or -1.
int16_t kafka_0_9_version(int16_t api_key);
bool is_flexible(int16_t api_key, int16_t api_version);

// Request header v2 for flexible versions, v1 otherwise (v0 is only ControlledShutdown v0,
// which wirestress never sends).
int16_t request_header_version(int16_t api_key, int16_t api_version);
// Response header v1 for flexible versions, v0 otherwise; ApiVersionsResponse is always v0 so a
// client can read it before it knows which versions the broker speaks.
int16_t response_header_version(int16_t api_key, int16_t api_version);

// Frames larger than this are treated as a protocol error rather than buffered: a broker that
// sends a 2 GiB size field is broken or is not a Kafka broker.
inline constexpr int32_t kMaxFrameSize = 256 * 1024 * 1024;

// Appends one complete request frame (size, header, body) to `out`. Returns the frame's size
// including the 4-byte prefix.
template <typename Request>
size_t encode_request(std::vector<uint8_t>& out, const Request& body, int16_t version,
                      int32_t correlation_id, std::optional<std::string_view> client_id) {
  Writer w(out);
  const size_t start = w.reserve(4);
  RequestHeader header;
  header.request_api_key = Request::kApiKey;
  header.request_api_version = version;
  header.correlation_id = correlation_id;
  header.client_id = client_id;
  header.encode(w, request_header_version(Request::kApiKey, version));
  body.encode(w, version);
  const size_t frame_size = w.size() - start;
  w.patch_i32(start, static_cast<int32_t>(frame_size - 4));
  return frame_size;
}

// Result of looking at the front of a receive buffer.
enum class FrameStatus : uint8_t { kNeedMore, kComplete, kTooLarge };
struct FrameCheck {
  FrameStatus status;
  size_t frame_size;  // including the 4-byte prefix, when kComplete
};
FrameCheck check_frame(std::span<const uint8_t> buffered, int32_t max_frame = kMaxFrameSize);

// A response frame split into its header and a Reader positioned at the body.
struct ResponseFrame {
  int32_t correlation_id = 0;
  Reader body;
};
// `frame` excludes the size prefix. The request's API and version pick the header version.
ResponseFrame read_response_header(std::span<const uint8_t> frame, int16_t api_key,
                                   int16_t api_version);

// ApiVersions responses need a rule the generated decoder cannot know: a broker that does not
// support the requested version answers UNSUPPORTED_VERSION (35) in the v0 layout, listing its
// own range, so the client can retry with a version both sides speak.
// Returns the layout version actually decoded (0 in that case, else `version`). If the error body
// fits no layout, `out` holds only the error code (and no API ranges) and `r` stays ok.
inline constexpr int16_t kUnsupportedVersion = 35;
int16_t decode_api_versions_response(Reader& r, int16_t version, ApiVersionsResponse& out);

}  // namespace ws::protocol
