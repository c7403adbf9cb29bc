// Golden byte tests for the consumer-group and idempotent-producer APIs, every version of each,
// request and response: FindCoordinator (10), JoinGroup (11), Heartbeat (12), LeaveGroup (13),
// SyncGroup (14), OffsetCommit (8), OffsetFetch (9) and InitProducerId (22).
//
// The expected bytes are NOT produced by protocol/wire.h's Writer or the generated codec: they are
// spelled out field by field with the builder in golden_byte_builder.h, following Kafka's protocol
// rules and protocol/specs/<Api>{Request,Response}.json. Each version condition is written out
// here with the spec's "versions" beside it, so a generator bug cannot agree with itself.
//
// Each API is one "case" struct: the spec facts, a message with every field set (FullRequest),
// what a version's bytes decode to (RequestFor: fields the version lacks at their defaults), and
// the bytes (RequestBytes); the same for the response. The typed tests below run every case
// through encode, decode into a used object, whole frames, truncation and a round trip.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "protocol/framing.h"
#include "golden_byte_builder.h"

namespace ws::protocol {
namespace {

// A subscription-sized metadata blob, and one past 127 bytes (a two-byte compact length).
const std::vector<uint8_t> kMeta = {0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't'};
const std::vector<uint8_t> kLongMeta(200, 0x5a);
const std::string kLongName = "g." + std::string(140, 'l');

// ---- FindCoordinator -----------------------------------------------------------------------------
// v1 adds KeyType, ThrottleTimeMs and ErrorMessage; v3 is flexible; v4 asks for many keys at once
// (CoordinatorKeys) and answers with a Coordinators array instead of the single coordinator.
struct FindCoordinatorCase {
  using Req = FindCoordinatorRequest;
  using Resp = FindCoordinatorResponse;
  static constexpr const char* kName = "FindCoordinator";
  static constexpr int kApiKey = 10, kMaxV = 6, kFirstFlex = 3, kKafka09Max = 0;  // "0-6", "3+"

  static Req FullRequest() {
    Req r;
    r.key = kLongName;
    r.key_type = 1;  // transaction
    r.coordinator_keys = {"group-a", kLongName};
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v > 3) r.key = {};                    // Key "0-3"
    if (v < 1) r.key_type = 0;                // KeyType "1+", default 0
    if (v < 4) r.coordinator_keys.clear();    // CoordinatorKeys "4+"
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v <= 3) e.string(kLongName);
    if (v >= 1) e.i8(1);
    if (v >= 4) e.array(2).string("group-a").string(kLongName);
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 100;
    r.error_code = 15;  // COORDINATOR_NOT_AVAILABLE
    r.error_message = "not yet";
    r.node_id = 3;
    r.host = "broker-3";
    r.port = 9093;
    r.coordinators = {{"group-a", 1, "broker-1", 9092, 0, std::nullopt},
                      {kLongName, -1, "", -1, 16, "not coordinator"}};
    return r;
  }
  static Resp ResponseFor(int16_t v) {
    Resp r = FullResponse();
    if (v < 1) r.throttle_time_ms = 0;                  // ThrottleTimeMs "1+"
    if (v < 1 || v > 3) r.error_message.reset();        // ErrorMessage "1-3"
    if (v > 3) {                                        // ErrorCode, NodeId, Host, Port "0-3"
      r.error_code = 0;
      r.node_id = 0;
      r.host = {};
      r.port = 0;
    }
    if (v < 4) r.coordinators.clear();                  // Coordinators "4+"
    return r;
  }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v >= 1) e.i32(100);
    if (v <= 3) {
      e.i16(15);
      if (v >= 1) e.nstring("not yet");
      e.i32(3).string("broker-3").i32(9093);
    }
    if (v >= 4) {
      e.array(2);
      e.string("group-a").i32(1).string("broker-1").i32(9092).i16(0).nstring(std::nullopt).tags();
      e.string(kLongName).i32(-1).string("").i32(-1).i16(16).nstring("not coordinator").tags();
    }
    return std::move(e.tags());
  }
};

