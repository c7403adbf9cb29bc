// Golden byte tests for ListOffsets (API key 2), every version 0..10, request and response.
//
// The expected bytes are NOT produced by protocol/wire.h's Writer or the generated codec: they are
// spelled out field by field with the builder in golden_byte_builder.h, following Kafka's protocol
// rules and protocol/specs/ListOffsets{Request,Response}.json. Each version condition is written
// out here with the spec line it comes from, so a generator bug cannot agree with itself.
//
// What changes across versions: v0 asks for up to MaxNumOffsets offsets and is answered with an
// OldStyleOffsets array; v1 replaces both with one (Timestamp, Offset) pair; v2 adds
// IsolationLevel and ThrottleTimeMs; v4 the leader epochs; v6 is flexible (compact strings and
// arrays, tagged fields, request header v2 / response header v1); v10 adds TimeoutMs.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/framing.h"
#include "protocol/list_offsets.h"
#include "golden_byte_builder.h"

namespace ws::protocol {
namespace {

// ---- Spec facts, copied from the JSON files (not from the generated header) --------------------
constexpr int kApiKey = 2;     // "apiKey": 2
constexpr int kMaxV = 10;      // "validVersions": "0-10"
constexpr int kFirstFlex = 6;  // "flexibleVersions": "6+"
using Req = ListOffsetsRequest;
using Resp = ListOffsetsResponse;

// Special timestamps a consumer sends (ListOffsetsRequest.json comments, KIP-79 / KIP-734).
constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;
constexpr int64_t kMaxTimestamp = -3;  // v7+
constexpr int64_t kT = 1700000000123;  // a real timestamp: "the first offset at or after"

TEST(GoldenListOffsets, ConstantsMatchSpec) {
  EXPECT_EQ(Req::kApiKey, kApiKey);
  EXPECT_EQ(Req::kMinVersion, 0);
  EXPECT_EQ(Req::kMaxVersion, kMaxV);
  EXPECT_EQ(Req::kFirstFlexibleVersion, kFirstFlex);
  EXPECT_EQ(Resp::kApiKey, kApiKey);
  EXPECT_EQ(Resp::kMinVersion, 0);
  EXPECT_EQ(Resp::kMaxVersion, kMaxV);
  EXPECT_EQ(Resp::kFirstFlexibleVersion, kFirstFlex);
  const ApiSupport* api = find_api(kApiKey);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->name, "ListOffsets");
  EXPECT_EQ(api->min_version, 0);
  EXPECT_EQ(api->max_version, kMaxV);
  for (int16_t v = 0; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    EXPECT_EQ(is_flexible(kApiKey, v), v >= kFirstFlex);
    EXPECT_EQ(request_header_version(kApiKey, v), v >= kFirstFlex ? 2 : 1);
    EXPECT_EQ(response_header_version(kApiKey, v), v >= kFirstFlex ? 1 : 0);
  }
}

TEST(GoldenListOffsets, ByteBuilderSelfCheck) {
  EXPECT_BYTES(F(false).i8(1).array(2).string("ab").tags().b,
               (std::vector<uint8_t>{1, 0, 0, 0, 2, 0, 2, 'a', 'b'}));
  EXPECT_BYTES(F(true).i8(-1).array(2).string("ab").tags().b,
               (std::vector<uint8_t>{0xff, 3, 3, 'a', 'b', 0}));
  // A 130-byte name: compact length 131 = 0x83 0x01 (two uvarint bytes).
  const std::vector<uint8_t> long_name = F(true).string(std::string(130, 'x')).b;
  ASSERT_EQ(long_name.size(), 132u);
  EXPECT_EQ(long_name[0], 0x83);
  EXPECT_EQ(long_name[1], 0x01);
}

// ---- Request -------------------------------------------------------------------------------------
// A topic name long enough (130 bytes) for a two-byte compact length in flexible versions.
const std::string kLongTopic = "t." + std::string(128, 'l');

struct RequestCase {
  const char* name;
  int32_t replica_id;
  int8_t isolation_level;
  int32_t timeout_ms;
};
const RequestCase kRequestCases[] = {
    {"consumer_read_committed", -1, 1, 30000},  // a consumer: replica -1, READ_COMMITTED
    {"follower_read_uncommitted", 3, 0, 0x01020304},
};

// Every field set to a non-default value, whatever the version: encode() must drop what v lacks.
// "orders" p0 earliest, p3 latest (v0: up to 5 offsets), p9 max-timestamp; kLongTopic p1 by time;
// "empty" with no partitions.
Req FullRequest(const RequestCase& c) {
  Req r;
  r.replica_id = c.replica_id;
  r.isolation_level = c.isolation_level;
  r.topics = {{"orders", {{0, 7, kEarliest, 1}, {3, 12, kLatest, 5}, {9, 0, kMaxTimestamp, 2}}},
              {kLongTopic, {{1, -1, kT, 1}}},
              {"empty", {}}};
  r.timeout_ms = c.timeout_ms;
  return r;
}

// What decoding v's bytes gives back: fields v lacks hold their spec defaults.
Req RequestFor(int16_t v, const RequestCase& c) {
  Req r = FullRequest(c);
  if (v < 2) r.isolation_level = 0;  // IsolationLevel "versions": "2+"
  for (auto& t : r.topics) {
    for (auto& p : t.partitions) {
      if (v < 4) p.current_leader_epoch = -1;  // CurrentLeaderEpoch "versions": "4+", "default": "-1"
      if (v > 0) p.max_num_offsets = 1;        // MaxNumOffsets "versions": "0", "default": "1"
    }
  }
  if (v < 10) r.timeout_ms = 0;  // TimeoutMs "versions": "10+"
  return r;
}

F RequestBytes(int16_t v, const RequestCase& c) {
  F e(v >= kFirstFlex);
  e.i32(c.replica_id);                         // ReplicaId 0+
  if (v >= 2) e.i8(c.isolation_level);         // IsolationLevel 2+
  e.array(3);                                  // Topics 0+
  auto partition = [&](int32_t index, int32_t epoch, int64_t timestamp, int32_t max_offsets) {
    e.i32(index);                              //   PartitionIndex 0+
    if (v >= 4) e.i32(epoch);                  //   CurrentLeaderEpoch 4+
    e.i64(timestamp);                          //   Timestamp 0+
    if (v == 0) e.i32(max_offsets);            //   MaxNumOffsets 0
    e.tags();
  };
  e.string("orders").array(3);                 //   Name, Partitions
  partition(0, 7, kEarliest, 1);
  partition(3, 12, kLatest, 5);
  partition(9, 0, kMaxTimestamp, 2);
  e.tags();
  e.string(kLongTopic).array(1);
  partition(1, -1, kT, 1);
  e.tags();
  e.string("empty").array(0).tags();
  if (v >= 10) e.i32(c.timeout_ms);            // TimeoutMs 10+
  e.tags();
  return e;
}

// ---- Response ------------------------------------------------------------------------------------
// Every field set, whatever the version. "orders" p0: found (v0: two old-style offsets), p3: an
// error with the "no offset" defaults, p9: offset 0 of an empty log; kLongTopic p1: found by time;
// "empty": no partitions.
Resp FullResponse() {
  Resp r;
  r.throttle_time_ms = 250;
  Resp::ListOffsetsPartitionResponse p0{0, 0, {42, 17}, kT, 42, 7};
  Resp::ListOffsetsPartitionResponse p3{3, 6, {}, -1, -1, -1};  // NOT_LEADER_OR_FOLLOWER
  Resp::ListOffsetsPartitionResponse p9{9, 0, {0}, -1, 0, 2};
  Resp::ListOffsetsPartitionResponse p1{1, 0, {1234567890123}, kT + 5, 1234567890123, 0};
  r.topics = {{"orders", {p0, p3, p9}}, {kLongTopic, {p1}}, {"empty", {}}};
  return r;
}

Resp ResponseFor(int16_t v) {
  Resp r = FullResponse();
  if (v < 2) r.throttle_time_ms = 0;  // ThrottleTimeMs "versions": "2+"
  for (auto& t : r.topics) {
    for (auto& p : t.partitions) {
      if (v > 0) p.old_style_offsets.clear();  // OldStyleOffsets "versions": "0"
      if (v < 1) p.timestamp = -1;             // Timestamp "versions": "1+", "default": "-1"
      if (v < 1) p.offset = -1;                // Offset "versions": "1+", "default": "-1"
      if (v < 4) p.leader_epoch = -1;          // LeaderEpoch "versions": "4+", "default": "-1"
    }
  }
  return r;
}

F ResponseBytes(int16_t v) {
  F e(v >= kFirstFlex);
  if (v >= 2) e.i32(250);                      // ThrottleTimeMs 2+
  e.array(3);                                  // Topics 0+
  auto partition = [&](int32_t index, int16_t error, std::vector<int64_t> old_style,
                       int64_t timestamp, int64_t offset, int32_t epoch) {
    e.i32(index).i16(error);                   //   PartitionIndex, ErrorCode 0+
    if (v == 0) {                              //   OldStyleOffsets 0: int32 count, int64 each
      e.array(old_style.size());
      for (int64_t o : old_style) e.i64(o);
    }
    if (v >= 1) e.i64(timestamp).i64(offset);  //   Timestamp, Offset 1+
    if (v >= 4) e.i32(epoch);                  //   LeaderEpoch 4+
    e.tags();
  };
  e.string("orders").array(3);
  partition(0, 0, {42, 17}, kT, 42, 7);
  partition(3, 6, {}, -1, -1, -1);
  partition(9, 0, {0}, -1, 0, 2);
  e.tags();
  e.string(kLongTopic).array(1);
  partition(1, 0, {1234567890123}, kT + 5, 1234567890123, 0);
  e.tags();
  e.string("empty").array(0).tags();
  e.tags();
  return e;
}

// ---- Per-version golden tests --------------------------------------------------------------------
class GoldenListOffsetsV : public GoldenVersion {};
INSTANTIATE_TEST_SUITE_P(AllVersions, GoldenListOffsetsV, ::testing::Range(0, kMaxV + 1), VersionName);

TEST_P(GoldenListOffsetsV, RequestEncodeDecode) {
  for (const RequestCase& c : kRequestCases) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> want = RequestBytes(v(), c).b;
    EXPECT_BYTES(encode(FullRequest(c), v()), want);  // absent fields are not written
    EXPECT_BYTES(encode(RequestFor(v(), c), v()), want);
    // Decoding into a used object (the other case, every field set) must overwrite or reset all.
    const RequestCase& other = &c == &kRequestCases[0] ? kRequestCases[1] : kRequestCases[0];
    EXPECT_TRUE(DecodesTo(want, v(), RequestFor(v(), c), FullRequest(other)));
  }
}

