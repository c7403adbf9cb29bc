// Golden bytes for Fetch (API key 1), every version 0-17, requests and responses.
//
// The expected bytes are written by hand from protocol/specs/Fetch{Request,Response}.json with
// the small builder below, which follows the Kafka wire rules directly and shares no code with
// protocol/wire.h, so a mistake in the codec or its generator cannot cancel itself out here.
// (The builder is repeated in golden_metadata_test.cpp: each golden test stands on its own.)
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/fetch.h"
#include "protocol/framing.h"

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
  Golden& bytes(const ByteVec& b) {
    if (flex) uvarint(b.size() + 1);
    else i32(int32_t(b.size()));
    return raw(b);
  }
  Golden& null_bytes() { return flex ? uvarint(0) : i32(-1); }
  // An empty tagged-field section, present only in flexible versions.
  Golden& tags() { return flex ? uvarint(0) : *this; }
  // A tagged-field section with these (tag, payload) pairs, in ascending tag order.
  Golden& tagged(const std::vector<std::pair<uint32_t, ByteVec>>& fields) {
    uvarint(fields.size());
    for (const auto& [tag, payload] : fields) uvarint(tag).uvarint(payload.size()).raw(payload);
    return *this;
  }
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
constexpr Uuid kOldId = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                         0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
constexpr Uuid kDirId = {0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
                         0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf};
// The codec treats records as opaque bytes; RecordBatch layout is tested in the records tests.
constexpr uint8_t kRecords[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00,
                                0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x02, 0xca, 0xfe};
const ByteVec kRecordsVec(std::begin(kRecords), std::end(kRecords));
// An unknown tag (9, 3 bytes) that every flexible decoder must skip.
const std::pair<uint32_t, ByteVec> kUnknownTag = {9, {0xaa, 0xbb, 0xcc}};

// ---------------------------------------------------------------------------------------------
// FetchRequest

// Every field set to a non-default value, whatever the version: encode() must drop what v lacks.
// `tagged` sets the tagged fields too (cluster_id, replica_state, replica_directory_id).
FetchRequest full_request(bool tagged) {
  FetchRequest r;
  if (tagged) {
    r.cluster_id = "kraft-cluster";
    r.replica_state = {.replica_id = 5, .replica_epoch = 42};
  }
  r.replica_id = 5;
  r.max_wait_ms = 500;
  r.min_bytes = 1;
  r.max_bytes = 52428800;
  r.isolation_level = 1;  // READ_COMMITTED
  r.session_id = 0x12345678;
  r.session_epoch = 3;
  FetchRequest::FetchTopic topic;
  topic.topic = "orders";
  topic.topic_id = kOrdersId;
  topic.partitions = {
      {.partition = 0, .current_leader_epoch = 4, .fetch_offset = 0x0102030405060708,
       .last_fetched_epoch = 2, .log_start_offset = 100, .partition_max_bytes = 1048576,
       .replica_directory_id = tagged ? kDirId : Uuid{}},
      {.partition = 1, .current_leader_epoch = 4, .fetch_offset = 77, .last_fetched_epoch = 2,
       .log_start_offset = 0, .partition_max_bytes = 65536, .replica_directory_id = {}},
  };
  r.topics = {topic};
  r.forgotten_topics_data = {{.topic = "old-topic", .topic_id = kOldId, .partitions = {3, 4}}};
  r.rack_id = "rack-b";
  return r;
}

// What decoding v's bytes gives back: fields v does not carry are at their defaults.
FetchRequest decoded_request(FetchRequest r, int16_t v) {
  if (v < 12) r.cluster_id.reset();
  if (v >= 15) r.replica_id = -1;
  if (v < 15) r.replica_state = {};
  if (v < 3) r.max_bytes = 0x7fffffff;
  if (v < 4) r.isolation_level = 0;
  if (v < 7) {
    r.session_id = 0;
    r.session_epoch = -1;
    r.forgotten_topics_data.clear();
  }
  for (auto& t : r.topics) {
    if (v >= 13) t.topic = {};
    else t.topic_id = {};
    for (auto& p : t.partitions) {
      if (v < 9) p.current_leader_epoch = -1;
      if (v < 12) p.last_fetched_epoch = -1;
      if (v < 5) p.log_start_offset = -1;
      if (v < 17) p.replica_directory_id = {};
    }
  }
  for (auto& f : r.forgotten_topics_data) {
    if (v >= 13) f.topic = {};
    else f.topic_id = {};
  }
  if (v < 11) r.rack_id = {};
  return r;
}