// ---- JoinGroup -----------------------------------------------------------------------------------
// v1 adds RebalanceTimeoutMs; v2 ThrottleTimeMs; v5 GroupInstanceId (static membership); v6 is
// flexible; v7 adds ProtocolType to the response and makes ProtocolName nullable; v8 Reason; v9
// SkipAssignment.
struct JoinGroupCase {
  using Req = JoinGroupRequest;
  using Resp = JoinGroupResponse;
  static constexpr const char* kName = "JoinGroup";
  static constexpr int kApiKey = 11, kMaxV = 9, kFirstFlex = 6, kKafka09Max = 0;  // "0-9", "6+"

  static Req FullRequest() {
    Req r;
    r.group_id = "group-a";
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 300000;
    r.member_id = "member-1";
    r.group_instance_id = "instance-1";
    r.protocol_type = "consumer";
    r.protocols = {{"range", kMeta}, {"roundrobin", kLongMeta}};
    r.reason = "rejoin";
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v < 1) r.rebalance_timeout_ms = -1;   // RebalanceTimeoutMs "1+", default -1
    if (v < 5) r.group_instance_id.reset();   // GroupInstanceId "5+"
    if (v < 8) r.reason.reset();              // Reason "8+"
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    e.string("group-a").i32(10000);
    if (v >= 1) e.i32(300000);
    e.string("member-1");
    if (v >= 5) e.nstring("instance-1");
    e.string("consumer").array(2);
    e.string("range").nbytes(Bytes(kMeta)).tags();
    e.string("roundrobin").nbytes(Bytes(kLongMeta)).tags();
    if (v >= 8) e.nstring("rejoin");
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 5;
    r.error_code = 0;
    r.generation_id = 7;
    r.protocol_type = "consumer";
    r.protocol_name = "range";
    r.leader = "member-1";
    r.skip_assignment = true;
    r.member_id = "member-2";
    r.members = {{"member-1", "instance-1", kMeta}, {"member-2", std::nullopt, kLongMeta}};
    return r;
  }
  static Resp ResponseFor(int16_t v) {
    Resp r = FullResponse();
    if (v < 2) r.throttle_time_ms = 0;          // ThrottleTimeMs "2+"
    if (v < 7) r.protocol_type.reset();         // ProtocolType "7+"
    if (v < 9) r.skip_assignment = false;       // SkipAssignment "9+"
    if (v < 5) r.members[0].group_instance_id.reset();  // GroupInstanceId "5+"
    return r;
  }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v >= 2) e.i32(5);
    e.i16(0).i32(7);
    if (v >= 7) e.nstring("consumer");
    e.string("range").string("member-1");      // ProtocolName (nullable 7+, set), Leader
    if (v >= 9) e.i8(1);
    e.string("member-2").array(2);
    e.string("member-1");
    if (v >= 5) e.nstring("instance-1");
    e.nbytes(Bytes(kMeta)).tags();
    e.string("member-2");
    if (v >= 5) e.nstring(std::nullopt);
    e.nbytes(Bytes(kLongMeta)).tags();
    return std::move(e.tags());
  }
};

// ---- SyncGroup -----------------------------------------------------------------------------------
// v1 adds ThrottleTimeMs; v3 GroupInstanceId; v4 is flexible; v5 ProtocolType and ProtocolName.
struct SyncGroupCase {
  using Req = SyncGroupRequest;
  using Resp = SyncGroupResponse;
  static constexpr const char* kName = "SyncGroup";
  static constexpr int kApiKey = 14, kMaxV = 5, kFirstFlex = 4, kKafka09Max = 0;  // "0-5", "4+"

