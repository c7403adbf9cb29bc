// Golden bytes for Metadata (API key 3), every version 0-12, requests and responses.
//
// The expected bytes are written by hand from protocol/specs/Metadata{Request,Response}.json with
// the small builder below, which follows the Kafka wire rules directly and shares no code with
// protocol/wire.h, so a mistake in the codec or its generator cannot cancel itself out here.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/framing.h"
#include "protocol/metadata.h"

namespace ws::protocol {
namespace {

using ByteVec = std::vector<uint8_t>;

// Kafka wire rules: big-endian fixed-width integers; classic strings have an int16 length
// (-1 = null), bytes and arrays an int32 length/count (-1 = null). In flexible versions strings,
// bytes and arrays are "compact" (unsigned varint length+1, 0 = null) and every struct ends with a
// tagged-field section: uvarint count, then per field uvarint tag, uvarint size, payload.
struct Golden {
  explicit Golden(bool flexible = false) : flex(flexible) {}

  bool flex;  // selects the compact forms in string()/array()/... and enables tags()
  ByteVec out;

  Golden& be(uint64_t v, int width) {
    for (int shift = 8 * (width - 1); shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
    return *this;
  }
  Golden& i8(int8_t v) { return be(uint64_t(int64_t{v}), 1); }
  Golden& i16(int16_t v) { return be(uint64_t(int64_t{v}), 2); }
  Golden& i32(int32_t v) { return be(uint64_t(int64_t{v}), 4); }
  Golden& i64(int64_t v) { return be(uint64_t(v), 8); }
  Golden& boolean(bool v) { return be(v ? 1 : 0, 1); }
  Golden& uvarint(uint64_t v) {
    while (v >= 0x80) {
      out.push_back(uint8_t(0x80 | (v & 0x7f)));
      v >>= 7;
    }
    out.push_back(uint8_t(v));
    return *this;
  }
  Golden& raw(const ByteVec& bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
    return *this;
  }
  Golden& uuid(const Uuid& u) { return raw(ByteVec(u.begin(), u.end())); }

  // Explicit classic / compact primitives.
  Golden& str(std::string_view s) {
    i16(int16_t(s.size()));
    return raw(ByteVec(s.begin(), s.end()));
  }
  Golden& cstr(std::string_view s) {
    uvarint(s.size() + 1);
    return raw(ByteVec(s.begin(), s.end()));
  }

  // The version's form: compact when flex, classic otherwise.
  Golden& string(std::string_view s) { return flex ? cstr(s) : str(s); }
  Golden& null_string() { return flex ? uvarint(0) : i16(-1); }
  Golden& nullable_string(std::optional<std::string_view> s) {
    return s ? string(*s) : null_string();
  }
  Golden& array(size_t n) { return flex ? uvarint(n + 1) : i32(int32_t(n)); }
  Golden& null_array() { return flex ? uvarint(0) : i32(-1); }
  Golden& i32_array(std::initializer_list<int32_t> items) {
    array(items.size());
    for (int32_t x : items) i32(x);
    return *this;
  }
  // An empty tagged-field section, present only in flexible versions.
  Golden& tags() { return flex ? uvarint(0) : *this; }
};

std::string hex(const ByteVec& b, size_t mark = SIZE_MAX) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    if (i == mark) s += '[';
    s += buf;
    if (i == mark) s += ']';
    s += (i % 16 == 15) ? "\n      " : " ";
  }
  return s;
}

// Byte equality with a hex dump of both sides, the first difference in [brackets].
::testing::AssertionResult SameBytes(const ByteVec& want, const ByteVec& got) {
  if (want == got) return ::testing::AssertionSuccess();
  size_t at = 0;
  while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
  return ::testing::AssertionFailure()
         << "first difference at byte " << at << " (want " << want.size() << " bytes, got "
         << got.size() << ")\nwant: " << hex(want, at) << "\n got: " << hex(got, at);
}

template <typename Msg>
ByteVec encode(const Msg& m, int16_t v) {
  ByteVec out;
  Writer w(out);
  m.encode(w, v);
  return out;
}

// Decodes `bytes` into `into` (pre-filled with other values, so missing resets show up) and
// checks that every byte was consumed and the result equals `want`.
template <typename Msg>
void expect_decodes_to(const ByteVec& bytes, int16_t v, const Msg& want, Msg into = {}) {
  Reader r(bytes);
  into.decode(r, v);
  EXPECT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(into == want) << "decoded value re-encodes as\n      " << hex(encode(into, v))
                            << "\nexpected value encodes as\n      " << hex(encode(want, v));
}

// Decoding any strict prefix of a message must fail cleanly. The prefix is copied into its own
// allocation so that AddressSanitizer catches a read past it.
template <typename Msg>
void expect_every_truncation_fails(const ByteVec& bytes, int16_t v) {
  for (size_t len = 0; len < bytes.size(); ++len) {
    ByteVec cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(len));
    Reader r(cut);
    Msg m;
    m.decode(r, v);
    EXPECT_FALSE(r.ok()) << "decoding the first " << len << " of " << bytes.size()
                         << " bytes succeeded";
  }
}