TEST_P(GoldenListOffsetsV, ResponseDecodeEncode) {
  const std::vector<uint8_t> bytes = ResponseBytes(v()).b;
  EXPECT_TRUE(DecodesTo(bytes, v(), ResponseFor(v())));
  EXPECT_TRUE(DecodesTo(bytes, v(), ResponseFor(v()), FullResponse()));
  EXPECT_BYTES(encode(FullResponse(), v()), bytes);  // absent fields are not written
  EXPECT_BYTES(encode(ResponseFor(v()), v()), bytes);
}

TEST_P(GoldenListOffsetsV, RequestFrame) {
  std::vector<uint8_t> out = {0xee};  // encode_request appends after what is there
  const size_t n = encode_request(out, FullRequest(kRequestCases[0]), v(), 0x0a0b0c0d, "consumer-7");
  const B frame = request_frame(kApiKey, v(), v() >= kFirstFlex, 0x0a0b0c0d, "consumer-7",
                                RequestBytes(v(), kRequestCases[0]));
  EXPECT_BYTES(out, B().i8(0xee).raw(frame).b);
  EXPECT_EQ(n, frame.size());
}

TEST_P(GoldenListOffsetsV, RequestFrameNullClientId) {
  std::vector<uint8_t> out;
  encode_request(out, FullRequest(kRequestCases[1]), v(), -1, std::nullopt);
  EXPECT_BYTES(out, request_frame(kApiKey, v(), v() >= kFirstFlex, -1, std::nullopt,
                                  RequestBytes(v(), kRequestCases[1])).b);
}