  static Req FullRequest() {
    Req r;
    r.group_id = "group-a";
    r.generation_id = 7;
    r.member_id = "member-1";
    r.group_instance_id = "instance-1";
    r.protocol_type = "consumer";
    r.protocol_name = "range";
    r.assignments = {{"member-1", kMeta}, {"member-2", kLongMeta}, {"member-3", {}}};
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v < 3) r.group_instance_id.reset();   // GroupInstanceId "3+"
    if (v < 5) r.protocol_type.reset();       // ProtocolType "5+"
    if (v < 5) r.protocol_name.reset();       // ProtocolName "5+"
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    e.string("group-a").i32(7).string("member-1");
    if (v >= 3) e.nstring("instance-1");
    if (v >= 5) e.nstring("consumer").nstring("range");
    e.array(3);
    e.string("member-1").nbytes(Bytes(kMeta)).tags();
    e.string("member-2").nbytes(Bytes(kLongMeta)).tags();
    e.string("member-3").nbytes(Bytes()).tags();
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 9;
    r.error_code = 27;  // REBALANCE_IN_PROGRESS
    r.protocol_type = "consumer";
    r.protocol_name = "range";
    r.assignment = kLongMeta;
    return r;
  }
  static Resp ResponseFor(int16_t v) {
    Resp r = FullResponse();
    if (v < 1) r.throttle_time_ms = 0;        // ThrottleTimeMs "1+"
    if (v < 5) r.protocol_type.reset();       // ProtocolType "5+"
    if (v < 5) r.protocol_name.reset();       // ProtocolName "5+"
    return r;
  }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v >= 1) e.i32(9);
    e.i16(27);
    if (v >= 5) e.nstring("consumer").nstring("range");
    e.nbytes(Bytes(kLongMeta));
    return std::move(e.tags());
  }
};

// ---- Heartbeat -----------------------------------------------------------------------------------
// v1 adds ThrottleTimeMs; v3 GroupInstanceId; v4 is flexible.
struct HeartbeatCase {
  using Req = HeartbeatRequest;
  using Resp = HeartbeatResponse;
  static constexpr const char* kName = "Heartbeat";
  static constexpr int kApiKey = 12, kMaxV = 4, kFirstFlex = 4, kKafka09Max = 0;  // "0-4", "4+"

  static Req FullRequest() {
    Req r;
    r.group_id = kLongName;
    r.generation_id = 0x01020304;
    r.member_id = "member-1";
    r.group_instance_id = "instance-1";
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v < 3) r.group_instance_id.reset();   // GroupInstanceId "3+"
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    e.string(kLongName).i32(0x01020304).string("member-1");
    if (v >= 3) e.nstring("instance-1");
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 1;
    r.error_code = 25;  // UNKNOWN_MEMBER_ID
    return r;
  }
  static Resp ResponseFor(int16_t v) {
    Resp r = FullResponse();
    if (v < 1) r.throttle_time_ms = 0;        // ThrottleTimeMs "1+"
    return r;
  }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v >= 1) e.i32(1);
    e.i16(25);
    return std::move(e.tags());
  }
};

// ---- LeaveGroup ----------------------------------------------------------------------------------
// v1 adds ThrottleTimeMs; v3 replaces MemberId by a Members batch (KIP-345) and answers per
// member; v4 is flexible; v5 adds Reason.
struct LeaveGroupCase {
  using Req = LeaveGroupRequest;
  using Resp = LeaveGroupResponse;
  static constexpr const char* kName = "LeaveGroup";
  static constexpr int kApiKey = 13, kMaxV = 5, kFirstFlex = 4, kKafka09Max = 0;  // "0-5", "4+"

  static Req FullRequest() {
    Req r;
    r.group_id = "group-a";
    r.member_id = "member-1";
    r.members = {{"member-1", "instance-1", "shutdown"}, {"member-2", std::nullopt, std::nullopt}};
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v > 2) r.member_id = {};              // MemberId "0-2"
    if (v < 3) r.members.clear();             // Members "3+"
    for (auto& m : r.members) {
      if (v < 5) m.reason.reset();            //   Reason "5+"
    }
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    e.string("group-a");
    if (v <= 2) e.string("member-1");
    if (v >= 3) {
      e.array(2);
      e.string("member-1").nstring("instance-1");
      if (v >= 5) e.nstring("shutdown");
      e.tags();
      e.string("member-2").nstring(std::nullopt);
      if (v >= 5) e.nstring(std::nullopt);
      e.tags();
    }
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 2;
    r.error_code = 0;
    r.members = {{"member-1", "instance-1", 0}, {"member-2", std::nullopt, 25}};
    return r;
  }
  static Resp ResponseFor(int16_t v) {
    Resp r = FullResponse();
    if (v < 1) r.throttle_time_ms = 0;        // ThrottleTimeMs "1+"
    if (v < 3) r.members.clear();             // Members "3+"
    return r;
  }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v >= 1) e.i32(2);
    e.i16(0);
    if (v >= 3) {
      e.array(2);
      e.string("member-1").nstring("instance-1").i16(0).tags();
      e.string("member-2").nstring(std::nullopt).i16(25).tags();
    }
    return std::move(e.tags());
  }
};

