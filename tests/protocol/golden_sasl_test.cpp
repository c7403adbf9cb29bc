// Golden byte tests for SaslHandshake (API key 17, versions 0..1) and SaslAuthenticate (API key
// 36, versions 0..2), request and response, and the bare token frames of the SaslHandshake v0 flow.
//
// The expected bytes are NOT produced by protocol/wire.h's Writer or the generated codec: they are
// spelled out field by field with the builder in golden_byte_builder.h, following Kafka's protocol
// rules and protocol/specs/Sasl{Handshake,Authenticate}{Request,Response}.json.
//
// What changes across versions: SaslHandshake v1 is v0's layout (only what follows it differs:
// SaslAuthenticate requests instead of bare token frames). SaslAuthenticate v1 adds
// SessionLifetimeMs to the response; v2 is flexible (compact strings and bytes, tagged fields,
// request header v2 / response header v1).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/framing.h"
#include "protocol/sasl/kafka_framing.h"
#include "protocol/sasl_authenticate.h"
#include "protocol/sasl_handshake.h"
#include "golden_byte_builder.h"

namespace ws::protocol {
namespace {

// ---- Spec facts, copied from the JSON files (not from the generated header) --------------------
constexpr int kHandshakeKey = 17;     // SaslHandshake "apiKey": 17
constexpr int kHandshakeMaxV = 1;     // "validVersions": "0-1", "flexibleVersions": "none"
constexpr int kAuthenticateKey = 36;  // SaslAuthenticate "apiKey": 36
constexpr int kAuthenticateMaxV = 2;  // "validVersions": "0-2"
constexpr int kAuthenticateFlex = 2;  // "flexibleVersions": "2+"

Bytes as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(GoldenSasl, ConstantsMatchSpec) {
  EXPECT_EQ(SaslHandshakeRequest::kApiKey, kHandshakeKey);
  EXPECT_EQ(SaslHandshakeResponse::kApiKey, kHandshakeKey);
  EXPECT_EQ(SaslHandshakeRequest::kMaxVersion, kHandshakeMaxV);
  EXPECT_EQ(SaslHandshakeResponse::kMaxVersion, kHandshakeMaxV);
  EXPECT_EQ(SaslHandshakeRequest::kFirstFlexibleVersion, -1);
  EXPECT_EQ(SaslAuthenticateRequest::kApiKey, kAuthenticateKey);
  EXPECT_EQ(SaslAuthenticateResponse::kApiKey, kAuthenticateKey);
  EXPECT_EQ(SaslAuthenticateRequest::kMaxVersion, kAuthenticateMaxV);
  EXPECT_EQ(SaslAuthenticateResponse::kMaxVersion, kAuthenticateMaxV);
  EXPECT_EQ(SaslAuthenticateRequest::kFirstFlexibleVersion, kAuthenticateFlex);

  // The version table: every version asked for, none from Kafka 0.9 (it has no SASL handshake),
  // the sink answers every version.
  const ApiSupport* handshake = find_api(kHandshakeKey);
  ASSERT_NE(handshake, nullptr);
  EXPECT_EQ(handshake->name, "SaslHandshake");
  EXPECT_EQ(handshake->client_max, kHandshakeMaxV);
  EXPECT_EQ(handshake->kafka_0_9_max, -1);
  EXPECT_EQ(handshake->sink_max, kHandshakeMaxV);
  const ApiSupport* authenticate = find_api(kAuthenticateKey);
  ASSERT_NE(authenticate, nullptr);
  EXPECT_EQ(authenticate->name, "SaslAuthenticate");
  EXPECT_EQ(authenticate->client_max, kAuthenticateMaxV);
  EXPECT_EQ(authenticate->kafka_0_9_max, -1);
  EXPECT_EQ(authenticate->sink_max, kAuthenticateMaxV);
  EXPECT_EQ(kafka_0_9_version(kHandshakeKey), -1);
  EXPECT_EQ(negotiate_version(kHandshakeKey, 0, 1), 1);
  EXPECT_EQ(negotiate_version(kAuthenticateKey, 0, 1), 1);

  for (int16_t v = 0; v <= kHandshakeMaxV; ++v) {
    EXPECT_EQ(request_header_version(kHandshakeKey, v), 1);
    EXPECT_EQ(response_header_version(kHandshakeKey, v), 0);
  }
  for (int16_t v = 0; v <= kAuthenticateMaxV; ++v) {
    SCOPED_TRACE("SaslAuthenticate v" + std::to_string(v));
    EXPECT_EQ(is_flexible(kAuthenticateKey, v), v >= kAuthenticateFlex);
    EXPECT_EQ(request_header_version(kAuthenticateKey, v), v >= kAuthenticateFlex ? 2 : 1);
    EXPECT_EQ(response_header_version(kAuthenticateKey, v), v >= kAuthenticateFlex ? 1 : 0);
  }
}

// ---- SaslHandshake -------------------------------------------------------------------------------
SaslHandshakeRequest HandshakeRequest() {
  SaslHandshakeRequest r;
  r.mechanism = "SCRAM-SHA-512";
  return r;
}
B HandshakeRequestBytes() { return std::move(B().str("SCRAM-SHA-512")); }  // Mechanism 0+

// UNSUPPORTED_SASL_MECHANISM (33) with the enabled mechanisms; a success has the same layout.
SaslHandshakeResponse HandshakeResponse(int16_t error_code) {
  SaslHandshakeResponse r;
  r.error_code = error_code;
  r.mechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
  return r;
}
B HandshakeResponseBytes(int16_t error_code) {
  B e;
  e.i16(error_code);                                          // ErrorCode 0+
  e.arr(3).str("PLAIN").str("SCRAM-SHA-256").str("SCRAM-SHA-512");  // Mechanisms 0+
  return e;
}

class GoldenSaslHandshakeV : public GoldenVersion {};
INSTANTIATE_TEST_SUITE_P(AllVersions, GoldenSaslHandshakeV, ::testing::Range(0, kHandshakeMaxV + 1), VersionName);

TEST_P(GoldenSaslHandshakeV, RequestEncodeDecode) {
  const std::vector<uint8_t> want = HandshakeRequestBytes().b;
  EXPECT_BYTES(encode(HandshakeRequest(), v()), want);
  SaslHandshakeRequest used;
  used.mechanism = "PLAIN";
  EXPECT_TRUE(DecodesTo(want, v(), HandshakeRequest(), used));
}

TEST_P(GoldenSaslHandshakeV, ResponseDecodeEncode) {
  for (int16_t error_code : {int16_t{0}, error::kUnsupportedSaslMechanism}) {
    SCOPED_TRACE("error " + std::to_string(error_code));
    const std::vector<uint8_t> bytes = HandshakeResponseBytes(error_code).b;
    EXPECT_TRUE(DecodesTo(bytes, v(), HandshakeResponse(error_code)));
    SaslHandshakeResponse used;
    used.error_code = 99;
    used.mechanisms = {"GSSAPI", "A", "B", "C"};
    EXPECT_TRUE(DecodesTo(bytes, v(), HandshakeResponse(error_code), used));
    EXPECT_BYTES(encode(HandshakeResponse(error_code), v()), bytes);
  }
}

TEST_P(GoldenSaslHandshakeV, Frames) {
  std::vector<uint8_t> out;
  const size_t n = encode_request(out, HandshakeRequest(), v(), 3, "rdkafka");
  const B frame = request_frame(kHandshakeKey, v(), false, 3, "rdkafka", HandshakeRequestBytes());
  EXPECT_BYTES(out, frame.b);
  EXPECT_EQ(n, frame.size());

  B response;  // response header v0: the correlation id only
  response.i32(3).raw(HandshakeResponseBytes(0));
  ResponseFrame rf = read_response_header(response.b, kHandshakeKey, v());
  EXPECT_EQ(rf.correlation_id, 3);
  SaslHandshakeResponse got;
  got.decode(rf.body, v());
  EXPECT_TRUE(rf.body.ok() && rf.body.empty());
  EXPECT_TRUE(got == HandshakeResponse(0));
}

TEST_P(GoldenSaslHandshakeV, TruncatedFails) {
  EXPECT_TRUE(EveryTruncationFails<SaslHandshakeRequest>(HandshakeRequestBytes().b, v()));
  EXPECT_TRUE(EveryTruncationFails<SaslHandshakeResponse>(HandshakeResponseBytes(0).b, v()));
}

// The handshake librdkafka 2.0.2 (kcat) sends for SCRAM-SHA-256 after ApiVersions, as captured
// between kcat and ws_kafka_sink.
TEST(GoldenSasl, HandshakeRequestFrameLiteral) {
  const std::vector<uint8_t> want = {
      0x00, 0x00, 0x00, 0x20,                          // size 32
      0x00, 0x11, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,  // key 17, version 1, correlation 2
      0x00, 0x07, 'r', 'd', 'k', 'a', 'f', 'k', 'a',   // client id
      0x00, 0x0d, 'S', 'C', 'R', 'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5', '6'};
  SaslHandshakeRequest request;
  request.mechanism = "SCRAM-SHA-256";
  std::vector<uint8_t> out;
  encode_request(out, request, 1, 2, "rdkafka");
  EXPECT_BYTES(out, want);
}

// ---- SaslAuthenticate ----------------------------------------------------------------------------
// A SCRAM client-first token, and a 200-byte token whose compact length (201) takes two uvarint
// bytes in v2.
const std::string kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const std::string kLongToken(200, '\x01');

SaslAuthenticateRequest AuthenticateRequest(const std::string& token) {
  SaslAuthenticateRequest r;
  r.auth_bytes = as_bytes(token);
  return r;
}
F AuthenticateRequestBytes(int16_t v, const std::string& token) {
  F e(v >= kAuthenticateFlex);
  e.nbytes(as_bytes(token));  // AuthBytes 0+: int32 length / uvarint length+1
  e.tags();
  return e;
}

struct ResponseCase {
  const char* name;
  int16_t error_code;
  std::optional<std::string_view> error_message;
  std::string_view auth_bytes;
  int64_t session_lifetime_ms;
};
const ResponseCase kResponseCases[] = {
    {"server_first", 0, std::nullopt,
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", 3600000},
    {"failed", 58, "Authentication failed: wrong password for user \"user\"", "", 0},
    {"plain_ok_empty_message", 0, "", "", 0x0102030405060708},
};

// Every field set, whatever the version: encode() must drop what v lacks.
SaslAuthenticateResponse FullResponse(const ResponseCase& c) {
  SaslAuthenticateResponse r;
  r.error_code = c.error_code;
  r.error_message = c.error_message;
  r.auth_bytes = as_bytes(c.auth_bytes);
  r.session_lifetime_ms = c.session_lifetime_ms;
  return r;
}
SaslAuthenticateResponse ResponseFor(int16_t v, const ResponseCase& c) {
  SaslAuthenticateResponse r = FullResponse(c);
  if (v < 1) r.session_lifetime_ms = 0;  // SessionLifetimeMs "versions": "1+", "default": "0"
  return r;
}
F AuthenticateResponseBytes(int16_t v, const ResponseCase& c) {
  F e(v >= kAuthenticateFlex);
  e.i16(c.error_code);                         // ErrorCode 0+
  e.nstring(c.error_message);                  // ErrorMessage 0+, nullable 0+
  e.nbytes(as_bytes(c.auth_bytes));            // AuthBytes 0+
  if (v >= 1) e.i64(c.session_lifetime_ms);    // SessionLifetimeMs 1+
  e.tags();
  return e;
}

class GoldenSaslAuthenticateV : public GoldenVersion {};
INSTANTIATE_TEST_SUITE_P(AllVersions, GoldenSaslAuthenticateV, ::testing::Range(0, kAuthenticateMaxV + 1),
                         VersionName);

TEST_P(GoldenSaslAuthenticateV, RequestEncodeDecode) {
  for (const std::string* token : {&kClientFirst, &kLongToken}) {
    SCOPED_TRACE(token->size());
    const std::vector<uint8_t> want = AuthenticateRequestBytes(v(), *token).b;
    EXPECT_BYTES(encode(AuthenticateRequest(*token), v()), want);
    EXPECT_TRUE(DecodesTo(want, v(), AuthenticateRequest(*token), AuthenticateRequest("used")));
  }
  // The long token's length: int32 200, or uvarint 201 = 0xc9 0x01.
  const std::vector<uint8_t> bytes = encode(AuthenticateRequest(kLongToken), v());
  if (v() >= kAuthenticateFlex) {
    EXPECT_EQ(bytes[0], 0xc9);
    EXPECT_EQ(bytes[1], 0x01);
  } else {
    EXPECT_BYTES(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 4), (std::vector<uint8_t>{0, 0, 0, 200}));
  }
}

TEST_P(GoldenSaslAuthenticateV, ResponseDecodeEncode) {
  for (const ResponseCase& c : kResponseCases) {
    SCOPED_TRACE(c.name);
    const std::vector<uint8_t> bytes = AuthenticateResponseBytes(v(), c).b;
    EXPECT_TRUE(DecodesTo(bytes, v(), ResponseFor(v(), c)));
    const ResponseCase& other = &c == &kResponseCases[0] ? kResponseCases[1] : kResponseCases[0];
    EXPECT_TRUE(DecodesTo(bytes, v(), ResponseFor(v(), c), FullResponse(other)));
    EXPECT_BYTES(encode(FullResponse(c), v()), bytes);  // absent fields are not written
  }
}

TEST_P(GoldenSaslAuthenticateV, Frames) {
  const bool flex = v() >= kAuthenticateFlex;
  std::vector<uint8_t> out;
  const size_t n = encode_request(out, AuthenticateRequest(kClientFirst), v(), 4, "rdkafka");
  const B frame = request_frame(kAuthenticateKey, v(), flex, 4, "rdkafka",
                                AuthenticateRequestBytes(v(), kClientFirst));
  EXPECT_BYTES(out, frame.b);
  EXPECT_EQ(n, frame.size());

  B response;  // without the size prefix; header v1 (flexible) adds tags, here an unknown one
  response.i32(4);
  if (flex) response.uvarint(1).tag(9, B().raw({0xaa}));
  response.raw(AuthenticateResponseBytes(v(), kResponseCases[0]));
  ResponseFrame rf = read_response_header(response.b, kAuthenticateKey, v());
  EXPECT_EQ(rf.correlation_id, 4);
  SaslAuthenticateResponse got;
  got.decode(rf.body, v());
  EXPECT_TRUE(rf.body.ok()) << to_string(rf.body.error());
  EXPECT_TRUE(rf.body.empty()) << rf.body.remaining() << " bytes left";
  EXPECT_TRUE(got == ResponseFor(v(), kResponseCases[0]));
}

TEST_P(GoldenSaslAuthenticateV, TruncatedFails) {
  EXPECT_TRUE(EveryTruncationFails<SaslAuthenticateRequest>(AuthenticateRequestBytes(v(), kClientFirst).b, v()));
  for (const ResponseCase& c : kResponseCases) {
    EXPECT_TRUE(EveryTruncationFails<SaslAuthenticateResponse>(AuthenticateResponseBytes(v(), c).b, v())) << c.name;
  }
}

// librdkafka 2.0.2 (kcat) logging in with PLAIN as "u", password "x": it sends SaslAuthenticate v0
// even when v2 is offered. Then ws_kafka_sink's refusal. Both as captured between the two.
TEST(GoldenSasl, AuthenticateFramesLiteralV0) {
  const std::vector<uint8_t> request = {
      0x00, 0x00, 0x00, 0x19,                          // size 25
      0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,  // key 36, version 0, correlation 3
      0x00, 0x07, 'r', 'd', 'k', 'a', 'f', 'k', 'a',   // client id
      0x00, 0x00, 0x00, 0x04, 0x00, 'u', 0x00, 'x'};   // auth bytes: NUL u NUL x
  std::vector<uint8_t> out;
  encode_request(out, AuthenticateRequest(std::string("\0u\0x", 4)), 0, 3, "rdkafka");
  EXPECT_BYTES(out, request);

  const std::string message = "Authentication failed: wrong password for user \"u\"";
  B response;  // after the size prefix
  response.raw({0x00, 0x00, 0x00, 0x03, 0x00, 0x3a, 0x00, 0x32}).raw(message).raw({0x00, 0x00, 0x00, 0x00});
  ResponseFrame rf = read_response_header(response.b, kAuthenticateKey, 0);
  EXPECT_EQ(rf.correlation_id, 3);
  SaslAuthenticateResponse got;
  got.decode(rf.body, 0);
  ASSERT_TRUE(rf.body.ok() && rf.body.empty());
  EXPECT_EQ(got.error_code, error::kSaslAuthenticationFailed);
  EXPECT_EQ(got.error_message, message);
  EXPECT_TRUE(got.auth_bytes.empty());
}

// Flexible SaslAuthenticate defines no tagged fields: unknown ones are skipped.
TEST(GoldenSasl, AuthenticateUnknownTagsSkipped) {
  B e;
  e.i16(0).cstr_null().uvarint(1).i64(5).uvarint(2).tag(0, B().raw({1, 2})).tag(7, B());
  Reader r(e.b);
  SaslAuthenticateResponse got;
  got.decode(r, 2);
  EXPECT_TRUE(r.ok() && r.empty());
  EXPECT_EQ(got.session_lifetime_ms, 5);
  EXPECT_FALSE(got.error_message.has_value());
  EXPECT_TRUE(got.auth_bytes.empty());
}

// A length larger than what is left is an error, not a read past the end.
TEST(GoldenSasl, AuthenticateOversizedLengthFails) {
  for (int16_t v = 0; v <= kAuthenticateMaxV; ++v) {
    F e(v >= kAuthenticateFlex);
    e.i16(0).nstring(std::nullopt);
    if (v >= kAuthenticateFlex) e.uvarint(1000); else e.i32(1000);
    e.raw(std::string_view("short"));
    Reader r(e.b);
    SaslAuthenticateResponse got;
    got.decode(r, v);
    EXPECT_FALSE(r.ok()) << "v" << v;
  }
}

// ---- Bare token frames (SaslHandshake v0 flow) ---------------------------------------------------
TEST(GoldenSasl, TokenFrame) {
  std::vector<uint8_t> out = {0xee};
  sasl::append_token_frame(out, as_bytes(std::string_view("\0u\0p", 4)));
  EXPECT_BYTES(out, (std::vector<uint8_t>{0xee, 0, 0, 0, 4, 0, 'u', 0, 'p'}));
  out.clear();
  sasl::append_token_frame(out, {});  // PLAIN's empty success token
  EXPECT_BYTES(out, (std::vector<uint8_t>{0, 0, 0, 0}));
  // Reading them back is check_frame()'s job, bounded by the unauthenticated limit.
  const std::vector<uint8_t> too_big = B().i32(sasl::kMaxTokenFrameSize + 1).b;
  EXPECT_EQ(check_frame(too_big, sasl::kMaxTokenFrameSize).status, FrameStatus::kTooLarge);
}

}  // namespace
}  // namespace ws::protocol