ByteVec request_bytes(int16_t v, bool tagged) {
  const bool flex = v >= 12;
  Golden e(flex);
  if (v <= 14) e.i32(5);                  // replica_id (v15+: in ReplicaState, tag 1)
  e.i32(500).i32(1);                      // max_wait_ms, min_bytes
  if (v >= 3) e.i32(52428800);            // max_bytes
  if (v >= 4) e.i8(1);                    // isolation_level
  if (v >= 7) e.i32(0x12345678).i32(3);   // session_id, session_epoch
  e.array(1);
  if (v <= 12) e.string("orders");
  else e.uuid(kOrdersId);
  e.array(2);
  e.i32(0);                               // partition
  if (v >= 9) e.i32(4);                   // current_leader_epoch
  e.i64(0x0102030405060708);              // fetch_offset
  if (v >= 12) e.i32(2);                  // last_fetched_epoch
  if (v >= 5) e.i64(100);                 // log_start_offset
  e.i32(1048576);                         // partition_max_bytes
  if (v >= 17 && tagged) e.tagged({{0, Golden().uuid(kDirId).out}});  // replica_directory_id
  else e.tags();
  e.i32(1);
  if (v >= 9) e.i32(4);
  e.i64(77);
  if (v >= 12) e.i32(2);
  if (v >= 5) e.i64(0);
  e.i32(65536).tags();
  e.tags();                               // end of topic
  if (v >= 7) {                           // forgotten_topics_data
    e.array(1);
    if (v <= 12) e.string("old-topic");
    else e.uuid(kOldId);
    e.i32_array({3, 4}).tags();
  }
  if (v >= 11) e.string("rack-b");        // rack_id
  if (flex) {
    std::vector<std::pair<uint32_t, ByteVec>> fields;
    if (tagged) fields.push_back({0, Golden(true).string("kraft-cluster").out});  // cluster_id
    if (tagged && v >= 15) {
      fields.push_back({1, Golden(true).i32(5).i64(42).tags().out});  // replica_state
    }
    e.tagged(fields);
  }
  return e.out;
}

// ---------------------------------------------------------------------------------------------
// FetchResponse

// Only the fields v carries are set. Partition 0 has everything, partition 1 null aborted
// transactions and null records, partition 2 empty (not null) ones.
FetchResponse response_for(int16_t v) {
  FetchResponse r;
  if (v >= 1) r.throttle_time_ms = 125;
  if (v >= 7) {
    r.error_code = 70;  // FETCH_SESSION_TOPIC_ID_ERROR
    r.session_id = 0x0a0b0c0d;
  }
  FetchResponse::FetchableTopicResponse topic;
  if (v <= 12) topic.topic = "orders";
  else topic.topic_id = kOrdersId;
  topic.partitions.resize(3);

  auto& p0 = topic.partitions[0];
  p0.partition_index = 0;
  p0.high_watermark = 1000;
  if (v >= 4) p0.last_stable_offset = 990;
  if (v >= 5) p0.log_start_offset = 10;
  if (v >= 12) {
    p0.diverging_epoch = {.epoch = 4, .end_offset = 900};
    p0.current_leader = {.leader_id = 2, .leader_epoch = 5};
    p0.snapshot_id = {.end_offset = 800, .epoch = 3};
  }
  if (v >= 4) p0.aborted_transactions = {{{1000, 950}, {1001, 960}}};
  if (v >= 11) p0.preferred_read_replica = 2;
  p0.records = Bytes(kRecords);

  auto& p1 = topic.partitions[1];
  p1.partition_index = 1;
  p1.error_code = 1;  // OFFSET_OUT_OF_RANGE
  p1.high_watermark = 7;
  if (v >= 4) p1.last_stable_offset = 7;
  if (v >= 5) p1.log_start_offset = 0;

  auto& p2 = topic.partitions[2];
  p2.partition_index = 2;
  if (v >= 4) p2.aborted_transactions.emplace();
  p2.records = Bytes();

  r.responses = {topic};
  if (v >= 16) {
    r.node_endpoints = {{2, "b2.example", 9093, "rack-a"}, {3, "b3.example", 9094, std::nullopt}};
  }
  return r;
}