// ---- OffsetCommit --------------------------------------------------------------------------------
// v1 adds the generation, member id and a per-partition CommitTimestamp (v1 only); v2 replaces it
// by RetentionTimeMs (v2-4); v3 adds ThrottleTimeMs; v6 CommittedLeaderEpoch; v7 GroupInstanceId;
// v8 is flexible.
struct OffsetCommitCase {
  using Req = OffsetCommitRequest;
  using Resp = OffsetCommitResponse;
  static constexpr const char* kName = "OffsetCommit";
  static constexpr int kApiKey = 8, kMaxV = 9, kFirstFlex = 8, kKafka09Max = 2;  // "0-9", "8+"

  static Req FullRequest() {
    Req r;
    r.group_id = "group-a";
    r.generation_id_or_member_epoch = 7;
    r.member_id = "member-1";
    r.group_instance_id = "instance-1";
    r.retention_time_ms = 86400000;
    r.topics = {{"orders", {{0, 1234567890123, 4, 1700000000123, "meta"}, {5, 0, -1, -1, std::nullopt}}},
                {kLongName, {}}};
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v < 1) r.generation_id_or_member_epoch = -1;  // "1+", default -1
    if (v < 1) r.member_id = {};                      // MemberId "1+"
    if (v < 7) r.group_instance_id.reset();           // GroupInstanceId "7+"
    if (v < 2 || v > 4) r.retention_time_ms = -1;     // RetentionTimeMs "2-4", default -1
    for (auto& t : r.topics) {
      for (auto& p : t.partitions) {
        if (v < 6) p.committed_leader_epoch = -1;     //   CommittedLeaderEpoch "6+"
        if (v != 1) p.commit_timestamp = -1;          //   CommitTimestamp "1"
      }
    }
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    e.string("group-a");
    if (v >= 1) e.i32(7).string("member-1");
    if (v >= 7) e.nstring("instance-1");
    if (v >= 2 && v <= 4) e.i64(86400000);
    auto partition = [&](int32_t index, int64_t offset, int32_t epoch, int64_t timestamp,
                         std::optional<std::string_view> metadata) {
      e.i32(index).i64(offset);
      if (v >= 6) e.i32(epoch);
      if (v == 1) e.i64(timestamp);
      e.nstring(metadata).tags();
    };
    e.array(2).string("orders").array(2);
    partition(0, 1234567890123, 4, 1700000000123, "meta");
    partition(5, 0, -1, -1, std::nullopt);
    e.tags();
    e.string(kLongName).array(0).tags();
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 3;
    r.topics = {{"orders", {{0, 0}, {5, 22}}}, {kLongName, {}}};  // 22 ILLEGAL_GENERATION
    return r;
  }
  static Resp ResponseFor(int16_t v) {
    Resp r = FullResponse();
    if (v < 3) r.throttle_time_ms = 0;        // ThrottleTimeMs "3+"
    return r;
  }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v >= 3) e.i32(3);
    e.array(2).string("orders").array(2);
    e.i32(0).i16(0).tags();
    e.i32(5).i16(22).tags();
    e.tags();
    e.string(kLongName).array(0).tags();
    return std::move(e.tags());
  }
};

// ---- OffsetFetch ---------------------------------------------------------------------------------
// v2 adds the top-level ErrorCode and a null Topics ("every topic"); v3 ThrottleTimeMs; v5
// CommittedLeaderEpoch; v6 is flexible; v7 RequireStable; v8 batches groups (Groups replaces
// GroupId/Topics in the request and Topics/ErrorCode in the response); v9 MemberId/MemberEpoch.
struct OffsetFetchCase {
  using Req = OffsetFetchRequest;
  using Resp = OffsetFetchResponse;
  static constexpr const char* kName = "OffsetFetch";
  static constexpr int kApiKey = 9, kMaxV = 9, kFirstFlex = 6, kKafka09Max = 1;  // "0-9", "6+"