TEST_P(GoldenListOffsetsV, ResponseFrame) {
  const bool flex = v() >= kFirstFlex;
  B frame;  // without the size prefix, as read_response_header expects
  frame.i32(0x7f000001);
  if (flex) frame.uvarint(1).tag(7, B().raw({0xaa, 0xbb, 0xcc}));  // header v1, an unknown tag
  frame.raw(ResponseBytes(v()));
  ResponseFrame rf = read_response_header(frame.b, kApiKey, v());
  EXPECT_EQ(rf.correlation_id, 0x7f000001);
  Resp out;
  out.decode(rf.body, v());
  EXPECT_TRUE(rf.body.ok()) << to_string(rf.body.error());
  EXPECT_TRUE(rf.body.empty()) << rf.body.remaining() << " bytes left";
  EXPECT_TRUE(out == ResponseFor(v()));
}

// Every strict prefix of a valid message must fail to decode (and never read out of bounds).
TEST_P(GoldenListOffsetsV, TruncatedFails) {
  EXPECT_TRUE(EveryTruncationFails<Resp>(ResponseBytes(v()).b, v()));
  for (const RequestCase& c : kRequestCases) {
    EXPECT_TRUE(EveryTruncationFails<Req>(RequestBytes(v(), c).b, v())) << c.name;
  }
}

