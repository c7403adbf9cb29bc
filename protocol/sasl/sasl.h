// SASL for Kafka as pure code: the mechanisms' messages, both sides, with no sockets and no Kafka
// framing. A caller moves the tokens (in SaslAuthenticate requests, or as bare length-prefixed
// frames after a SaslHandshake v0) and asks the exchange what to send next.
//
// Mechanisms: PLAIN (RFC 4616), SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) and, client side
// only, OAUTHBEARER (RFC 7628, KIP-255). Usernames and passwords are used as given, without SASLprep,
// as Kafka's Java client does.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ws::protocol::sasl {

enum class Mechanism : uint8_t { kPlain, kScramSha256, kScramSha512, kOAuthBearer };

// "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER" (the names SaslHandshake carries;
// case-sensitive, as Kafka compares them). False for anything else.
bool parse_mechanism(std::string_view name, Mechanism& out);
const char* mechanism_name(Mechanism m);
inline bool is_scram(Mechanism m) { return m == Mechanism::kScramSha256 || m == Mechanism::kScramSha512; }

struct Credentials {
  std::string username, password, token; /* token: OAUTHBEARER */
};

// Checks what the mechanism needs before anything is sent, for a configuration error at start-up
// rather than a failed login per connection: a username for PLAIN and SCRAM, no NUL in PLAIN's
// fields (NUL separates them), a token without \x01 (RFC 7628's separator) for OAUTHBEARER.
bool validate_credentials(Mechanism m, const Credentials& c, std::string& error);

// SCRAM iteration counts a client accepts from a server: RFC 7677 asks for at least 4096; above
// the maximum a hostile server would make every login burn seconds of CPU.
inline constexpr uint32_t kScramMinIterations = 4096;
inline constexpr uint32_t kScramMaxIterations = 1'000'000;

// One authentication, client side.
class ClientExchange {
 public:
  ClientExchange(Mechanism m, Credentials c);  // SCRAM: a fresh random nonce (RAND_bytes)
  ClientExchange(Mechanism m, Credentials c, std::string nonce);  // fixed nonce, for RFC test vectors

  // The first token the client sends. Empty when the credentials fail validate_credentials(): the
  // exchange has failed already and on_server() says why.
  std::vector<uint8_t> initial();

  enum class Step : uint8_t { kSend, kDone, kFailed };
  // Feeds the server's token. kSend: `reply` is the next token to send. kDone: authenticated
  // (SCRAM: the server signature verified). kFailed: `error` says why, e.g. "server signature
  // mismatch", "invalid server-first-message: ...", or the server's own "server error: ...".
  // Once kDone or kFailed, every later call is kFailed.
  Step on_server(std::span<const uint8_t> token, std::vector<uint8_t>& reply, std::string& error);
  bool done() const { return state_ == State::kDone; }

  Mechanism mechanism() const { return mechanism_; }

 private:
  enum class State : uint8_t { kStart, kWaitServerFirst, kWaitServerFinal, kWaitOutcome, kDone, kFailed };

  Step fail(std::string& error, std::string why);
  Step on_server_first(std::string_view message, std::vector<uint8_t>& reply, std::string& error);
  Step on_server_final(std::string_view message, std::string& error);

  Mechanism mechanism_;
  Credentials credentials_;
  std::string credentials_error_;  // from validate_credentials(), reported by on_server()
  State state_ = State::kStart;
  std::string client_nonce_;
  std::string client_first_bare_;               // SCRAM: part of the AuthMessage
  std::vector<uint8_t> expected_server_signature_;  // SCRAM: what server-final must carry
};

// What a SCRAM server stores for a user instead of the password (RFC 5802 section 3).
struct ScramCredential {
  std::vector<uint8_t> salt;
  uint32_t iterations = 0;
  std::vector<uint8_t> stored_key;  // H(ClientKey)
  std::vector<uint8_t> server_key;  // HMAC(SaltedPassword, "Server Key")
};
// Derives it from a password (PBKDF2 with the mechanism's hash). SCRAM mechanisms only.
ScramCredential derive_scram_credential(Mechanism m, std::string_view password,
                                        std::span<const uint8_t> salt, uint32_t iterations);

// Iterations a server salts its passwords with: Kafka's default and RFC 7677's minimum.
inline constexpr uint32_t kScramServerIterations = 4096;

// The users a server accepts: username -> password, plus each user's SCRAM credentials, derived
// on first use with a random salt and kScramServerIterations and then cached, so a password is
// hashed once per user and mechanism rather than once per login.
// Not thread-safe (the cache fills on lookups): one per thread, e.g. one per sink shard.
class UserStore {
 public:
  using Passwords = std::map<std::string, std::string, std::less<>>;  // username -> password

  UserStore() = default;
  explicit UserStore(Passwords passwords);

  void add(std::string username, std::string password);
  bool empty() const { return passwords_.empty(); }
  const std::string* password(std::string_view username) const;  // nullptr: unknown user
  // nullptr for an unknown user or a mechanism that is not SCRAM.
  const ScramCredential* scram_credential(Mechanism m, std::string_view username);
  // Replaces the derived credential, e.g. with the salt of an RFC test vector.
  void set_scram_credential(Mechanism m, const std::string& username, ScramCredential credential);

 private:
  Passwords passwords_;
  std::map<std::string, ScramCredential, std::less<>> scram_sha256_;
  std::map<std::string, ScramCredential, std::less<>> scram_sha512_;
};

// One authentication, server side: PLAIN and SCRAM (OAUTHBEARER fails at the first token).
class ServerExchange {
 public:
  using Step = ClientExchange::Step;

  ServerExchange(Mechanism m, UserStore& users);  // SCRAM: a fresh random server nonce
  // Fixed server part of the SCRAM nonce, for RFC test vectors.
  ServerExchange(Mechanism m, UserStore& users, std::string server_nonce);

  // Feeds the client's token. kSend: `reply` is the next server token (SCRAM server-first).
  // kDone: authenticated as username(); `reply` is the last server token, sent with the success
  // (SCRAM server-final, empty for PLAIN). kFailed: `error` says why, for logs and for Kafka's
  // SaslAuthenticate error message; `reply` holds what a bare SCRAM client is told (e=...), or is
  // empty. Once kDone or kFailed, every later call is kFailed.
  Step on_client(std::span<const uint8_t> token, std::vector<uint8_t>& reply, std::string& error);
  bool done() const { return state_ == State::kDone; }
  const std::string& username() const { return username_; }
  Mechanism mechanism() const { return mechanism_; }

 private:
  enum class State : uint8_t { kWaitClientFirst, kWaitClientFinal, kDone, kFailed };

  Step fail(std::string& error, std::string why);
  Step on_plain(std::string_view message, std::string& error);
  Step on_client_first(std::string_view message, std::vector<uint8_t>& reply, std::string& error);
  Step on_client_final(std::string_view message, std::vector<uint8_t>& reply, std::string& error);

  Mechanism mechanism_;
  UserStore& users_;
  std::string server_nonce_;  // empty: a random one per exchange
  State state_ = State::kWaitClientFirst;
  std::string username_;
  // SCRAM, between the two client messages.
  std::string gs2_header_;
  std::string client_nonce_;
  std::string nonce_;  // client nonce + server nonce
  std::string auth_message_prefix_;  // client-first-bare "," server-first ","
  ScramCredential credential_;  // a copy: the store may change while the exchange runs
};

}  // namespace ws::protocol::sasl