  static Req FullRequest() {
    Req r;
    r.group_id = "group-a";
    r.topics = std::vector<Req::OffsetFetchRequestTopic>{{"orders", {0, 1, 2}}, {kLongName, {}}};
    r.groups = {{"group-a", "member-1", 5, std::vector<Req::OffsetFetchRequestTopics>{{"orders", {0, 1}}}},
                {"group-b", std::nullopt, -1, std::nullopt}};
    r.require_stable = true;
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v > 7) r.group_id = {};               // GroupId "0-7"
    if (v > 7) r.topics.reset();              // Topics "0-7"
    if (v < 8) r.groups.clear();              // Groups "8+"
    if (v < 7) r.require_stable = false;      // RequireStable "7+"
    for (auto& g : r.groups) {
      if (v < 9) g.member_id.reset();         //   MemberId "9+"
      if (v < 9) g.member_epoch = -1;         //   MemberEpoch "9+", default -1
    }
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v <= 7) {
      e.string("group-a").array(2);
      e.string("orders").array(3).i32(0).i32(1).i32(2).tags();
      e.string(kLongName).array(0).tags();
    }
    if (v >= 8) {
      e.array(2);
      e.string("group-a");
      if (v >= 9) e.nstring("member-1").i32(5);
      e.array(1).string("orders").array(2).i32(0).i32(1).tags();
      e.tags();
      e.string("group-b");
      if (v >= 9) e.nstring(std::nullopt).i32(-1);
      e.uvarint(0);                           //   Topics null (compact: 0)
      e.tags();
    }
    if (v >= 7) e.i8(1);
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 4;
    r.topics = {{"orders", {{0, 42, 3, "meta", 0}, {1, -1, -1, std::nullopt, 0}}}, {kLongName, {}}};
    r.error_code = 14;  // COORDINATOR_LOAD_IN_PROGRESS
    r.groups = {{"group-a", {{"orders", {{0, 42, 3, "meta", 0}}}}, 0}, {"group-b", {}, 16}};
    return r;
  }
  static Resp ResponseFor(int16_t v) {
    Resp r = FullResponse();
    if (v < 3) r.throttle_time_ms = 0;        // ThrottleTimeMs "3+"
    if (v > 7) r.topics.clear();              // Topics "0-7"
    if (v < 2 || v > 7) r.error_code = 0;     // ErrorCode "2-7"
    if (v < 8) r.groups.clear();              // Groups "8+"
    for (auto& t : r.topics) {
      for (auto& p : t.partitions) {
        if (v < 5) p.committed_leader_epoch = -1;  // CommittedLeaderEpoch "5-7", default -1
      }
    }
    return r;
  }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    if (v >= 3) e.i32(4);
    auto partition = [&](int32_t index, int64_t offset, int32_t epoch,
                         std::optional<std::string_view> metadata, int16_t error) {
      e.i32(index).i64(offset);
      if (v >= 5) e.i32(epoch);
      e.nstring(metadata).i16(error).tags();
    };
    if (v <= 7) {
      e.array(2).string("orders").array(2);
      partition(0, 42, 3, "meta", 0);
      partition(1, -1, -1, std::nullopt, 0);
      e.tags();
      e.string(kLongName).array(0).tags();
    }
    if (v >= 2 && v <= 7) e.i16(14);
    if (v >= 8) {
      e.array(2);
      e.string("group-a").array(1).string("orders").array(1);
      partition(0, 42, 3, "meta", 0);
      e.tags();
      e.i16(0).tags();
      e.string("group-b").array(0).i16(16).tags();
    }
    return std::move(e.tags());
  }
};

// ---- InitProducerId ------------------------------------------------------------------------------
// v2 is flexible; v3 adds ProducerId/ProducerEpoch to the request (KIP-360: bump an epoch).
struct InitProducerIdCase {
  using Req = InitProducerIdRequest;
  using Resp = InitProducerIdResponse;
  static constexpr const char* kName = "InitProducerId";
  static constexpr int kApiKey = 22, kMaxV = 5, kFirstFlex = 2, kKafka09Max = -1;  // "0-5", "2+"