// ---- Literal frames ------------------------------------------------------------------------------
// Whole frames as bytes on the wire, for the versions real clients send: v0 (Kafka 0.9), v2
// (librdkafka 2.0.2's choice against its mock cluster), v6 (first flexible) and v10 (TimeoutMs).

Req OnePartition(std::string_view topic, int64_t timestamp) {
  Req r;
  r.replica_id = -1;
  r.topics = {{topic, {{0, -1, timestamp, 1}}}};
  return r;
}

// The frame kcat (librdkafka 2.0.2, broker.version.fallback=0.9.0.1) sends to Kafka 0.9 for
// `-o beginning`, as captured in tests/data/captures/kafka09/kcat_fetch_none.
TEST(GoldenListOffsets, RequestFrameLiteralV0) {
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x38,                          // size 56
      0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,  // key 2, version 0, correlation 4
      0x00, 0x07, 'r',  'd',  'k',  'a',  'f',  'k',  'a',  // client id
      0xff, 0xff, 0xff, 0xff,                          // replica -1
      0x00, 0x00, 0x00, 0x01,                          // 1 topic
      0x00, 0x09, 'k',  'c',  'a',  't',  '_',  'n',  'o',  'n',  'e',
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // 1 partition, index 0
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,  // timestamp -2: earliest
      0x00, 0x00, 0x00, 0x01};                         // max_num_offsets 1
  std::vector<uint8_t> out;
  encode_request(out, OnePartition("kcat_none", kEarliest), 0, 4, "rdkafka");
  EXPECT_BYTES(out, want);
  Reader r(std::span<const uint8_t>(want).subspan(4 + 2 + 2 + 4 + 2 + 7));
  Req got;
  got.decode(r, 0);
  EXPECT_TRUE(r.ok() && r.empty());
  EXPECT_TRUE(got == OnePartition("kcat_none", kEarliest));
}

// Kafka 0.9's answer to it: the old-style offsets array holding offset 0.
TEST(GoldenListOffsets, ResponseFrameLiteralV0) {
  const std::vector<uint8_t> frame = {
      0x00, 0x00, 0x00, 0x04,                          // correlation 4
      0x00, 0x00, 0x00, 0x01,                          // 1 topic
      0x00, 0x09, 'k',  'c',  'a',  't',  '_',  'n',  'o',  'n',  'e',
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // 1 partition, index 0
      0x00, 0x00,                                      // error 0
      0x00, 0x00, 0x00, 0x01,                          // 1 offset
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}; // offset 0
  ResponseFrame rf = read_response_header(frame, kApiKey, 0);
  EXPECT_EQ(rf.correlation_id, 4);
  Resp got;
  got.decode(rf.body, 0);
  ASSERT_TRUE(rf.body.ok() && rf.body.empty());
  ASSERT_EQ(got.topics.size(), 1u);
  EXPECT_EQ(got.topics[0].name, "kcat_none");
  ASSERT_EQ(got.topics[0].partitions.size(), 1u);
  const auto& p = got.topics[0].partitions[0];
  EXPECT_EQ(p.partition_index, 0);
  EXPECT_EQ(p.error_code, 0);
  EXPECT_EQ(p.old_style_offsets, std::vector<int64_t>{0});
  EXPECT_EQ(p.offset, -1);  // v0 has no Offset field: the default, not the old-style value
}

