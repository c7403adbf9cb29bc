// SASL mechanisms (protocol/sasl/): the RFC 7677 SCRAM-SHA-256 exchange byte for byte on both
// sides, a SCRAM-SHA-512 exchange computed independently (Python's hashlib and hmac, see
// kSha512Vector), round trips client <-> server, and every way a peer can be wrong or hostile:
// wrong password, tampered signature, foreign nonce, cheap or absurd iteration counts, malformed
// messages. PLAIN (RFC 4616) and OAUTHBEARER (RFC 7628) framing.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/sasl/sasl.h"
#include "protocol/sasl/scram.h"

namespace ws::protocol::sasl {
namespace {

using Step = ClientExchange::Step;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// RFC 7677 section 3: user "user", password "pencil".
constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kSaltBase64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

struct Vector {
  Mechanism mechanism;
  std::string_view client_final;
  std::string_view server_final;
};
const Vector kSha256Vector = {
    Mechanism::kScramSha256,
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="};
// RFC 7677's inputs with SHA-512, computed with Python's hashlib.pbkdf2_hmac and hmac (which
// reproduce kSha256Vector exactly): no RFC gives a SCRAM-SHA-512 example.
const Vector kSha512Vector = {
    Mechanism::kScramSha512,
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmN"
    "omv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
    "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw=="};

ClientExchange rfc_client(Mechanism m, std::string password = "pencil") {
  return ClientExchange(m, Credentials{"user", std::move(password), ""}, std::string(kClientNonce));
}

// A store holding "user" with RFC 7677's salt, so the server's messages are the RFC's.
UserStore rfc_store(Mechanism m) {
  UserStore users;
  users.add("user", "pencil");
  std::vector<uint8_t> salt;
  EXPECT_TRUE(scram::from_base64(kSaltBase64, salt));
  users.set_scram_credential(m, "user", derive_scram_credential(m, "pencil", salt, 4096));
  return users;
}

// Feeds the server-first message to an RFC client; the client-final it answers goes to `reply`.
Step client_after_server_first(ClientExchange& client, std::string_view server_first,
                               std::vector<uint8_t>& reply, std::string& error) {
  client.initial();
  return client.on_server(bytes(server_first), reply, error);
}

class ScramVector : public ::testing::TestWithParam<Vector> {};
INSTANTIATE_TEST_SUITE_P(Rfc7677, ScramVector, ::testing::Values(kSha256Vector, kSha512Vector),
                         [](const auto& p) {
                           return std::string(p.param.mechanism == Mechanism::kScramSha256 ? "Sha256" : "Sha512");
                         });

TEST_P(ScramVector, ClientSendsTheRfcMessages) {
  const Vector& v = GetParam();
  ClientExchange client = rfc_client(v.mechanism);
  EXPECT_EQ(text(client.initial()), kClientFirst);
  std::vector<uint8_t> reply;
  std::string error;
  ASSERT_EQ(client.on_server(bytes(kServerFirst), reply, error), Step::kSend) << error;
  EXPECT_EQ(text(reply), v.client_final);
  EXPECT_FALSE(client.done());
  EXPECT_EQ(client.on_server(bytes(v.server_final), reply, error), Step::kDone) << error;
  EXPECT_TRUE(reply.empty());
  EXPECT_TRUE(client.done());
}

// The client caches SaltedPassword's keys per thread (PBKDF2 is ~1-2 ms a login). A cached login
// must send exactly what a fresh one sends, and the cache must tell passwords and salts apart.
TEST_P(ScramVector, RepeatedLoginsAndOtherPasswordsSendTheRightProofs) {
  const Vector& v = GetParam();
  std::vector<uint8_t> reply;
  std::string error;
  for (int login = 0; login < 3; ++login) {
    ClientExchange client = rfc_client(v.mechanism);
    ASSERT_EQ(client_after_server_first(client, kServerFirst, reply, error), Step::kSend) << error;
    EXPECT_EQ(text(reply), v.client_final) << "login " << login;
  }
  ClientExchange other = rfc_client(v.mechanism, "pencil2");
  ASSERT_EQ(client_after_server_first(other, kServerFirst, reply, error), Step::kSend) << error;
  EXPECT_NE(text(reply), v.client_final);
  const std::string other_salt =
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=X22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  ClientExchange salted = rfc_client(v.mechanism);
  ASSERT_EQ(client_after_server_first(salted, other_salt, reply, error), Step::kSend) << error;
  EXPECT_NE(text(reply), v.client_final);
}

TEST_P(ScramVector, ServerSendsTheRfcMessages) {
  const Vector& v = GetParam();
  UserStore users = rfc_store(v.mechanism);
  ServerExchange server(v.mechanism, users, std::string(kServerNonce));
  std::vector<uint8_t> reply;
  std::string error;
  ASSERT_EQ(server.on_client(bytes(kClientFirst), reply, error), Step::kSend) << error;
  EXPECT_EQ(text(reply), kServerFirst);
  ASSERT_EQ(server.on_client(bytes(v.client_final), reply, error), Step::kDone) << error;
  EXPECT_EQ(text(reply), v.server_final);
  EXPECT_TRUE(server.done());
  EXPECT_EQ(server.username(), "user");
}

// Runs a whole exchange: client tokens to the server and back until one side stops.
struct RoundTrip {
  Step client_step = Step::kSend;  // the last step of each side
  Step server_step = Step::kSend;
  std::string client_error, server_error;
  int server_tokens = 0;  // tokens the server was fed
  bool client_done = false, server_done = false;
  std::string username;  // as the server saw it
};
RoundTrip run(ClientExchange& client, ServerExchange& server) {
  RoundTrip out;
  std::vector<uint8_t> to_server = client.initial();
  std::vector<uint8_t> to_client;
  while (out.server_tokens < 10) {
    ++out.server_tokens;
    out.server_step = server.on_client(to_server, to_client, out.server_error);
    // A failed server still tells a bare SCRAM client why (e=...), when it has something to say.
    if (out.server_step == Step::kFailed && to_client.empty()) break;
    out.client_step = client.on_server(to_client, to_server, out.client_error);
    if (out.client_step != Step::kSend) break;
  }
  out.client_done = client.done();
  out.server_done = server.done();
  out.username = server.username();
  return out;
}

// A server that knows alice (password "s3cret"), and a client with random nonces.
RoundTrip log_in(Mechanism m, const std::string& user, const std::string& password) {
  UserStore users;
  users.add("alice", "s3cret");
  ClientExchange client(m, Credentials{user, password, ""});
  ServerExchange server(m, users);
  return run(client, server);
}

TEST(Scram, RoundTripWithRandomNoncesAndSalts) {
  for (Mechanism m : {Mechanism::kScramSha256, Mechanism::kScramSha512}) {
    SCOPED_TRACE(mechanism_name(m));
    const RoundTrip r = log_in(m, "alice", "s3cret");
    EXPECT_EQ(r.client_step, Step::kDone) << r.client_error;
    EXPECT_EQ(r.server_step, Step::kDone) << r.server_error;
    EXPECT_TRUE(r.client_done);
    EXPECT_TRUE(r.server_done);
    EXPECT_EQ(r.username, "alice");
  }
}

TEST(Scram, WrongPasswordFailsOnBothSides) {
  for (Mechanism m : {Mechanism::kScramSha256, Mechanism::kScramSha512}) {
    SCOPED_TRACE(mechanism_name(m));
    const RoundTrip r = log_in(m, "alice", "guess");
    EXPECT_EQ(r.server_step, Step::kFailed);
    EXPECT_EQ(r.server_error, "wrong password for user \"alice\" (invalid client proof)");
    EXPECT_EQ(r.client_step, Step::kFailed);
    EXPECT_EQ(r.client_error, "server error: invalid-proof");
    EXPECT_FALSE(r.client_done);
    EXPECT_FALSE(r.server_done);
  }
}

TEST(Scram, UnknownUserFailsAtClientFirst) {
  const RoundTrip r = log_in(Mechanism::kScramSha256, "mallory", "s3cret");
  EXPECT_EQ(r.server_step, Step::kFailed);
  EXPECT_EQ(r.server_error, "unknown user \"mallory\"");
  EXPECT_EQ(r.server_tokens, 1);
}

TEST(Scram, UsernameCommaAndEqualsAreEscaped) {
  EXPECT_EQ(scram::escape_username("a,b=c"), "a=2Cb=3Dc");
  std::string out;
  EXPECT_TRUE(scram::unescape_username("a=2Cb=3Dc", out));
  EXPECT_EQ(out, "a,b=c");
  for (std::string_view bad : {std::string_view("a="), std::string_view("a=2"), std::string_view("a=2D"),
                               std::string_view("a=3d"), std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(scram::unescape_username(bad, out)) << bad;
  }
  ClientExchange client(Mechanism::kScramSha256, Credentials{"a,b=c", "pw", ""}, "nonce");
  EXPECT_EQ(text(client.initial()), "n,,n=a=2Cb=3Dc,r=nonce");

  UserStore users;
  users.add("a,b=c", "pw");
  ClientExchange random_client(Mechanism::kScramSha512, Credentials{"a,b=c", "pw", ""});
  ServerExchange server(Mechanism::kScramSha512, users);
  const RoundTrip r = run(random_client, server);
  EXPECT_EQ(r.client_step, Step::kDone);
  EXPECT_EQ(r.username, "a,b=c");
}

TEST(Scram, TamperedServerSignatureFails) {
  for (std::string_view final_message :
       {"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",  // first byte changed
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G8=",  // last byte changed
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=",  // same bytes, non-canonical base64
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9",      // not base64 (length)
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95A==",  // one byte short
        "v=AAAA"}) {
    SCOPED_TRACE(final_message);
    ClientExchange client = rfc_client(Mechanism::kScramSha256);
    std::vector<uint8_t> reply;
    std::string error;
    ASSERT_EQ(client_after_server_first(client, kServerFirst, reply, error), Step::kSend);
    EXPECT_EQ(client.on_server(bytes(final_message), reply, error), Step::kFailed);
    EXPECT_TRUE(error == "server signature mismatch" ||
                error.starts_with("invalid server-final-message: server signature is not base64"))
        << error;
    EXPECT_FALSE(client.done());
  }
}

TEST(Scram, ServerNonceMustExtendTheClientNonce) {
  for (std::string_view server_first :
       {"r=XOprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // another client's nonce
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",       // ours, no server part
        "r=rOprNG,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"}) {                  // a prefix of ours
    SCOPED_TRACE(server_first);
    ClientExchange client = rfc_client(Mechanism::kScramSha256);
    std::vector<uint8_t> reply;
    std::string error;
    EXPECT_EQ(client_after_server_first(client, server_first, reply, error), Step::kFailed);
    EXPECT_EQ(error, "invalid server-first-message: server nonce does not start with the client nonce");
    EXPECT_TRUE(reply.empty());
  }
}

TEST(Scram, IterationCountsOutsideTheBoundsFail) {
  for (std::string_view count : {"1", "4095", "1000001", "4294967295"}) {
    SCOPED_TRACE(count);
    ClientExchange client = rfc_client(Mechanism::kScramSha256);
    std::vector<uint8_t> reply;
    std::string error;
    const std::string server_first = "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" + std::string(count);
    EXPECT_EQ(client_after_server_first(client, server_first, reply, error), Step::kFailed);
    EXPECT_EQ(error, "invalid server-first-message: iteration count " + std::string(count) +
                         " outside [4096, 1000000]");
  }
}

TEST(Scram, MalformedServerMessagesFailWithAReason) {
  const std::string huge = "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," + std::string(20000, 'x');
  const std::pair<std::string, std::string> server_firsts[] = {
      {"", "empty message"},
      {"r=", "want r=, s= and i="},
      {"x=1,s=abcd,i=4096", "missing nonce (r=)"},
      {"r=rOprNGfwEbeRWgbNEkqOx", "want r=, s= and i="},
      {"m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22Z,i=4096", "mandatory extension (m=) is not supported"},
      {std::string("r=rOprNGfwEbeRWgbNEkqO\x01,s=W22Z,i=4096"), "nonce is empty or not printable"},
      {"r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096", "salt is not base64 or empty"},
      {"r=rOprNGfwEbeRWgbNEkqOx,s=!!!!,i=4096", "salt is not base64 or empty"},
      {"r=rOprNGfwEbeRWgbNEkqOx,x=W22Z,i=4096", "missing salt (s=)"},
      {"r=rOprNGfwEbeRWgbNEkqOx,s=W22Z,i=", "missing or bad iteration count (i=)"},
      {"r=rOprNGfwEbeRWgbNEkqOx,s=W22Z,i=-4096", "missing or bad iteration count (i=)"},
      {"r=rOprNGfwEbeRWgbNEkqOx,s=W22Z,i=4096x", "missing or bad iteration count (i=)"},
      {"r=rOprNGfwEbeRWgbNEkqOx,s=W22Z,i=99999999999", "missing or bad iteration count (i=)"},
      {"r=rOprNGfwEbeRWgbNEkqOx,s=W22Z,i=0", "missing or bad iteration count (i=)"},
      {std::string("r=\0\0\0,s=\0,i=\0", 13), "nonce is empty or not printable"},
      {huge, "message longer than 16384 bytes"},
  };
  for (const auto& [message, reason] : server_firsts) {
    SCOPED_TRACE(scram::loggable(message, 60));
    ClientExchange client = rfc_client(Mechanism::kScramSha256);
    std::vector<uint8_t> reply;
    std::string error;
    EXPECT_EQ(client_after_server_first(client, message, reply, error), Step::kFailed);
    EXPECT_EQ(error, "invalid server-first-message: " + reason);
  }
  const std::pair<std::string, std::string> server_finals[] = {
      {"", "invalid server-final-message: empty message"},
      {"v=", "invalid server-final-message: server signature is not base64 or empty"},
      {"x=abc", "invalid server-final-message: missing server signature (v=)"},
      {"e=", "server error: (empty)"},
      {"e=invalid-proof,ext=1", "server error: invalid-proof"},
      {std::string("e=bad\x07\xff", 7), "server error: bad??"},
  };
  for (const auto& [message, want] : server_finals) {
    SCOPED_TRACE(scram::loggable(message));
    ClientExchange client = rfc_client(Mechanism::kScramSha256);
    std::vector<uint8_t> reply;
    std::string error;
    ASSERT_EQ(client_after_server_first(client, kServerFirst, reply, error), Step::kSend);
    EXPECT_EQ(client.on_server(bytes(message), reply, error), Step::kFailed);
    EXPECT_EQ(error, want);
  }
}

TEST(Scram, ServerRejectsMalformedClientFirst) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty message"},
      {"n,,", "missing or bad username (n=)"},
      {"p=tls-server-end-point,,n=user,r=abc", "channel binding (p=) is not supported"},
      {"x,,n=user,r=abc", "bad gs2 header: want \"n,\" or \"y,\""},
      {"n,a=user", "bad gs2 header: no end"},
      {"n,b=user,n=user,r=abc", "bad authorization id (a=)"},
      {"n,a=other,n=user,r=abc", "authorization id differs from the username"},
      {"n,,m=ext,n=user,r=abc", "mandatory extension (m=) is not supported"},
      {"n,,n=,r=abc", "missing or bad username (n=)"},
      {"n,,n=us=er,r=abc", "missing or bad username (n=)"},
      {"n,,n=user", "missing nonce (r=)"},
      {"n,,n=user,r=", "nonce is empty or not printable"},
      {"n,,n=user,x=abc", "missing nonce (r=)"},
  };
  for (const auto& [message, reason] : cases) {
    SCOPED_TRACE(message);
    UserStore users = rfc_store(Mechanism::kScramSha256);
    ServerExchange server(Mechanism::kScramSha256, users);
    std::vector<uint8_t> reply;
    std::string error;
    EXPECT_EQ(server.on_client(bytes(message), reply, error), Step::kFailed);
    EXPECT_EQ(error, "invalid client-first-message: " + reason);
    EXPECT_TRUE(reply.empty());
  }
  // Extensions after the nonce (Kafka's tokenauth=true) and an authzid equal to the user pass.
  for (std::string_view ok : {"n,,n=user,r=abc,tokenauth=true", "n,a=user,n=user,r=abc", "y,,n=user,r=abc"}) {
    UserStore users = rfc_store(Mechanism::kScramSha256);
    ServerExchange server(Mechanism::kScramSha256, users);
    std::vector<uint8_t> reply;
    std::string error;
    EXPECT_EQ(server.on_client(bytes(ok), reply, error), Step::kSend) << ok << ": " << error;
  }
}

TEST(Scram, ServerRejectsMalformedOrForeignClientFinal) {
  const std::string nonce = std::string(kClientNonce) + std::string(kServerNonce);
  const std::string proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  struct Case {
    std::string message, error, reply;
  };
  const Case cases[] = {
      {"", "invalid client-final-message: empty message", "e=invalid-encoding"},
      {"c=biws", "invalid client-final-message: want c=, r= and p=", "e=invalid-encoding"},
      {"c=biw,r=" + nonce + "," + proof, "invalid client-final-message: missing or bad channel binding (c=)",
       "e=invalid-encoding"},
      {"c=biws,r=" + nonce + ",p=###", "invalid client-final-message: proof is not base64 or empty",
       "e=invalid-encoding"},
      {"c=biws,r=" + nonce + ",x=1", "invalid client-final-message: missing proof (p=)", "e=invalid-encoding"},
      {"c=eSws,r=" + nonce + "," + proof,  // "y,,": not what client-first said
       "invalid client-final-message: channel binding (c=) differs from the gs2 header",
       "e=channel-bindings-dont-match"},
      {"c=biws,r=" + nonce + "x," + proof,
       "invalid client-final-message: nonce differs from the server-first nonce", "e=other-error"},
      {"c=biws,r=xOprNGfwEbeRWgbNEkqO" + nonce + "," + proof,  // not our client's nonce repeated
       "invalid client-final-message: nonce differs from the server-first nonce", "e=other-error"},
      {"c=biws,r=" + nonce + ",p=AAAA", "wrong password for user \"user\" (invalid client proof)",
       "e=invalid-proof"},
      {"c=biws,r=" + nonce + ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
       "wrong password for user \"user\" (invalid client proof)", "e=invalid-proof"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    UserStore users = rfc_store(Mechanism::kScramSha256);
    ServerExchange server(Mechanism::kScramSha256, users, std::string(kServerNonce));
    std::vector<uint8_t> reply;
    std::string error;
    ASSERT_EQ(server.on_client(bytes(kClientFirst), reply, error), Step::kSend);
    EXPECT_EQ(server.on_client(bytes(c.message), reply, error), Step::kFailed);
    EXPECT_EQ(error, c.error);
    EXPECT_EQ(text(reply), c.reply);
    EXPECT_FALSE(server.done());
  }
}

// librdkafka 2.0.2 answers with r=<client nonce><server-first nonce>, which Kafka accepts; its
// proof covers that text. Computed with Python's hashlib/hmac from RFC 7677's inputs.
TEST(Scram, ServerAcceptsLibrdkafkasRepeatedClientNonce) {
  UserStore users = rfc_store(Mechanism::kScramSha256);
  ServerExchange server(Mechanism::kScramSha256, users, std::string(kServerNonce));
  std::vector<uint8_t> reply;
  std::string error;
  ASSERT_EQ(server.on_client(bytes(kClientFirst), reply, error), Step::kSend);
  const std::string librdkafka_final =
      "c=biws,r=rOprNGfwEbeRWgbNEkqOrOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=1Y75+q7XaCGJj/r6vyQWwoNxSzV5ksS8xhp5Lqyriec=";
  ASSERT_EQ(server.on_client(bytes(librdkafka_final), reply, error), Step::kDone) << error;
  EXPECT_EQ(text(reply), "v=3svB0h5EwFJ/+WVn2GpJ5uBzW8HEv9nm1rcYAhYlm0A=");
}

TEST(Scram, ExtensionsBeforeTheProofAreAccepted) {
  // AuthMessage includes everything before ",p=", so the RFC proof no longer fits: the server
  // must say "invalid proof", not "malformed".
  UserStore users = rfc_store(Mechanism::kScramSha256);
  ServerExchange server(Mechanism::kScramSha256, users, std::string(kServerNonce));
  std::vector<uint8_t> reply;
  std::string error;
  ASSERT_EQ(server.on_client(bytes(kClientFirst), reply, error), Step::kSend);
  const std::string with_extension =
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=1,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  EXPECT_EQ(server.on_client(bytes(with_extension), reply, error), Step::kFailed);
  EXPECT_EQ(text(reply), "e=invalid-proof");
}

TEST(Scram, ServerNoncesAndSaltsAreRandomAndCachedPerUser) {
  UserStore users;
  users.add("alice", "pw");
  users.add("bob", "pw");
  const ScramCredential* alice = users.scram_credential(Mechanism::kScramSha256, "alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->iterations, kScramServerIterations);
  EXPECT_EQ(alice->salt.size(), 16u);
  EXPECT_EQ(alice->stored_key.size(), 32u);
  EXPECT_EQ(users.scram_credential(Mechanism::kScramSha256, "alice"), alice);  // cached
  const ScramCredential* bob = users.scram_credential(Mechanism::kScramSha256, "bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_NE(alice->salt, bob->salt);
  const ScramCredential* alice512 = users.scram_credential(Mechanism::kScramSha512, "alice");
  ASSERT_NE(alice512, nullptr);
  EXPECT_EQ(alice512->stored_key.size(), 64u);
  EXPECT_EQ(users.scram_credential(Mechanism::kScramSha256, "carol"), nullptr);
  EXPECT_EQ(users.scram_credential(Mechanism::kPlain, "alice"), nullptr);

  // Two logins of one user: same salt, different server nonces.
  std::vector<std::string> server_firsts;
  for (int i = 0; i < 2; ++i) {
    ServerExchange server(Mechanism::kScramSha256, users);
    std::vector<uint8_t> reply;
    std::string error;
    ASSERT_EQ(server.on_client(bytes("n,,n=alice,r=abc"), reply, error), Step::kSend);
    server_firsts.push_back(text(reply));
  }
  EXPECT_NE(server_firsts[0], server_firsts[1]);
  const auto salt_and_count = [](const std::string& m) { return m.substr(m.find(",s=")); };
  EXPECT_EQ(salt_and_count(server_firsts[0]), salt_and_count(server_firsts[1]));
  EXPECT_TRUE(server_firsts[0].starts_with("r=abc"));
}

TEST(Scram, ClientNoncesAreRandomAndPrintable) {
  ClientExchange a(Mechanism::kScramSha256, Credentials{"u", "p", ""});
  ClientExchange b(Mechanism::kScramSha256, Credentials{"u", "p", ""});
  const std::string first_a = text(a.initial());
  const std::string first_b = text(b.initial());
  EXPECT_NE(first_a, first_b);
  ASSERT_TRUE(first_a.starts_with("n,,n=u,r="));
  const std::string nonce = first_a.substr(9);
  EXPECT_GE(nonce.size(), 24u);
  EXPECT_TRUE(scram::is_printable(nonce));
}

TEST(Scram, Base64IsStrict) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(scram::from_base64("biws", out));
  EXPECT_EQ(text(out), "n,,");
  EXPECT_TRUE(scram::from_base64("eQ==", out));
  EXPECT_EQ(text(out), "y");
  EXPECT_TRUE(scram::from_base64("", out));
  EXPECT_TRUE(out.empty());
  for (std::string_view bad : {"biw", "bi=s", "b=ws", "====", "eQ=", "eQ = ", " biws", "bi\nws", "b!ws", "eR=="}) {
    EXPECT_FALSE(scram::from_base64(bad, out)) << bad;
  }
  EXPECT_EQ(scram::to_base64(bytes("n,,")), "biws");
  EXPECT_EQ(scram::to_base64(bytes("y")), "eQ==");
  EXPECT_EQ(scram::to_base64(bytes("")), "");
}

TEST(Plain, ClientFraming) {
  ClientExchange client(Mechanism::kPlain, Credentials{"user", "pencil", ""});
  EXPECT_EQ(text(client.initial()), std::string("\0user\0pencil", 12));
  std::vector<uint8_t> reply;
  std::string error;
  EXPECT_EQ(client.on_server({}, reply, error), Step::kDone);
  EXPECT_TRUE(client.done());
  EXPECT_TRUE(reply.empty());
  // After the end, nothing more is accepted, and done() stays true.
  EXPECT_EQ(client.on_server({}, reply, error), Step::kFailed);
  EXPECT_EQ(error, "the exchange is already over");
  EXPECT_TRUE(client.done());

  ClientExchange chatty(Mechanism::kPlain, Credentials{"user", "pencil", ""});
  chatty.initial();
  EXPECT_EQ(chatty.on_server(bytes("?"), reply, error), Step::kFailed);
  EXPECT_EQ(error, "unexpected server token after PLAIN (want an empty one)");
}

TEST(Plain, ServerChecksThePassword) {
  UserStore users(UserStore::Passwords{{"user", "pencil"}});
  struct Case {
    std::string token;
    Step step;
    std::string error;
  };
  const Case cases[] = {
      {std::string("\0user\0pencil", 12), Step::kDone, ""},
      {std::string("user\0user\0pencil", 16), Step::kDone, ""},  // authzid = the user itself
      {std::string("\0user\0pencil!", 13), Step::kFailed, "wrong password for user \"user\""},
      {std::string("\0user\0", 6), Step::kFailed, "wrong password for user \"user\""},
      {std::string("\0bob\0pencil", 11), Step::kFailed, "unknown user \"bob\""},
      {std::string("admin\0user\0pencil", 17), Step::kFailed,
       "authorization id \"admin\" differs from the username \"user\""},
      {"userpencil", Step::kFailed, "invalid PLAIN message: want authzid NUL username NUL password"},
      {std::string("\0user", 5), Step::kFailed, "invalid PLAIN message: want authzid NUL username NUL password"},
      {std::string("\0user\0pen\0cil", 13), Step::kFailed,
       "invalid PLAIN message: want authzid NUL username NUL password"},
      {std::string("\0\0pencil", 8), Step::kFailed, "invalid PLAIN message: empty username"},
      {"", Step::kFailed, "invalid PLAIN message: want authzid NUL username NUL password"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(scram::loggable(c.token));
    ServerExchange server(Mechanism::kPlain, users);
    std::vector<uint8_t> reply;
    std::string error;
    EXPECT_EQ(server.on_client(bytes(c.token), reply, error), c.step);
    EXPECT_EQ(error, c.error);
    EXPECT_TRUE(reply.empty());
    EXPECT_EQ(server.done(), c.step == Step::kDone);
  }
}

TEST(Plain, RoundTrip) {
  UserStore users(UserStore::Passwords{{"user", "pencil"}});
  ClientExchange client(Mechanism::kPlain, Credentials{"user", "pencil", ""});
  ServerExchange server(Mechanism::kPlain, users);
  const RoundTrip r = run(client, server);
  EXPECT_EQ(r.client_step, Step::kDone);
  EXPECT_EQ(r.server_step, Step::kDone);
}

TEST(OAuthBearer, ClientFraming) {
  ClientExchange client(Mechanism::kOAuthBearer, Credentials{"", "", "eyJhbGciOi.payload.sig"});
  EXPECT_EQ(text(client.initial()), "n,,\x01" "auth=Bearer eyJhbGciOi.payload.sig\x01\x01");
  std::vector<uint8_t> reply;
  std::string error;
  EXPECT_EQ(client.on_server({}, reply, error), Step::kDone);
  EXPECT_TRUE(client.done());

  ClientExchange refused(Mechanism::kOAuthBearer, Credentials{"", "", "expired"});
  refused.initial();
  EXPECT_EQ(refused.on_server(bytes(R"({"status":"invalid_token","scope":"kafka"})"), reply, error), Step::kFailed);
  EXPECT_EQ(error, R"(server error: {"status":"invalid_token","scope":"kafka"})");
  EXPECT_FALSE(refused.done());
}

TEST(OAuthBearer, ServerSideIsNotSupported) {
  UserStore users(UserStore::Passwords{{"user", "pencil"}});
  ServerExchange server(Mechanism::kOAuthBearer, users);
  std::vector<uint8_t> reply;
  std::string error;
  EXPECT_EQ(server.on_client(bytes("n,,\x01" "auth=Bearer t\x01\x01"), reply, error), Step::kFailed);
  EXPECT_EQ(error, "OAUTHBEARER is not supported by this server");
}

TEST(Mechanisms, NamesRoundTrip) {
  for (Mechanism m : {Mechanism::kPlain, Mechanism::kScramSha256, Mechanism::kScramSha512, Mechanism::kOAuthBearer}) {
    Mechanism parsed = Mechanism::kPlain;
    ASSERT_TRUE(parse_mechanism(mechanism_name(m), parsed)) << mechanism_name(m);
    EXPECT_EQ(parsed, m);
  }
  EXPECT_STREQ(mechanism_name(Mechanism::kScramSha512), "SCRAM-SHA-512");
  Mechanism out;
  for (std::string_view bad : {"", "plain", "SCRAM-SHA-1", "GSSAPI", "PLAIN "}) {
    EXPECT_FALSE(parse_mechanism(bad, out)) << bad;
  }
}

TEST(Mechanisms, BadCredentialsFailBeforeAnythingIsSent) {
  struct Case {
    Mechanism m;
    Credentials c;
    std::string error;
  };
  const Case cases[] = {
      {Mechanism::kPlain, {"", "pw", ""}, "PLAIN needs a username"},
      {Mechanism::kPlain, {"u", std::string("p\0w", 3), ""}, "PLAIN username and password must not contain NUL"},
      {Mechanism::kScramSha256, {"", "pw", ""}, "SCRAM-SHA-256 needs a username"},
      {Mechanism::kScramSha512, {std::string("u\0", 2), "pw", ""},
       "SCRAM-SHA-512 username and password must not contain NUL"},
      {Mechanism::kOAuthBearer, {"u", "p", ""}, "OAUTHBEARER needs a token"},
      {Mechanism::kOAuthBearer, {"", "", "a\x01" "b"}, "OAUTHBEARER token must not contain \\x01"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error);
    std::string error;
    EXPECT_FALSE(validate_credentials(c.m, c.c, error));
    EXPECT_EQ(error, c.error);
    ClientExchange client(c.m, c.c);
    EXPECT_TRUE(client.initial().empty());
    std::vector<uint8_t> reply;
    EXPECT_EQ(client.on_server({}, reply, error), Step::kFailed);
    EXPECT_EQ(error, c.error);
  }
  ClientExchange bad_nonce(Mechanism::kScramSha256, Credentials{"u", "p", ""}, "has,comma");
  EXPECT_TRUE(bad_nonce.initial().empty());
  std::string error;
  std::vector<uint8_t> reply;
  EXPECT_EQ(bad_nonce.on_server({}, reply, error), Step::kFailed);
  EXPECT_EQ(error, "no usable SCRAM client nonce (RAND_bytes failed, or not printable)");
}

TEST(Mechanisms, OnServerBeforeInitialFails) {
  ClientExchange client(Mechanism::kPlain, Credentials{"u", "p", ""});
  std::vector<uint8_t> reply;
  std::string error;
  EXPECT_EQ(client.on_server({}, reply, error), Step::kFailed);
  EXPECT_EQ(error, "on_server() before initial()");
}

}  // namespace
}  // namespace ws::protocol::sasl