  static Req FullRequest() {
    Req r;
    r.transactional_id = std::nullopt;  // an idempotent producer has none
    r.transaction_timeout_ms = 60000;
    r.producer_id = 0x0102030405060708;
    r.producer_epoch = 3;
    return r;
  }
  static Req RequestFor(int16_t v) {
    Req r = FullRequest();
    if (v < 3) r.producer_id = -1;            // ProducerId "3+", default -1
    if (v < 3) r.producer_epoch = -1;         // ProducerEpoch "3+", default -1
    return r;
  }
  static F RequestBytes(int16_t v) {
    F e(v >= kFirstFlex);
    e.nstring(std::nullopt).i32(60000);
    if (v >= 3) e.i64(0x0102030405060708).i16(3);
    return std::move(e.tags());
  }

  static Resp FullResponse() {
    Resp r;
    r.throttle_time_ms = 6;
    r.error_code = 0;
    r.producer_id = 4000;
    r.producer_epoch = 0;
    return r;
  }
  static Resp ResponseFor(int16_t) { return FullResponse(); }
  static F ResponseBytes(int16_t v) {
    F e(v >= kFirstFlex);
    e.i32(6).i16(0).i64(4000).i16(0);
    return std::move(e.tags());
  }
};

// ---- The tests every case goes through -----------------------------------------------------------
template <typename Case>
class GoldenGroup : public ::testing::Test {};
using GroupCases = ::testing::Types<FindCoordinatorCase, JoinGroupCase, SyncGroupCase, HeartbeatCase,
                                    LeaveGroupCase, OffsetCommitCase, OffsetFetchCase, InitProducerIdCase>;
TYPED_TEST_SUITE(GoldenGroup, GroupCases);

TYPED_TEST(GoldenGroup, ConstantsAndVersionTableMatchSpec) {
  using C = TypeParam;
  for (auto [min, max, flex, key] :
       {std::tuple{C::Req::kMinVersion, C::Req::kMaxVersion, C::Req::kFirstFlexibleVersion, C::Req::kApiKey},
        std::tuple{C::Resp::kMinVersion, C::Resp::kMaxVersion, C::Resp::kFirstFlexibleVersion, C::Resp::kApiKey}}) {
    EXPECT_EQ(min, 0);
    EXPECT_EQ(max, C::kMaxV);
    EXPECT_EQ(flex, C::kFirstFlex);
    EXPECT_EQ(key, C::kApiKey);
  }
  const ApiSupport* api = find_api(C::kApiKey);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->name, C::kName);
  EXPECT_EQ(api->min_version, 0);
  EXPECT_EQ(api->max_version, C::kMaxV);
  EXPECT_EQ(api->client_max, C::kMaxV);
  EXPECT_EQ(api->kafka_0_9_max, C::kKafka09Max);
  EXPECT_EQ(api->sink_max, -1);  // the sink has no groups and no producer ids
  for (int16_t v = 0; v <= C::kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    EXPECT_EQ(is_flexible(C::kApiKey, v), v >= C::kFirstFlex);
    EXPECT_EQ(request_header_version(C::kApiKey, v), v >= C::kFirstFlex ? 2 : 1);
    EXPECT_EQ(response_header_version(C::kApiKey, v), v >= C::kFirstFlex ? 1 : 0);
  }
}

TYPED_TEST(GoldenGroup, RequestEncodeDecode) {
  using C = TypeParam;
  for (int16_t v = 0; v <= C::kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    const std::vector<uint8_t> want = C::RequestBytes(v).b;
    EXPECT_BYTES(encode(C::FullRequest(), v), want);  // fields v lacks are not written
    EXPECT_BYTES(encode(C::RequestFor(v), v), want);
    // Into a used object (every field set): decode must overwrite or reset every field.
    EXPECT_TRUE(DecodesTo(want, v, C::RequestFor(v), C::FullRequest()));
  }
}

