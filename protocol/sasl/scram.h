// SCRAM's pieces (RFC 5802), shared by the client and the server exchange: the parsers of the four
// messages, the username escaping, base64, and the HMAC/hash/PBKDF2 computations (OpenSSL 3).
//
// Every parser takes untrusted text (from a server, or from a client on the sink), never reads
// outside it, and on failure returns false with a short reason in `error`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/sasl/sasl.h"

namespace ws::protocol::sasl::scram {

// Longest SCRAM message accepted: real ones are a few hundred bytes. A bound keeps a hostile peer
// from making a parser copy megabytes.
inline constexpr size_t kMaxMessageSize = 16 * 1024;

// client-first-message: gs2-header client-first-message-bare.
struct ClientFirstMessage {
  std::string gs2_header;  // "n,," / "y,," / "n,a=<authzid>,": echoed (base64) in client-final c=
  std::string username;    // unescaped
  std::string nonce;
  std::string bare;  // client-first-message-bare, part of the AuthMessage
};
bool parse_client_first(std::string_view message, ClientFirstMessage& out, std::string& error);

struct ServerFirstMessage {
  std::string nonce;  // client nonce + server nonce
  std::vector<uint8_t> salt;
  uint32_t iterations = 0;  // any positive count: bounds are the client's policy
};
bool parse_server_first(std::string_view message, ServerFirstMessage& out, std::string& error);

struct ClientFinalMessage {
  std::vector<uint8_t> channel_binding;  // decoded c=: the gs2 header for "n" and "y"
  std::string nonce;
  std::vector<uint8_t> proof;
  std::string_view without_proof;  // client-final-message-without-proof, a view into the message
};
bool parse_client_final(std::string_view message, ClientFinalMessage& out, std::string& error);

// server-final-message: either a verifier or the server's error.
struct ServerFinalMessage {
  std::vector<uint8_t> verifier;  // decoded v=
  std::string server_error;       // e=, when the server refused
};
bool parse_server_final(std::string_view message, ServerFinalMessage& out, std::string& error);

// saslname: ',' and '=' travel as "=2C" and "=3D". unescape fails on any other '='.
std::string escape_username(std::string_view username);
bool unescape_username(std::string_view saslname, std::string& out);

// Standard base64 with padding, as SCRAM requires; decode rejects anything else.
std::string to_base64(std::span<const uint8_t> bytes);
bool from_base64(std::string_view text, std::vector<uint8_t>& out);

// Printable ASCII without ',' (RFC 5802's "printable"), as nonces must be.
bool is_printable(std::string_view s);
// Peer text made safe for logs and error messages: control and non-ASCII bytes become '?', and
// at most `max` bytes are kept.
std::string loggable(std::string_view text, size_t max = 200);

// From OpenSSL's RAND_bytes; false when it fails (an entropy source the OS does not provide).
bool random_bytes(std::span<uint8_t> out);
// 24 random bytes in base64: printable, no ','. Empty when random_bytes() fails.
std::string random_nonce();

// The hash of a SCRAM mechanism: SHA-256 or SHA-512.
class Hash {
 public:
  explicit Hash(Mechanism m) : sha512_(m == Mechanism::kScramSha512) {}
  std::vector<uint8_t> digest(std::span<const uint8_t> data) const;
  std::vector<uint8_t> hmac(std::span<const uint8_t> key, std::string_view data) const;
  // Hi(password, salt, iterations): PBKDF2 with HMAC of this hash.
  std::vector<uint8_t> salted_password(std::string_view password, std::span<const uint8_t> salt,
                                       uint32_t iterations) const;

 private:
  bool sha512_;
};

// What both sides derive from the password (RFC 5802 section 3).
struct Keys {
  std::vector<uint8_t> client_key;  // HMAC(SaltedPassword, "Client Key")
  std::vector<uint8_t> stored_key;  // H(ClientKey)
  std::vector<uint8_t> server_key;  // HMAC(SaltedPassword, "Server Key")
};
Keys derive_keys(Mechanism m, std::string_view password, std::span<const uint8_t> salt,
                 uint32_t iterations);

// Constant-time equality, so a timing difference does not tell a peer how many bytes matched.
bool equal_secret(std::span<const uint8_t> a, std::span<const uint8_t> b);

inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace ws::protocol::sasl::scram