TEST(GoldenListOffsets, RequestFrameLiteralV2) {
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x28,                          // size 40
      0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05,  // key 2, version 2, correlation 5
      0x00, 0x02, 'w',  's',                           // client id
      0xff, 0xff, 0xff, 0xff, 0x00,                    // replica -1, READ_UNCOMMITTED
      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',         // 1 topic "t"
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // 1 partition, index 0
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; // timestamp -1: latest
  std::vector<uint8_t> out;
  encode_request(out, OnePartition("t", kLatest), 2, 5, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenListOffsets, RequestFrameLiteralV6) {
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x29,                          // size 41
      0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x07,  // key 2, version 6, correlation 7
      0x00, 0x02, 'w',  's',  0x00,                    // client id (int16 length), header tags
      0xff, 0xff, 0xff, 0xff, 0x00,                    // replica -1, READ_UNCOMMITTED
      0x02, 0x02, 't',                                 // 1 topic "t" (compact)
      0x02, 0x00, 0x00, 0x00, 0x00,                    // 1 partition, index 0
      0xff, 0xff, 0xff, 0xff,                          // current leader epoch -1
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // timestamp -1: latest
      0x00, 0x00, 0x00};                               // partition, topic, request tags
  std::vector<uint8_t> out;
  encode_request(out, OnePartition("t", kLatest), 6, 7, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenListOffsets, RequestFrameLiteralV10) {
  Req req = OnePartition("t", kEarliest);
  req.timeout_ms = 1000;
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x2d,                          // size 45
      0x00, 0x02, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x07,  // key 2, version 10, correlation 7
      0x00, 0x02, 'w',  's',  0x00,                    // client id, header tags
      0xff, 0xff, 0xff, 0xff, 0x00,                    // replica -1, READ_UNCOMMITTED
      0x02, 0x02, 't',                                 // 1 topic "t"
      0x02, 0x00, 0x00, 0x00, 0x00,                    // 1 partition, index 0
      0xff, 0xff, 0xff, 0xff,                          // current leader epoch -1
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,  // timestamp -2: earliest
      0x00, 0x00,                                      // partition, topic tags
      0x00, 0x00, 0x03, 0xe8,                          // timeout_ms 1000
      0x00};                                           // request tags
  std::vector<uint8_t> out;
  encode_request(out, req, 10, 7, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenListOffsets, ResponseFrameLiteralV10) {
  const std::vector<uint8_t> frame = {
      0x00, 0x00, 0x00, 0x07, 0x00,                    // correlation 7, header tags
      0x00, 0x00, 0x00, 0x00,                          // throttle 0
      0x02, 0x02, 't',                                 // 1 topic "t"
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,        // 1 partition, index 0, error 0
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b,  // timestamp 1700000000123
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x39,  // offset 12345
      0x00, 0x00, 0x00, 0x05,                          // leader epoch 5
      0x00, 0x00, 0x00};                               // partition, topic, response tags
  ResponseFrame rf = read_response_header(frame, kApiKey, 10);
  EXPECT_EQ(rf.correlation_id, 7);
  Resp got;
  got.decode(rf.body, 10);
  ASSERT_TRUE(rf.body.ok() && rf.body.empty());
  Resp want;
  want.topics = {{"t", {{0, 0, {}, kT, 12345, 5}}}};
  EXPECT_TRUE(got == want);
}

// ---- Flexible-only and malformed input -----------------------------------------------------------

// ListOffsets defines no tagged fields in any version: every tag, at every level, is unknown and
// must be skipped.
TEST(GoldenListOffsets, UnknownTagsSkipped) {
  const B unknown = B().raw({0xaa, 0xbb, 0xcc});
  for (int16_t v = kFirstFlex; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    B e;
    e.i32(9).carr(1).cstr("t").carr(1);
    e.i32(2).i16(0).i64(kT).i64(77).i32(4);
    e.uvarint(2).tag(0, unknown).tag(300, B());  // partition
    e.uvarint(1).tag(7, unknown);                // topic
    e.uvarint(1).tag(1, B().i64(0x0102030405060708).i8(9));  // response
    Resp want;
    want.throttle_time_ms = 9;
    want.topics = {{"t", {{2, 0, {}, kT, 77, 4}}}};
    EXPECT_TRUE(DecodesTo(e.b, v, want, FullResponse()));

    B q;
    q.i32(-1).i8(0).carr(1).cstr("t").carr(1);
    q.i32(2).i32(4).i64(kLatest).uvarint(1).tag(5, unknown);  // partition
    q.uvarint(1).tag(0, unknown);                             // topic
    if (v >= 10) q.i32(500);
    q.uvarint(1).tag(2, unknown);                             // request
    Req want_req;
    want_req.replica_id = -1;
    want_req.topics = {{"t", {{2, 4, kLatest, 1}}}};
    if (v >= 10) want_req.timeout_ms = 500;
    EXPECT_TRUE(DecodesTo(q.b, v, want_req, FullRequest(kRequestCases[1])));
  }
}

TEST(GoldenListOffsets, ArrayCountBeyondInputFailsWithoutAllocating) {
  struct Case {
    const char* what;
    int16_t version;
    std::vector<uint8_t> bytes;
  };
  const Case cases[] = {
      {"v0 old-style offsets count 0x7fffffff", 0,
       F(false).array(1).string("t").array(1).i32(0).i16(0).i32(0x7fffffff).i64(0).b},
      {"v1 topics count 0x7fffffff", 1, F(false).i32(0x7fffffff).i32(0).b},
      {"v6 compact partitions count 2^31", 6,
       F(true).i32(0).array(1).string("t").uvarint(0x80000001u).i32(0).b},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Reader r(c.bytes);
    Resp m;
    m.decode(r, c.version);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), DecodeError::kBadLength);
  }
}

}  // namespace
}  // namespace ws::protocol