TYPED_TEST(GoldenGroup, ResponseDecodeEncode) {
  using C = TypeParam;
  for (int16_t v = 0; v <= C::kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    const std::vector<uint8_t> bytes = C::ResponseBytes(v).b;
    EXPECT_TRUE(DecodesTo(bytes, v, C::ResponseFor(v)));
    EXPECT_TRUE(DecodesTo(bytes, v, C::ResponseFor(v), C::FullResponse()));
    EXPECT_BYTES(encode(C::FullResponse(), v), bytes);
    EXPECT_BYTES(encode(C::ResponseFor(v), v), bytes);
  }
}

// encode → decode gives back what the version carries, for every version (the fake broker's view
// of a request, the client's view of a response).
TYPED_TEST(GoldenGroup, RoundTripEveryVersion) {
  using C = TypeParam;
  for (int16_t v = 0; v <= C::kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    EXPECT_TRUE(DecodesTo(encode(C::FullRequest(), v), v, C::RequestFor(v)));
    EXPECT_TRUE(DecodesTo(encode(C::FullResponse(), v), v, C::ResponseFor(v)));
  }
}

TYPED_TEST(GoldenGroup, RequestFrame) {
  using C = TypeParam;
  for (int16_t v = 0; v <= C::kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    std::vector<uint8_t> out = {0xee};  // encode_request appends after what is there
    const size_t n = encode_request(out, C::FullRequest(), v, 0x0a0b0c0d, "consumer-7");
    const B frame = request_frame(C::kApiKey, v, v >= C::kFirstFlex, 0x0a0b0c0d, "consumer-7",
                                  C::RequestBytes(v));
    EXPECT_BYTES(out, B().i8(0xee).raw(frame).b);
    EXPECT_EQ(n, frame.size());
  }
}

TYPED_TEST(GoldenGroup, ResponseFrameWithUnknownHeaderTag) {
  using C = TypeParam;
  for (int16_t v = 0; v <= C::kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    B frame;  // without the size prefix, as read_response_header expects
    frame.i32(0x7f000001);
    if (v >= C::kFirstFlex) frame.uvarint(1).tag(7, B().raw({0xaa, 0xbb}));  // header v1
    frame.raw(C::ResponseBytes(v));
    ResponseFrame rf = read_response_header(frame.b, C::kApiKey, v);
    EXPECT_EQ(rf.correlation_id, 0x7f000001);
    typename C::Resp out;
    out.decode(rf.body, v);
    EXPECT_TRUE(rf.body.ok()) << to_string(rf.body.error());
    EXPECT_TRUE(rf.body.empty()) << rf.body.remaining() << " bytes left";
    EXPECT_TRUE(out == C::ResponseFor(v));
  }
}

// Every strict prefix of a valid message must fail to decode (and never read out of bounds).
TYPED_TEST(GoldenGroup, TruncatedFails) {
  using C = TypeParam;
  for (int16_t v = 0; v <= C::kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    EXPECT_TRUE(EveryTruncationFails<typename C::Resp>(C::ResponseBytes(v).b, v));
    EXPECT_TRUE(EveryTruncationFails<typename C::Req>(C::RequestBytes(v).b, v));
  }
}

// None of these APIs defines a tagged field: in flexible versions every tag is unknown and is
// skipped, at the top level and inside array elements.
TEST(GoldenGroup, UnknownTagsSkipped) {
  const B unknown = B().raw({0xaa, 0xbb, 0xcc});
  for (int16_t v = 4; v <= 5; ++v) {
    B e;  // SyncGroupResponse
    e.i32(1).i16(0);
    if (v >= 5) e.cstr("consumer").cstr("range");
    e.uvarint(3).raw({1, 2});
    e.uvarint(2).tag(0, unknown).tag(300, B());
    SyncGroupResponse want;
    want.throttle_time_ms = 1;
    static const std::vector<uint8_t> assignment = {1, 2};
    want.assignment = assignment;
    if (v >= 5) {
      want.protocol_type = "consumer";
      want.protocol_name = "range";
    }
    EXPECT_TRUE(DecodesTo(e.b, v, want, SyncGroupCase::FullResponse())) << "v" << v;
  }
  B e;  // LeaveGroupResponse v4, an unknown tag in a member
  e.i32(0).i16(0).carr(1).cstr("m").cstr_null().i16(0).uvarint(1).tag(9, unknown).tags0();
  LeaveGroupResponse want;
  want.members = {{"m", std::nullopt, 0}};
  EXPECT_TRUE(DecodesTo(e.b, 4, want));
}

