// Golden byte tests for ApiVersions (API key 18), every version 0..4, request and response.
//
// The expected bytes are NOT produced by protocol/wire.h's Writer or the generated codec: they are
// spelled out field by field with the small builder below, following Kafka's protocol rules and
// protocol/specs/ApiVersions{Request,Response}.json. Each version condition is written out here
// with the spec line it comes from, so a generator bug cannot agree with itself.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/api_versions.h"
#include "protocol/framing.h"
#include "golden_byte_builder.h"

namespace ws::protocol {
namespace {

// ---- Spec facts, copied from the JSON files (not from the generated header) --------------------
constexpr int kApiKey = 18;        // "apiKey": 18
constexpr int kMaxV = 4;           // "validVersions": "0-4"
constexpr int kFirstFlex = 3;      // "flexibleVersions": "3+"
using Resp = ApiVersionsResponse;

TEST(GoldenApiVersions, ConstantsMatchSpec) {
  EXPECT_EQ(ApiVersionsRequest::kApiKey, kApiKey);
  EXPECT_EQ(ApiVersionsRequest::kMinVersion, 0);
  EXPECT_EQ(ApiVersionsRequest::kMaxVersion, kMaxV);
  EXPECT_EQ(ApiVersionsRequest::kFirstFlexibleVersion, kFirstFlex);
  EXPECT_EQ(Resp::kApiKey, kApiKey);
  EXPECT_EQ(Resp::kMinVersion, 0);
  EXPECT_EQ(Resp::kMaxVersion, kMaxV);
  EXPECT_EQ(Resp::kFirstFlexibleVersion, kFirstFlex);
}

TEST(GoldenApiVersions, ByteBuilderSelfCheck) {
  EXPECT_BYTES(B().i16(-2).i32(0x01020304).b, (std::vector<uint8_t>{0xff, 0xfe, 1, 2, 3, 4}));
  EXPECT_BYTES(B().uvarint(0).uvarint(127).uvarint(128).uvarint(300).b,
               (std::vector<uint8_t>{0x00, 0x7f, 0x80, 0x01, 0xac, 0x02}));
  EXPECT_BYTES(B().str("ab").cstr("ab").str_null().cstr_null().b,
               (std::vector<uint8_t>{0, 2, 'a', 'b', 3, 'a', 'b', 0xff, 0xff, 0}));
}

// ---- The messages under test ---------------------------------------------------------------------
constexpr std::string_view kSwName = "wirestress";
constexpr std::string_view kSwVersion = "0.1.0-test";

// Request with every field that exists in v set (v = kMaxV gives the full struct).
ApiVersionsRequest MakeRequest(int16_t v) {
  ApiVersionsRequest r;
  if (v >= 3) r.client_software_name = kSwName;       // ClientSoftwareName "versions": "3+"
  if (v >= 3) r.client_software_version = kSwVersion; // ClientSoftwareVersion "versions": "3+"
  return r;
}

B RequestBytes(int16_t v) {
  B e;
  if (v >= 3) e.cstr(kSwName).cstr(kSwVersion).tags0();  // v0-2: empty body
  return e;
}

const Resp::ApiVersion kKeys[] = {{0, 3, 11}, {1, 4, 16}, {18, 0, 4}};

// Response with every field that exists in v set; tagged fields (3+) only when `tags`.
Resp MakeResponse(int16_t v, bool tags) {
  Resp r;
  r.error_code = 0x0102;
  r.api_keys.assign(std::begin(kKeys), std::end(kKeys));
  if (v >= 1) r.throttle_time_ms = 0x0a0b0c0d;  // ThrottleTimeMs "versions": "1+"
  if (v >= 3 && tags) {                         // tags 0-3, "taggedVersions": "3+"
    r.supported_features = {{"metadata.version", 1, 20}, {"kraft.version", 0, 1}};
    r.finalized_features_epoch = 0x0102030405060708;
    r.finalized_features = {{"metadata.version", 20, 7}};
    r.zk_migration_ready = true;
  }
  return r;
}

B ResponseBytes(int16_t v, bool tags) {
  const bool flex = v >= 3;
  B e;
  e.i16(0x0102);                                    // ErrorCode 0+
  if (flex) e.carr(3); else e.arr(3);               // ApiKeys 0+
  for (const auto& k : kKeys) {
    e.i16(k.api_key).i16(k.min_version).i16(k.max_version);
    if (flex) e.tags0();
  }
  if (v >= 1) e.i32(0x0a0b0c0d);                    // ThrottleTimeMs 1+
  if (flex && !tags) e.tags0();
  if (flex && tags) {
    B sf;  // tag 0: []SupportedFeatureKey {Name, MinVersion, MaxVersion}
    sf.carr(2).cstr("metadata.version").i16(1).i16(20).tags0();
    sf.cstr("kraft.version").i16(0).i16(1).tags0();
    B ff;  // tag 2: []FinalizedFeatureKey {Name, MaxVersionLevel, MinVersionLevel}
    ff.carr(1).cstr("metadata.version").i16(20).i16(7).tags0();
    e.uvarint(4)
        .tag(0, sf)
        .tag(1, B().i64(0x0102030405060708))  // FinalizedFeaturesEpoch
        .tag(2, ff)
        .tag(3, B().i8(1));                   // ZkMigrationReady
  }
  return e;
}

// ---- Per-version golden tests --------------------------------------------------------------------
class GoldenApiVersionsV : public GoldenVersion {};
INSTANTIATE_TEST_SUITE_P(AllVersions, GoldenApiVersionsV, ::testing::Range(0, kMaxV + 1), VersionName);

TEST_P(GoldenApiVersionsV, RequestEncodeDecode) {
  const std::vector<uint8_t> want = RequestBytes(v()).b;
  EXPECT_BYTES(encode(MakeRequest(kMaxV), v()), want);  // fields absent in v are not written
  EXPECT_TRUE(DecodesTo(want, v(), MakeRequest(v()), MakeRequest(kMaxV)));
}

TEST_P(GoldenApiVersionsV, ResponseDecodeEncode) {
  for (bool tags : {false, true}) {
    SCOPED_TRACE(tags ? "with tagged fields" : "no tagged fields");
    const std::vector<uint8_t> bytes = ResponseBytes(v(), tags).b;
    EXPECT_TRUE(DecodesTo(bytes, v(), MakeResponse(v(), tags)));
    EXPECT_TRUE(DecodesTo(bytes, v(), MakeResponse(v(), tags), MakeResponse(kMaxV, true)));
    EXPECT_BYTES(encode(MakeResponse(kMaxV, tags), v()), bytes);

    // The framing-level decoder must give the same result for a non-35 error code.
    Reader r(bytes);
    Resp out;
    decode_api_versions_response(r, v(), out);
    EXPECT_TRUE(r.ok() && r.empty());
    EXPECT_TRUE(out == MakeResponse(v(), tags));
  }
}

// UNSUPPORTED_VERSION (35) is answered in the v0 layout whatever version was asked for.
TEST_P(GoldenApiVersionsV, UnsupportedVersionUsesV0Layout) {
  B e;
  e.i16(35).arr(2).i16(18).i16(0).i16(2).i16(0).i16(0).i16(9);  // no throttle, no tags
  Reader r(e.b);
  Resp out = MakeResponse(kMaxV, true);  // a used object: every field must be reset
  decode_api_versions_response(r, v(), out);
  EXPECT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_TRUE(r.empty()) << r.remaining() << " bytes left";
  Resp want;
  want.error_code = 35;
  want.api_keys = {{18, 0, 2}, {0, 0, 9}};
  EXPECT_TRUE(out == want);
}

TEST_P(GoldenApiVersionsV, RequestFrame) {
  std::vector<uint8_t> out = {0xee};  // encode_request appends after what is there
  const size_t n = encode_request(out, MakeRequest(kMaxV), v(), 0x01020304, "ws-client-1");
  const B frame = request_frame(kApiKey, v(), v() >= kFirstFlex, 0x01020304, "ws-client-1",
                                RequestBytes(v()));
  EXPECT_BYTES(out, B().i8(0xee).raw(frame).b);
  EXPECT_EQ(n, frame.size());
}

// ApiVersionsResponse always uses response header v0 (no tagged section), even for v3+.
TEST_P(GoldenApiVersionsV, ResponseFrame) {
  const bool tags = v() >= 3;
  B frame;  // without the size prefix, as read_response_header expects
  frame.i32(0x7f000001).raw(ResponseBytes(v(), tags));
  ResponseFrame rf = read_response_header(frame.b, kApiKey, v());
  EXPECT_EQ(rf.correlation_id, 0x7f000001);
  Resp out;
  decode_api_versions_response(rf.body, v(), out);
  EXPECT_TRUE(rf.body.ok() && rf.body.empty());
  EXPECT_TRUE(out == MakeResponse(v(), tags));
}

// Every strict prefix of a valid message must fail to decode (and never read out of bounds).
TEST_P(GoldenApiVersionsV, TruncatedResponseFails) {
  for (bool tags : {false, true}) {
    const std::vector<uint8_t> full = ResponseBytes(v(), tags).b;
    for (size_t len = 0; len < full.size(); ++len) {
      SCOPED_TRACE("tags=" + std::to_string(tags) + " len=" + std::to_string(len));
      std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
      Reader r(cut.data(), cut.size());  // exact-size heap copy so ASan sees any overread
      Resp out;
      out.decode(r, v());
      EXPECT_FALSE(r.ok());
      Reader r2(cut.data(), cut.size());
      decode_api_versions_response(r2, v(), out);
      EXPECT_FALSE(r2.ok());
    }
  }
}

TEST_P(GoldenApiVersionsV, TruncatedRequestFails) {
  EXPECT_TRUE(EveryTruncationFails<ApiVersionsRequest>(RequestBytes(v()).b, v()));
}

// ---- Flexible-only cases -------------------------------------------------------------------------
TEST(GoldenApiVersions, RequestFrameLiteralV3) {
  // Written out byte by byte: size, key 18, version 3, correlation 1, client id "ws" (int16
  // length), empty header tags, compact "wirestress", compact "1.0", empty body tags.
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x1d, 0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 'w',
      's',  0x00, 0x0b, 'w',  'i',  'r',  'e',  's',  't',  'r',  'e',  's',  's',  0x04, '1',
      '.',  '0',  0x00};
  ApiVersionsRequest req;
  req.client_software_name = "wirestress";
  req.client_software_version = "1.0";
  std::vector<uint8_t> out;
  encode_request(out, req, 3, 1, "ws");
  EXPECT_BYTES(out, want);
}

TEST(GoldenApiVersions, RequestFrameNullClientId) {
  for (int16_t v = 0; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    std::vector<uint8_t> out;
    encode_request(out, MakeRequest(v), v, 9, std::nullopt);
    B frame;
    frame.i16(kApiKey).i16(v).i32(9).str_null();
    if (v >= 3) frame.tags0();
    frame.raw(RequestBytes(v));
    EXPECT_BYTES(out, B().i32(static_cast<int64_t>(frame.size())).raw(frame).b);
  }
}

// Strings and arrays longer than 126 need a multi-byte uvarint length.
TEST(GoldenApiVersions, LongCompactLengths) {
  const std::string name(200, 'n');  // compact length 201 = c9 01
  std::vector<Resp::ApiVersion> many;
  for (int i = 0; i < 130; ++i) many.push_back({static_cast<int16_t>(i), 0, static_cast<int16_t>(i % 7)});
  for (int16_t v = kFirstFlex; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    ApiVersionsRequest req;
    req.client_software_name = name;
    req.client_software_version = "x";
    B rq;
    rq.raw({0xc9, 0x01}).raw(name).cstr("x").tags0();
    EXPECT_BYTES(encode(req, v), rq.b);
    EXPECT_TRUE(DecodesTo(rq.b, v, req));

    Resp resp;
    resp.api_keys = many;
    B rs;
    rs.i16(0).raw({0x83, 0x01});  // 130 + 1 = 131
    for (const auto& k : many) rs.i16(k.api_key).i16(k.min_version).i16(k.max_version).tags0();
    rs.i32(0).tags0();
    EXPECT_BYTES(encode(resp, v), rs.b);
    EXPECT_TRUE(DecodesTo(rs.b, v, resp));
  }
}

// A tagged field is written iff it differs from its default: epoch 0 is not the default (-1).
TEST(GoldenApiVersions, SingleTaggedFieldWhenNotDefault) {
  for (int16_t v = kFirstFlex; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    Resp r;
    r.finalized_features_epoch = 0;
    B e;
    e.i16(0).carr(0).i32(0).uvarint(1).tag(1, B().i64(0));
    EXPECT_BYTES(encode(r, v), e.b);
    EXPECT_TRUE(DecodesTo(e.b, v, r));

    Resp z;
    z.zk_migration_ready = true;
    B ez;
    ez.i16(0).carr(0).i32(0).uvarint(1).tag(3, B().i8(1));
    EXPECT_BYTES(encode(z, v), ez.b);
    EXPECT_TRUE(DecodesTo(ez.b, v, z));
  }
}

// Unknown tags (7, 9 with a 200-byte payload, 300 = two-byte tag number; tag 5 inside an
// ApiVersion element) are skipped and the known ones around them still read.
TEST(GoldenApiVersions, UnknownTagsSkipped) {
  for (int16_t v = kFirstFlex; v <= kMaxV; ++v) {
    SCOPED_TRACE("v" + std::to_string(v));
    B e;
    e.i16(0).carr(2);
    e.i16(18).i16(0).i16(4).uvarint(1).tag(5, B().raw({0xde, 0xad}));
    e.i16(3).i16(1).i16(12).tags0();
    e.i32(66);
    e.uvarint(5)
        .tag(1, B().i64(5))
        .tag(3, B().i8(1))
        .tag(7, B().raw({0xaa, 0xbb, 0xcc}))
        .tag(9, B().raw(std::vector<uint8_t>(200, 0x5a)))
        .tag(300, B());
    Resp want;
    want.api_keys = {{18, 0, 4}, {3, 1, 12}};
    want.throttle_time_ms = 66;
    want.finalized_features_epoch = 5;
    want.zk_migration_ready = true;
    EXPECT_TRUE(DecodesTo(e.b, v, want, MakeResponse(kMaxV, true)));
  }
}

TEST(GoldenApiVersions, UnsupportedVersionFrameV3) {
  // What a broker that does not speak ApiVersions v3 sends back: header v0, body in v0 layout.
  const std::vector<uint8_t> frame = {0x00, 0x00, 0x00, 0x2a,  // correlation id 42
                                      0x00, 0x23,              // error 35
                                      0x00, 0x00, 0x00, 0x01,  // 1 api key
                                      0x00, 0x12, 0x00, 0x00, 0x00, 0x02};
  ResponseFrame rf = read_response_header(frame, kApiKey, 3);
  EXPECT_EQ(rf.correlation_id, 42);
  Resp out;
  decode_api_versions_response(rf.body, 3, out);
  EXPECT_TRUE(rf.body.ok() && rf.body.empty());
  EXPECT_EQ(out.error_code, 35);
  ASSERT_EQ(out.api_keys.size(), 1u);
  EXPECT_TRUE(out.api_keys[0] == (Resp::ApiVersion{18, 0, 2}));
}

TEST(GoldenApiVersions, BadLengthsRejected) {
  // Array count far beyond the bytes present, classic and compact; negative string length.
  B a;
  a.i16(0).i32(0x7fffffff);
  B c;
  c.i16(0).uvarint(0x0fffffff);
  for (auto [bytes, v] : {std::pair{a.b, int16_t{0}}, std::pair{c.b, int16_t{3}}}) {
    Reader r(bytes);
    Resp out;
    out.decode(r, v);
    EXPECT_FALSE(r.ok());
  }
  B neg;  // an ApiVersionsRequest whose compact string claims length 0x7ffffffe
  neg.uvarint(0x7fffffff).raw({'a'});
  Reader r(neg.b);
  ApiVersionsRequest req;
  req.decode(r, 3);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace ws::protocol

// Captured from librdkafka 2.0.2's mock cluster (tests/data/captures/rdkafka_mock/api_versions_v3):
// its UNSUPPORTED_VERSION answer to ApiVersions v3 fits neither the v0 nor the v3 layout. The
// client must still see error 35 (and retry with v0), not a decode failure.
TEST(ApiVersionsCapturedQuirks, MockClusterUnsupportedVersionBodyYieldsTheErrorCode) {
  const std::vector<uint8_t> body{0x00, 0x23, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00};
  ws::protocol::Reader r(body);
  ws::protocol::ApiVersionsResponse out;
  out.api_keys.resize(3);  // stale content from an earlier decode must not survive
  EXPECT_EQ(ws::protocol::decode_api_versions_response(r, 3, out), 0);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(out.error_code, 35);
  EXPECT_TRUE(out.api_keys.empty());
}
