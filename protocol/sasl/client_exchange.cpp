// The client side of PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER.
#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <utility>

#include "protocol/sasl/sasl.h"
#include "protocol/sasl/scram.h"

namespace ws::protocol::sasl {
namespace {

// The gs2 header of a client without channel binding and without an authorization id, and its
// base64 ("biws"), which client-final repeats in c=.
constexpr std::string_view kGs2Header = "n,,";
constexpr std::string_view kGs2HeaderBase64 = "biws";

std::vector<uint8_t> to_token(std::string_view text) { return {text.begin(), text.end()}; }

// SaltedPassword is PBKDF2 with >= 4096 iterations: ~1-2 ms of CPU per login, which would make
// 10,000 simulated SCRAM clients cost the load host 10-20 s before the broker feels anything.
// RFC 5802 (section 5.1) lets a client cache the keys for a salt and iteration count; the messages
// on the wire are unchanged (fresh nonces, proofs over each AuthMessage). A few entries per
// thread: a run has one password, a broker one salt per user.
struct CachedKeys {
  Mechanism mechanism{};
  uint32_t iterations = 0;
  std::string password;
  std::vector<uint8_t> salt;
  scram::Keys keys;
};

const scram::Keys& cached_keys(Mechanism m, const std::string& password, std::span<const uint8_t> salt,
                               uint32_t iterations) {
  thread_local std::array<CachedKeys, 4> cache;
  thread_local size_t next = 0;
  for (const CachedKeys& c : cache) {
    if (c.iterations == iterations && c.mechanism == m && c.password == password &&
        std::equal(c.salt.begin(), c.salt.end(), salt.begin(), salt.end())) {
      return c.keys;
    }
  }
  CachedKeys& slot = cache[next++ % cache.size()];
  slot = CachedKeys{m, iterations, password, {salt.begin(), salt.end()},
                    scram::derive_keys(m, password, salt, iterations)};
  return slot.keys;
}

}  // namespace

ClientExchange::ClientExchange(Mechanism m, Credentials c)
    : ClientExchange(m, std::move(c), is_scram(m) ? scram::random_nonce() : std::string()) {}

ClientExchange::ClientExchange(Mechanism m, Credentials c, std::string nonce)
    : mechanism_(m), credentials_(std::move(c)), client_nonce_(std::move(nonce)) {
  if (!validate_credentials(mechanism_, credentials_, credentials_error_)) return;
  if (is_scram(mechanism_) && (client_nonce_.empty() || !scram::is_printable(client_nonce_))) {
    credentials_error_ = "no usable SCRAM client nonce (RAND_bytes failed, or not printable)";
  }
}

std::vector<uint8_t> ClientExchange::initial() {
  if (!credentials_error_.empty()) {
    state_ = State::kFailed;
    return {};
  }
  switch (mechanism_) {
    case Mechanism::kPlain: {
      // authzid NUL authcid NUL password, with an empty authzid: authorize as the user itself.
      std::string message;
      message += '\0';
      message += credentials_.username;
      message += '\0';
      message += credentials_.password;
      state_ = State::kWaitOutcome;
      return to_token(message);
    }
    case Mechanism::kOAuthBearer:
      state_ = State::kWaitOutcome;
      return to_token(std::string(kGs2Header) + "\x01" "auth=Bearer " + credentials_.token + "\x01\x01");
    case Mechanism::kScramSha256:
    case Mechanism::kScramSha512:
      client_first_bare_ = "n=" + scram::escape_username(credentials_.username) + ",r=" + client_nonce_;
      state_ = State::kWaitServerFirst;
      return to_token(std::string(kGs2Header) + client_first_bare_);
  }
  state_ = State::kFailed;
  return {};
}

ClientExchange::Step ClientExchange::fail(std::string& error, std::string why) {
  if (state_ != State::kDone) state_ = State::kFailed;
  error = std::move(why);
  return Step::kFailed;
}

ClientExchange::Step ClientExchange::on_server(std::span<const uint8_t> token,
                                               std::vector<uint8_t>& reply, std::string& error) {
  reply.clear();
  const std::string_view message = scram::as_text(token);
  switch (state_) {
    case State::kStart:
      return fail(error, credentials_error_.empty() ? "on_server() before initial()" : credentials_error_);
    case State::kWaitServerFirst: return on_server_first(message, reply, error);
    case State::kWaitServerFinal: return on_server_final(message, error);
    case State::kWaitOutcome:
      // PLAIN and OAUTHBEARER succeed with an empty server token.
      if (message.empty()) {
        state_ = State::kDone;
        return Step::kDone;
      }
      if (mechanism_ == Mechanism::kOAuthBearer) {
        // RFC 7628 3.2.2: a JSON error ({"status":"invalid_token",...}) instead of success.
        return fail(error, "server error: " + scram::loggable(message));
      }
      return fail(error, "unexpected server token after PLAIN (want an empty one)");
    case State::kDone:
    case State::kFailed:
      return fail(error, credentials_error_.empty() ? "the exchange is already over" : credentials_error_);
  }
  return fail(error, "bad state");
}

ClientExchange::Step ClientExchange::on_server_first(std::string_view message,
                                                     std::vector<uint8_t>& reply, std::string& error) {
  scram::ServerFirstMessage first;
  std::string why;
  if (!scram::parse_server_first(message, first, why)) {
    return fail(error, "invalid server-first-message: " + why);
  }
  // The server appends its own nonce to ours; anything else is a replay or a confused server.
  if (first.nonce.size() <= client_nonce_.size() || !first.nonce.starts_with(client_nonce_)) {
    return fail(error, "invalid server-first-message: server nonce does not start with the client nonce");
  }
  if (first.iterations < kScramMinIterations || first.iterations > kScramMaxIterations) {
    return fail(error, "invalid server-first-message: iteration count " + std::to_string(first.iterations) +
                           " outside [" + std::to_string(kScramMinIterations) + ", " +
                           std::to_string(kScramMaxIterations) + "]");
  }
  const scram::Hash hash(mechanism_);
  const scram::Keys& keys = cached_keys(mechanism_, credentials_.password, first.salt, first.iterations);
  const std::string without_proof = "c=" + std::string(kGs2HeaderBase64) + ",r=" + first.nonce;
  const std::string auth_message = client_first_bare_ + "," + std::string(message) + "," + without_proof;
  // ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage)
  std::vector<uint8_t> proof = hash.hmac(keys.stored_key, auth_message);
  for (size_t i = 0; i < proof.size() && i < keys.client_key.size(); ++i) proof[i] ^= keys.client_key[i];
  expected_server_signature_ = hash.hmac(keys.server_key, auth_message);
  reply = to_token(without_proof + ",p=" + scram::to_base64(proof));
  state_ = State::kWaitServerFinal;
  return Step::kSend;
}

ClientExchange::Step ClientExchange::on_server_final(std::string_view message, std::string& error) {
  scram::ServerFinalMessage final_message;
  std::string why;
  if (!scram::parse_server_final(message, final_message, why)) {
    return fail(error, "invalid server-final-message: " + why);
  }
  if (!final_message.server_error.empty()) return fail(error, "server error: " + final_message.server_error);
  // Proves the server knows the password too: without this check any server could say "ok".
  if (!scram::equal_secret(final_message.verifier, expected_server_signature_)) {
    return fail(error, "server signature mismatch");
  }
  state_ = State::kDone;
  return Step::kDone;
}

}  // namespace ws::protocol::sasl