// ---- Literal frames ------------------------------------------------------------------------------
// Whole frames as bytes on the wire, as a Kafka 0.9 consumer sends them.

TEST(GoldenGroup, FindCoordinatorV0FrameLiteral) {
  FindCoordinatorRequest req;
  req.key = "g1";
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x10,                          // size 16
      0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // key 10, version 0, correlation 1
      0x00, 0x02, 'w',  's',                           // client id
      0x00, 0x02, 'g',  '1'};                          // group id
  std::vector<uint8_t> out;
  encode_request(out, req, 0, 1, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenGroup, HeartbeatV4FrameLiteral) {
  HeartbeatRequest req;
  req.group_id = "g1";
  req.generation_id = 2;
  req.member_id = "m";
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x18,                          // size 24
      0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x09,  // key 12, version 4, correlation 9
      0x00, 0x02, 'w',  's',  0x00,                    // client id (int16 length), header tags
      0x03, 'g',  '1',                                 // group id (compact)
      0x00, 0x00, 0x00, 0x02,                          // generation 2
      0x02, 'm',                                       // member id
      0x00,                                            // group instance id: null
      0x00};                                           // tags
  std::vector<uint8_t> out;
  encode_request(out, req, 4, 9, "ws");
  EXPECT_BYTES(out, want);
}

// OffsetFetch v2-7: null Topics asks for every committed offset of the group.
TEST(GoldenGroup, OffsetFetchNullTopicsMeansAll) {
  OffsetFetchRequest req;
  req.group_id = "g";
  EXPECT_BYTES(encode(req, 2), (std::vector<uint8_t>{0, 1, 'g', 0xff, 0xff, 0xff, 0xff}));
  EXPECT_BYTES(encode(req, 7), (std::vector<uint8_t>{2, 'g', 0, 0, 0}));  // + require_stable, tags
  EXPECT_TRUE(DecodesTo(encode(req, 2), 2, req, OffsetFetchCase::FullRequest()));
  // v0-1 have no null: an empty list is written instead.
  EXPECT_BYTES(encode(req, 1), (std::vector<uint8_t>{0, 1, 'g', 0, 0, 0, 0}));
}

TEST(GoldenGroup, HostileCountsFailWithoutAllocating) {
  struct Case {
    const char* what;
    int api;
    int16_t version;
    std::vector<uint8_t> bytes;
  };
  const Case cases[] = {
      {"JoinGroup v0 members 0x7fffffff", 11, 0,
       F(false).i16(0).i32(1).string("r").string("l").string("m").i32(0x7fffffff).b},
      {"JoinGroup v6 members 2^31", 11, 6,
       F(true).i32(0).i16(0).i32(1).string("r").string("l").string("m").uvarint(0x80000001u).b},
      {"OffsetFetch v1 partitions 1000", 9, 1,
       F(false).array(1).string("t").i32(1000).i64(0).i32(0).b},
      {"OffsetCommit v8 topics 100", 8, 8, F(true).i32(0).array(100).b},
      {"LeaveGroup v3 members 0x10000", 13, 3, F(false).i32(0).i16(0).i32(0x10000).i64(0).b},
      {"FindCoordinator v4 coordinators 50", 10, 4, F(true).i32(0).array(50).raw({0, 0, 0}).b},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Reader r(c.bytes);
    switch (c.api) {
      case 11: JoinGroupResponse().decode(r, c.version); break;
      case 9: OffsetFetchResponse().decode(r, c.version); break;
      case 8: OffsetCommitResponse().decode(r, c.version); break;
      case 13: LeaveGroupResponse().decode(r, c.version); break;
      case 10: FindCoordinatorResponse().decode(r, c.version); break;
    }
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), DecodeError::kBadLength);
  }
}

}  // namespace
}  // namespace ws::protocol
