// The server side of PLAIN and SCRAM-SHA-256/512, and the user store behind it.
#include <string>
#include <utility>

#include "protocol/sasl/sasl.h"
#include "protocol/sasl/scram.h"

namespace ws::protocol::sasl {
namespace {

void set_reply(std::vector<uint8_t>& reply, std::string_view text) { reply.assign(text.begin(), text.end()); }

std::string quoted(std::string_view username) { return "\"" + scram::loggable(username) + "\""; }

}  // namespace

ScramCredential derive_scram_credential(Mechanism m, std::string_view password,
                                        std::span<const uint8_t> salt, uint32_t iterations) {
  scram::Keys keys = scram::derive_keys(m, password, salt, iterations);
  ScramCredential c;
  c.salt.assign(salt.begin(), salt.end());
  c.iterations = iterations;
  c.stored_key = std::move(keys.stored_key);
  c.server_key = std::move(keys.server_key);
  return c;
}

UserStore::UserStore(Passwords passwords)
    : passwords_(std::move(passwords)) {}

void UserStore::add(std::string username, std::string password) {
  scram_sha256_.erase(username);  // derived from the old password
  scram_sha512_.erase(username);
  passwords_[std::move(username)] = std::move(password);
}

const std::string* UserStore::password(std::string_view username) const {
  const auto it = passwords_.find(username);
  return it == passwords_.end() ? nullptr : &it->second;
}

const ScramCredential* UserStore::scram_credential(Mechanism m, std::string_view username) {
  if (!is_scram(m)) return nullptr;
  auto& cache = m == Mechanism::kScramSha512 ? scram_sha512_ : scram_sha256_;
  if (const auto it = cache.find(username); it != cache.end()) return &it->second;
  const std::string* secret = password(username);
  uint8_t salt[16];
  if (!secret || !scram::random_bytes(salt)) return nullptr;
  const auto [it, inserted] =
      cache.emplace(std::string(username), derive_scram_credential(m, *secret, salt, kScramServerIterations));
  return &it->second;
}

void UserStore::set_scram_credential(Mechanism m, const std::string& username, ScramCredential credential) {
  if (!is_scram(m)) return;
  (m == Mechanism::kScramSha512 ? scram_sha512_ : scram_sha256_)[username] = std::move(credential);
}

ServerExchange::ServerExchange(Mechanism m, UserStore& users) : ServerExchange(m, users, std::string()) {}

ServerExchange::ServerExchange(Mechanism m, UserStore& users, std::string server_nonce)
    : mechanism_(m), users_(users), server_nonce_(std::move(server_nonce)) {}

ServerExchange::Step ServerExchange::fail(std::string& error, std::string why) {
  if (state_ != State::kDone) state_ = State::kFailed;
  error = std::move(why);
  return Step::kFailed;
}

ServerExchange::Step ServerExchange::on_client(std::span<const uint8_t> token, std::vector<uint8_t>& reply,
                                               std::string& error) {
  reply.clear();
  const std::string_view message = scram::as_text(token);
  switch (state_) {
    case State::kWaitClientFirst:
      if (mechanism_ == Mechanism::kPlain) return on_plain(message, error);
      if (is_scram(mechanism_)) return on_client_first(message, reply, error);
      return fail(error, std::string(mechanism_name(mechanism_)) + " is not supported by this server");
    case State::kWaitClientFinal: return on_client_final(message, reply, error);
    case State::kDone:
    case State::kFailed: return fail(error, "the exchange is already over");
  }
  return fail(error, "bad state");
}

ServerExchange::Step ServerExchange::on_plain(std::string_view message, std::string& error) {
  // authzid NUL authcid NUL password (RFC 4616): exactly two NULs.
  const size_t first = message.find('\0');
  const size_t second = first == std::string_view::npos ? first : message.find('\0', first + 1);
  if (second == std::string_view::npos || message.find('\0', second + 1) != std::string_view::npos) {
    return fail(error, "invalid PLAIN message: want authzid NUL username NUL password");
  }
  const std::string_view authzid = message.substr(0, first);
  const std::string_view user = message.substr(first + 1, second - first - 1);
  const std::string_view password = message.substr(second + 1);
  if (user.empty()) return fail(error, "invalid PLAIN message: empty username");
  if (!authzid.empty() && authzid != user) {
    return fail(error, "authorization id " + quoted(authzid) + " differs from the username " + quoted(user));
  }
  username_.assign(user);
  const std::string* expected = users_.password(user);
  if (!expected) return fail(error, "unknown user " + quoted(user));
  if (!scram::equal_secret(scram::as_bytes(*expected), scram::as_bytes(password))) {
    return fail(error, "wrong password for user " + quoted(user));
  }
  state_ = State::kDone;
  return Step::kDone;
}

ServerExchange::Step ServerExchange::on_client_first(std::string_view message, std::vector<uint8_t>& reply,
                                                     std::string& error) {
  scram::ClientFirstMessage first;
  std::string why;
  if (!scram::parse_client_first(message, first, why)) {
    return fail(error, "invalid client-first-message: " + why);
  }
  username_ = first.username;
  const ScramCredential* credential = users_.scram_credential(mechanism_, username_);
  if (!credential) return fail(error, "unknown user " + quoted(username_));
  credential_ = *credential;
  const std::string server_part = server_nonce_.empty() ? scram::random_nonce() : server_nonce_;
  if (server_part.empty()) return fail(error, "cannot make a server nonce (RAND_bytes failed)");
  client_nonce_ = first.nonce;
  nonce_ = first.nonce + server_part;
  gs2_header_ = first.gs2_header;
  const std::string server_first = "r=" + nonce_ + ",s=" + scram::to_base64(credential_.salt) +
                                   ",i=" + std::to_string(credential_.iterations);
  auth_message_prefix_ = first.bare + "," + server_first + ",";
  set_reply(reply, server_first);
  state_ = State::kWaitClientFinal;
  return Step::kSend;
}

ServerExchange::Step ServerExchange::on_client_final(std::string_view message, std::vector<uint8_t>& reply,
                                                     std::string& error) {
  // Failures answer with RFC 5802's server-error values, for a client that reads them; Kafka's
  // SaslAuthenticate carries `error` instead.
  scram::ClientFinalMessage final_message;
  std::string why;
  if (!scram::parse_client_final(message, final_message, why)) {
    set_reply(reply, "e=invalid-encoding");
    return fail(error, "invalid client-final-message: " + why);
  }
  if (scram::as_text(final_message.channel_binding) != gs2_header_) {
    set_reply(reply, "e=channel-bindings-dont-match");
    return fail(error, "invalid client-final-message: channel binding (c=) differs from the gs2 header");
  }
  // RFC 5802 wants the server-first nonce back. librdkafka (2.0.2 at least) sends the client
  // nonce and then that nonce; Kafka accepts it (its check is endsWith), so the sink must too.
  // The proof still covers what was sent, since AuthMessage holds the client's own text.
  const bool librdkafka_nonce = final_message.nonce.size() == client_nonce_.size() + nonce_.size() &&
                                final_message.nonce.starts_with(client_nonce_) &&
                                final_message.nonce.ends_with(nonce_);
  if (final_message.nonce != nonce_ && !librdkafka_nonce) {
    set_reply(reply, "e=other-error");
    return fail(error, "invalid client-final-message: nonce differs from the server-first nonce");
  }
  const std::string auth_message = auth_message_prefix_ + std::string(final_message.without_proof);
  const scram::Hash hash(mechanism_);
  // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the password was right when
  // H(ClientKey) is the stored key.
  std::vector<uint8_t> client_key = hash.hmac(credential_.stored_key, auth_message);
  const bool proof_fits = final_message.proof.size() == client_key.size();
  for (size_t i = 0; proof_fits && i < client_key.size(); ++i) client_key[i] ^= final_message.proof[i];
  if (!proof_fits || !scram::equal_secret(hash.digest(client_key), credential_.stored_key)) {
    set_reply(reply, "e=invalid-proof");
    return fail(error, "wrong password for user " + quoted(username_) + " (invalid client proof)");
  }
  set_reply(reply, "v=" + scram::to_base64(hash.hmac(credential_.server_key, auth_message)));
  state_ = State::kDone;
  return Step::kDone;
}

}  // namespace ws::protocol::sasl