// `unknown_tags` adds kUnknownTag to the tagged section of every flexible struct.
ByteVec response_bytes(int16_t v, bool unknown_tags = false) {
  const bool flex = v >= 12;
  Golden e(flex);
  auto end_struct = [&](std::vector<std::pair<uint32_t, ByteVec>> fields) {
    if (!flex) return;
    if (unknown_tags) fields.push_back(kUnknownTag);
    e.tagged(fields);
  };
  if (v >= 1) e.i32(125);                  // throttle_time_ms
  if (v >= 7) e.i16(70).i32(0x0a0b0c0d);   // error_code, session_id
  e.array(1);
  if (v <= 12) e.string("orders");
  else e.uuid(kOrdersId);
  e.array(3);

  e.i32(0).i16(0).i64(1000);               // partition_index, error_code, high_watermark
  if (v >= 4) e.i64(990);                  // last_stable_offset
  if (v >= 5) e.i64(10);                   // log_start_offset
  if (v >= 4) {                            // aborted_transactions
    e.array(2);
    e.i64(1000).i64(950);
    end_struct({});
    e.i64(1001).i64(960);
    end_struct({});
  }
  if (v >= 11) e.i32(2);                   // preferred_read_replica
  e.bytes(kRecordsVec);
  end_struct({{0, Golden(true).i32(4).i64(900).tags().out},    // diverging_epoch
              {1, Golden(true).i32(2).i32(5).tags().out},      // current_leader
              {2, Golden(true).i64(800).i32(3).tags().out}});  // snapshot_id

  e.i32(1).i16(1).i64(7);
  if (v >= 4) e.i64(7);
  if (v >= 5) e.i64(0);
  if (v >= 4) e.null_array();
  if (v >= 11) e.i32(-1);
  e.null_bytes();
  end_struct({});

  e.i32(2).i16(0).i64(0);
  if (v >= 4) e.i64(-1);
  if (v >= 5) e.i64(-1);
  if (v >= 4) e.array(0);
  if (v >= 11) e.i32(-1);
  e.bytes({});
  end_struct({});

  end_struct({});                          // end of topic
  std::vector<std::pair<uint32_t, ByteVec>> top;
  if (v >= 16) {                           // node_endpoints, tag 0
    Golden nodes(true);
    nodes.array(2);
    nodes.i32(2).string("b2.example").i32(9093).string("rack-a").tags();
    nodes.i32(3).string("b3.example").i32(9094).null_string().tags();
    top.push_back({0, nodes.out});
  }
  end_struct(top);
  return e.out;
}

// ---------------------------------------------------------------------------------------------