std::string version_name(const ::testing::TestParamInfo<int>& info) {
  return "v" + std::to_string(info.param);
}

constexpr Uuid kOrdersId = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                            0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
constexpr Uuid kAuditId = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                           0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

// ---------------------------------------------------------------------------------------------
// MetadataRequest

enum class Topics { kAll, kNone, kNamed };

// Every field set to a non-default value, whatever the version: encode() must drop what v lacks.
MetadataRequest full_request(int16_t v, Topics which) {
  MetadataRequest r;
  if (which == Topics::kNone) r.topics.emplace();
  if (which == Topics::kNamed) {
    // v10+ can ask by id alone (null name); earlier versions need a name.
    std::optional<std::string_view> audit_name;
    if (v < 10) audit_name = "audit.log";
    r.topics = {{kOrdersId, "orders"}, {kAuditId, audit_name}};
  }
  r.allow_auto_topic_creation = false;
  r.include_cluster_authorized_operations = true;
  r.include_topic_authorized_operations = true;
  return r;
}

// What decoding v's bytes gives back: fields v does not carry are at their defaults.
MetadataRequest decoded_request(MetadataRequest r, int16_t v) {
  if (v == 0 && !r.topics) r.topics.emplace();  // v0 has no null array: [] is "all topics"
  if (r.topics && v < 10) {
    for (auto& t : *r.topics) t.topic_id = {};
  }
  if (v < 4) r.allow_auto_topic_creation = true;
  if (v < 8 || v > 10) r.include_cluster_authorized_operations = false;
  if (v < 8) r.include_topic_authorized_operations = false;
  return r;
}

ByteVec request_bytes(int16_t v, Topics which) {
  Golden e{v >= 9};
  switch (which) {
    case Topics::kAll:
      if (v == 0) e.i32(0);        // v0: an empty list means all topics
      else if (v <= 8) e.i32(-1);  // v1-8: null array
      else e.uvarint(0);           // v9+: compact null array
      break;
    case Topics::kNone:
      e.array(0);
      break;
    case Topics::kNamed:
      e.array(2);
      if (v >= 10) e.uuid(kOrdersId);
      e.string("orders").tags();
      if (v >= 10) e.uuid(kAuditId).null_string();
      else e.string("audit.log");
      e.tags();
      break;
  }
  if (v >= 4) e.boolean(false);           // allow_auto_topic_creation (default true)
  if (v >= 8 && v <= 10) e.boolean(true);  // include_cluster_authorized_operations
  if (v >= 8) e.boolean(true);             // include_topic_authorized_operations
  e.tags();
  return e.out;
}

// ---------------------------------------------------------------------------------------------
// MetadataResponse

