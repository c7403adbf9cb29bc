#include "protocol/sasl/sasl.h"

namespace ws::protocol::sasl {

namespace {
constexpr Mechanism kMechanisms[] = {Mechanism::kPlain, Mechanism::kScramSha256,
                                     Mechanism::kScramSha512, Mechanism::kOAuthBearer};
}  // namespace

bool parse_mechanism(std::string_view name, Mechanism& out) {
  for (Mechanism m : kMechanisms) {
    if (name == mechanism_name(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

const char* mechanism_name(Mechanism m) {
  switch (m) {
    case Mechanism::kPlain: return "PLAIN";
    case Mechanism::kScramSha256: return "SCRAM-SHA-256";
    case Mechanism::kScramSha512: return "SCRAM-SHA-512";
    case Mechanism::kOAuthBearer: return "OAUTHBEARER";
  }
  return "UNKNOWN";
}

bool validate_credentials(Mechanism m, const Credentials& c, std::string& error) {
  const std::string_view name = mechanism_name(m);
  if (m == Mechanism::kOAuthBearer) {
    if (c.token.empty()) {
      error = std::string(name) + " needs a token";
      return false;
    }
    if (c.token.find('\x01') != std::string::npos) {
      error = std::string(name) + " token must not contain \\x01";
      return false;
    }
    return true;
  }
  if (c.username.empty()) {
    error = std::string(name) + " needs a username";
    return false;
  }
  // PLAIN separates its fields with NUL; SCRAM's saslname cannot carry one either.
  if (c.username.find('\0') != std::string::npos ||
      (m == Mechanism::kPlain && c.password.find('\0') != std::string::npos)) {
    error = std::string(name) + " username and password must not contain NUL";
    return false;
  }
  return true;
}

}  // namespace ws::protocol::sasl