class FetchGolden : public ::testing::TestWithParam<int> {
 protected:
  int16_t v() const { return int16_t(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(AllVersions, FetchGolden,
                         ::testing::Range<int>(FetchRequest::kMinVersion,
                                               FetchRequest::kMaxVersion + 1),
                         version_name);

class FetchFlexibleGolden : public FetchGolden {};
INSTANTIATE_TEST_SUITE_P(FlexibleVersions, FetchFlexibleGolden,
                         ::testing::Range<int>(FetchRequest::kFirstFlexibleVersion,
                                               FetchRequest::kMaxVersion + 1),
                         version_name);

TEST_P(FetchGolden, Request) {
  for (bool tagged : {true, false}) {
    SCOPED_TRACE(tagged ? "tagged fields set" : "tagged fields at defaults");
    const FetchRequest full = full_request(tagged);
    const ByteVec want = request_bytes(v(), tagged);
    EXPECT_TRUE(SameBytes(want, encode(full, v())));
    const FetchRequest decoded = decoded_request(full, v());
    expect_decodes_to(want, v(), decoded);
    expect_decodes_to(want, v(), decoded, full_request(true));
    EXPECT_TRUE(SameBytes(want, encode(decoded, v())));
  }
}

TEST_P(FetchGolden, Response) {
  const FetchResponse want = response_for(v());
  const ByteVec bytes = response_bytes(v());
  expect_decodes_to(bytes, v(), want);
  expect_decodes_to(bytes, v(), want, response_for(FetchResponse::kMaxVersion));
  EXPECT_TRUE(SameBytes(bytes, encode(want, v())));
}

TEST_P(FetchFlexibleGolden, ResponseSkipsUnknownTags) {
  const FetchResponse want = response_for(v());
  expect_decodes_to(response_bytes(v(), /*unknown_tags=*/true), v(), want);
  // Unknown tags are dropped, not carried: re-encoding gives the plain bytes.
  EXPECT_TRUE(SameBytes(response_bytes(v()), encode(want, v())));
}

TEST_P(FetchGolden, RequestFrame) {
  const bool flexible = v() >= 12;
  ByteVec frame = {0xee};  // encode_request appends; keep what was there
  const size_t size = encode_request(frame, full_request(true), v(), 0x01020304, "wirestress");
  Golden header;
  header.i16(1).i16(v()).i32(0x01020304).str("wirestress");  // client_id is never compact
  if (flexible) header.uvarint(0);                            // request header v2: tags
  const ByteVec body = request_bytes(v(), true);
  Golden e;
  e.raw({0xee}).i32(int32_t(header.out.size() + body.size())).raw(header.out).raw(body);
  EXPECT_TRUE(SameBytes(e.out, frame));
  EXPECT_EQ(size, frame.size() - 1);
}

TEST_P(FetchGolden, ResponseFrame) {
  Golden e;
  e.i32(-2);  // correlation_id
  if (v() >= 12) {
    // response header v1: tagged fields, here one unknown tag that must be skipped
    e.uvarint(1).uvarint(3).uvarint(1).raw({0x00});
  }
  e.raw(response_bytes(v()));
  ResponseFrame frame = read_response_header(e.out, FetchRequest::kApiKey, v());
  EXPECT_EQ(frame.correlation_id, -2);
  FetchResponse got;
  got.decode(frame.body, v());
  EXPECT_TRUE(frame.body.ok()) << to_string(frame.body.error());
  EXPECT_TRUE(frame.body.empty());
  EXPECT_TRUE(got == response_for(v()));
}

TEST_P(FetchGolden, TruncatedFails) {
  expect_every_truncation_fails<FetchResponse>(response_bytes(v()), v());
  expect_every_truncation_fails<FetchRequest>(request_bytes(v(), true), v());
}

TEST(FetchMalformed, ArrayCountBeyondInputFailsWithoutAllocating) {
  struct Case {
    const char* what;
    int16_t version;
    ByteVec bytes;
  };
  const Case cases[] = {
      {"v0 responses count 0x7fffffff", 0, Golden().i32(0x7fffffff).i32(0).out},
      {"v1 partitions count 0x7fffffff", 1,
       Golden().i32(0).i32(1).str("t").i32(0x7fffffff).out},
      {"v4 aborted transactions count 0x7fffffff", 4,
       Golden().i32(0).i32(1).str("t").i32(1)
           .i32(0).i16(0).i64(0).i64(0).i32(0x7fffffff).out},
      {"v12 compact responses count 2^32-2", 12,
       Golden(true).i32(0).i16(0).i32(0).uvarint(0xffffffff).out},
      {"v16 node_endpoints count 2^32-2 inside its tag", 16,
       Golden(true).i32(0).i16(0).i32(0).array(0)
           .uvarint(1).uvarint(0).uvarint(5).uvarint(0xffffffff).out},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Reader r(c.bytes);
    FetchResponse m;
    m.decode(r, c.version);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), DecodeError::kBadLength);
  }
}

TEST(FetchMalformed, RecordsLongerThanInputFail) {
  // v4 partition whose records claim 1000 bytes with 3 present.
  const ByteVec bytes = Golden().i32(0).i32(1).str("t").i32(1)
                            .i32(0).i16(0).i64(0).i64(0).i32(-1).i32(1000).raw({1, 2, 3}).out;
  Reader r(bytes);
  FetchResponse m;
  m.decode(r, 4);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace ws::protocol