// Only the fields v carries are set; the rest stay at their defaults.
MetadataResponse response_for(int16_t v) {
  MetadataResponse r;
  if (v >= 3) r.throttle_time_ms = 250;
  r.brokers.resize(2);
  r.brokers[0] = {1, "b1.example", 9092, std::nullopt};
  r.brokers[1] = {2, "b2.example", 9093, std::nullopt};
  if (v >= 1) r.brokers[0].rack = "rack-a";  // broker 2 keeps a null rack
  if (v >= 2) r.cluster_id = "cluster-xyz";
  if (v >= 1) r.controller_id = 2;

  MetadataResponse::MetadataResponseTopic orders;
  orders.name = "orders";
  if (v >= 10) orders.topic_id = kOrdersId;
  if (v >= 1) orders.is_internal = true;
  orders.partitions.resize(2);
  auto& p0 = orders.partitions[0];
  p0.partition_index = 0;
  p0.leader_id = 1;
  p0.replica_nodes = {1, 2};
  p0.isr_nodes = {1};
  if (v >= 7) p0.leader_epoch = 7;
  if (v >= 5) p0.offline_replicas = {2};
  auto& p1 = orders.partitions[1];
  p1.error_code = 9;  // REPLICA_NOT_AVAILABLE
  p1.partition_index = 1;
  p1.leader_id = 2;
  p1.replica_nodes = {2, 1, 3};
  p1.isr_nodes = {2, 1};
  if (v >= 7) p1.leader_epoch = 3;
  if (v >= 8) orders.topic_authorized_operations = 0x0df8;

  MetadataResponse::MetadataResponseTopic gone;
  gone.error_code = 3;  // UNKNOWN_TOPIC_OR_PARTITION
  if (v < 12) gone.name = "gone";  // v12 answers a by-id query for a missing topic with null
  if (v >= 10) gone.topic_id = kAuditId;
  if (v >= 8) gone.topic_authorized_operations = 0;
  r.topics = {orders, gone};

  if (v >= 8 && v <= 10) r.cluster_authorized_operations = 0x0ff8;
  return r;
}

ByteVec response_bytes(int16_t v) {
  Golden e{v >= 9};
  if (v >= 3) e.i32(250);  // throttle_time_ms
  e.array(2);
  e.i32(1).string("b1.example").i32(9092);
  if (v >= 1) e.string("rack-a");
  e.tags();
  e.i32(2).string("b2.example").i32(9093);
  if (v >= 1) e.null_string();
  e.tags();
  if (v >= 2) e.string("cluster-xyz");
  if (v >= 1) e.i32(2);  // controller_id
  e.array(2);
  // topic "orders"
  e.i16(0).string("orders");
  if (v >= 10) e.uuid(kOrdersId);
  if (v >= 1) e.boolean(true);  // is_internal
  e.array(2);
  e.i16(0).i32(0).i32(1);  // error, partition, leader
  if (v >= 7) e.i32(7);     // leader_epoch
  e.i32_array({1, 2}).i32_array({1});
  if (v >= 5) e.i32_array({2});
  e.tags();
  e.i16(9).i32(1).i32(2);
  if (v >= 7) e.i32(3);
  e.i32_array({2, 1, 3}).i32_array({2, 1});
  if (v >= 5) e.i32_array({});
  e.tags();
  if (v >= 8) e.i32(0x0df8);  // topic_authorized_operations
  e.tags();
  // topic "gone"
  e.i16(3);
  if (v >= 12) e.null_string();
  else e.string("gone");
  if (v >= 10) e.uuid(kAuditId);
  if (v >= 1) e.boolean(false);
  e.array(0);
  if (v >= 8) e.i32(0);
  e.tags();
  if (v >= 8 && v <= 10) e.i32(0x0ff8);  // cluster_authorized_operations
  e.tags();
  return e.out;
}

// ---------------------------------------------------------------------------------------------

