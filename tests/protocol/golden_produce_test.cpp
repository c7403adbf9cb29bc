// Golden byte tests for Produce (API key 0), every version 0..11, request and response.
//
// The expected bytes are NOT produced by protocol/wire.h's Writer or the generated codec: they are
// spelled out field by field with the small builder below, following Kafka's protocol rules and
// protocol/specs/Produce{Request,Response}.json. Each version condition is written out here with
// the spec line it comes from, so a generator bug cannot agree with itself.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/framing.h"
#include "protocol/produce.h"
#include "golden_byte_builder.h"

namespace ws::protocol {
namespace {

// ---- Spec facts, copied from the JSON files (not from the generated header) --------------------
constexpr int kApiKey = 0;     // "apiKey": 0
constexpr int kMaxV = 11;      // "validVersions": "0-11"
constexpr int kFirstFlex = 9;  // "flexibleVersions": "9+"
using Req = ProduceRequest;
using Resp = ProduceResponse;

TEST(GoldenProduce, ConstantsMatchSpec) {
  EXPECT_EQ(Req::kApiKey, kApiKey);
  EXPECT_EQ(Req::kMinVersion, 0);
  EXPECT_EQ(Req::kMaxVersion, kMaxV);
  EXPECT_EQ(Req::kFirstFlexibleVersion, kFirstFlex);
  EXPECT_EQ(Resp::kApiKey, kApiKey);
  EXPECT_EQ(Resp::kMinVersion, 0);
  EXPECT_EQ(Resp::kMaxVersion, kMaxV);
  EXPECT_EQ(Resp::kFirstFlexibleVersion, kFirstFlex);
}

TEST(GoldenProduce, ByteBuilderSelfCheck) {
  EXPECT_BYTES(B().i64(-2).b, (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
  EXPECT_BYTES(B().uvarint(201).uvarint(16384).b, (std::vector<uint8_t>{0xc9, 0x01, 0x80, 0x80, 0x01}));
  const uint8_t d[] = {7, 8};
  EXPECT_BYTES(F(false).nbytes(Bytes(d)).nbytes(std::nullopt).b,
               (std::vector<uint8_t>{0, 0, 0, 2, 7, 8, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_BYTES(F(true).nbytes(Bytes(d)).nbytes(std::nullopt).nbytes(Bytes()).b,
               (std::vector<uint8_t>{3, 7, 8, 0, 1}));
}

// ---- Request -------------------------------------------------------------------------------------
// Records are opaque bytes to this codec; any content will do.
const uint8_t kRec10[] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99};
const std::vector<uint8_t> kRec200(200, 0xab);  // compact length 201 needs a two-byte uvarint

struct RequestCase {
  const char* name;
  std::optional<std::string_view> txn;
  int16_t acks;
  int32_t timeout_ms;
};
const RequestCase kRequestCases[] = {
    {"txn_null_acks1", std::nullopt, 1, 30000},
    {"txn_set_acks_all", "ws-txn-1", -1, 0x01020304},
    {"txn_empty_acks0", "", 0, 5},  // "" is not null: 00 00 / 01, not ff ff / 00
};

// Topics: "orders" p0 = 10 bytes, p7 = null records, p9 = empty records; "audit-log" p3 = 200 bytes.
Req MakeRequest(int16_t v, const RequestCase& c) {
  Req r;
  if (v >= 3) r.transactional_id = c.txn;  // TransactionalId "versions": "3+"
  r.acks = c.acks;
  r.timeout_ms = c.timeout_ms;
  r.topic_data = {{"orders", {{0, Bytes(kRec10)}, {7, std::nullopt}, {9, Bytes()}}},
                  {"audit-log", {{3, Bytes(kRec200)}}}};
  return r;
}

F RequestBytes(int16_t v, const RequestCase& c) {
  F e(v >= 9);
  if (v >= 3) e.nstring(c.txn);  // TransactionalId: "versions": "3+", "nullableVersions": "3+"
  e.i16(c.acks).i32(c.timeout_ms);
  e.array(2);                                             // TopicData
  e.string("orders").array(3);                            //   Name, PartitionData
  e.i32(0).nbytes(Bytes(kRec10)).tags();                  //     Index, Records (nullable 0+)
  e.i32(7).nbytes(std::nullopt).tags();
  e.i32(9).nbytes(Bytes()).tags();
  e.tags();                                               //   end of topic
  e.string("audit-log").array(1);
  e.i32(3).nbytes(Bytes(kRec200)).tags();
  e.tags();
  e.tags();                                               // end of request
  return e;
}

// ---- Response ------------------------------------------------------------------------------------
constexpr int64_t kBaseOffset = 0x0000010203040506;
constexpr int64_t kAppendTime = 1700000000123;

// Every field that exists in v set; tagged fields (10+) only when `tags`. Partition 0 carries
// non-default values everywhere, partition 7 an error with defaults/empties/nulls elsewhere.
Resp MakeResponse(int16_t v, bool tags) {
  Resp::PartitionProduceResponse p0;
  p0.index = 0;
  p0.base_offset = kBaseOffset;
  if (v >= 2) p0.log_append_time_ms = kAppendTime;  // LogAppendTimeMs "versions": "2+"
  if (v >= 5) p0.log_start_offset = 42;             // LogStartOffset "versions": "5+"
  if (v >= 8) {                                     // RecordErrors, ErrorMessage "versions": "8+"
    p0.record_errors = {{2, "bad record"}, {5, std::nullopt}};
    p0.error_message = "batch dropped";
  }
  Resp::PartitionProduceResponse p7;
  p7.index = 7;
  p7.error_code = 6;  // NOT_LEADER_OR_FOLLOWER
  p7.base_offset = -1;
  if (v >= 10 && tags) p7.current_leader = {3, 17};  // CurrentLeader tag 0, "taggedVersions": "10+"

  Resp r;
  r.responses = {{"orders", {p0, p7}}};
  if (v >= 1) r.throttle_time_ms = 250;  // ThrottleTimeMs "versions": "1+"
  if (v >= 10 && tags) {                 // NodeEndpoints tag 0, "taggedVersions": "10+"
    r.node_endpoints = {{3, "broker-3.example", 9092, "rack-a"}, {4, "b4", 9093, std::nullopt}};
  }
  return r;
}

F ResponseBytes(int16_t v, bool tags) {
  F e(v >= 9);
  e.array(1).string("orders").array(2);        // Responses, Name, PartitionResponses
  e.i32(0).i16(0).i64(kBaseOffset);            // Index, ErrorCode, BaseOffset
  if (v >= 2) e.i64(kAppendTime);              // LogAppendTimeMs 2+
  if (v >= 5) e.i64(42);                       // LogStartOffset 5+
  if (v >= 8) {
    e.array(2);                                // RecordErrors 8+: BatchIndex, BatchIndexErrorMessage
    e.i32(2).nstring("bad record").tags();
    e.i32(5).nstring(std::nullopt).tags();
    e.nstring("batch dropped");                // ErrorMessage 8+
  }
  e.tags();                                    // CurrentLeader is default: no tag
  e.i32(7).i16(6).i64(-1);
  if (v >= 2) e.i64(-1);
  if (v >= 5) e.i64(-1);
  if (v >= 8) e.array(0).nstring(std::nullopt);
  if (v >= 10 && tags) {
    e.uvarint(1).tag(0, B().i32(3).i32(17).tags0());  // LeaderIdAndEpoch {LeaderId, LeaderEpoch}
  } else {
    e.tags();
  }
  e.tags();                                    // end of topic
  if (v >= 1) e.i32(250);                      // ThrottleTimeMs 1+
  if (v >= 10 && tags) {
    B nodes;  // []NodeEndpoint {NodeId, Host, Port, Rack (nullable)}
    nodes.carr(2);
    nodes.i32(3).cstr("broker-3.example").i32(9092).cstr("rack-a").tags0();
    nodes.i32(4).cstr("b4").i32(9093).cstr_null().tags0();
    e.uvarint(1).tag(0, nodes);
  } else {
    e.tags();
  }
  return e;
}

// ---- Per-version golden tests --------------------------------------------------------------------
class GoldenProduceV : public GoldenVersion {};
INSTANTIATE_TEST_SUITE_P(AllVersions, GoldenProduceV, ::testing::Range(0, kMaxV + 1), VersionName);

TEST_P(GoldenProduceV, RequestEncodeDecode) {
  for (const RequestCase& c : kRequestCases) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> want = RequestBytes(v(), c).b;
    EXPECT_BYTES(encode(MakeRequest(kMaxV, c), v()), want);  // absent fields are not written
    EXPECT_TRUE(DecodesTo(want, v(), MakeRequest(v(), c), MakeRequest(kMaxV, kRequestCases[1])));
  }
}

TEST_P(GoldenProduceV, ResponseDecodeEncode) {
  for (bool tags : {false, true}) {
    SCOPED_TRACE(tags ? "with tagged fields" : "no tagged fields");
    const std::vector<uint8_t> bytes = ResponseBytes(v(), tags).b;
    EXPECT_TRUE(DecodesTo(bytes, v(), MakeResponse(v(), tags)));
    EXPECT_TRUE(DecodesTo(bytes, v(), MakeResponse(v(), tags), MakeResponse(kMaxV, true)));
    EXPECT_BYTES(encode(MakeResponse(kMaxV, tags), v()), bytes);
  }
}

TEST_P(GoldenProduceV, RequestFrame) {
  std::vector<uint8_t> out = {0xee};  // encode_request appends after what is there
  const size_t n = encode_request(out, MakeRequest(kMaxV, kRequestCases[1]), v(), 0x0a0b0c0d,
                                  "wirestress-1");
  const B frame = request_frame(kApiKey, v(), v() >= kFirstFlex, 0x0a0b0c0d, "wirestress-1",
                                RequestBytes(v(), kRequestCases[1]));
  EXPECT_BYTES(out, B().i8(0xee).raw(frame).b);
  EXPECT_EQ(n, frame.size());
}

TEST_P(GoldenProduceV, ResponseFrame) {
  const bool flex = v() >= 9;
  B frame;  // without the size prefix, as read_response_header expects
  frame.i32(0x7f000001);
  if (flex) frame.uvarint(1).tag(7, B().raw({0xaa, 0xbb, 0xcc}));  // header v1, an unknown tag
  frame.raw(ResponseBytes(v(), true));
  ResponseFrame rf = read_response_header(frame.b, kApiKey, v());
  EXPECT_EQ(rf.correlation_id, 0x7f000001);
  Resp out;
  out.decode(rf.body, v());
  EXPECT_TRUE(rf.body.ok()) << to_string(rf.body.error());
  EXPECT_TRUE(rf.body.empty()) << rf.body.remaining() << " bytes left";
  EXPECT_TRUE(out == MakeResponse(v(), true));
}

// Every strict prefix of a valid message must fail to decode (and never read out of bounds).
TEST_P(GoldenProduceV, TruncatedResponseFails) {
  EXPECT_TRUE(EveryTruncationFails<Resp>(ResponseBytes(v(), true).b, v()));
}

TEST_P(GoldenProduceV, TruncatedRequestFails) {
  EXPECT_TRUE(EveryTruncationFails<Req>(RequestBytes(v(), kRequestCases[1]).b, v()));
}

// ---- Literal frames and flexible-only cases ------------------------------------------------------
const uint8_t kRec3[] = {1, 2, 3};

Req TinyRequest() {  // txn null, acks -1, timeout 1000, topic "t" partition 0 records 01 02 03
  Req r;
  r.acks = -1;
  r.timeout_ms = 1000;
  r.topic_data = {{"t", {{0, Bytes(kRec3)}}}};
  return r;
}

TEST(GoldenProduce, RequestFrameLiteralV0) {
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x28,                          // size 40
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,  // key 0, version 0, correlation 7
      0x00, 0x02, 'w',  's',                           // client id
      0xff, 0xff, 0x00, 0x00, 0x03, 0xe8,              // acks -1, timeout 1000
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',         // 1 topic "t"
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // 1 partition, index 0
      0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03};       // records
  std::vector<uint8_t> out;
  encode_request(out, TinyRequest(), 0, 7, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenProduce, RequestFrameLiteralV3) {
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x2a,                          // size 42
      0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07,  // key 0, version 3, correlation 7
      0x00, 0x02, 'w',  's',                           // client id
      0xff, 0xff,                                      // transactional id null
      0xff, 0xff, 0x00, 0x00, 0x03, 0xe8,              // acks -1, timeout 1000
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',         // 1 topic "t"
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // 1 partition, index 0
      0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03};       // records
  std::vector<uint8_t> out;
  encode_request(out, TinyRequest(), 3, 7, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenProduce, RequestFrameLiteralV9) {
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x23,                          // size 35
      0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x07,  // key 0, version 9, correlation 7
      0x00, 0x02, 'w',  's',  0x00,                    // client id (int16 length), header tags
      0x00,                                            // transactional id null (compact)
      0xff, 0xff, 0x00, 0x00, 0x03, 0xe8,              // acks -1, timeout 1000
      0x02, 0x02, 't',                                 // 1 topic "t"
      0x02, 0x00, 0x00, 0x00, 0x00,                    // 1 partition, index 0
      0x04, 0x01, 0x02, 0x03,                          // records (compact)
      0x00, 0x00, 0x00};                               // partition, topic, request tags
  std::vector<uint8_t> out;
  encode_request(out, TinyRequest(), 9, 7, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenProduce, RequestFrameNullClientId) {
  for (int16_t v = 0; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    std::vector<uint8_t> out;
    encode_request(out, MakeRequest(kMaxV, kRequestCases[0]), v, -1, std::nullopt);
    EXPECT_BYTES(out, request_frame(kApiKey, v, v >= kFirstFlex, -1, std::nullopt,
                                    RequestBytes(v, kRequestCases[0])).b);
  }
}

// Unknown tags at every level (response, topic, partition, record error, leader, node endpoint)
// are skipped. Tag 0 is CurrentLeader / NodeEndpoints only from v10: in v9 it is unknown too.
TEST(GoldenProduce, UnknownTagsSkipped) {
  const B unknown = B().raw({0xaa, 0xbb, 0xcc});
  for (int16_t v = kFirstFlex; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    B e;
    e.carr(1).cstr("t").carr(1);
    e.i32(1).i16(0).i64(5).i64(-1).i64(0);
    e.carr(1).i32(0).cstr_null().uvarint(1).tag(7, unknown);  // record error with a tag
    e.cstr_null();
    e.uvarint(2).tag(0, B().i32(2).i32(9).uvarint(1).tag(7, unknown)).tag(7, unknown);
    e.uvarint(1).tag(7, unknown);  // topic
    e.i32(0);
    B nodes;
    nodes.carr(1).i32(2).cstr("h").i32(1).cstr_null().uvarint(1).tag(7, unknown);
    e.uvarint(3).tag(0, nodes).tag(7, unknown).tag(300, B());

    Resp::PartitionProduceResponse p;
    p.index = 1;
    p.base_offset = 5;
    p.log_start_offset = 0;
    p.record_errors = {{0, std::nullopt}};
    if (v >= 10) p.current_leader = {2, 9};
    Resp want;
    want.responses = {{"t", {p}}};
    if (v >= 10) want.node_endpoints = {{2, "h", 1, std::nullopt}};
    EXPECT_TRUE(DecodesTo(e.b, v, want, MakeResponse(kMaxV, true)));
  }
}

TEST(GoldenProduce, BadLengthsRejected) {
  for (int16_t v : {int16_t{0}, int16_t{9}}) {
    SCOPED_TRACE("v" + std::to_string(v));
    F e(v >= 9);
    e.array(1).string("t").array(1).i32(0);
    if (v >= 9) e.uvarint(0x7ffffff0); else e.i32(0x7ffffff0);  // records length far too large
    e.raw({1, 2, 3});
    Reader r(e.b);
    Req out;
    out.decode(r, v);
    EXPECT_FALSE(r.ok());
  }
}

}  // namespace
}  // namespace ws::protocol