class MetadataGolden : public ::testing::TestWithParam<int> {
 protected:
  int16_t v() const { return int16_t(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(AllVersions, MetadataGolden,
                         ::testing::Range<int>(MetadataRequest::kMinVersion,
                                               MetadataRequest::kMaxVersion + 1),
                         version_name);

TEST_P(MetadataGolden, Request) {
  const std::pair<Topics, const char*> cases[] = {
      {Topics::kAll, "all topics (null)"}, {Topics::kNone, "no topics (empty)"},
      {Topics::kNamed, "named topics"}};
  for (const auto& [which, what] : cases) {
    // v0 cannot say "no topics": its empty list already means all of them.
    if (v() == 0 && which == Topics::kNone) continue;
    SCOPED_TRACE(what);
    const MetadataRequest full = full_request(v(), which);
    const ByteVec want = request_bytes(v(), which);
    EXPECT_TRUE(SameBytes(want, encode(full, v())));
    const MetadataRequest decoded = decoded_request(full, v());
    expect_decodes_to(want, v(), decoded);
    expect_decodes_to(want, v(), decoded, full_request(v(), Topics::kNamed));
    EXPECT_TRUE(SameBytes(want, encode(decoded, v())));
  }
}

TEST_P(MetadataGolden, Response) {
  const MetadataResponse want = response_for(v());
  const ByteVec bytes = response_bytes(v());
  expect_decodes_to(bytes, v(), want);
  expect_decodes_to(bytes, v(), want, response_for(MetadataResponse::kMaxVersion - 2));
  EXPECT_TRUE(SameBytes(bytes, encode(want, v())));
}

TEST_P(MetadataGolden, RequestFrame) {
  const bool flexible = v() >= 9;
  std::vector<uint8_t> frame = {0xee};  // encode_request appends; keep what was there
  const size_t size = encode_request(frame, full_request(v(), Topics::kNamed), v(), 0x01020304,
                                     "wirestress");
  Golden header;
  header.i16(3).i16(v()).i32(0x01020304).str("wirestress");  // client_id is never compact
  if (flexible) header.uvarint(0);                            // request header v2: tags
  const ByteVec body = request_bytes(v(), Topics::kNamed);
  Golden e;
  e.raw({0xee}).i32(int32_t(header.out.size() + body.size())).raw(header.out).raw(body);
  EXPECT_TRUE(SameBytes(e.out, frame));
  EXPECT_EQ(size, frame.size() - 1);
}

TEST_P(MetadataGolden, RequestFrameNullClientId) {
  ByteVec frame;
  encode_request(frame, full_request(v(), Topics::kAll), v(), -7, std::nullopt);
  Golden e;
  e.i16(3).i16(v()).i32(-7).i16(-1);
  if (v() >= 9) e.uvarint(0);
  e.raw(request_bytes(v(), Topics::kAll));
  ASSERT_GE(frame.size(), 4u);
  EXPECT_TRUE(SameBytes(e.out, ByteVec(frame.begin() + 4, frame.end())));
}

TEST_P(MetadataGolden, ResponseFrame) {
  Golden e;
  e.i32(0x7a7b7c7d);  // correlation_id
  if (v() >= 9) {
    // response header v1: tagged fields, here one unknown tag that must be skipped
    e.uvarint(1).uvarint(5).uvarint(2).raw({0xde, 0xad});
  }
  e.raw(response_bytes(v()));
  ResponseFrame frame = read_response_header(e.out, MetadataRequest::kApiKey, v());
  EXPECT_EQ(frame.correlation_id, 0x7a7b7c7d);
  MetadataResponse got;
  got.decode(frame.body, v());
  EXPECT_TRUE(frame.body.ok()) << to_string(frame.body.error());
  EXPECT_TRUE(frame.body.empty());
  EXPECT_TRUE(got == response_for(v()));
}

TEST_P(MetadataGolden, TruncatedFails) {
  expect_every_truncation_fails<MetadataResponse>(response_bytes(v()), v());
  expect_every_truncation_fails<MetadataRequest>(request_bytes(v(), Topics::kNamed), v());
}

TEST(MetadataMalformed, ArrayCountBeyondInputFailsWithoutAllocating) {
  struct Case {
    const char* what;
    int16_t version;
    ByteVec bytes;
  };
  const Case cases[] = {
      {"v0 brokers count 0x7fffffff", 0, Golden{}.i32(0x7fffffff).i32(1).out},
      {"v1 brokers count 5, 4 bytes left", 1, Golden{}.i32(5).i32(1).out},
      {"v9 compact brokers count 2^32-2", 9, Golden{}.i32(0).uvarint(0xffffffff).out},
      {"v5 partitions count 0x7fffffff", 5,
       Golden{}.i32(0).i32(0).null_string().i32(-1).i32(1)  // brokers, cluster, controller
           .i16(0).str("t").boolean(false).i32(0x7fffffff).out},
      {"v12 replica count 2^31", 12,
       Golden{true}.i32(0).array(0).null_string().i32(-1).array(1)
           .i16(0).string("t").uuid({}).boolean(false).array(1)
           .i16(0).i32(0).i32(0).i32(0).uvarint(0x80000001u).out},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Reader r(c.bytes);
    MetadataResponse m;
    m.decode(r, c.version);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), DecodeError::kBadLength);
  }
}

}  // namespace
}  // namespace ws::protocol
